// The worker's energy meters on fake /sys/class/powercap and /proc trees.
#include "worker/energy_meters.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/support/fakes.h"

namespace carbon::energy {
namespace {

void Write(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << text;
}

TEST(Rapl, PackagesSummedSubzonesIgnoredWrapHandled) {
  fakes::TempDir dir;
  const std::string root = dir / "powercap";
  Write(root + "/intel-rapl:0/name", "package-0\n");
  Write(root + "/intel-rapl:0/energy_uj", "262143000000\n");
  Write(root + "/intel-rapl:0/max_energy_range_uj", "262143328850\n");
  Write(root + "/intel-rapl:0:0/name", "core\n");  // a sub-zone: part of the package already
  Write(root + "/intel-rapl:0:0/energy_uj", "5\n");
  Write(root + "/intel-rapl:1/name", "package-1\n");
  Write(root + "/intel-rapl:1/energy_uj", "1000000\n");
  Write(root + "/intel-rapl:1/max_energy_range_uj", "262143328850\n");
  auto r = RaplReader::Open(root);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)->domains(), 2u);
  Write(root + "/intel-rapl:0/energy_uj", "1000000\n");  // wrapped (CodeCarbon's golden case)
  Write(root + "/intel-rapl:1/energy_uj", "4600000\n");  // +3.6 J
  auto kwh = (*r)->DeltaKwh();
  ASSERT_TRUE(kwh.ok());
  EXPECT_DOUBLE_EQ(*kwh, RaplDeltaKwh(262143000000, 1000000, 262143328850) + RaplDeltaKwh(1000000, 4600000, 0));
  auto again = (*r)->DeltaKwh();
  EXPECT_DOUBLE_EQ(*again, 0);
  auto none = RaplReader::Open(dir / "nothing");
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
  EXPECT_NE(none.status().message().find("does not exist"), std::string::npos);
}

TEST(ProcFiles, StatCpuinfoMeminfo) {
  auto a = ParseProcStat("cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3 4\n");
  auto b = ParseProcStat("cpu  200 0 200 750 150 0 0 0 0 0\n");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_DOUBLE_EQ(LoadBetween(*a, *b), 200.0 / 300.0);
  EXPECT_FALSE(ParseProcStat("intr 1 2 3\n").ok());
  CpuInfo c = ParseCpuInfo("processor\t: 0\nmodel name\t: AMD EPYC 7763 64-Core Processor\n\nprocessor\t: 1\n"
                           "model name\t: AMD EPYC 7763 64-Core Processor\n");
  EXPECT_EQ(c.model, "AMD EPYC 7763 64-Core Processor");
  EXPECT_EQ(c.threads, 2);
  EXPECT_NEAR(*ParseMemTotalGb("MemTotal:       24684096 kB\n"), 25.276, 1e-3);
  EXPECT_FALSE(ParseMemTotalGb("nothing"));
}

TEST(Tracker, TdpModelAtTheMeasuredLoadAndRamModelWithoutRaplOrGpu) {
  fakes::TempDir dir;
  const std::string proc = dir / "proc";
  Write(proc + "/cpuinfo", "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz\nprocessor\t: 1\n");
  Write(proc + "/meminfo", "MemTotal:       15625000 kB\n");  // 16 GB: 2 DIMMs, 10 W
  Write(proc + "/stat", "cpu  0 0 0 1000 0 0 0 0 0 0\n");
  TrackerOptions o;
  o.powercap_root = dir / "no-powercap";
  o.proc_root = proc;
  o.cpu_power_csv = std::string(CARBON_SOURCE_DIR) + "/configs/codecarbon/cpu_power.csv";
  o.try_nvml = false;
  EnergyTracker t(o);
  EXPECT_DOUBLE_EQ(t.cpu_tdp_watts(), 205);  // Intel Xeon Gold 6338 in CodeCarbon's table
  EXPECT_DOUBLE_EQ(t.ram_watts(), 10);
  Write(proc + "/stat", "cpu  500 0 0 1500 0 0 0 0 0 0\n");  // 50% busy since
  EnergySample s = t.Sample(60);
  EXPECT_EQ(s.cpu_method, "tdp-model");
  EXPECT_EQ(s.gpu_method, "unavailable");
  EXPECT_EQ(s.ram_method, "ram-model");
  EXPECT_DOUBLE_EQ(s.cpu_kwh, KwhFromPowerAndTime(CpuPowerAtLoad(205, 0.5), 60));
  EXPECT_DOUBLE_EQ(s.ram_kwh, KwhFromPowerAndTime(10, 60));
  EXPECT_NEAR(s.cpu_w, 205 * (0.1 + 0.9 * 0.125), 1e-9);
  EXPECT_FALSE(t.notes().empty());  // says why RAPL is not used
  // An unknown model: threads x 4 W; none at all: 85 W.
  Write(proc + "/cpuinfo", "processor\t: 0\nprocessor\t: 1\nprocessor\t: 2\nmodel name\t: Mystery 9000\n");
  EXPECT_DOUBLE_EQ(EnergyTracker(o).cpu_tdp_watts(), 12);
  Write(proc + "/cpuinfo", "");
  EXPECT_DOUBLE_EQ(EnergyTracker(o).cpu_tdp_watts(), 85);
}

TEST(Nvml, AbsentLibraryIsUnavailableNotAnError) {
  std::string why;
  auto m = NvmlMeter::Open(&why, "libnvidia-ml-does-not-exist.so.1");
  EXPECT_FALSE(m);
  EXPECT_NE(why.find("GPU energy is 0, method unavailable"), std::string::npos) << why;
}

}  // namespace
}  // namespace carbon::energy
