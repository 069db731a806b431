// The worker's NVML code against the fake libnvidia-ml.so.1
// (tests/support/fake_nvml.cc), loaded by name through LD_LIBRARY_PATH as
// the driver's library would be; each test writes its FAKE_NVML_SCENARIO.
// ctest -R 'Nvml|Gpu' selects these. The last runs the real carbon-worker.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/emissions_csv.h"
#include "common/energy_model.h"
#include "tests/support/fakes.h"
#include "tests/support/files.h"
#include "worker/energy_meters.h"

namespace carbon::energy {
namespace {

using Clock = std::chrono::steady_clock;

class FakeNvml : public ::testing::Test {
 protected:
  void SetUp() override { ::unsetenv("FAKE_NVML_SCENARIO"); }
  void TearDown() override { ::unsetenv("FAKE_NVML_SCENARIO"); }
  void Scenario(const std::string& text) {
    const std::string path = dir_ / "scenario";
    std::ofstream(path) << text;
    ::setenv("FAKE_NVML_SCENARIO", path.c_str(), 1);
  }
  static double Seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }
  // A constant draw between two reads, each bracketed by the clock: at least
  // `watts` from just after the first read to just before the second, at
  // most from just before the first to just after the second, whatever the
  // scheduler does in between (the fake counts whole millijoules).
  static void ExpectDrawBetween(double kwh, double watts, Clock::time_point first_before,
                                Clock::time_point first_after, Clock::time_point second_before,
                                Clock::time_point second_after) {
    auto secs = [](Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); };
    const double mj = KwhFromMillijoules(1);
    EXPECT_GE(kwh, KwhFromPowerAndTime(watts, secs(first_after, second_before)) - mj);
    EXPECT_LE(kwh, KwhFromPowerAndTime(watts, secs(first_before, second_after)) + mj);
    // The bracket is the reads' own few microseconds, far inside 1% of 0.4 s,
    // unless the machine delays a read; the bounds hold either way.
  }
  fakes::TempDir dir_;
};

TEST_F(FakeNvml, TheDefaultGpuDraws100WOnItsEnergyCounter) {
  std::string why;
  const auto opening = Clock::now();
  auto m = NvmlMeter::Open(&why);  // by name: LD_LIBRARY_PATH finds the fake
  const auto opened = Clock::now();
  ASSERT_TRUE(m) << why;
  ASSERT_EQ(m->devices(), 1);
  EXPECT_EQ(m->names(), std::vector<std::string>{"Fake NVML GPU"});
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  std::string method;
  const auto reading = Clock::now();
  auto kwh = m->DeltaKwh(0, &method);
  const auto read = Clock::now();
  ASSERT_TRUE(kwh.ok()) << kwh.status().ToString();
  EXPECT_EQ(method, "nvml");
  ExpectDrawBetween(*kwh, 100, opening, opened, reading, read);
}

TEST_F(FakeNvml, WithoutAnEnergyCounterPowerIsIntegratedOverTheInterval) {
  Scenario("device Fake A100 watts 250 counter no\n");
  std::string why, method;
  auto m = NvmlMeter::Open(&why);
  ASSERT_TRUE(m) << why;
  auto kwh = m->DeltaKwh(2.0, &method);
  ASSERT_TRUE(kwh.ok());
  EXPECT_EQ(method, "nvml-power");
  EXPECT_DOUBLE_EQ(*kwh, KwhFromPowerAndTime(250, 2.0));
}

