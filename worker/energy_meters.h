// The worker's energy meters, CodeCarbon's methodology (common/energy_model.h):
//  - CPU: RAPL package domains under /sys/class/powercap (counter wrap-around
//    handled with max_energy_range_uj); without them, CodeCarbon's TDP model
//    (the TDP from cpu_power.csv x the load curve, load from /proc/stat).
//  - GPU: NVML loaded at run time (dlopen libnvidia-ml.so.1): the total-energy
//    counter, else integrated power; no library or no GPU: 0 kWh, method
//    "unavailable".
//  - RAM: CodeCarbon 3's DIMM model from MemTotal.
// In tracking_mode process, each is the worker's share (TrackerOptions).
// No Torch here. Each Sample() returns the energy since the previous one.
// Not thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <optional>
#include <string>
#include <vector>

#include "common/energy_model.h"
#include "common/gpu_names.h"
#include "common/grid_file.h"
#include "common/status.h"
#include "common/worker_protocol.h"

namespace carbon::energy {

// The whole file; empty when it cannot be read.
std::optional<std::string> ReadFile(const std::string& path);

struct CpuTimes {
  uint64_t busy = 0;
  uint64_t total = 0;
};
// The aggregate "cpu " line of /proc/stat.
StatusOr<CpuTimes> ParseProcStat(const std::string& text);
// Busy share in [0, 1] between two readings.
double LoadBetween(const CpuTimes& before, const CpuTimes& after);

struct CpuInfo {
  std::string model;  // "model name" of /proc/cpuinfo; empty when absent
  int threads = 0;    // "processor" entries
  // Distinct "physical id" values: the CPU packages (sockets), what lscpu
  // calls Socket(s); 1 when the file names none.
  int sockets = 1;
};
CpuInfo ParseCpuInfo(const std::string& text);
// MemTotal of /proc/meminfo in GiB (2^30 bytes), the unit of CodeCarbon's
// RAM model (B_TO_GB = 1024 * 1024 * 1024 in codecarbon/external/hardware.py,
// applied to psutil's total, which is MemTotal in bytes).
std::optional<double> ParseMemTotalGib(const std::string& meminfo);
// Memory in use as psutil.virtual_memory() reports it on Linux, the values
// CodeCarbon writes: `used` (GiB) = MemTotal - MemFree - Buffers - (Cached +
// SReclaimable), or MemTotal - MemFree when that is negative; `percent` =
// (MemTotal - MemAvailable) / MemTotal.
struct MemoryUse {
  double used_gib = 0, percent = 0;
};
std::optional<MemoryUse> ParseMemoryUse(const std::string& meminfo);
// CPU time of one process from /proc/<pid>/stat: utime + stime + cutime +
// cstime (fields 14-17, clock ticks, the unit of /proc/stat), children it
// waited for included as CodeCarbon counts a process's children.
StatusOr<uint64_t> ParseProcPidStat(const std::string& text);
// The parent pid of /proc/<pid>/stat (field 4); empty when the text is not one.
std::optional<int64_t> ParseProcPidParent(const std::string& text);
// The processes of the tree rooted at `root` (a pid, or "self"): the root
// first, then every live descendant, however deep, from <proc_root>/*/stat.
// A double-forked grandchild is in it while an ancestor in the tree is its
// subreaper (the supervisor is: worker/supervisor.h). Empty when the root is gone.
// It walks the kernel's per-thread children lists (<pid>/task/<tid>/children),
// so it costs what the tree holds; `full_scan`, or a kernel without those
// lists, reads every process's stat for its parent instead (what a kill
// that must miss nothing uses).
std::vector<std::string> ProcessTree(const std::string& proc_root, const std::string& root, bool full_scan = false);
// The resident memory of every process of that tree, summed, in GiB; empty
// when none could be read.
std::optional<double> TreeRssGib(const std::string& proc_root, const std::string& root);
// VmRSS of /proc/<pid>/status in GiB.
std::optional<double> ParseVmRssGib(const std::string& status);
// The process's share of the machine's CPU work between two readings: its
// CPU time over the busy time of all CPUs, in [0, 1]; 0 when no CPU was busy.
double ProcessShare(const CpuTimes& machine_before, const CpuTimes& machine_after, uint64_t process_before,
                    uint64_t process_after);

using carbon::VisibleGpus;  // common/gpu_names.h
// CodeCarbon's gpu_model: each distinct name with its count, "2 x NVIDIA H100 80GB HBM3".
std::string GpuModelName(const std::vector<std::string>& names);

// RAPL package domains (intel-rapl:N whose name starts with "package").
class RaplReader {
 public:
  // Fails with a message naming the file and the usual fix when the counters
  // exist but cannot be read (root-only since Linux 5.10), or NOT_FOUND
  // when there are none.
  static StatusOr<std::unique_ptr<RaplReader>> Open(const std::string& powercap_root = "/sys/class/powercap");
  // kWh over all packages since the previous call (the first call: since Open).
  StatusOr<double> DeltaKwh();
  size_t domains() const { return domains_.size(); }

