// IntensityStore: where readings and forecasts of grid carbon intensity are
// kept (tables intensity_readings and intensity_forecasts). Every call is one
// transaction. Implementations: SqliteIntensityStore, fakes in tests.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/intensity.h"
#include "common/status.h"

namespace carbon {

struct StoredReading {
  std::string zone;
  std::string source;
  IntensityPoint point;
  Timestamp fetched_at{};
  std::optional<std::string> fallback;  // why a fallback gave it; empty from the first source
};

struct StoredForecast {
  std::string zone;
  std::string source;
  Timestamp issued_at{};
  IntensitySeries points;
};

class IntensityStore {
 public:
  virtual ~IntensityStore() = default;
  // Upserts by (zone, source, time): a newer fetch of an interval wins.
  virtual Status AddReadings(const std::vector<StoredReading>& readings) = 0;
  // Stores a forecast unless it repeats the newest stored one of that zone and
  // source (same targets, same values). Returns whether it was stored.
  virtual StatusOr<bool> AddForecast(const StoredForecast& forecast) = 0;
  // The newest forecast of `zone` issued at or before `at` that has a point
  // covering `at` (any source).
  virtual StatusOr<std::optional<StoredForecast>> ForecastCovering(const std::string& zone,
                                                                    Timestamp at) = 0;
  // The newest forecast of `zone` issued at or before `at` (any source).
  virtual StatusOr<std::optional<StoredForecast>> LatestForecast(const std::string& zone,
                                                                  Timestamp at) = 0;
  // Readings of `zone` whose interval starts in [from, to), oldest first; with
  // several sources for one interval, the one fetched last.
  virtual StatusOr<std::vector<StoredReading>> Readings(const std::string& zone, Timestamp from,
                                                       Timestamp to) = 0;
  // Deletes readings and forecasts older than `before`; returns rows deleted.
  virtual StatusOr<int64_t> Prune(Timestamp before) = 0;
};

}  // namespace carbon
