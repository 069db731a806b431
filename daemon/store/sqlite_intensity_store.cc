#include "daemon/store/sqlite_intensity_store.h"

#include <cmath>

#include "common/time_util.h"

namespace carbon {
namespace {

int64_t PeriodSeconds(Duration d) { return std::chrono::duration_cast<std::chrono::seconds>(d).count(); }

Timestamp TimeOr(const std::string& s) {
  auto t = ParseTime(s);
  return t.ok() ? *t : Timestamp{};
}

}  // namespace

Status SqliteIntensityStore::AddReadings(const std::vector<StoredReading>& readings) {
  if (readings.empty()) return Status();
  sql::RelaxedCommits relaxed(db_);  // fetched again after a crash
  sql::Transaction tx(db_);
  RETURN_IF_ERROR(tx.Begin());
  for (const StoredReading& r : readings) {
    ASSIGN_OR_RETURN(auto st, db_.Prepare(
        "INSERT OR REPLACE INTO intensity_readings (zone, source, time, period_s, gco2_per_kwh, "
        "fetched_at, estimated, fallback) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
    RETURN_IF_ERROR(st.Bind(1, r.zone)
                        .Bind(2, r.source)
                        .Bind(3, FormatTime(r.point.time))
                        .Bind(4, PeriodSeconds(r.point.period))
                        .Bind(5, r.point.gco2_per_kwh)
                        .Bind(6, FormatTime(r.fetched_at))
                        .Bind(7, int64_t{r.point.estimated})
                        .Bind(8, r.fallback)
                        .Run());
  }
  return tx.Commit();
}

StatusOr<std::optional<StoredForecast>> SqliteIntensityStore::LoadForecast(
    const std::string& zone, const std::string& source, const std::string& issued_at) {
  ASSIGN_OR_RETURN(auto st, db_.Prepare(
      "SELECT target_time, period_s, gco2_per_kwh FROM intensity_forecasts "
      "WHERE zone = ? AND source = ? AND issued_at = ? ORDER BY target_time"));
  st.Bind(1, zone).Bind(2, source).Bind(3, issued_at);
  StoredForecast f{zone, source, TimeOr(issued_at), {}};
  for (;;) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    IntensityPoint p;
    p.time = TimeOr(st.ColumnText(0));
    p.period = std::chrono::seconds(st.ColumnInt(1));
    p.gco2_per_kwh = st.ColumnDouble(2);
    p.estimated = true;
    f.points.push_back(p);
  }
  if (f.points.empty()) return std::optional<StoredForecast>();
  return std::optional<StoredForecast>(std::move(f));
}

StatusOr<bool> SqliteIntensityStore::AddForecast(const StoredForecast& f) {
  if (f.points.empty()) return false;
  sql::RelaxedCommits relaxed(db_);  // fetched again after a crash
  sql::Transaction tx(db_);
  RETURN_IF_ERROR(tx.Begin());
  // Skip a forecast that repeats the newest stored one (a source that has not
  // issued a new one since the last poll).
  {
    std::optional<std::string> issued;
    {
      ASSIGN_OR_RETURN(auto last, db_.Prepare(
          "SELECT MAX(issued_at) FROM intensity_forecasts WHERE zone = ? AND source = ?"));
      last.Bind(1, f.zone).Bind(2, f.source);
      ASSIGN_OR_RETURN(bool row, last.Step());
      if (row) issued = last.ColumnOptText(0);
    }
    if (issued) {
      ASSIGN_OR_RETURN(auto prev, LoadForecast(f.zone, f.source, *issued));
      if (prev && prev->points.size() == f.points.size()) {
        bool same = true;
        for (size_t i = 0; i < f.points.size() && same; ++i)
          same = prev->points[i].time == f.points[i].time &&
                 std::abs(prev->points[i].gco2_per_kwh - f.points[i].gco2_per_kwh) < 1e-9;
        if (same) return false;
      }
    }
  }
  const std::string issued = FormatTime(f.issued_at);
  for (const IntensityPoint& p : f.points) {
    ASSIGN_OR_RETURN(auto st, db_.Prepare(
        "INSERT OR REPLACE INTO intensity_forecasts (zone, source, issued_at, target_time, "
        "period_s, gco2_per_kwh) VALUES (?, ?, ?, ?, ?, ?)"));
    RETURN_IF_ERROR(st.Bind(1, f.zone)
                        .Bind(2, f.source)
                        .Bind(3, issued)
                        .Bind(4, FormatTime(p.time))
                        .Bind(5, PeriodSeconds(p.period))
                        .Bind(6, p.gco2_per_kwh)
                        .Run());
  }
  RETURN_IF_ERROR(tx.Commit());
  return true;
}

StatusOr<std::optional<StoredForecast>> SqliteIntensityStore::ForecastCovering(
    const std::string& zone, Timestamp at) {
  const std::string now = FormatTime(at);
  // A point covers `at` when target_time <= at < target_time + period. The
  // text times sort; the end is computed by SQLite from the period.
  std::string source, issued;
  {
    ASSIGN_OR_RETURN(auto st, db_.Prepare(
        "SELECT source, issued_at FROM intensity_forecasts WHERE zone = ? AND issued_at <= ? "
        "AND target_time <= ? AND strftime('%Y-%m-%dT%H:%M:%fZ', target_time, '+' || period_s || "
        "' seconds') > ? ORDER BY issued_at DESC LIMIT 1"));
    st.Bind(1, zone).Bind(2, now).Bind(3, now).Bind(4, now);
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<StoredForecast>();
    source = st.ColumnText(0);
    issued = st.ColumnText(1);
  }
  return LoadForecast(zone, source, issued);
}

StatusOr<std::optional<StoredForecast>> SqliteIntensityStore::LatestForecast(const std::string& zone,
                                                                              Timestamp at) {
  std::string source, issued;
  {
    ASSIGN_OR_RETURN(auto st, db_.Prepare(
        "SELECT source, issued_at FROM intensity_forecasts WHERE zone = ? AND issued_at <= ? "
        "ORDER BY issued_at DESC LIMIT 1"));
    st.Bind(1, zone).Bind(2, FormatTime(at));
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<StoredForecast>();
    source = st.ColumnText(0);
    issued = st.ColumnText(1);
  }
  return LoadForecast(zone, source, issued);
}

StatusOr<std::vector<StoredReading>> SqliteIntensityStore::Readings(const std::string& zone,
                                                                     Timestamp from, Timestamp to) {
  ASSIGN_OR_RETURN(auto st, db_.Prepare(
      "SELECT source, time, period_s, gco2_per_kwh, fetched_at, estimated, fallback "
      "FROM intensity_readings WHERE zone = ? AND time >= ? AND time < ? "
      "ORDER BY time, fetched_at"));
  st.Bind(1, zone).Bind(2, FormatTime(from)).Bind(3, FormatTime(to));
  std::vector<StoredReading> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    StoredReading r;
    r.zone = zone;
    r.source = st.ColumnText(0);
    r.point.time = TimeOr(st.ColumnText(1));
    r.point.period = std::chrono::seconds(st.ColumnInt(2));
    r.point.gco2_per_kwh = st.ColumnDouble(3);
    r.fetched_at = TimeOr(st.ColumnText(4));
    r.point.estimated = st.ColumnInt(5) != 0;
    r.fallback = st.ColumnOptText(6);
    // Several sources for one interval: the newest fetch wins (ordered last).
    if (!out.empty() && out.back().point.time == r.point.time)
      out.back() = std::move(r);
    else
      out.push_back(std::move(r));
  }
  return out;
}

StatusOr<int64_t> SqliteIntensityStore::Prune(Timestamp before) {
  const std::string cut = FormatTime(before);
  sql::RelaxedCommits relaxed(db_);  // fetched again after a crash
  sql::Transaction tx(db_);
  RETURN_IF_ERROR(tx.Begin());
  int64_t n = 0;
  {
    ASSIGN_OR_RETURN(auto st, db_.Prepare("DELETE FROM intensity_readings WHERE time < ?"));
    RETURN_IF_ERROR(st.Bind(1, cut).Run());
    n += db_.Changes();
  }
  {
    ASSIGN_OR_RETURN(auto st, db_.Prepare("DELETE FROM intensity_forecasts WHERE issued_at < ?"));
    RETURN_IF_ERROR(st.Bind(1, cut).Run());
    n += db_.Changes();
  }
  RETURN_IF_ERROR(tx.Commit());
  return n;
}

}  // namespace carbon
