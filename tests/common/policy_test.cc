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

// Placement over several sites (issue 17), on hand-made hourly forecasts.
GridView Hourly(const std::string& zone, const std::vector<double>& values, double current) {
  GridView g;
  g.zone = zone;
  g.current_gco2_per_kwh = current;
  g.current_source = "test";
  g.forecast_source = "test";
  Timestamp t = T("2026-01-01T00:00:00Z");
  for (double v : values) {
    g.forecast.push_back({t, std::chrono::hours(1), v, true});
    t += std::chrono::hours(1);
  }
  return g;
}

TEST(Placement, TheCleanSiteWinsAndTheTimeOfDayIsPartOfTheChoice) {
  PolicyRegistry policies;
  // gb is cleanest at 03:00 (100), de at once (150 now, 300 later).
  GridView gb = Hourly("GB", {300, 300, 300, 100, 100, 300, 300, 300, 300, 300, 300, 300}, 300);
  GridView de = Hourly("DE", {150, 300, 300, 300, 300, 300, 300, 300, 300, 300, 300, 300}, 150);
  JobSpec spec = Spec("name: a\ncarbon: {policy: forecast, expected_duration: 1h, max_wait: 8h, sites: [gb, de]}\n");
  PolicyInput in{spec, T("2026-01-01T00:00:00Z"), T("2026-01-01T00:00:00Z")};
  Placement p = PlaceJob(policies, in, {{"gb", &gb, true}, {"de", &de, true}}, std::nullopt);
  EXPECT_EQ(p.site, 0u);  // gb at 03:00 (100) beats de now (150)
  EXPECT_FALSE(p.decision.release);
  EXPECT_EQ(FormatTime(*p.decision.planned_start), "2026-01-01T03:00:00.000Z");
  EXPECT_NE(p.decision.reason.find("site gb: waiting for forecast window 03:00-04:00 UTC"), std::string::npos)
      << p.decision.reason;
  EXPECT_NE(p.decision.reason.find("other sites: de 150 g/kWh"), std::string::npos) << p.decision.reason;
  // With a window that ends before gb's trough, de now is the best.
  JobSpec soon = Spec("name: a\ncarbon: {policy: forecast, expected_duration: 1h, max_wait: 2h, sites: [gb, de]}\n");
  PolicyInput in2{soon, T("2026-01-01T00:00:00Z"), T("2026-01-01T00:00:00Z")};
  p = PlaceJob(policies, in2, {{"gb", &gb, true}, {"de", &de, true}}, std::nullopt);
  EXPECT_EQ(p.site, 1u);
  EXPECT_TRUE(p.decision.release);
  EXPECT_NE(p.decision.reason.find("site de: released"), std::string::npos) << p.decision.reason;
}

TEST(Placement, AFullSiteIsSkippedOnlyForANearTie) {
  PolicyRegistry policies;
  GridView fr = Hourly("FR", std::vector<double>(12, 50), 50);
  GridView pl = Hourly("PL", std::vector<double>(12, 700), 700);
  GridView fr2 = Hourly("FR", std::vector<double>(12, 51), 51);
  JobSpec spec = Spec("name: a\ncarbon: {policy: forecast, expected_duration: 1h, sites: [fr, pl, fr2]}\n");
  PolicyInput in{spec, T("2026-01-01T00:00:00Z"), T("2026-01-01T00:00:00Z")};
  // fr full: fr2 is within 5%: released there.
  Placement p = PlaceJob(policies, in, {{"fr", &fr, false}, {"pl", &pl, true}, {"fr2", &fr2, true}}, std::nullopt);
  EXPECT_EQ(p.site, 2u);
  EXPECT_TRUE(p.decision.release);
  EXPECT_NE(p.decision.reason.find("fr is full"), std::string::npos) << p.decision.reason;
  // fr full and only pl free: it waits for fr, and says how much dirtier pl is.
  p = PlaceJob(policies, in, {{"fr", &fr, false}, {"pl", &pl, true}}, std::nullopt);
  EXPECT_EQ(p.site, 0u);
  EXPECT_FALSE(p.decision.release);
  EXPECT_EQ(p.decision.reason.rfind("waiting for a slot at fr; pl is 1300% dirtier", 0), 0u) << p.decision.reason;
}

