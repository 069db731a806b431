-- carbond schema v5: what each finished job saved by waiting, against having
-- started at submission (recorded intensity, same run time).
CREATE TABLE job_savings (
  job_id                          INTEGER PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
  zone                            TEXT    NOT NULL,
  computed_at                     TEXT    NOT NULL,
  run_s                           REAL    NOT NULL,
  run_mean_gco2_per_kwh           REAL    NOT NULL,
  counterfactual_mean_gco2_per_kwh REAL   NOT NULL,
  saving_pct                      REAL    NOT NULL,
  energy_kwh                      REAL,             -- NULL until energy is measured
  saving_kg                       REAL,
  note                            TEXT    NOT NULL DEFAULT ''
);
