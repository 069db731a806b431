#include "common/compare.h"

#include <gtest/gtest.h>

#include "common/job_spec.h"
#include "common/time_util.h"

namespace carbon {
namespace {

EpochRecord Epoch(int64_t n, double kwh, std::optional<double> kg, int64_t peak, double acc,
                  std::optional<int64_t> added = std::nullopt) {
  EpochRecord e;
  e.memory_added_bytes = added;
  e.epoch = n;
  e.energy_kwh = kwh;
  e.kg_co2 = kg;
  e.peak_memory_bytes = peak;
  e.memory_method = "peak-rss";
  e.test_accuracy = acc;
  return e;
}

JobRecord Job(int64_t id, const std::string& name, const std::string& submitted, const std::string& started,
              const std::string& finished) {
  JobRecord j;
  j.id = id;
  j.name = name;
  j.state = JobState::kSucceeded;
  j.policy = id == 1 ? "immediate" : "forecast";
  j.submitted = *ParseTime(submitted);
  j.started = *ParseTime(started);
  j.finished = *ParseTime(finished);
  return j;
}

TEST(Compare, SummariesFromEpochsAndTheDifferencesBetweenThem) {
  JobRecord b = Job(1, "base", "2026-11-26T17:00:00Z", "2026-11-26T17:00:00Z", "2026-11-26T17:10:00Z");
  JobRecord c = Job(2, "aware", "2026-11-26T17:00:00Z", "2026-11-27T03:00:00Z", "2026-11-27T03:08:00Z");
  RunSummary sb = SummarizeRun(
      b, {Epoch(1, 0.01, 0.003, 300 << 20, 0.70, 80 << 20), Epoch(2, 0.01, 0.003, 320 << 20, 0.76, 96 << 20)}, 300.0);
  // Accumulation: the peak is the data and LibTorch; what training adds drops.
  RunSummary sc = SummarizeRun(
      c, {Epoch(1, 0.008, 0.0008, 200 << 20, 0.71, 30 << 20), Epoch(2, 0.008, 0.0008, 210 << 20, 0.77, 24 << 20)},
      300.0);
  EXPECT_DOUBLE_EQ(*sb.kg_co2, 0.006);
  EXPECT_DOUBLE_EQ(*sb.energy_kwh, 0.02);
  EXPECT_EQ(*sb.peak_memory_bytes, 320 << 20);
  EXPECT_DOUBLE_EQ(*sb.final_accuracy, 0.76);
  EXPECT_DOUBLE_EQ(*sb.wall_s, 600);
  EXPECT_DOUBLE_EQ(*sb.wait_s, 0);
  EXPECT_DOUBLE_EQ(*sb.run_gco2_per_kwh, 300);
  EXPECT_DOUBLE_EQ(*sc.wait_s, 10 * 3600);
  EXPECT_DOUBLE_EQ(*sc.run_gco2_per_kwh, 100);
  auto rows = CompareRuns(sb, sc);
  ASSERT_EQ(rows.size(), 9u);
  EXPECT_EQ(rows[0].key, "kg_co2");
  EXPECT_NEAR(*rows[0].diff(), -0.0044, 1e-15);
  EXPECT_NEAR(*rows[0].pct(), -100.0 * 0.0044 / 0.006, 1e-9);
  EXPECT_EQ(rows[2].key, "peak_memory_mb");
  EXPECT_DOUBLE_EQ(*rows[2].baseline, 320);
  EXPECT_DOUBLE_EQ(*rows[2].diff(), -110);
  EXPECT_EQ(rows[3].key, "memory_added_mb");  // the max over epochs
  EXPECT_DOUBLE_EQ(*rows[3].baseline, 96);
  EXPECT_DOUBLE_EQ(*rows[3].candidate, 30);
  EXPECT_NEAR(*rows[3].pct(), -68.75, 1e-9);
  EXPECT_EQ(rows[4].key, "final_accuracy_pct");
  EXPECT_NEAR(*rows[4].diff(), 1.0, 1e-9);
  EXPECT_EQ(rows[6].key, "wait_s");
  EXPECT_FALSE(rows[6].pct());  // the baseline waited 0 s: no percentage
  const std::string text = FormatComparison(sb, sc, rows);
  EXPECT_NE(text.find("CARBON SAVINGS vs BASELINE"), std::string::npos);
  EXPECT_NE(text.find("  CO2   "), std::string::npos) << text;  // its cells carry the unit (common/units.h)
  EXPECT_NE(text.find("-73.3%"), std::string::npos) << text;
  EXPECT_NE(text.find("Wait time (s)"), std::string::npos) << text;
  EXPECT_NE(text.find("Memory added by training (MB)"), std::string::npos) << text;
  EXPECT_NE(text.find("36000.0"), std::string::npos) << text;
}

TEST(Compare, MissingFiguresStayMissing) {
  JobRecord j;
  j.id = 3;
  j.name = "never-ran";
  RunSummary s = SummarizeRun(j, {}, std::nullopt);
  EXPECT_FALSE(s.kg_co2);
  EXPECT_FALSE(s.energy_kwh);
  EXPECT_FALSE(s.wall_s);
  EXPECT_FALSE(s.final_accuracy);
  // One epoch without emissions: no CO2 total (not a partial sum).
  RunSummary p = SummarizeRun(j, {Epoch(1, 0.01, 0.002, 1, 0.5), Epoch(2, 0.01, std::nullopt, 1, 0.6)}, std::nullopt);
  EXPECT_FALSE(p.kg_co2);
  EXPECT_DOUBLE_EQ(*p.energy_kwh, 0.02);
  auto rows = CompareRuns(s, p);
  EXPECT_FALSE(rows[1].diff());
  EXPECT_NE(FormatComparison(s, p, rows).find(" - "), std::string::npos);
}

TEST(BaselineTwin, ImmediateFp32NoAccumulationSameModelDataSeedAndEpochs) {
  const std::string spec = R"(name: aware
model: {arch: cnn, channels: [16, 32]}
data: {path: /data, train_limit: 2000}
train: {epochs: 3, batch_size: 64, accumulation_steps: 4, precision: bf16, seed: 7}
carbon: {policy: forecast, zone: DE, max_wait: 12h, budget_kg: 0.1}
)";
  auto twin = BaselineTwinSpec(spec, "job.yaml");
  ASSERT_TRUE(twin.ok()) << twin.status().message();
  auto t = ParseJobSpec(*twin, "twin");
  auto o = ParseJobSpec(spec, "job");
  ASSERT_TRUE(t.ok()) << *twin;
  EXPECT_EQ(t->name, "aware-baseline");
  EXPECT_EQ(t->carbon.policy, "immediate");
  EXPECT_EQ(t->carbon.zone, "DE");
  EXPECT_FALSE(t->carbon.budget_kg);
  EXPECT_FALSE(t->carbon.max_wait);
  EXPECT_EQ(t->train.accumulation_steps, 1);
  EXPECT_EQ(t->train.precision, "fp32");
  EXPECT_EQ(t->train.epochs, 3);
  EXPECT_EQ(t->train.batch_size, 64);
  EXPECT_EQ(t->train.seed, 7);
  EXPECT_EQ(t->model.channels, o->model.channels);
  EXPECT_EQ(t->data.train_limit, 2000);
  // A job with no train section gets one; a broken job is refused as itself.
  EXPECT_TRUE(BaselineTwinSpec("name: x\n", "j.yaml").ok());
  auto bad = BaselineTwinSpec("name: x\ntrain: {epochs: 0}\n", "j.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("j.yaml"), std::string::npos) << bad.status().message();
}

}  // namespace
}  // namespace carbon