 private:
  struct Domain {
    std::string energy_path;
    uint64_t max_range_uj = 0;
    uint64_t last_uj = 0;
  };
  std::vector<Domain> domains_;
};

// NVML through dlopen; no build-time dependency.
class NvmlMeter {
 public:
  // Null (and *why set) when the library or a GPU is missing. `visible`:
  // CUDA_VISIBLE_DEVICES when set (only those GPUs are metered), else every
  // GPU NVML reports, as CodeCarbon meters a machine.
  static std::unique_ptr<NvmlMeter> Open(std::string* why, const char* library = "libnvidia-ml.so.1",
                                         const std::optional<std::string>& visible = std::nullopt);
  ~NvmlMeter();
  // kWh over all GPUs since the previous call, and the method used
  // ("nvml" energy counter or "nvml-power" integrated over `seconds`; where
  // CUDA_VISIBLE_DEVICES chose the GPUs, followed by ':' and their UUIDs,
  // "nvml:GPU-8f2a...,GPU-77c1...").
  StatusOr<double> DeltaKwh(double seconds, std::string* method);
  int devices() const { return static_cast<int>(handles_.size()); }
  const std::vector<std::string>& names() const { return names_; }
  // Integrate nvmlDeviceGetPowerUsage even where the energy counter works
  // (bench/nvml_compare checks the two against each other).
  void UsePowerIntegration() { counter_ok_ = false; }
  // The power limit in force (nvmlDeviceGetPowerManagementLimit), in W summed
  // over the metered GPUs; empty when NVML cannot say for one of them.
  std::optional<double> PowerLimitW() const;

