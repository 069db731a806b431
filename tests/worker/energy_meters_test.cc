// The worker's energy meters on fake /sys/class/powercap and /proc trees.
#include "worker/energy_meters.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/emissions_csv.h"
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

// ram_used_gb follows psutil's `used` (what CodeCarbon writes), not
// MemTotal - MemAvailable; the percent follows psutil's (from MemAvailable).
// This machine's /proc/meminfo, recorded 2026-12-07 (Debian 12, 24 GiB).
TEST(ProcFiles, MemoryUseIsPsutilsUsedAndPercent) {
  const std::string recorded =
      "MemTotal:       24683772 kB\nMemFree:        22198676 kB\nMemAvailable:   24196192 kB\n"
      "Buffers:           88708 kB\nCached:          1941024 kB\nSwapCached:            0 kB\n"
      "Active:          1159716 kB\nShmem:             16100 kB\nKReclaimable:     313196 kB\n"
      "Slab:             360836 kB\nSReclaimable:     313196 kB\nSUnreclaim:        47640 kB\n";
  auto m = ParseMemoryUse(recorded);
  ASSERT_TRUE(m);
  // 24683772 - 22198676 - 88708 - (1941024 + 313196) = 142168 kB.
  EXPECT_DOUBLE_EQ(m->used_gib, 142168 / 1048576.0);
  EXPECT_DOUBLE_EQ(m->percent, 100.0 * (24683772 - 24196192) / 24683772.0);
  // Where buffers and caches exceed what is not free (psutil: total - free).
  auto odd = ParseMemoryUse("MemTotal: 1000 kB\nMemFree: 500 kB\nMemAvailable: 900 kB\nCached: 800 kB\n");
  ASSERT_TRUE(odd);
  EXPECT_DOUBLE_EQ(odd->used_gib, 500 / 1048576.0);
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
  EXPECT_NEAR(*ParseMemTotalGib("MemTotal:       24684096 kB\n"), 23.540, 1e-3);
  EXPECT_FALSE(ParseMemTotalGib("nothing"));
  // The RAM model gets GiB, as CodeCarbon's: a 16 GiB host (MemTotal a little
  // under 16 GiB) is 2 DIMMs, 10 W, not 4 DIMMs, 20 W as 16.8 decimal GB gave.
  struct Host {
    const char* meminfo;
    double watts;
  };
  for (const Host& h : {Host{"MemTotal:       16393216 kB\n", 10}, Host{"MemTotal:       65842220 kB\n", 20},
                        Host{"MemTotal:      131787188 kB\n", 38}, Host{"MemTotal:       24684096 kB\n", 20}})
    EXPECT_DOUBLE_EQ(RamPowerWatts(*ParseMemTotalGib(h.meminfo), /*arm=*/false), h.watts) << h.meminfo;
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
  // The machine as CodeCarbon's rows name it, and its load over the sample.
  EXPECT_EQ(t.host().cpu_model, "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz");
  EXPECT_EQ(t.host().cpu_count, 2);
  EXPECT_NEAR(*t.host().ram_total_gib, 15625000 / 1048576.0, 1e-12);
  EXPECT_EQ(t.host().gpu_count, 0);  // no NVML: 0, as CodeCarbon writes
  EXPECT_EQ(t.host().os, carbon::PlatformName());
  EXPECT_EQ(s.cpu_utilization_pct, 50.0);
  EXPECT_FALSE(s.memory);  // no MemAvailable in this meminfo
  Write(proc + "/meminfo", "MemTotal:       16000000 kB\nMemFree:         1000000 kB\nMemAvailable:   12000000 kB\n");
  Write(proc + "/stat", "cpu  600 0 0 1900 0 0 0 0 0 0\n");  // 100 of 500 busy: 20%
  s = t.Sample(15);
  EXPECT_DOUBLE_EQ(*s.cpu_utilization_pct, 20.0);
  ASSERT_TRUE(s.memory);
  EXPECT_DOUBLE_EQ(s.memory->percent, 25.0);
  // psutil's used: total - free (no Buffers, Cached or SReclaimable here).
  EXPECT_DOUBLE_EQ(s.memory->used_gib, 15000000 / 1048576.0);
  // Two sockets (physical id 0 and 1): CodeCarbon counts the package's TDP twice.
  Write(proc + "/cpuinfo",
        "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz\nphysical id\t: 0\n\n"
        "processor\t: 1\nmodel name\t: Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz\nphysical id\t: 0\n\n"
        "processor\t: 2\nmodel name\t: Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz\nphysical id\t: 1\n\n"
        "processor\t: 3\nmodel name\t: Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz\nphysical id\t: 1\n");
  EXPECT_EQ(ParseCpuInfo(*ReadFile(proc + "/cpuinfo")).sockets, 2);
  EXPECT_DOUBLE_EQ(EnergyTracker(o).cpu_tdp_watts(), 410);
  // An unknown model: threads x 4 W; none at all: 85 W.
  Write(proc + "/cpuinfo", "processor\t: 0\nprocessor\t: 1\nprocessor\t: 2\nmodel name\t: Mystery 9000\n");
  EXPECT_DOUBLE_EQ(EnergyTracker(o).cpu_tdp_watts(), 12);
  Write(proc + "/cpuinfo", "");
  EXPECT_DOUBLE_EQ(EnergyTracker(o).cpu_tdp_watts(), 85);
}

