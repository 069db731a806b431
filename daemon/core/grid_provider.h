// GridProvider: what the scheduler asks about a zone's grid before it decides
// a release (the current reading and the newest forecast). The daemon's is
// IntensityGrid (daemon/core/intensity_grid.h); tests use fakes.
#pragma once

#include <string>

#include "common/policy.h"

namespace carbon {

class GridProvider {
 public:
  virtual ~GridProvider() = default;
  virtual GridView View(const std::string& zone) = 0;
  // Intensity recorded for the zone over [from, to), sorted (for savings).
  virtual IntensitySeries Recorded(const std::string& zone, Timestamp from, Timestamp to) {
    (void)zone, (void)from, (void)to;
    return {};
  }
};

}  // namespace carbon