// A power curve under a power limit that changes mid-run (as carbond-gpucap
// changes it): the counter is the curve's known integral within 1%, and
// the limit in force is what the meter reports.
TEST_F(FakeNvml, APowerCurveUnderAChangingLimitIsItsKnownIntegral) {
  Scenario("device Curve GPU watts 100 curve 0.3:400,0.6:50 limit 300 min_limit 100 max_limit 400\n");
  std::string why;
  // `opening` first: the change at `wall` then lies at most Open's own
  // duration before 0.45 s after nvmlInit, as the slack below allows.
  const auto opening = Clock::now();
  const auto wall = std::chrono::system_clock::now() + std::chrono::milliseconds(450);
  auto m = NvmlMeter::Open(&why);
  const auto opened = Clock::now();
  ASSERT_TRUE(m) << why;
  EXPECT_EQ(m->PowerLimitW(), 300.0);
  // 200 W from 0.45 s after Open was called (a line of the shared state file).
  std::ofstream(dir_ / "scenario.limits")
      << "GPU-fake-0 200000 "
      << std::chrono::duration_cast<std::chrono::milliseconds>(wall.time_since_epoch()).count() << "\n";
  EXPECT_EQ(m->PowerLimitW(), 300.0);  // not yet in force
  std::this_thread::sleep_for(std::chrono::milliseconds(900));
  EXPECT_EQ(m->PowerLimitW(), 200.0);
  std::string method;
  const auto reading = Clock::now();
  auto kwh = m->DeltaKwh(0, &method);
  const auto read = Clock::now();
  ASSERT_TRUE(kwh.ok());
  // 100 W to 0.3 s, the curve's 400 W held to 300 W by the limit to 0.45 s,
  // then to 200 W by the new one to 0.6 s, then the curve's 50 W.
  auto joules = [](double t) {
    return 100 * std::min(t, 0.3) + 300 * std::clamp(t - 0.3, 0.0, 0.15) + 200 * std::clamp(t - 0.45, 0.0, 0.15) +
           50 * std::max(0.0, t - 0.6);
  };
  auto secs = [](Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); };
  const double lo = joules(secs(opened, reading)), hi = joules(secs(opening, read));
  const double got = *kwh * 3.6e6;
  // The new limit starts 0.45 s after Open was called, so up to Open's own
  // duration before 0.45 s after nvmlInit: 100 W less for that long.
  // And the shared state file and the fake's start both count whole
  // milliseconds: the change may fall up to 1 ms earlier still (100 W less).
  const double slack = 0.002 + 100 * secs(opening, opened) + 100 * 0.001;
  EXPECT_GE(got, lo - slack);
  EXPECT_LE(got, hi + slack);
  // Within 1% of the middle, widened by half the bounds' own spread: a
  // loaded machine that delays the reads widens the window they bound.
  EXPECT_NEAR(got, (lo + hi) / 2, 0.01 * got + (hi - lo) / 2);
}

TEST_F(FakeNvml, NoPermissionOnTheCounterFallsBackToPower) {
  Scenario("device Fake L4 watts 72 energy_error 4\n");  // NVML_ERROR_NO_PERMISSION
  std::string why, method;
  auto m = NvmlMeter::Open(&why);
  ASSERT_TRUE(m) << why;
  auto kwh = m->DeltaKwh(10.0, &method);
  ASSERT_TRUE(kwh.ok());
  EXPECT_EQ(method, "nvml-power");
  EXPECT_DOUBLE_EQ(*kwh, KwhFromPowerAndTime(72, 10.0));
}

TEST_F(FakeNvml, TwoGpusAreSummedAndNamedAsCodeCarbonDoes) {
  Scenario("# two GPUs of one model, one of another\n"
           "device Fake H100 80GB HBM3 watts 300\n\n"
           "device Fake H100 80GB HBM3 watts 200\n"
           "device Fake L4 watts 50\n");
  std::string why, method;
  const auto opening = Clock::now();
  auto m = NvmlMeter::Open(&why);
  const auto opened = Clock::now();
  ASSERT_TRUE(m) << why;
  ASSERT_EQ(m->devices(), 3);
  EXPECT_EQ(GpuModelName(m->names()), "2 x Fake H100 80GB HBM31 x Fake L4");
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  const auto reading = Clock::now();
  auto kwh = m->DeltaKwh(0, &method);
  const auto read = Clock::now();
  ASSERT_TRUE(kwh.ok());
  ExpectDrawBetween(*kwh, 550, opening, opened, reading, read);
}