TEST(Tracker, GpuModelIsEachNameWithItsCountAsCodeCarbonJoinsThem) {
  EXPECT_EQ(GpuModelName({}), "");
  EXPECT_EQ(GpuModelName({"NVIDIA H100 80GB HBM3"}), "1 x NVIDIA H100 80GB HBM3");
  EXPECT_EQ(GpuModelName({"A", "B", "A"}), "2 x A1 x B");  // "".join(...), first-seen order
}

// The issue's case: an 8 W TDP, the load alternating 7.5 s at 100% and 7.5 s
// at 10%. CodeCarbon applies the curve to each ~1 s load sample and averages
// the powers; the curve at the 15 s mean load (55%) charges far less.
TEST(Tracker, TheLoadCurveIsAppliedToEachSecondNotToTheIntervalsMeanLoad) {
  fakes::TempDir dir;
  const std::string proc = dir / "proc";
  Write(proc + "/cpuinfo", "processor\t: 0\nprocessor\t: 1\nmodel name\t: Mystery 9000\n");  // 2 x 4 W
  Write(proc + "/meminfo", "MemTotal:       15625000 kB\n");
  Write(proc + "/stat", "cpu  0 0 0 0 0 0 0 0 0 0\n");
  TrackerOptions o;
  o.powercap_root = dir / "no-powercap";
  o.proc_root = proc;
  o.try_nvml = false;
  EnergyTracker t(o);
  ASSERT_DOUBLE_EQ(t.cpu_tdp_watts(), 8);
  ASSERT_TRUE(t.uses_load_model());
  // 100 ticks of the 100 jiffies a second: busy 100 for 7.5 s, then 10.
  uint64_t busy = 0, idle = 0;
  double expected_kwh = 0;
  for (int tenth = 0; tenth < 150; ++tenth) {  // 0.1 s steps, ticked once a second
    const bool high = tenth < 75;
    busy += high ? 10 : 1;
    idle += high ? 0 : 9;
    if (tenth % 10 == 9) {
      Write(proc + "/stat", "cpu  " + std::to_string(busy) + " 0 0 " + std::to_string(idle) + " 0 0 0 0 0 0\n");
      t.TickLoad(1.0);
    }
  }
  // Seconds 1-7 at 100%, second 8 at 55%, seconds 9-15 at 10%.
  for (double load : {1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.55, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1})
    expected_kwh += KwhFromPowerAndTime(CpuPowerAtLoad(8, load), 1.0);
  EnergySample s = t.Sample(15);  // nothing left after the ticks
  EXPECT_NEAR(s.cpu_kwh, expected_kwh, 1e-15);
  EXPECT_NEAR(s.cpu_w, 4.243, 0.001);  // (7 x 8 W + 1.998 W + 7 x 0.807 W) / 15
  EXPECT_GT(s.cpu_w, 2 * CpuPowerAtLoad(8, 0.55) - 0.1);  // the mean load's curve: 2.00 W
  EXPECT_NEAR(CpuPowerAtLoad(8, 0.55), 2.00, 0.01);
}

