// IntensitySource: one provider of grid carbon intensity (a web API, the
// mock model, a recorded trace, a fixed value). Calls are asynchronous: the
// callback runs exactly once, on the event-loop thread, either before the call
// returns (local sources) or later (network sources). A source never blocks.
#pragma once

#include <functional>
#include <string>

#include "common/intensity.h"
#include "common/status.h"

namespace carbon {

class IntensitySource {
 public:
  using Callback = std::function<void(StatusOr<IntensitySeries>)>;
  virtual ~IntensitySource() = default;

  // The name used in the config's chain and stored with every reading.
  virtual std::string name() const = 0;
  // The newest points up to `now` (normally the interval covering now).
  virtual void Current(const std::string& zone, Timestamp now, Callback done) = 0;
  // The source's forecast from `now` for `horizon`. A source without forecast
  // access fails with PERMISSION_DENIED or NOT_FOUND.
  virtual void Forecast(const std::string& zone, Timestamp now, Duration horizon, Callback done) = 0;
  // Recorded points that start in [from, to).
  virtual void History(const std::string& zone, Timestamp from, Timestamp to, Callback done) = 0;
};

}  // namespace carbon
