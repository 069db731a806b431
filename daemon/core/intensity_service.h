// IntensityService: keeps carbond's view of each zone's grid intensity.
//
// Polls the configured chain of sources (e.g. [uk, mock]) for current values
// and forecasts and stores what it gets (IntensityStore). When a source fails
// or its data is stale, it uses the newest stored forecast that still covers
// now, then the next source in the chain; every stored reading says which
// source gave it and, for a fallback, why. A source whose plan has no
// forecast access (PERMISSION_DENIED / NOT_FOUND) is replaced by carbond's own
// forecast from stored history (common/forecaster.h).
//
// An answer with a value outside intensity.plausible (a flat zero, 99999) is
// a failed fetch with its reason, and the chain goes on. When no source gives
// a forecast, carbond's own forecast from history stands in; a source's
// forecast that ends before the horizon is completed by it (source
// "<name>+history"), and the reason says where.
//
// Event-loop thread only. Polls are asynchronous; a zone whose poll is still
// in flight (a hanging upstream) is skipped, so nothing waits on the network.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "daemon/core/intensity_source.h"
#include "daemon/core/intensity_store.h"

namespace carbon {

struct IntensityServiceOptions {
  std::vector<std::string> zones = {"GB"};
  Duration horizon = std::chrono::hours(48);
  Duration max_age = std::chrono::hours(1);
  Duration retention = std::chrono::hours(24 * 90);
  // Answers with values outside it are failed fetches (common/intensity.h).
  PlausibleRange plausible;
};

// What carbond currently believes about one zone, for /v1/health,
// /v1/intensity and `carbonctl intensity`.
struct ZoneIntensity {
  std::string zone;
  std::optional<StoredReading> current;  // the newest accepted reading
  std::string source;                    // the source in use ("" before the first success)
  bool fallback = false;                 // not the chain's first source
  std::string reason;                    // why that source (errors of the ones before it)
  std::optional<Timestamp> polled_at;
  // Forecast
  std::string forecast_source;
  std::string forecast_reason;
  std::optional<Timestamp> forecast_issued_at;
  std::optional<Timestamp> forecast_polled_at;
};

// The suffix of a stored forecast's source when carbond's own forecaster
// completed a source's shorter forecast ("uk" + kCompletedByHistory).
inline constexpr const char kCompletedByHistory[] = "+history";

class IntensityService {
 public:
  IntensityService(std::vector<std::unique_ptr<IntensitySource>> chain, IntensityStore& store,
                   Clock& clock, IntensityServiceOptions options);

  // Starts a current-value poll of every zone (skipping zones still in flight).
  void PollCurrent();
  // Starts a forecast poll of every zone.
  void PollForecast();
  // Deletes stored readings and forecasts older than the retention.
  void Prune();

  const std::vector<std::string>& zones() const { return options_.zones; }
  // A reload's horizon, max_age, retention and plausible range; the zones
  // stay those it was built with.
  void set_options(IntensityServiceOptions o) {
    o.zones = options_.zones;
    options_ = std::move(o);
  }
  std::vector<std::string> chain_names() const;
  // nullptr for a zone that is not polled.
  const ZoneIntensity* Zone(const std::string& zone) const;
  bool in_flight(const std::string& zone) const;
  // Failed fetches by (source, kind) since start, for /metrics: kind is the
  // error's code in lower case ("unavailable", "deadline_exceeded", ...) or
  // "stale", "no_data", "empty_forecast", "implausible".
  const std::map<std::pair<std::string, std::string>, uint64_t>& fetch_errors() const { return fetch_errors_; }

  // Called after every finished poll (tests, metrics).
  std::function<void(const ZoneIntensity&)> on_update;

 private:
  struct State {
    ZoneIntensity view;
    bool current_in_flight = false;
    bool forecast_in_flight = false;
  };
  void TryCurrent(const std::string& zone, size_t index, std::vector<std::string> reasons);
  void TryForecast(const std::string& zone, size_t index, std::vector<std::string> reasons);
  // The stored forecast covering now, used as a fallback reading.
  bool UseStoredForecast(const std::string& zone, const std::vector<std::string>& reasons);
  // carbond's own forecast from the stored readings (common/forecaster.h).
  std::optional<IntensitySeries> OwnForecast(const std::string& zone, Timestamp now);
  // Appends the own forecast after a source's forecast that ends before
  // now + horizon; the note says so (empty when nothing was added).
  std::string CompleteForecast(const std::string& zone, const std::string& source, Timestamp now,
                               IntensitySeries& forecast);
  // Stores a forecast as the zone's newest and updates the view.
  void StoreForecast(const std::string& zone, const std::string& source, Timestamp now, IntensitySeries points,
                     const std::string& why);
  void Accept(const std::string& zone, const std::string& source, const IntensityPoint& p,
              const std::vector<std::string>& reasons, bool fallback, const std::string& note);

  std::vector<std::unique_ptr<IntensitySource>> chain_;
  IntensityStore& store_;
  Clock& clock_;
  IntensityServiceOptions options_;
  std::map<std::string, State> zones_;
  std::map<std::pair<std::string, std::string>, uint64_t> fetch_errors_;
  void CountError(const std::string& source, const std::string& kind) { ++fetch_errors_[{source, kind}]; }
  // Callbacks of a network source may run after this is destroyed: they hold
  // a weak reference.
  std::shared_ptr<IntensityService*> alive_;
};

std::string JoinReasons(const std::vector<std::string>& reasons);

}  // namespace carbon