// /proc/<pid>/stat and status as read on the development machine (ctest
// running the suite: utime 20, stime 32, cutime 7468, cstime 1740 ticks).
constexpr char kRecordedPidStat[] =
    "23013 (ctest) S 23011 23008 13052 0 -1 4194304 42752 2561949 11 791 20 32 7468 1740 20 0 1 0 3781112 "
    "72749056 4599 18446744073709551615 93846855487488 93846864311305 140732608463952 0 0 0 0 0 65536 1 0 0 17 "
    "0 0 0 0 0 0 93846865912912 93846865978216 93847560806400 140732608465511 140732608465552 140732608465552 "
    "140732608466921 0\n";

TEST(ProcessMode, PidStatAndVmRssAsTheKernelWritesThem) {
  EXPECT_EQ(*ParseProcPidStat(kRecordedPidStat), 20u + 32 + 7468 + 1740);
  // A command name may hold spaces and parentheses: the fields count from the last ')'.
  EXPECT_EQ(*ParseProcPidStat("7 (a) b (c d)) R 1 1 1 0 -1 0 0 0 0 0 5 6 7 8 20 0 1 0 9\n"), 26u);
  EXPECT_FALSE(ParseProcPidStat("7 (short) R 1 1 1").ok());
  EXPECT_FALSE(ParseProcPidStat("no parenthesis at all").ok());
  EXPECT_FALSE(ParseProcPidStat("7 (x) R 1 1 1 0 -1 0 0 0 0 0 5 six 7 8 20\n").ok());
  EXPECT_NEAR(*ParseVmRssGib("Name:\tctest\nVmPeak:\t  80000 kB\nVmRSS:\t   18656 kB\n"), 18656 / 1048576.0, 1e-15);
  EXPECT_FALSE(ParseVmRssGib("Name:\tkthreadd\n"));  // kernel threads have no VmRSS
  // Its share of the busy time: 30 of 120 busy ticks; none busy: 0; more than all: 1.
  CpuTimes a{100, 1000}, b{220, 1400};
  EXPECT_DOUBLE_EQ(ProcessShare(a, b, 500, 530), 0.25);
  EXPECT_DOUBLE_EQ(ProcessShare(a, a, 500, 530), 0.0);
  EXPECT_DOUBLE_EQ(ProcessShare(a, b, 500, 900), 1.0);  // counters read at slightly different moments
  EXPECT_DOUBLE_EQ(ProcessShare(a, b, 500, 500), 0.0);
}

// A fake /proc with the machine's counters and two processes' (pids 100, 200).
struct FakeProc {
  fakes::TempDir dir;
  std::string proc = dir / "proc";
  FakeProc() {
    Write(proc + "/cpuinfo", "processor\t: 0\nprocessor\t: 1\nmodel name\t: Mystery 9000\n");  // 2 x 4 W
    Write(proc + "/meminfo", "MemTotal:       15625000 kB\n");  // 2 DIMMs, 10 W
    Set(0, 0, 0, 0);
  }
  // The machine's busy and idle ticks, and each process's CPU ticks.
  void Set(uint64_t busy, uint64_t idle, uint64_t p100, uint64_t p200) {
    Write(proc + "/stat", "cpu  " + std::to_string(busy) + " 0 0 " + std::to_string(idle) + " 0 0 0 0 0 0\n");
    for (auto [pid, ticks] : {std::pair{100, p100}, std::pair{200, p200}}) {
      Write(proc + "/" + std::to_string(pid) + "/stat", std::to_string(pid) + " (carbon-worker) R 1 1 1 0 -1 0 0 0 0 0 " +
                                                            std::to_string(ticks) + " 0 0 0 20 0 9 0 1\n");
      Write(proc + "/" + std::to_string(pid) + "/status", "Name:\tcarbon-worker\nVmRSS:\t 1562500 kB\n");
    }
  }
  TrackerOptions Options(TrackingMode mode, const std::string& pid) const {
    TrackerOptions o;
    o.powercap_root = dir / "no-powercap";
    o.proc_root = proc;
    o.try_nvml = false;
    o.tracking_mode = mode;
    o.pid = pid;
    return o;
  }
};