 private:
  NvmlMeter() = default;
  void* lib_ = nullptr;
  std::vector<void*> handles_;
  std::vector<std::string> names_;
  std::string chosen_;  // ":" and the UUIDs CUDA_VISIBLE_DEVICES chose; empty: every GPU
  std::vector<unsigned long long> last_mj_;
  bool counter_ok_ = true;
  int (*energy_)(void*, unsigned long long*) = nullptr;
  int (*power_)(void*, unsigned int*) = nullptr;
  int (*limit_)(void*, unsigned int*) = nullptr;
  int (*shutdown_)() = nullptr;
};

struct EnergySample {
  double seconds = 0;
  double cpu_kwh = 0, gpu_kwh = 0, ram_kwh = 0;
  double cpu_w = 0, gpu_w = 0, ram_w = 0;
  std::string cpu_method, gpu_method, ram_method = "ram-model";
  std::string tracking_mode = "machine";
  std::optional<double> gpu_power_limit_w;  // at the end of the interval (NVML)
  // The machine's load over the interval: busy share of all CPUs (absent on
  // the first reading) and memory in use at its end.
  std::optional<double> cpu_utilization_pct;
  std::optional<MemoryUse> memory;
  // Process mode: the CPU time the tracked process (or tree) used in the
  // interval, in seconds (what its share of the CPU energy stands on).
  std::optional<double> process_cpu_s;
  double total_kwh() const { return cpu_kwh + gpu_kwh + ram_kwh; }
};

// CodeCarbon's tracking_mode. machine: the whole machine's CPU, GPU and RAM
// energy. process: the tracked process's share of it (docs/benchmarks.md,
// "Process mode"): the CPU energy times its CPU time over the busy time of
// all CPUs in each interval, the RAM power times its resident memory over
// MemTotal, and the GPUs only when it trains on one.
enum class TrackingMode { kMachine, kProcess };
const char* TrackingModeName(TrackingMode m);

struct TrackerOptions {
  std::string powercap_root = "/sys/class/powercap";
  std::string proc_root = "/proc";
  std::string cpu_power_csv;  // CodeCarbon's TDP table; empty: TDP model without it (threads x 4 W)
  bool try_nvml = true;
  double pue = 1.0;
  TrackingMode tracking_mode = TrackingMode::kMachine;
  std::string pid = "self";       // process mode: <proc_root>/<pid>/stat and status
  // Process mode: the whole tree rooted at pid (ProcessTree), its CPU time
  // and resident memory summed: a command job's supervisor and every
  // process its program started (torchrun's ranks, a data loader's workers).
  bool process_tree = false;
  bool process_uses_gpu = true;   // process mode: false meters no GPU (a job trained on the CPU)
};

class EnergyTracker {
 public:
  // Never fails: each component falls back as CodeCarbon does, and `notes`
  // says why (RAPL unreadable, no GPU, unknown CPU model).
  explicit EnergyTracker(TrackerOptions options);
  ~EnergyTracker();
  // Energy since the previous Sample (or construction), `seconds` of wall time.
  EnergySample Sample(double seconds);
  // The TDP model's load curve, as CodeCarbon applies it: it samples the
  // load about once a second and averages the powers of the samples, so a
  // load that alternates is charged more than the curve at its mean load.
  // Each tick reads /proc/stat and charges the `seconds` since the previous
  // one at the power of that load; Sample charges the rest of its interval
  // the same way. Nothing to do with RAPL.
  void TickLoad(double seconds);
  bool uses_load_model() const { return !rapl_; }
  const std::vector<std::string>& notes() const { return notes_; }
  const std::string& cpu_model() const { return cpu_.model; }
  double cpu_tdp_watts() const { return tdp_w_; }
  double ram_watts() const { return ram_w_; }
  // CPU model and count, GPUs, RAM size and OS (no utilisation).
  const carbon::EpochHost& host() const { return host_; }

 private:
  TrackerOptions o_;
  std::unique_ptr<RaplReader> rapl_;
  std::unique_ptr<NvmlMeter> nvml_;
  CpuInfo cpu_;
  double tdp_w_ = kNoModelCpuWatts;
  double ram_w_ = 0;
  StatusOr<CpuTimes> ReadTimes() const;
  std::optional<uint64_t> ReadProcessTicks() const;  // process mode only
  std::optional<double> ReadProcessRssGib() const;    // process mode only
  bool process_mode() const { return o_.tracking_mode == TrackingMode::kProcess; }
  void TickLoadAt(double seconds, const StatusOr<CpuTimes>& times, std::optional<uint64_t> process);
  // The share of the interval since `before` that the process took; moves `before` on.
  double ShareSince(std::optional<CpuTimes>& before_machine, std::optional<uint64_t>& before_process,
                    const StatusOr<CpuTimes>& machine, std::optional<uint64_t> process) const;
  std::optional<CpuTimes> last_times_, util_times_, share_times_;
  std::optional<uint64_t> last_process_, share_process_, sample_process_;
  carbon::EpochHost host_;
  double tdp_kwh_ = 0, ticked_s_ = 0;  // TDP model: charged by ticks since the last Sample
  std::vector<std::string> notes_;
};

// carbond's grid file (common/grid_file.h).
using carbon::GridReading;
using carbon::ParseGridFile;

// Where the worker learns the intensity: carbond rewrites <run_dir>/grid.json
// (temp file + rename) whenever the job's zone's reading changes; the feed
// re-reads it when its inode, modification time or size changes. `fallback` (a fixed value
// or CodeCarbon's country figure) serves while there is no readable file;
// without one, energy in such intervals is not attributed (carbond then
// charges the epoch at its recorded intensity). Not thread-safe.
class GridFeed {
 public:
  GridFeed(std::string file, std::optional<GridReading> fallback);
  std::optional<GridReading> Current();

