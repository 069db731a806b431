#include "common/policy.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "common/intensity_formats.h"
#include "common/time_util.h"
#include "tests/support/files.h"

namespace carbon {
namespace {

Timestamp T(const char* s) { return *ParseTime(s); }

IntensitySeries Cats() {
  return *ParseIntensityCsv(fakes::ReadSourceFile("tests/fixtures/traces/cats_carbon_intensity_24h.csv"), "cats.csv");
}

JobSpec Spec(const std::string& yaml) { return *ParseJobSpec(yaml, "job.yaml"); }

TEST(ForecastPolicy, ReproducesCatsPublishedExample) {
  // CATS (tests/test_windowed_forecast.py): a 180-minute job in this 48 h
  // forecast starts 2023-05-05T12:00Z, mean 7.333 g/kWh (trapezoid rule over
  // the points [10, 8, 7, 7, 5, 8, 8]).
  IntensitySeries s = Cats();
  auto best = BestStart(s, s.front().time, s.back().time - std::chrono::minutes(180), std::chrono::minutes(180),
                        WindowMethod::kTrapezoid);
  ASSERT_TRUE(best);
  EXPECT_EQ(FormatTime(best->start), "2023-05-05T12:00:00.000Z");
  EXPECT_NEAR(best->mean_gco2_per_kwh, 44.0 / 6.0, 1e-9);
  // carbond's policy reads each point as its half-hour's mean (a step
  // function, as the API publishes them): 12:30-15:30 [8,7,7,5,8,8] has the
  // lower mean, 43/6 = 7.17 g/kWh, half an hour later than CATS's start.
  auto ours = BestStart(s, s.front().time, s.back().time - std::chrono::minutes(180), std::chrono::minutes(180));
  EXPECT_EQ(FormatTime(ours->start), "2023-05-05T12:30:00.000Z");
  EXPECT_NEAR(ours->mean_gco2_per_kwh, 43.0 / 6.0, 1e-9);
  // Through the policy, with the whole forecast as the window.
  GridView g;
  g.zone = "GB";
  g.forecast = s;
  g.forecast_source = "cats";
  JobSpec spec = Spec("name: a\ncarbon: {policy: forecast, expected_duration: 180m, deadline: 2023-05-06T12:00:00Z}\n");
  PolicyInput in{spec, s.front().time, s.front().time};
  in.grid = &g;
  ReleaseDecision d = ForecastPolicy().Decide(in);
  EXPECT_FALSE(d.release);
  EXPECT_EQ(FormatTime(*d.planned_start), "2023-05-05T12:30:00.000Z");
  EXPECT_NE(d.reason.find("waiting for forecast window 2023-05-05 12:30-15:30 UTC, mean 7 g/kWh"),
            std::string::npos)
      << d.reason;
}

TEST(ForecastPolicy, InterpolatesBetweenSamplesAndHoldsTheEnds) {
  IntensitySeries s = {{T("2026-01-01T00:00:00Z"), std::chrono::hours(1), 100, true},
                       {T("2026-01-01T01:00:00Z"), std::chrono::hours(1), 300, true}};
  EXPECT_DOUBLE_EQ(MeanInterpolated(s, T("2026-01-01T00:00:00Z"), T("2026-01-01T01:00:00Z")), 200);
  EXPECT_DOUBLE_EQ(MeanInterpolated(s, T("2026-01-01T00:30:00Z"), T("2026-01-01T01:00:00Z")), 250);
  EXPECT_DOUBLE_EQ(MeanInterpolated(s, T("2026-01-01T01:00:00Z"), T("2026-01-01T03:00:00Z")), 300);
  // As interval means: 100 for the first hour, 300 for the second.
  EXPECT_DOUBLE_EQ(MeanIntervals(s, T("2026-01-01T00:30:00Z"), T("2026-01-01T01:30:00Z")), 200);
  EXPECT_DOUBLE_EQ(MeanIntervals(s, T("2026-01-01T00:00:00Z"), T("2026-01-01T02:00:00Z")), 200);
  EXPECT_DOUBLE_EQ(MeanIntervals(s, T("2025-12-31T23:00:00Z"), T("2026-01-01T00:00:00Z")), 100);  // held
}

TEST(ForecastPolicy, AHorizonShorterThanTheWindowIsExtendedByTheDailyCycle) {
  // 30 h of forecast: cheap at 03:00 each day. The window reaches 40 h ahead.
  IntensitySeries s;
  Timestamp t0 = T("2026-01-01T12:00:00Z");
  for (int i = 0; i < 60; ++i) {
    Timestamp t = t0 + std::chrono::minutes(30 * i);
    int hour = (12 + i / 2) % 24;
    s.push_back({t, std::chrono::minutes(30), hour >= 2 && hour < 5 ? 50.0 : 300.0, true});
  }
  IntensitySeries ext = s;
  EXPECT_TRUE(ExtendDaily(ext, t0 + std::chrono::hours(48)));
  EXPECT_GE(ext.back().end(), t0 + std::chrono::hours(48));
  EXPECT_DOUBLE_EQ(PointAt(ext, T("2026-01-03T03:00:00Z"))->gco2_per_kwh, 50);  // copied from the day before
  GridView g;
  g.forecast = s;
  g.forecast_source = "uk";
  JobSpec spec = Spec("name: a\ncarbon: {policy: forecast, expected_duration: 1h, max_wait: 40h}\n");
  PolicyInput in{spec, t0, t0};
  in.grid = &g;
  ReleaseDecision d = ForecastPolicy().Decide(in);
  EXPECT_FALSE(d.release);
  EXPECT_NE(d.reason.find("extended past its horizon by the daily cycle"), std::string::npos) << d.reason;
  EXPECT_EQ(FormatTime(*d.planned_start), "2026-01-02T02:00:00.000Z");  // the first cheap hours win ties
}

TEST(Policy, DeadlineDefaultsAndNotBefore) {
  JobSpec spec = Spec("name: a\ncarbon: {policy: forecast, max_wait: 6h, expected_duration: 2h}\n");
  PolicyInput in{spec, T("2026-01-01T00:00:00Z"), T("2026-01-01T00:00:00Z")};
  EXPECT_EQ(FormatTime(LatestStart(in, std::chrono::hours(2))), "2026-01-01T06:00:00.000Z");
  JobSpec nb = Spec("name: a\ncarbon: {policy: threshold, threshold_gco2_per_kwh: 1, not_before: 2026-01-01T05:00:00Z}\n");
  PolicyInput in2{nb, T("2026-01-01T00:00:00Z"), T("2026-01-01T01:00:00Z")};
  ReleaseDecision d = ThresholdPolicy().Decide(in2);
  EXPECT_FALSE(d.release);
  EXPECT_NE(d.reason.find("not_before"), std::string::npos);
  // The default duration gets the margin; the spec's does not.
  JobSpec plain = Spec("name: a\n");
  PolicyInput in3{plain, T("2026-01-01T00:00:00Z"), T("2026-01-01T00:00:00Z")};
  EXPECT_EQ(ExpectedDurationOf(in3).duration, std::chrono::minutes(72));
  EXPECT_EQ(ExpectedDurationOf(in).duration, std::chrono::hours(2));
}

TEST(ForecastPolicy, KeepsAPlannedStartThatHasComeUnlessALaterWindowIsClearlyCleaner) {
  JobSpec spec = Spec("name: a\ncarbon: {policy: forecast, max_wait: 6h, expected_duration: 30m}\n");
  const Timestamp t0 = T("2026-01-01T03:00:00Z");
  // Now 100 g/kWh; the newest forecast shows a window at 04:00 a little (3%) cleaner.
  GridView g;
  g.zone = "GB";
  g.forecast_source = "test";
  for (int i = 0; i < 12; ++i)
    g.forecast.push_back({t0 + std::chrono::minutes(30 * i), std::chrono::minutes(30), i == 2 ? 97.0 : 100.0, false});
  PolicyInput in{spec, T("2026-01-01T00:00:00Z"), t0};
  in.grid = &g;
  // Without a plan (first planning), the cleanest window wins.
  ReleaseDecision first = ForecastPolicy().Decide(in);
  EXPECT_FALSE(first.release);
  EXPECT_EQ(FormatTime(*first.planned_start), "2026-01-01T04:00:00.000Z");
  // The start planned earlier has come: a 3% gain is forecast noise; run now.
  in.planned_start = t0;
  ReleaseDecision keep = ForecastPolicy().Decide(in);
  EXPECT_TRUE(keep.release) << keep.reason;
  EXPECT_NE(keep.reason.find("released at its planned start (mean 100 g/kWh over 30m; the newest forecast's best "
                             "later window, 04:00 UTC at 97, is within 5%)"),
            std::string::npos)
      << keep.reason;
  // A clearly cleaner later window (20%) still moves the plan.
  g.forecast[2].gco2_per_kwh = 80;
  ReleaseDecision move = ForecastPolicy().Decide(in);
  EXPECT_FALSE(move.release);
  EXPECT_EQ(FormatTime(*move.planned_start), "2026-01-01T04:00:00.000Z");
}

}  // namespace
}  // namespace carbon