TEST(Placement, NearTiesKeepThePlanElseTheFirstListedSite) {
  PolicyRegistry policies;
  GridView a = Hourly("A", std::vector<double>(12, 100), 100);
  GridView b = Hourly("B", std::vector<double>(12, 97), 97);  // 3% cleaner: a near-tie
  GridView c = Hourly("C", std::vector<double>(12, 80), 80);  // 20% cleaner
  JobSpec spec = Spec("name: a\ncarbon: {policy: forecast, expected_duration: 1h, sites: [a, b]}\n");
  PolicyInput in{spec, T("2026-01-01T00:00:00Z"), T("2026-01-01T00:00:00Z")};
  EXPECT_EQ(PlaceJob(policies, in, {{"a", &a, true}, {"b", &b, true}}, std::nullopt).site, 0u);  // first-listed
  EXPECT_EQ(PlaceJob(policies, in, {{"a", &a, true}, {"b", &b, true}}, 1).site, 1u);             // its plan
  EXPECT_EQ(PlaceJob(policies, in, {{"a", &a, true}, {"c", &c, true}}, 0).site, 1u);             // clearly cleaner
  EXPECT_EQ(PlaceJob(policies, in, {{"a", &a, true}, {"b", &b, true}}, std::nullopt, 0.0).site, 1u);  // no margin
}

TEST(Placement, TheDeadlineHoldsAtEverySite) {
  PolicyRegistry policies;
  // Both troughs lie after the deadline's latest start (01:00): released now, at the cleaner site now.
  GridView gb = Hourly("GB", {300, 300, 300, 10, 10, 10, 300, 300, 300, 300, 300, 300}, 300);
  GridView de = Hourly("DE", {200, 200, 200, 200, 10, 10, 200, 200, 200, 200, 200, 200}, 200);
  JobSpec spec = Spec(
      "name: a\ncarbon: {policy: forecast, expected_duration: 1h, deadline: 2026-01-01T02:00:00Z, sites: [gb, de]}\n");
  PolicyInput in{spec, T("2026-01-01T00:00:00Z"), T("2026-01-01T00:30:00Z")};
  Placement p = PlaceJob(policies, in, {{"gb", &gb, true}, {"de", &de, true}}, std::nullopt);
  EXPECT_EQ(p.site, 1u);
  ASSERT_TRUE(p.decision.planned_start);
  EXPECT_LE(*p.decision.planned_start, T("2026-01-01T01:00:00Z"));
}

TEST(Placement, ThresholdTakesTheFirstSiteUnderItAndImmediateTheFirstFreeSite) {
  PolicyRegistry policies;
  GridView a = Hourly("A", std::vector<double>(12, 300), 300);
  GridView b = Hourly("B", std::vector<double>(12, 120), 120);
  GridView c = Hourly("C", std::vector<double>(12, 90), 90);
  JobSpec t = Spec("name: a\ncarbon: {policy: threshold, threshold_gco2_per_kwh: 150, sites: [a, b, c]}\n");
  PolicyInput in{t, T("2026-01-01T00:00:00Z"), T("2026-01-01T00:00:00Z")};
  Placement p = PlaceJob(policies, in, {{"a", &a, true}, {"b", &b, true}, {"c", &c, true}}, std::nullopt);
  EXPECT_EQ(p.site, 1u);
  EXPECT_TRUE(p.decision.release);
  p = PlaceJob(policies, in, {{"a", &a, true}, {"b", &b, false}, {"c", &c, true}}, std::nullopt);
  EXPECT_EQ(p.site, 2u);  // b is full
  JobSpec high = Spec("name: a\ncarbon: {policy: threshold, threshold_gco2_per_kwh: 50, sites: [a, b]}\n");
  PolicyInput in2{high, T("2026-01-01T00:00:00Z"), T("2026-01-01T00:00:00Z")};
  p = PlaceJob(policies, in2, {{"a", &a, true}, {"b", &b, true}}, std::nullopt);
  EXPECT_FALSE(p.decision.release);
  EXPECT_NE(p.decision.reason.find("now: a 300 g/kWh, b 120 g/kWh"), std::string::npos) << p.decision.reason;
  JobSpec now = Spec("name: a\ncarbon: {policy: immediate, sites: [a, b]}\n");
  PolicyInput in3{now, T("2026-01-01T00:00:00Z"), T("2026-01-01T00:00:00Z")};
  EXPECT_EQ(PlaceJob(policies, in3, {{"a", &a, false}, {"b", &b, true}}, std::nullopt).site, 1u);
}

}  // namespace
}  // namespace carbon