 private:
  std::string file_;
  std::optional<GridReading> fallback_, last_;
  struct FileStamp {
    int64_t inode = -1, mtime_ns = -1, size = -1;
    bool operator!=(const FileStamp& o) const { return inode != o.inode || mtime_ns != o.mtime_ns || size != o.size; }
  } stamp_;
};

// An epoch's energy and emissions: the sum over sampling intervals of each
// interval's energy times the intensity read at its end.
struct EpochEnergy {
  EnergySample energy;           // summed energies; powers are the means over the epoch
  std::optional<double> kg_co2;  // absent when some interval had no intensity
  double gco2_per_kwh = 0;       // energy-weighted mean of the intensities charged
  std::string intensity_source;  // the sources charged, '+'-joined in first-use order
  std::string zone;
  int samples = 0;               // sampling intervals in the epoch
  // Sums over the samples that had each, for their means (CodeCarbon
  // averages its per-measure utilisation the same way).
  double cpu_utilization_sum = 0, ram_percent_sum = 0, ram_used_gib_sum = 0;
  int cpu_utilization_n = 0, memory_n = 0;
  std::optional<double> process_cpu_s;  // summed over the samples that had it
};

// Samples the tracker every `period_s` seconds on its own thread (CodeCarbon's
// measure_power_secs; 0: only at epoch boundaries) and at every TakeEpoch;
// with the TDP model it also ticks the load curve once a second.
class SampledTracker {
 public:
  SampledTracker(EnergyTracker& tracker, GridFeed& grid, double period_s);
  ~SampledTracker();
  SampledTracker(const SampledTracker&) = delete;
  SampledTracker& operator=(const SampledTracker&) = delete;
  // Everything since the previous TakeEpoch (or construction).
  EpochEnergy TakeEpoch();

 private:
  void SampleLocked();
  EnergyTracker& tracker_;
  GridFeed& grid_;
  const double period_s_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::chrono::steady_clock::time_point last_, last_tick_;
  EpochEnergy acc_;
  double unattributed_kwh_ = 0;
  double attributed_kwh_ = 0;
  std::thread thread_;
};

// What the trainer uses: the tracker, the intensity feed and the sampler of
// one run, from the worker's flags.
struct MeterOptions {
  bool enabled = true;  // false: no energy fields at all (overhead benchmark)
  TrackerOptions tracker;
  double measure_power_secs = 15;
  std::string grid_file;                 // carbond's <run_dir>/grid.json
  std::optional<GridReading> fallback;   // fixed or country intensity
};

// The energy of an epoch cut short by a stop (a pause, a drain): carried in
// the checkpoint so that the resumed epoch's row holds both parts.
struct CarriedEnergy {
  double seconds = 0, cpu_kwh = 0, gpu_kwh = 0, ram_kwh = 0;
  std::optional<double> kg_co2;  // absent when some interval had no intensity
  // [seconds, cpu, gpu, ram, kg or NaN], as stored in the checkpoint.
  std::vector<double> Pack() const;
  static std::optional<CarriedEnergy> Unpack(const std::vector<double>& v);
};

class RunMeter {
 public:
  // Meters as CodeCarbon does: in tracking_mode machine every GPU the job may
  // see, whatever device it trains on; in process mode its share (TrackerOptions).
  explicit RunMeter(MeterOptions options);
  ~RunMeter();
  // Why a component fell back (RAPL unreadable, no GPU, unknown CPU).
  std::vector<std::string> notes() const;
  // Adds the epoch's energy, how it was measured, and its kg_co2,
  // gco2_per_kwh, intensity_source and zone (when attributed) to the event.
  void AddEpochEnergy(protocol::Epoch& event);
  // At a stop mid-epoch: what was metered since the last epoch's end.
  CarriedEnergy TakePartial();
  // On resume: added to the next epoch's energy (AddEpochEnergy).
  void Carry(const CarriedEnergy& carried) { carried_ = carried; }

 private:
  std::optional<CarriedEnergy> carried_;
  MeterOptions o_;
  std::unique_ptr<EnergyTracker> tracker_;
  std::unique_ptr<GridFeed> feed_;
  std::unique_ptr<SampledTracker> sampler_;
};

}  // namespace carbon::energy