TEST(ProcessMode, TwoJobsOnOneBoxShareTheMachinesEnergyByCpuTimeAndResidentMemory) {
  FakeProc f;
  EnergyTracker machine(f.Options(TrackingMode::kMachine, "self"));
  EnergyTracker a(f.Options(TrackingMode::kProcess, "100"));
  EnergyTracker b(f.Options(TrackingMode::kProcess, "200"));
  // 60 s: 150 of 200 ticks busy (75%); job a took 100 of them, job b 50.
  f.Set(150, 50, 100, 50);
  const EnergySample m = machine.Sample(60), sa = a.Sample(60), sb = b.Sample(60);
  EXPECT_EQ(m.tracking_mode, "machine");
  EXPECT_EQ(sa.tracking_mode, "process");
  EXPECT_DOUBLE_EQ(m.cpu_kwh, KwhFromPowerAndTime(CpuPowerAtLoad(8, 0.75), 60));
  EXPECT_DOUBLE_EQ(sa.cpu_kwh, m.cpu_kwh * 100 / 150);
  EXPECT_DOUBLE_EQ(sb.cpu_kwh, m.cpu_kwh * 50 / 150);
  EXPECT_NEAR(sa.cpu_kwh + sb.cpu_kwh, m.cpu_kwh, 1e-18);  // no double counting
  // RAM: 1.49 GiB resident of 14.9 GiB: a tenth of the machine's 10 W each.
  EXPECT_DOUBLE_EQ(m.ram_w, 10);
  EXPECT_NEAR(sa.ram_w, 1.0, 1e-12);
  EXPECT_NEAR(sb.ram_w, 1.0, 1e-12);
  EXPECT_EQ(sa.cpu_method, "tdp-model");
  EXPECT_EQ(sa.ram_method, "ram-model");
  // A loaded machine: a third process takes the rest; job a's figure does not grow with it.
  f.Set(350, 50, 200, 50);  // +200 busy: a +100, b 0, someone else +100
  const EnergySample m2 = machine.Sample(60), sa2 = a.Sample(60), sb2 = b.Sample(60);
  EXPECT_DOUBLE_EQ(m2.cpu_kwh, KwhFromPowerAndTime(CpuPowerAtLoad(8, 1.0), 60));
  EXPECT_DOUBLE_EQ(sa2.cpu_kwh, m2.cpu_kwh * 0.5);
  EXPECT_DOUBLE_EQ(sb2.cpu_kwh, 0);
}

TEST(ProcessMode, EachSecondOfTheLoadCurveIsSharedByThatSecondsCpuTime) {
  FakeProc f;
  EnergyTracker a(f.Options(TrackingMode::kProcess, "100"));
  // Second 1: 100% busy, all of it job a's; second 2: 50% busy, none of it a's.
  f.Set(100, 0, 100, 0);
  a.TickLoad(1);
  f.Set(150, 50, 100, 0);
  a.TickLoad(1);
  const EnergySample s = a.Sample(2);
  EXPECT_DOUBLE_EQ(s.cpu_kwh, KwhFromPowerAndTime(CpuPowerAtLoad(8, 1.0), 1));
}

TEST(ProcessMode, RaplEnergyIsSharedAndACpuJobGetsNoGpuEnergy) {
  FakeProc f;
  const std::string powercap = f.dir / "powercap";
  Write(powercap + "/intel-rapl:0/name", "package-0\n");
  Write(powercap + "/intel-rapl:0/energy_uj", "0\n");
  Write(powercap + "/intel-rapl:0/max_energy_range_uj", "262143328850\n");
  TrackerOptions o = f.Options(TrackingMode::kProcess, "100");
  o.powercap_root = powercap;
  o.process_uses_gpu = false;
  EnergyTracker a(o);
  ASSERT_FALSE(a.uses_load_model());
  f.Set(200, 200, 50, 0);
  Write(powercap + "/intel-rapl:0/energy_uj", "3600000000\n");  // 3600 J = 1 Wh
  const EnergySample s = a.Sample(60);
  EXPECT_EQ(s.cpu_method, "rapl");
  EXPECT_DOUBLE_EQ(s.cpu_kwh, RaplDeltaKwh(0, 3600000000, 262143328850) * 50 / 200);
  EXPECT_EQ(s.gpu_method, "none-cpu-job");
  EXPECT_EQ(s.gpu_kwh, 0);
  bool said = false;
  for (const auto& n : a.notes()) said = said || n.find("trains on the CPU") != std::string::npos;
  EXPECT_TRUE(said);
}

