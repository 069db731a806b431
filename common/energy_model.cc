#include "common/energy_model.h"

#include <algorithm>
#include <cmath>

namespace carbon::energy {

double KwhFromMicrojoules(double uj) { return uj * 1e-6 * kKwhPerJoule; }
double KwhFromMillijoules(double mj) { return mj * 1e-3 * kKwhPerJoule; }
double KwhFromPowerAndTime(double watts, double seconds) { return watts * seconds / 3600.0 / 1000.0; }

double WattsFromEnergies(double kwh_now, double kwh_before, double seconds) {
  // In this order, as CodeCarbon does: the last digit matches.
  return (kwh_now - kwh_before) / seconds * 3600.0 * 1000.0;
}

double RaplDeltaKwh(uint64_t before_uj, uint64_t now_uj, uint64_t max_range_uj) {
  double now = KwhFromMicrojoules(static_cast<double>(now_uj));
  double before = KwhFromMicrojoules(static_cast<double>(before_uj));
  if (now_uj >= before_uj) return now - before;
  // The counter wrapped: what remained to the top, then from zero to now.
  double max = KwhFromMicrojoules(static_cast<double>(max_range_uj));
  return now + max - before;
}

double CpuPowerAtLoad(double tdp_watts, double load) {
  load = std::clamp(load, 0.0, 1.0);
  return tdp_watts * (0.1 + 0.9 * load * load * load);
}

int EstimateDimmCount(double gb) {
  if (gb <= 2) return 1;
  if (gb <= 16) return 2;
  if (gb <= 32) return 4;
  if (gb <= 64) return 4;
  if (gb <= 128) return 8;
  // Large servers: the largest common DIMM that still gives at least 8 of
  // them, capped at 32 DIMMs.
  for (double size : {128.0, 64.0, 32.0, 16.0, 8.0, 4.0})
    if (size <= gb / 8) return std::min(32, static_cast<int>(std::ceil(gb / size)));
  return 8;
}

double RamPowerWatts(double gb, bool arm) {
  const int n = EstimateDimmCount(gb);
  const double per = arm ? 1.5 : 5.0;
  const double floor = arm ? 3.0 : per * 2;
  double p;
  if (n <= 4)
    p = per * n;
  else if (n <= 8)
    p = per * 4 + per * 0.9 * (n - 4);
  else if (n <= 16)
    p = per * 4 + per * 0.9 * 4 + per * 0.8 * (n - 8);
  else
    p = per * 4 + per * 0.9 * 4 + per * 0.8 * 8 + per * 0.7 * (n - 16);
  return std::max(floor, p);
}

}  // namespace carbon::energy
