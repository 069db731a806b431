#include "common/budget.h"

#include <cstdio>

namespace carbon {

StatusOr<BudgetPrediction> PredictRunEmissions(const std::vector<EpochRecord>& epochs, int64_t total_epochs,
                                               const IntensitySeries& forecast, std::optional<double> current_gco2,
                                               Timestamp now) {
  BudgetPrediction p;
  int64_t measured = 0;
  double kwh = 0, secs = 0;
  for (const EpochRecord& e : epochs) {
    if (e.epoch <= 0) continue;
    ++p.done_epochs;
    p.so_far_kg += e.kg_co2.value_or(0);
    if (e.energy_kwh > 0 && e.kg_co2) {
      ++measured;
      kwh += e.energy_kwh;
      secs += e.wall_s;
    }
  }
  if (measured == 0) return FailedPrecondition("no epoch with measured energy and emissions yet");
  p.kwh_per_epoch = kwh / static_cast<double>(measured);
  p.secs_per_epoch = secs / static_cast<double>(measured);
  p.remaining_epochs = std::max<int64_t>(0, total_epochs - p.done_epochs);
  const auto remaining = std::chrono::duration_cast<Duration>(
      std::chrono::duration<double>(p.secs_per_epoch * static_cast<double>(p.remaining_epochs)));
  if (!forecast.empty() && forecast.front().time <= now && now < forecast.back().end()) {
    p.gco2_per_kwh = MeanIntervals(forecast, now, now + std::max(remaining, Duration(std::chrono::seconds(1))));
    p.intensity_basis = "forecast";
  } else if (current_gco2) {
    p.gco2_per_kwh = *current_gco2;
    p.intensity_basis = "current reading";
  } else {
    return FailedPrecondition("neither a forecast nor a current intensity reading");
  }
  p.remaining_kg = static_cast<double>(p.remaining_epochs) * p.kwh_per_epoch * p.gco2_per_kwh * 0.001;
  p.predicted_kg = p.so_far_kg + p.remaining_kg;
  return p;
}

std::string DescribeBudget(const BudgetPrediction& p, double budget_kg) {
  char buf[320];
  std::snprintf(buf, sizeof buf,
                "carbon budget %.4g kg: predicted %.4g kg = %.4g kg in %lld epoch%s + %lld more x %.4g kWh at "
                "%.0f g/kWh (%s)",
                budget_kg, p.predicted_kg, p.so_far_kg, static_cast<long long>(p.done_epochs),
                p.done_epochs == 1 ? "" : "s", static_cast<long long>(p.remaining_epochs), p.kwh_per_epoch,
                p.gco2_per_kwh, p.intensity_basis.c_str());
  return buf;
}

}  // namespace carbon