TEST_F(FakeNvml, AGpuLostMidRunIsAnErrorNotAFigure) {
  Scenario("device Fake GPU watts 100 lost_after 0.3\n");
  std::string why, method;
  auto m = NvmlMeter::Open(&why);
  ASSERT_TRUE(m) << why;
  EXPECT_TRUE(m->DeltaKwh(0, &method).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  auto lost = m->DeltaKwh(0, &method);
  EXPECT_FALSE(lost.ok());
  EXPECT_NE(lost.status().message().find("nvmlDeviceGetTotalEnergyConsumption failed"), std::string::npos)
      << lost.status().ToString();
  // Through the tracker, the sample charges no GPU energy and its method says so.
  Scenario("device Fake GPU watts 100 lost_after 0.2\n");
  TrackerOptions o;
  o.powercap_root = dir_ / "no-powercap";
  o.try_nvml = true;
  EnergyTracker t(o);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EnergySample s = t.Sample(0.3);
  EXPECT_EQ(s.gpu_method, "nvml-error");
  EXPECT_EQ(s.gpu_kwh, 0);
}

TEST_F(FakeNvml, NoLibraryOrNoGpuSaysWhy) {
  std::string why;
  EXPECT_FALSE(NvmlMeter::Open(&why, "/nonexistent/libnvidia-ml.so.1"));
  EXPECT_NE(why.find("no NVML"), std::string::npos) << why;
  Scenario("# a driver with no GPU\n");
  EXPECT_FALSE(NvmlMeter::Open(&why));
  EXPECT_NE(why.find("no usable GPU"), std::string::npos) << why;
  Scenario("init_error 9\n");  // NVML_ERROR_DRIVER_NOT_LOADED
  EXPECT_FALSE(NvmlMeter::Open(&why));
  EXPECT_NE(why.find("no usable GPU"), std::string::npos) << why;
}

// CUDA_VISIBLE_DEVICES as CUDA reads it: indices or UUIDs (prefixes, "GPU-"
// optional), in its order, up to the first entry that names no GPU.
TEST(VisibleGpus, IndicesOrUuidsUpToTheFirstInvalidEntry) {
  const std::vector<std::string> uuids = {"GPU-aaaa-1111", "GPU-bbbb-2222", "GPU-cccc-3333"};
  using V = std::vector<size_t>;
  EXPECT_EQ(VisibleGpus(std::nullopt, uuids), (V{0, 1, 2}));
  EXPECT_EQ(VisibleGpus("", uuids), V{});
  EXPECT_EQ(VisibleGpus("2,0", uuids), (V{2, 0}));
  EXPECT_EQ(VisibleGpus("GPU-bbbb-2222", uuids), V{1});
  EXPECT_EQ(VisibleGpus("cccc, GPU-aaaa", uuids), (V{2, 0}));
  EXPECT_EQ(VisibleGpus("1,7,0", uuids), V{1});  // 7 is no GPU: the rest is ignored
  EXPECT_EQ(VisibleGpus("-1", uuids), V{});
  EXPECT_EQ(VisibleGpus("99999999999999999999999,0", uuids), V{});  // too large to parse: no GPU, no throw
}

TEST_F(FakeNvml, OnlyTheVisibleGpusAreMetered) {
  Scenario("device Fake A watts 100 uuid GPU-aaaa\ndevice Fake B watts 300 uuid GPU-bbbb\n");
  std::string why, method;
  auto m = NvmlMeter::Open(&why, "libnvidia-ml.so.1", std::string("GPU-bbbb"));
  ASSERT_TRUE(m) << why;
  EXPECT_EQ(m->names(), std::vector<std::string>{"Fake B"});
  ASSERT_TRUE(m->DeltaKwh(1, &method).ok());
  EXPECT_EQ(method, "nvml:GPU-bbbb");  // the GPUs it was given, by UUID
  m.reset();
  Scenario("device Fake A watts 100 uuid GPU-aaaa\ndevice Fake B watts 300 uuid GPU-bbbb\n");
  m = NvmlMeter::Open(&why, "libnvidia-ml.so.1", std::string("1,0"));  // indices: named by UUID too
  ASSERT_TRUE(m) << why;
  ASSERT_TRUE(m->DeltaKwh(1, &method).ok());
  EXPECT_EQ(method, "nvml:GPU-bbbb,GPU-aaaa");
  m.reset();  // shut down, so the next init reads the next scenario
  Scenario("device Fake A watts 100 counter no\ndevice Fake B watts 300 counter no\n");
  m = NvmlMeter::Open(&why, "libnvidia-ml.so.1", std::string("1"));
  ASSERT_TRUE(m) << why;
  auto kwh = m->DeltaKwh(3600, &method);
  ASSERT_TRUE(kwh.ok());
  EXPECT_DOUBLE_EQ(*kwh, 0.3);  // GPU 1 only: 300 W for an hour
  EXPECT_FALSE(NvmlMeter::Open(&why, "libnvidia-ml.so.1", std::string("")));
  EXPECT_NE(why.find("CUDA_VISIBLE_DEVICES=''"), std::string::npos) << why;
}

// Through the tracker into an emissions row: gpu_count, gpu_model,
// gpu_energy and gpu_power from the fake's known draw.
TEST_F(FakeNvml, GpuFiguresReachTheEmissionsRow) {
  Scenario("device Fake H100 80GB HBM3 watts 400\n");
  TrackerOptions o;
  o.powercap_root = dir_ / "no-powercap";
  o.try_nvml = true;
  const auto opening = Clock::now();
  EnergyTracker t(o);
  const auto t0 = Clock::now();
  EXPECT_EQ(t.host().gpu_count, 1);
  EXPECT_EQ(t.host().gpu_model, "1 x Fake H100 80GB HBM3");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto reading = Clock::now();
  const double secs = Seconds(t0);
  EnergySample s = t.Sample(secs);
  const auto read = Clock::now();
  EXPECT_EQ(s.gpu_method, "nvml");
  ExpectDrawBetween(s.gpu_kwh, 400, opening, t0, reading, read);
  JobRecord job;
  job.id = 1;
  job.name = "gpu";
  EpochRecord e;
  e.epoch = 1;
  e.attempt = 1;
  e.gpu_kwh = s.gpu_kwh;
  e.energy_s = secs;
  e.host = t.host();
  const EmissionsRecord row = EmissionsRows(job, {e})[0];
  EXPECT_EQ(row.gpu_count, 1);
  EXPECT_EQ(row.gpu_model, "1 x Fake H100 80GB HBM3");
  EXPECT_NEAR(row.gpu_power, s.gpu_kwh * 3.6e6 / secs, 1e-6);  // the energy over the row's span
  EXPECT_DOUBLE_EQ(row.gpu_energy, s.gpu_kwh);
}

}  // namespace
}  // namespace carbon::energy

