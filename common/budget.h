// Carbon budget: after each epoch, the run's predicted total emissions (the
// emissions so far plus the remaining epochs at the measured energy per epoch
// times the forecast intensity over the time they will take). carbond stops a
// job whose prediction exceeds its carbon.budget_kg. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/intensity.h"
#include "common/job_record.h"
#include "common/status.h"

namespace carbon {

struct BudgetPrediction {
  double so_far_kg = 0;         // sum of the finished epochs' kg CO2
  double remaining_kg = 0;      // remaining epochs x kWh per epoch x forecast intensity
  double predicted_kg = 0;      // so_far_kg + remaining_kg
  int64_t done_epochs = 0;
  int64_t remaining_epochs = 0;
  double kwh_per_epoch = 0;     // mean of the measured epochs
  double secs_per_epoch = 0;    // mean wall time of the measured epochs
  double gco2_per_kwh = 0;      // mean forecast intensity over the remaining epochs
  std::string intensity_basis;  // "forecast" or "current reading"
};

// `epochs`: the job's stored epochs (one row per epoch number); `total_epochs`
// from its spec. The intensity is the forecast's mean (MeanIntervals) over
// [now, now + remaining time) where the forecast covers `now`, else the
// current reading. FAILED_PRECONDITION when no epoch has energy and emissions
// yet, or there is neither forecast nor reading.
StatusOr<BudgetPrediction> PredictRunEmissions(const std::vector<EpochRecord>& epochs, int64_t total_epochs,
                                               const IntensitySeries& forecast, std::optional<double> current_gco2,
                                               Timestamp now);

// True when the prediction exceeds the budget (kg).
inline bool OverBudget(const BudgetPrediction& p, double budget_kg) { return p.predicted_kg > budget_kg; }

// "carbon budget 0.0100 kg: predicted 0.0123 kg = 0.0041 kg in 2 epochs + 3
// more epochs x 0.0120 kWh at 228 g/kWh (forecast)".
std::string DescribeBudget(const BudgetPrediction& p, double budget_kg);

}  // namespace carbon
