// CodeCarbon's energy methodology (CodeCarbon 3.3, github.com/mlco2/codecarbon),
// reimplemented so carbond's figures match CodeCarbon's to the last digit for
// the same inputs (tests/common/energy_model_test.cc checks CodeCarbon's own
// outputs, tests/fixtures/codecarbon/golden.json). Pure functions, no I/O.
#pragma once

#include <cstdint>

namespace carbon::energy {

// CodeCarbon's conversion constant: kWh per joule (not 1/3.6e6 exactly).
constexpr double kKwhPerJoule = 2.77778e-7;

double KwhFromMicrojoules(double uj);
double KwhFromMillijoules(double mj);
double KwhFromPowerAndTime(double watts, double seconds);
// Mean power over `seconds` between two cumulative energies (kWh).
double WattsFromEnergies(double kwh_now, double kwh_before, double seconds);

// The energy of a RAPL counter step in kWh, with the counter's wrap-around
// at max_energy_range_uj handled as CodeCarbon does (now + max - before).
double RaplDeltaKwh(uint64_t before_uj, uint64_t now_uj, uint64_t max_range_uj);

// CPU power at a load in [0, 1] from its TDP: P = TDP x (0.1 + 0.9 x load^3).
double CpuPowerAtLoad(double tdp_watts, double load);

// RAM power from the total memory (GB): DIMMs estimated from the size, 5 W
// each on x86 (1.5 W on ARM), the marginal watt scaled 0.9 / 0.8 / 0.7 above
// 4 / 8 / 16 DIMMs, at least 2 DIMMs' worth on x86 (10 W) and 3 W on ARM.
int EstimateDimmCount(double total_gb);
double RamPowerWatts(double total_gb, bool arm);

}  // namespace carbon::energy