TEST(ProcessMode, AProcessThatCannotBeReadIsChargedNothingAndSaysWhy) {
  FakeProc f;
  EnergyTracker gone(f.Options(TrackingMode::kProcess, "999"));
  f.Set(100, 100, 0, 0);
  const EnergySample s = gone.Sample(10);
  EXPECT_EQ(s.cpu_kwh, 0);
  EXPECT_EQ(s.ram_kwh, 0);
  ASSERT_FALSE(gone.notes().empty());
  EXPECT_NE(gone.notes().back().find("999/stat"), std::string::npos) << gone.notes().back();
}

TEST(Nvml, AbsentLibraryIsUnavailableNotAnError) {
  std::string why;
  auto m = NvmlMeter::Open(&why, "libnvidia-ml-does-not-exist.so.1");
  EXPECT_FALSE(m);
  EXPECT_NE(why.find("GPU energy is 0, method unavailable"), std::string::npos) << why;
}

// carbond's way of writing the grid file: a new file renamed over the old.
void WriteGrid(const std::string& path, const std::string& json) {
  Write(path + ".tmp", json);
  std::filesystem::rename(path + ".tmp", path);
}

TEST(GridFeed, FallbackUntilCarbondWritesThenEachNewReadingAndBadFilesKeepTheLast) {
  fakes::TempDir dir;
  const std::string file = dir / "grid.json";
  GridFeed feed(file, GridReading{475, "codecarbon:world", ""});
  EXPECT_EQ(feed.Current()->source, "codecarbon:world");
  WriteGrid(file, R"({"zone":"GB","gco2_per_kwh":212.5,"source":"uk","at":"2026-11-26T12:00:00.000Z"})");
  auto r = feed.Current();
  EXPECT_DOUBLE_EQ(r->gco2_per_kwh, 212.5);
  EXPECT_EQ(r->source, "uk");
  EXPECT_EQ(r->zone, "GB");
  WriteGrid(file, R"({"zone":"GB","gco2_per_kwh":99,"source":"uk"})");
  EXPECT_DOUBLE_EQ(feed.Current()->gco2_per_kwh, 99);
  WriteGrid(file, "{not json");
  EXPECT_DOUBLE_EQ(feed.Current()->gco2_per_kwh, 99);
  EXPECT_NE(ParseGridFile("{\"gco2_per_kwh\": -1}", "g.json").status().message().find("g.json: 'gco2_per_kwh'"),
            std::string::npos);
  // Without a fallback, no reading until the file exists.
  GridFeed none(dir / "absent.json", std::nullopt);
  EXPECT_FALSE(none.Current());
}

// A tracker on fake /proc files with no load: only the TDP model's idle 10%
// and the RAM model, so power is constant and known.
struct IdleMachine {
  fakes::TempDir dir;
  TrackerOptions o;
  IdleMachine() {
    Write(dir / "proc/cpuinfo", "processor\t: 0\nmodel name\t: Mystery 9000\n");  // 4 W TDP
    Write(dir / "proc/meminfo", "MemTotal:       15625000 kB\n");                 // 10 W
    Write(dir / "proc/stat", "cpu  0 0 0 1000 0 0 0 0 0 0\n");
    o.powercap_root = dir / "no-powercap";
    o.proc_root = dir / "proc";
    o.try_nvml = false;
  }
};

TEST(SampledTracker, EachIntervalIsChargedAtTheIntensityOfItsTime) {
  IdleMachine m;
  EnergyTracker tracker(m.o);
  const std::string file = m.dir / "grid.json";
  WriteGrid(file, R"({"zone":"GB","gco2_per_kwh":100,"source":"mock"})");
  GridFeed feed(file, std::nullopt);
  // Sampling every 20 ms on the tracker's thread; the intensity changes midway.
  SampledTracker sampler(tracker, feed, 0.02);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  WriteGrid(file, R"({"zone":"GB","gco2_per_kwh":300,"source":"uk"})");
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  EpochEnergy e = sampler.TakeEpoch();
  EXPECT_GE(e.samples, 3);
  const double watts = 4 * 0.1 + 10;
  EXPECT_NEAR(e.energy.total_kwh(), KwhFromPowerAndTime(watts, e.energy.seconds), 1e-15);
  EXPECT_NEAR(e.energy.cpu_w, 0.4, 1e-9);
  EXPECT_NEAR(e.energy.ram_w, 10, 1e-9);
  ASSERT_TRUE(e.kg_co2);
  // Both intensities were charged, each for part of the epoch.
  EXPECT_GT(e.gco2_per_kwh, 100);
  EXPECT_LT(e.gco2_per_kwh, 300);
  EXPECT_NEAR(*e.kg_co2, e.energy.total_kwh() * e.gco2_per_kwh * 0.001, 1e-18);
  EXPECT_EQ(e.intensity_source, "mock+uk");
  EXPECT_EQ(e.zone, "GB");
  // The next epoch starts from zero, at the newest intensity.
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EpochEnergy next = sampler.TakeEpoch();
  EXPECT_DOUBLE_EQ(next.gco2_per_kwh, 300);
  EXPECT_EQ(next.intensity_source, "uk");
  EXPECT_LT(next.energy.seconds, e.energy.seconds);
}

