// Baseline vs carbon-aware comparison: what one run cost against another,
// from measured data only (the stored epochs, the job's times and the
// intensity recorded at submission). Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/job_record.h"

namespace carbon {

// One run, summed over its epochs.
struct RunSummary {
  int64_t job_id = 0;
  std::string name, state, policy;
  int64_t epochs = 0;
  std::optional<double> kg_co2;               // sum over epochs; absent if any epoch has none
  std::optional<double> energy_kwh;           // sum over epochs; absent without energy
  std::optional<int64_t> peak_memory_bytes;   // max over epochs
  std::optional<int64_t> memory_added_bytes;  // max over epochs of what training added
  std::string memory_method;
  std::optional<double> final_accuracy;       // the last epoch's test accuracy
  std::optional<double> wall_s;               // started -> finished
  std::optional<double> wait_s;               // submitted -> started
  std::optional<double> submit_gco2_per_kwh;  // recorded reading at submission
  std::optional<double> run_gco2_per_kwh;     // energy-weighted mean of the epochs' intensities
};

// `submit_gco2_per_kwh`: the recorded reading covering `job.submitted`, if any.
RunSummary SummarizeRun(const JobRecord& job, const std::vector<EpochRecord>& epochs,
                        std::optional<double> submit_gco2_per_kwh);

// One compared figure: candidate - baseline, and that as % of the baseline.
struct CompareRow {
  std::string key;    // "kg_co2", "energy_kwh", ...
  std::string label;  // "CO2", "Energy", ...
  std::string unit;   // "kg", "kWh", "MB", "%", "s", "g/kWh"
  std::optional<double> baseline, candidate;
  bool relative = true;  // false: a percentage means nothing (wait time: the baseline waits ~0 s)
  std::optional<double> diff() const;
  std::optional<double> pct() const;  // absent when not relative, the baseline is 0 or a side is missing
};

std::vector<CompareRow> CompareRuns(const RunSummary& baseline, const RunSummary& candidate);

// A compared figure as the tables print it ("-" when absent): kg and kWh to
// 4 significant digits (scientific under 1e-3), s, g/kWh and MB to 0.1, %
// to 0.01; `sign` adds "+" to positive values (differences).
std::string FormatCompareValue(std::optional<double> v, const std::string& unit, bool sign = false);

// The text block: "CARBON SAVINGS vs BASELINE", a row per figure with both
// values, the difference and the percentage.
std::string FormatComparison(const RunSummary& baseline, const RunSummary& candidate,
                             const std::vector<CompareRow>& rows);

}  // namespace carbon
