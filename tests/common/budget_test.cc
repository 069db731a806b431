#include "common/budget.h"

#include <gtest/gtest.h>

#include "common/time_util.h"

namespace carbon {
namespace {

EpochRecord Epoch(int64_t n, double kwh, std::optional<double> kg, double wall_s = 600) {
  EpochRecord e;
  e.epoch = n;
  e.energy_kwh = kwh;
  e.kg_co2 = kg;
  e.wall_s = wall_s;
  return e;
}

TEST(Budget, RemainingEpochsAtTheForecastMeanOverTheTimeTheyTake) {
  const Timestamp now = *ParseTime("2026-11-26T12:00:00Z");
  // 100 g/kWh for the next 30 min, then 300: 3 epochs of 10 min span both.
  IntensitySeries f = {{now, std::chrono::minutes(30), 100, false}, {now + std::chrono::minutes(30),
                                                                     std::chrono::minutes(30), 300, false}};
  auto p = PredictRunEmissions({Epoch(1, 0.01, 0.002), Epoch(2, 0.03, 0.004)}, 5, f, std::nullopt, now);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->done_epochs, 2);
  EXPECT_EQ(p->remaining_epochs, 3);
  EXPECT_DOUBLE_EQ(p->kwh_per_epoch, 0.02);
  EXPECT_DOUBLE_EQ(p->secs_per_epoch, 600);
  EXPECT_DOUBLE_EQ(p->gco2_per_kwh, 100);  // 30 min ahead, all at 100
  EXPECT_EQ(p->intensity_basis, "forecast");
  EXPECT_NEAR(p->so_far_kg, 0.006, 1e-15);
  EXPECT_NEAR(p->remaining_kg, 3 * 0.02 * 100 * 0.001, 1e-15);
  EXPECT_NEAR(p->predicted_kg, 0.012, 1e-15);
  EXPECT_FALSE(OverBudget(*p, 0.012));
  EXPECT_TRUE(OverBudget(*p, 0.0119));
  // 4 remaining epochs of 15 min: half at 100, half at 300.
  auto q = PredictRunEmissions({Epoch(1, 0.02, 0.002, 900)}, 5, f, std::nullopt, now);
  ASSERT_TRUE(q.ok());
  EXPECT_DOUBLE_EQ(q->gco2_per_kwh, 200);
  EXPECT_EQ(DescribeBudget(*q, 0.01),
            "carbon budget 0.01 kg: predicted 0.018 kg = 0.002 kg in 1 epoch + 4 more x 0.02 kWh at 200 g/kWh "
            "(forecast)");
}

TEST(Budget, CurrentReadingWithoutAForecastAndNothingWithoutData) {
  const Timestamp now = *ParseTime("2026-11-26T12:00:00Z");
  auto p = PredictRunEmissions({Epoch(1, 0.01, 0.001)}, 3, {}, 250.0, now);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->intensity_basis, "current reading");
  EXPECT_NEAR(p->predicted_kg, 0.001 + 2 * 0.01 * 0.25, 1e-15);
  // A forecast that starts later does not cover now: the reading counts.
  IntensitySeries later = {{now + std::chrono::hours(1), std::chrono::minutes(30), 50, false}};
  EXPECT_EQ(PredictRunEmissions({Epoch(1, 0.01, 0.001)}, 3, later, 250.0, now)->intensity_basis,
            "current reading");
  // The last epoch: nothing remains.
  EXPECT_EQ(PredictRunEmissions({Epoch(1, 0.01, 0.001), Epoch(2, 0.01, 0.001)}, 2, {}, 250.0, now)->remaining_epochs,
            0);
  EXPECT_EQ(PredictRunEmissions({Epoch(1, 0.01, std::nullopt)}, 3, {}, 250.0, now).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(PredictRunEmissions({}, 3, {}, 250.0, now).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(PredictRunEmissions({Epoch(1, 0.01, 0.001)}, 3, {}, std::nullopt, now).status().code(),
            StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace carbon
