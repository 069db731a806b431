#include "common/compare.h"

#include "common/units.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace carbon {

RunSummary SummarizeRun(const JobRecord& job, const std::vector<EpochRecord>& epochs,
                        std::optional<double> submit_gco2_per_kwh) {
  RunSummary s;
  s.job_id = job.id;
  s.name = job.name;
  s.state = JobStateName(job.state);
  s.policy = job.policy;
  s.submit_gco2_per_kwh = submit_gco2_per_kwh;
  double kg = 0, kwh = 0, charged_kwh = 0;
  bool all_kg = !epochs.empty();
  for (const EpochRecord& e : epochs) {
    ++s.epochs;
    kwh += e.energy_kwh;
    if (e.kg_co2) {
      kg += *e.kg_co2;
      charged_kwh += e.energy_kwh;
    } else {
      all_kg = false;
    }
    if (!s.peak_memory_bytes || e.peak_memory_bytes > *s.peak_memory_bytes) {
      s.peak_memory_bytes = e.peak_memory_bytes;
      s.memory_method = e.memory_method;
    }
    if (e.memory_added_bytes && (!s.memory_added_bytes || *e.memory_added_bytes > *s.memory_added_bytes))
      s.memory_added_bytes = e.memory_added_bytes;
    s.final_accuracy = e.test_accuracy;
  }
  if (kwh > 0) s.energy_kwh = kwh;
  if (all_kg) s.kg_co2 = kg;
  if (all_kg && charged_kwh > 0) s.run_gco2_per_kwh = kg * 1000.0 / charged_kwh;
  if (job.started) s.wait_s = std::chrono::duration<double>(*job.started - job.submitted).count();
  if (job.started && job.finished) s.wall_s = std::chrono::duration<double>(*job.finished - *job.started).count();
  return s;
}

std::optional<double> CompareRow::diff() const {
  if (!baseline || !candidate) return std::nullopt;
  return *candidate - *baseline;
}

std::optional<double> CompareRow::pct() const {
  if (!relative || !baseline || !candidate || *baseline == 0) return std::nullopt;
  return 100.0 * (*candidate - *baseline) / std::fabs(*baseline);
}

std::vector<CompareRow> CompareRuns(const RunSummary& b, const RunSummary& c) {
  auto mb = [](const std::optional<int64_t>& bytes) -> std::optional<double> {
    if (!bytes) return std::nullopt;
    return static_cast<double>(*bytes) / (1024.0 * 1024.0);
  };
  auto pct = [](const std::optional<double>& share) -> std::optional<double> {
    if (!share) return std::nullopt;
    return *share * 100.0;
  };
  return {
      {"kg_co2", "CO2", "kg", b.kg_co2, c.kg_co2},
      {"energy_kwh", "Energy", "kWh", b.energy_kwh, c.energy_kwh},
      {"peak_memory_mb", "Peak memory", "MB", mb(b.peak_memory_bytes), mb(c.peak_memory_bytes)},
      {"memory_added_mb", "Memory added by training", "MB", mb(b.memory_added_bytes), mb(c.memory_added_bytes)},
      {"final_accuracy_pct", "Final accuracy", "%", pct(b.final_accuracy), pct(c.final_accuracy)},
      {"wall_s", "Wall time", "s", b.wall_s, c.wall_s},
      {"wait_s", "Wait time", "s", b.wait_s, c.wait_s, /*relative=*/false},
      {"submit_gco2_per_kwh", "Intensity at submission", "g/kWh", b.submit_gco2_per_kwh, c.submit_gco2_per_kwh},
      {"run_gco2_per_kwh", "Intensity during training", "g/kWh", b.run_gco2_per_kwh, c.run_gco2_per_kwh},
  };
}

std::string FormatCompareValue(std::optional<double> v, const std::string& unit, bool sign) {
  if (!v) return "-";
  // Energy and CO2 in the unit that suits them (common/units.h).
  if (unit == "kWh") return FormatEnergy(*v, sign);
  if (unit == "kg") return FormatCo2(*v, sign);
  char buf[64];
  const char* fmt = sign ? "%+.4g" : "%.4g";
  if (unit == "s" || unit == "g/kWh" || unit == "MB") fmt = sign ? "%+.1f" : "%.1f";
  if (unit == "%") fmt = sign ? "%+.2f" : "%.2f";
  std::snprintf(buf, sizeof buf, fmt, *v);
  return buf;
}

std::string FormatComparison(const RunSummary& b, const RunSummary& c, const std::vector<CompareRow>& rows) {
  std::string out = "CARBON SAVINGS vs BASELINE\n";
  char line[256];
  std::snprintf(line, sizeof line, "  baseline:  job %lld '%s' (%s, policy %s, %lld epochs)\n",
                static_cast<long long>(b.job_id), b.name.c_str(), b.state.c_str(), b.policy.c_str(),
                static_cast<long long>(b.epochs));
  out += line;
  std::snprintf(line, sizeof line, "  candidate: job %lld '%s' (%s, policy %s, %lld epochs)\n",
                static_cast<long long>(c.job_id), c.name.c_str(), c.state.c_str(), c.policy.c_str(),
                static_cast<long long>(c.epochs));
  out += line;
  std::snprintf(line, sizeof line, "  %-33s %13s %13s %13s %8s\n", "", "baseline", "candidate", "difference",
                "change");
  out += line;
  for (const CompareRow& r : rows) {
    // Energy and CO2 carry their unit in each cell.
    const std::string label = r.unit == "kWh" || r.unit == "kg" ? r.label : r.label + " (" + r.unit + ")";
    const auto pct = r.pct();
    std::string change = "-";
    if (pct) {
      char p[32];
      std::snprintf(p, sizeof p, "%+.1f%%", *pct);
      change = p;
    }
    std::snprintf(line, sizeof line, "  %-33s %13s %13s %13s %8s\n", label.c_str(), FormatCompareValue(r.baseline, r.unit).c_str(),
                  FormatCompareValue(r.candidate, r.unit).c_str(), FormatCompareValue(r.diff(), r.unit, true).c_str(), change.c_str());
    out += line;
  }
  return out;
}

}  // namespace carbon
