-- carbond schema v3: grid carbon intensity. Times are UTC text that sorts
-- (FormatTime: 2026-11-26T18:00:00.000Z); values are gCO2/kWh.

-- What a source said the intensity was (or is) for one interval. A later
-- fetch of the same interval from the same source replaces the row (an
-- `actual` that arrives after the forecast).
CREATE TABLE intensity_readings (
  zone          TEXT    NOT NULL,
  source        TEXT    NOT NULL,               -- uk | electricitymaps | mock | trace | static
  time          TEXT    NOT NULL,               -- start of the interval
  period_s      INTEGER NOT NULL,
  gco2_per_kwh  REAL    NOT NULL CHECK (gco2_per_kwh >= 0),
  fetched_at    TEXT    NOT NULL,
  estimated     INTEGER NOT NULL DEFAULT 0,     -- the source's estimate or forecast, not a measurement
  fallback      TEXT,                           -- NULL from the chain's first source; else why
  PRIMARY KEY (zone, source, time)
) WITHOUT ROWID;
CREATE INDEX intensity_readings_by_time ON intensity_readings (zone, time);

-- Forecasts as they were issued: one row per (issue, target interval).
CREATE TABLE intensity_forecasts (
  zone          TEXT    NOT NULL,
  source        TEXT    NOT NULL,
  issued_at     TEXT    NOT NULL,
  target_time   TEXT    NOT NULL,
  period_s      INTEGER NOT NULL,
  gco2_per_kwh  REAL    NOT NULL CHECK (gco2_per_kwh >= 0),
  PRIMARY KEY (zone, source, issued_at, target_time)
) WITHOUT ROWID;
CREATE INDEX intensity_forecasts_by_issue ON intensity_forecasts (zone, issued_at);

-- For people: the newest reading per zone and source.
CREATE VIEW intensity_latest AS
SELECT zone, source, time, ROUND(gco2_per_kwh, 1) AS gco2_per_kwh, fetched_at, estimated, fallback
FROM intensity_readings r
WHERE time = (SELECT MAX(time) FROM intensity_readings x WHERE x.zone = r.zone AND x.source = r.source)
ORDER BY zone, source;
