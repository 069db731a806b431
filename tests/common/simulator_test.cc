#include "common/simulator.h"

#include <gtest/gtest.h>

#include "common/forecaster.h"
#include "common/mock_intensity.h"
#include "common/time_util.h"

namespace carbon {
namespace {

using namespace std::chrono_literals;

// 80 days of the mock grid, hourly (a realistic daily cycle with noise).
IntensitySeries MockTrace() {
  MockIntensityParams p;
  p.step = 1h;
  p.noise = 25;
  MockIntensityModel m(p);
  Timestamp start = *ParseTime("2025-01-01T00:00:00Z");
  return m.Range(start, start + std::chrono::hours(24 * 80));
}

SimResult Sim(const IntensitySeries& trace, const std::string& policy, const std::string& forecast = "perfect") {
  SimOptions o;
  o.policy = policy;
  o.jobs = 200;
  EXPECT_TRUE(ParseForecastMode(forecast, o).ok());
  auto r = Simulate(trace, o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return *r;
}

TEST(Simulator, PerfectForecastReachesTheOracleAndImmediateSavesNothing) {
  IntensitySeries trace = MockTrace();
  SimResult imm = Sim(trace, "immediate");
  EXPECT_DOUBLE_EQ(imm.summary.saving_pct, 0);
  EXPECT_DOUBLE_EQ(imm.summary.mean_delay_h, 0);
  SimResult perfect = Sim(trace, "forecast");
  EXPECT_GE(perfect.summary.share_of_oracle, 0.99);
  EXPECT_GT(perfect.summary.oracle_saving_pct, 10);  // the mock's cycle leaves room to save
  for (const SimJob& j : perfect.jobs) {
    EXPECT_GE(j.start, j.arrival);
    EXPECT_LE(j.start, j.arrival + 24h);
    EXPECT_LE(j.oracle_g, j.policy_g + 1e-9);  // nobody beats the oracle
  }
  // Same jobs for every policy.
  ASSERT_EQ(imm.jobs.size(), perfect.jobs.size());
  EXPECT_EQ(imm.jobs[17].arrival, perfect.jobs[17].arrival);
  EXPECT_DOUBLE_EQ(imm.summary.immediate_mean_g, perfect.summary.immediate_mean_g);
}

TEST(Simulator, NoisyAndOwnForecastsSaveLessThanPerfectButSomething) {
  IntensitySeries trace = MockTrace();
  SimResult perfect = Sim(trace, "forecast");
  SimResult noisy = Sim(trace, "forecast", "noise:10%");
  SimResult own = Sim(trace, "forecast", "own");
  EXPECT_LE(noisy.summary.saving_pct, perfect.summary.saving_pct + 1e-9);
  EXPECT_GT(noisy.summary.share_of_oracle, 0.8);
  EXPECT_GT(own.summary.share_of_oracle, 0.7);
  // Deterministic: the same options give the same result.
  SimResult again = Sim(trace, "forecast", "noise:10%");
  EXPECT_DOUBLE_EQ(again.summary.policy_mean_g, noisy.summary.policy_mean_g);
}

TEST(Simulator, InterruptibleJobsReachTheirOracleAndBeatOneWindowWhenLong) {
  IntensitySeries trace = MockTrace();
  SimOptions o;
  o.jobs = 150;
  o.duration = 12h;
  SimOptions seg = o;
  seg.interruptible = true;
  auto one = Simulate(trace, o);
  auto perfect = Simulate(trace, seg);
  ASSERT_TRUE(one.ok() && perfect.ok());
  EXPECT_GE(perfect->summary.share_of_oracle, 0.99);
  // Pausing through the evening peak saves more than any single 12 h window.
  EXPECT_GT(perfect->summary.oracle_saving_pct, one->summary.oracle_saving_pct + 1);
  EXPECT_GT(perfect->summary.saving_pct, one->summary.saving_pct);
  EXPECT_GT(perfect->summary.mean_segments, 1.2);
  for (size_t i = 0; i < perfect->jobs.size(); ++i) {
    const SimJob& j = perfect->jobs[i];
    EXPECT_EQ(j.arrival, one->jobs[i].arrival);  // the same jobs
    EXPECT_GE(j.start, j.arrival);
    // The deadline holds: arrival + max_wait + duration, with the resumes' overhead inside it.
    EXPECT_LE(j.end, j.arrival + o.max_wait + o.duration);
    EXPECT_LE(j.oracle_g, j.policy_g + 1e-6);
  }
  ASSERT_TRUE(ParseForecastMode("own", seg).ok());
  auto own = Simulate(trace, seg);
  ASSERT_TRUE(own.ok());
  EXPECT_GT(own->summary.saving_pct, 0);
  EXPECT_LE(own->summary.saving_pct, perfect->summary.saving_pct + 1e-9);
  // Bad combinations say what is accepted.
  seg.policy = "threshold";
  EXPECT_NE(Simulate(trace, seg).status().message().find("--interruptible needs --policy forecast"),
            std::string::npos);
}

TEST(Simulator, ThresholdWaitsAtMostMaxWait) {
  IntensitySeries trace = MockTrace();
  SimOptions o;
  o.policy = "threshold";
  o.threshold = 160;
  o.jobs = 100;
  auto r = Simulate(trace, o);
  ASSERT_TRUE(r.ok());
  EXPECT_LE(r->summary.max_delay_h, 24.0);
  EXPECT_GT(r->summary.mean_delay_h, 0);
  EXPECT_GT(r->summary.saving_pct, 0);
}

TEST(Simulator, BadOptionsSayWhatIsAccepted) {
  SimOptions o;
  EXPECT_NE(ParseForecastMode("noise:lots", o).message().find("expected perfect, own, or noise:SIGMA"),
            std::string::npos);
  EXPECT_TRUE(ParseForecastMode("noise:0.2", o).ok());
  EXPECT_DOUBLE_EQ(o.noise_sigma, 0.2);
  o.policy = "greedy";
  EXPECT_NE(Simulate(MockTrace(), o).status().message().find("expected immediate, threshold or forecast"),
            std::string::npos);
  o.policy = "forecast";
  IntensitySeries full = MockTrace();
  IntensitySeries shortt(full.begin(), full.begin() + 24 * 10);
  EXPECT_NE(Simulate(shortt, o).status().message().find("too short"), std::string::npos);
}

TEST(Forecaster, BeatsSeasonalNaiveOnTheMockAndFollowsTheCycle) {
  IntensitySeries trace = MockTrace();
  double own = 0, naive = 0;
  int n = 0;
  for (Timestamp now = trace.front().time + std::chrono::hours(24 * 35); now < trace.back().time - 48h; now += 6h) {
    IntensitySeries history = SliceSorted(trace, now - std::chrono::hours(24 * 35), now);
    auto f = ForecastFromHistory(history, now, 48h);
    auto s = SeasonalNaiveForecast(history, now, 48h);
    ASSERT_EQ(f.size(), 48u);
    for (const auto& p : f) {
      auto a = PointAt(trace, p.time);
      auto b = PointAt(s, p.time);
      if (!a || !b) continue;
      own += std::abs(p.gco2_per_kwh - a->gco2_per_kwh);
      naive += std::abs(b->gco2_per_kwh - a->gco2_per_kwh);
      ++n;
    }
  }
  ASSERT_GT(n, 1000);
  EXPECT_LT(own, naive);
  EXPECT_TRUE(ForecastFromHistory({}, trace.front().time, 48h).empty());
}

// The forecast depends on what is known, not on the minute it is asked: from
// anywhere in the latest step it is the one issued at the step's start, which
// is what lets the simulator share it between every job planned in that step.
TEST(Forecaster, IsTheSameFromAnywhereInTheLatestStep) {
  IntensitySeries trace = MockTrace();
  const Timestamp issued = trace.front().time + std::chrono::hours(24 * 40);
  IntensitySeries history = SliceSorted(trace, trace.front().time, issued + 59min);
  auto at_start = ForecastFromHistory(history, issued, 48h);
  for (auto later : {1min, 30min, 59min}) {
    auto f = ForecastFromHistory(history, issued + later, 48h);
    ASSERT_EQ(f.size(), at_start.size() + 1);  // it reaches 48 h past the later now: one step more
    for (size_t i = 0; i < at_start.size(); ++i) {
      EXPECT_EQ(f[i].time, at_start[i].time);
      EXPECT_DOUBLE_EQ(f[i].gco2_per_kwh, at_start[i].gco2_per_kwh) << i;
    }
  }
  // A new value changes it.
  auto next = ForecastFromHistory(history, issued + 1h, 48h);
  ASSERT_FALSE(next.empty());
  EXPECT_EQ(next.front().time, issued + 1h);
}

// Two mock grids with the same daily cycle eight hours apart, the second
// 30% cleaner on average, plus a flat dirty one: placement over them.
std::vector<SimZone> ThreeZones() {
  Timestamp start = *ParseTime("2025-01-01T00:00:00Z");
  auto zone = [&](const std::string& name, double mean, int utc_offset_minutes, double amplitude) {
    MockIntensityParams p;
    p.step = 1h;
    p.noise = 10;
    p.mean = mean;
    p.amplitude = amplitude;
    p.utc_offset_minutes = utc_offset_minutes;
    return SimZone{name, MockIntensityModel(p).Range(start, start + std::chrono::hours(24 * 80))};
  };
  return {zone("A", 300, 0, 120), zone("B", 210, 480, 90), zone("C", 600, 0, 0)};
}

SimSitesSummary SimSites(const std::vector<SimZone>& zones, const std::string& forecast, int64_t slots = 0) {
  SimOptions o;
  o.jobs = 300;
  o.slots_per_site = slots;
  EXPECT_TRUE(ParseForecastMode(forecast, o).ok());
  auto r = SimulateSites(zones, o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : SimSitesSummary{};
}

TEST(SimulatorSites, PlacementBeatsTimeAloneAndTheBestFixedZone) {
  const SimSitesSummary s = SimSites(ThreeZones(), "perfect");
  EXPECT_GE(s.share_of_oracle, 0.99);
  EXPECT_GT(s.saving_pct, s.time_only_saving_pct);
  EXPECT_EQ(s.best_fixed_zone, "B");
  EXPECT_GT(s.saving_pct, s.best_fixed_zone_saving_pct);
  ASSERT_EQ(s.zone_share.size(), 3u);
  EXPECT_EQ(s.zone_share[2].first, "C");
  EXPECT_DOUBLE_EQ(s.zone_share[2].second, 0);  // the dirty flat zone never wins
  EXPECT_GT(s.zone_share[0].second + s.zone_share[1].second, 0.99);
  // A noisy forecast still places well; with one slot per zone jobs spread out.
  const SimSitesSummary noisy = SimSites(ThreeZones(), "noise:10%");
  EXPECT_GE(noisy.share_of_oracle, 0.8);
  const SimSitesSummary tight = SimSites(ThreeZones(), "perfect", 1);
  EXPECT_LT(tight.saving_pct, s.saving_pct + 1e-9);
  EXPECT_GT(tight.zone_share[0].second, 0);
  EXPECT_GT(tight.zone_share[1].second, 0);
}

TEST(SimulatorSites, OneZoneIsTheTimeOnlySimulation) {
  const std::vector<SimZone> zones = {ThreeZones().front()};
  const SimSitesSummary s = SimSites(zones, "perfect");
  EXPECT_NEAR(s.saving_pct, s.time_only_saving_pct, 1e-9);
  EXPECT_EQ(s.best_fixed_zone, "A");
  EXPECT_NEAR(s.best_fixed_zone_saving_pct, 0, 1e-9);
  EXPECT_FALSE(SimulateSites({}, SimOptions()).ok());
}

}  // namespace
}  // namespace carbon