#ifdef CARBON_WORKER_BIN
namespace carbon::energy {
namespace {

// The real carbon-worker training on the CPU of a box with a (fake) GPU
// meters it, as CodeCarbon's machine mode does, into its emissions.csv.
TEST(GpuBox, TheRealWorkerMetersTheMachinesGpuIntoEmissionsCsv) {
  ::unsetenv("FAKE_NVML_SCENARIO");  // the default: one 100 W GPU
  ::unsetenv("CUDA_VISIBLE_DEVICES");
  fakes::TempDir dir;
  const std::string job = dir / "job.yaml";
  std::ofstream(job) << "name: gpu-box\nmodel: {arch: mlp, hidden: [64]}\n"
                        "data: {path: /usr/share/datasets/fashion-mnist, train_limit: 60000, test_limit: 500}\n"
                        "train: {epochs: 2, batch_size: 64, threads: 1}\n";
  const std::string cmd = std::string(CARBON_WORKER_BIN) + " --job " + job + " --run-dir " + (dir / "run") +
                          " --gco2-per-kwh 100 > " + (dir / "events") + " 2> " + (dir / "log");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << fakes::ReadAll(dir / "log");
  std::ifstream csv(dir / "run/emissions.csv");
  std::string header, line;
  ASSERT_TRUE(std::getline(csv, header));
  std::vector<std::string> names;
  std::istringstream h(header);
  for (std::string c; std::getline(h, c, ',');) names.push_back(c);
  auto col = [&](const std::string& row, const std::string& name) {
    std::istringstream in(row);
    std::string cell;
    for (const auto& n : names) {
      std::getline(in, cell, ',');
      if (n == name) return cell;
    }
    return std::string();
  };
  // Each row within 5% (a row's boundary is the worker's clock, then the
  // counter, read a moment apart on a loaded machine); the run within 1%.
  int rows = 0;
  double seconds = 0, energy = 0;
  while (std::getline(csv, line)) {
    ++rows;
    EXPECT_EQ(col(line, "gpu_count"), "1") << line;
    EXPECT_EQ(col(line, "gpu_model"), "1 x Fake NVML GPU") << line;
    const double duration = std::stod(col(line, "duration")), kwh = std::stod(col(line, "gpu_energy"));
    EXPECT_NEAR(std::stod(col(line, "gpu_power")), 100.0, 5.0) << line;
    seconds += duration;
    energy += kwh;
  }
  EXPECT_EQ(rows, 2);
  EXPECT_NEAR(energy, KwhFromPowerAndTime(100, seconds), KwhFromPowerAndTime(100, seconds) * 0.01);
}

}  // namespace
}  // namespace carbon::energy
#endif
