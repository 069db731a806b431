// IntensityStore on the daemon's SQLite database (schema v3). Shares the
// connection of SqliteJobStore; not thread-safe: event-loop thread only.
#pragma once

#include "daemon/core/intensity_store.h"
#include "daemon/store/db.h"

namespace carbon {

class SqliteIntensityStore final : public IntensityStore {
 public:
  // `db` must outlive this and be migrated to v3 or later.
  explicit SqliteIntensityStore(sql::Database& db) : db_(db) {}

  Status AddReadings(const std::vector<StoredReading>& readings) override;
  StatusOr<bool> AddForecast(const StoredForecast& forecast) override;
  StatusOr<std::optional<StoredForecast>> ForecastCovering(const std::string& zone,
                                                            Timestamp at) override;
  StatusOr<std::optional<StoredForecast>> LatestForecast(const std::string& zone,
                                                          Timestamp at) override;
  StatusOr<std::vector<StoredReading>> Readings(const std::string& zone, Timestamp from,
                                               Timestamp to) override;
  StatusOr<int64_t> Prune(Timestamp before) override;

 private:
  StatusOr<std::optional<StoredForecast>> LoadForecast(const std::string& zone,
                                                       const std::string& source,
                                                       const std::string& issued_at);
  sql::Database& db_;
};

}  // namespace carbon
