// grid.json: the live intensity carbond gives a worker, in its run directory.
// carbond rewrites it (temp file + rename) whenever the job's zone's reading
// changes; the worker charges each sampling interval's energy at what it last
// read there (worker/energy_meters.h GridFeed).
//   {"zone": "GB", "gco2_per_kwh": 212.5, "source": "uk", "at": "2026-11-28T06:00:00.000Z"}
#pragma once

#include <string>

#include "common/clock.h"
#include "common/status.h"

namespace carbon {

// The grid intensity a worker charges its energy at.
struct GridReading {
  double gco2_per_kwh = 0;
  std::string source;  // "mock", "uk", ..., "codecarbon:GBR", "codecarbon:world"
  std::string zone;
};

// Writes <run_dir>/grid.json (making run_dir if needed).
Status WriteGridFile(const std::string& run_dir, const GridReading& reading, Timestamp at);
// `file` names it in errors.
StatusOr<GridReading> ParseGridFile(const std::string& text, const std::string& file);

}  // namespace carbon