TEST(SampledTracker, PueMultipliesEveryFigureAndNoIntensityMeansNoEmissions) {
  IdleMachine m;
  m.o.pue = 1.5;
  EnergyTracker tracker(m.o);
  GridFeed feed("", std::nullopt);
  SampledTracker sampler(tracker, feed, 0);  // epoch boundaries only
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EpochEnergy e = sampler.TakeEpoch();
  EXPECT_EQ(e.samples, 1);
  EXPECT_NEAR(e.energy.total_kwh(), KwhFromPowerAndTime(1.5 * 10.4, e.energy.seconds), 1e-15);
  EXPECT_FALSE(e.kg_co2);
  EXPECT_EQ(e.intensity_source, "");
}

TEST(RunMeter, AnEpochCutByAStopCarriesItsEnergyIntoTheResumedEpochsRow) {
  IdleMachine m;
  WriteGrid(m.dir / "grid.json", R"({"zone":"GB","gco2_per_kwh":200,"source":"mock"})");
  MeterOptions o;
  o.tracker = m.o;
  o.measure_power_secs = 0;
  o.grid_file = m.dir / "grid.json";
  CarriedEnergy before;
  {
    RunMeter first(o);  // the run that is stopped mid-epoch
    std::this_thread::sleep_for(std::chrono::milliseconds(80));
    before = first.TakePartial();
  }
  EXPECT_GT(before.seconds, 0.07);
  EXPECT_NEAR(before.cpu_kwh + before.ram_kwh, KwhFromPowerAndTime(10.4, before.seconds), 1e-15);
  ASSERT_TRUE(before.kg_co2);
  // Through the checkpoint's form.
  auto again = CarriedEnergy::Unpack(before.Pack());
  ASSERT_TRUE(again);
  EXPECT_DOUBLE_EQ(again->ram_kwh, before.ram_kwh);
  EXPECT_DOUBLE_EQ(*again->kg_co2, *before.kg_co2);
  EXPECT_FALSE(CarriedEnergy::Unpack({1, 2, 3}));
  EXPECT_FALSE(CarriedEnergy::Unpack({-1, 0, 0, 0, 0}));
  EXPECT_FALSE(CarriedEnergy::Unpack({1, 0, 0, 0, std::nan("")})->kg_co2);

  RunMeter resumed(o);
  resumed.Carry(*again);
  std::this_thread::sleep_for(std::chrono::milliseconds(40));
  protocol::Epoch ev;
  resumed.AddEpochEnergy(ev);
  const EpochRecord& r = ev.record;
  ASSERT_TRUE(r.energy_s);
  EXPECT_GT(*r.energy_s, before.seconds + 0.035);
  EXPECT_NEAR(r.energy_kwh, KwhFromPowerAndTime(10.4, *r.energy_s), 1e-15);  // both parts, at the same power
  EXPECT_NEAR(r.cpu_w, 0.4, 1e-9);
  EXPECT_NEAR(r.ram_w, 10, 1e-9);
  ASSERT_TRUE(r.kg_co2);
  EXPECT_NEAR(*r.kg_co2, r.energy_kwh * 200 * 0.001, 1e-18);
  // The carry is used once: the next epoch is its own.
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  protocol::Epoch next;
  resumed.AddEpochEnergy(next);
  EXPECT_LT(*next.record.energy_s, before.seconds);
}

}  // namespace
}  // namespace carbon::energy
