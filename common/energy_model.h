// CodeCarbon's energy methodology (CodeCarbon 3.3, github.com/mlco2/codecarbon),
// reimplemented so carbond's figures match CodeCarbon's to the last digit for
// the same inputs (tests/common/energy_model_test.cc checks CodeCarbon's own
// outputs, tests/fixtures/codecarbon/golden.json). Pure functions, no I/O.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

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

// CodeCarbon's CPU TDP table (configs/codecarbon/cpu_power.csv: Name,TDP).
// Rows whose TDP is not a number (the upstream table has a few, "27.29.5")
// are skipped; a wrong header or no usable row is INVALID_ARGUMENT.
struct CpuTdp {
  std::string name;
  double tdp_watts = 0;
};
StatusOr<std::vector<CpuTdp>> ParseCpuPowerCsv(const std::string& text, const std::string& source);

// A CPU model string as /proc/cpuinfo gives it ("Intel(R) Xeon(R) Gold 6338
// CPU @ 2.00GHz") without the marks, frequency and core-count suffixes that
// the table's names lack ("Intel Xeon Gold 6338").
std::string NormalizeCpuName(const std::string& raw);

// The table row for a CPU model: an exact name, else the normalised name
// (case-insensitive), else the one row whose name holds every token of the
// normalised model. Empty when none or several match.
std::optional<CpuTdp> MatchCpu(const std::string& raw, const std::vector<CpuTdp>& table);

// Country carbon intensities as CodeCarbon computes them from
// global_energy_mix.json and carbon_intensity_per_source.json: the country's
// `carbon_intensity` (g/kWh), or, where that is 0, the mix's weighted mean of
// the per-source factors; unknown countries get the world average (475).
// Values in kg/kWh (g x 0.001, as CodeCarbon multiplies).
class CountryIntensities {
 public:
  static StatusOr<CountryIntensities> Parse(const std::string& energy_mix_json,
                                            const std::string& per_source_json);
  double KgPerKwh(const std::string& iso3) const;
  double GramsPerKwh(const std::string& iso3) const;  // unknown: the world average
  std::optional<std::string> CountryName(const std::string& iso3) const;
  double world_average_kg() const { return world_average_g_ * 0.001; }
  double world_average_g() const { return world_average_g_; }

 private:
  std::map<std::string, double> g_per_kwh_;
  std::map<std::string, std::string> names_;
  double world_average_g_ = 475;
};

// CodeCarbon's fallbacks: a known model's TDP; an unknown model: 4 W per
// thread; no model at all: 85 W.
constexpr double kUnknownCpuWattsPerThread = 4.0;
constexpr double kNoModelCpuWatts = 85.0;

}  // namespace carbon::energy
