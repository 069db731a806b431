// IntensityGrid: the scheduler's GridProvider over the IntensityService (the
// current reading) and the IntensityStore (the newest stored forecast).
#pragma once

#include "daemon/core/grid_provider.h"
#include "daemon/core/intensity_service.h"
#include "daemon/core/intensity_store.h"

namespace carbon {

class IntensityGrid final : public GridProvider {
 public:
  IntensityGrid(IntensityService& service, IntensityStore& store, const Clock& clock)
      : service_(service), store_(store), clock_(clock) {}
  GridView View(const std::string& zone) override;
  IntensitySeries Recorded(const std::string& zone, Timestamp from, Timestamp to) override;

 private:
  IntensityService& service_;
  IntensityStore& store_;
  const Clock& clock_;
};

}  // namespace carbon
