// The worker's energy meters, CodeCarbon's methodology (common/energy_model.h):
//  - CPU: RAPL package domains under /sys/class/powercap (counter wrap-around
//    handled with max_energy_range_uj); without them, CodeCarbon's TDP model
//    (the TDP from cpu_power.csv x the load curve, load from /proc/stat).
//  - GPU: NVML loaded at run time (dlopen libnvidia-ml.so.1): the total-energy
//    counter, else integrated power; no library or no GPU: 0 kWh, method
//    "unavailable".
//  - RAM: CodeCarbon 3's DIMM model from MemTotal.
// No Torch here. Each Sample() returns the energy since the previous one.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/energy_model.h"
#include "common/status.h"

namespace carbon::energy {

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
};
CpuInfo ParseCpuInfo(const std::string& text);
// MemTotal of /proc/meminfo in GB (1e9 bytes, as CodeCarbon's B_TO_GB).
std::optional<double> ParseMemTotalGb(const std::string& meminfo);

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
  // Null (and *why set) when the library or a GPU is missing.
  static std::unique_ptr<NvmlMeter> Open(std::string* why, const char* library = "libnvidia-ml.so.1");
  ~NvmlMeter();
  // kWh over all GPUs since the previous call, and the method used
  // ("nvml" energy counter or "nvml-power" integrated over `seconds`).
  StatusOr<double> DeltaKwh(double seconds, std::string* method);
  int devices() const { return static_cast<int>(handles_.size()); }

 private:
  NvmlMeter() = default;
  void* lib_ = nullptr;
  std::vector<void*> handles_;
  std::vector<unsigned long long> last_mj_;
  bool counter_ok_ = true;
  int (*energy_)(void*, unsigned long long*) = nullptr;
  int (*power_)(void*, unsigned int*) = nullptr;
  int (*shutdown_)() = nullptr;
};

struct EnergySample {
  double seconds = 0;
  double cpu_kwh = 0, gpu_kwh = 0, ram_kwh = 0;
  double cpu_w = 0, gpu_w = 0, ram_w = 0;
  std::string cpu_method, gpu_method, ram_method = "ram-model";
  double total_kwh() const { return cpu_kwh + gpu_kwh + ram_kwh; }
};

struct TrackerOptions {
  std::string powercap_root = "/sys/class/powercap";
  std::string proc_root = "/proc";
  std::string cpu_power_csv;  // CodeCarbon's TDP table; empty: TDP model without it (threads x 4 W)
  bool try_nvml = true;
  double pue = 1.0;
};

class EnergyTracker {
 public:
  // Never fails: each component falls back as CodeCarbon does, and `notes`
  // says why (RAPL unreadable, no GPU, unknown CPU model).
  explicit EnergyTracker(TrackerOptions options);
  ~EnergyTracker();
  // Energy since the previous Sample (or construction), `seconds` of wall time.
  EnergySample Sample(double seconds);
  const std::vector<std::string>& notes() const { return notes_; }
  const std::string& cpu_model() const { return cpu_.model; }
  double cpu_tdp_watts() const { return tdp_w_; }
  double ram_watts() const { return ram_w_; }

 private:
  TrackerOptions o_;
  std::unique_ptr<RaplReader> rapl_;
  std::unique_ptr<NvmlMeter> nvml_;
  CpuInfo cpu_;
  double tdp_w_ = kNoModelCpuWatts;
  double ram_w_ = 0;
  std::optional<CpuTimes> last_times_;
  std::vector<std::string> notes_;
};

}  // namespace carbon::energy
