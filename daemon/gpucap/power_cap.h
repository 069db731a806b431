// PowerCapper: carbon.gpu_power_cap for local jobs. At every tick, and as
// each worker starts (before its first step: the executor's start gate), it
// gets the running jobs that ask for a cap, with their zone's intensity now, and
// through carbond-gpucap (daemon/gpucap) caps their GPUs at limit_pct of
// the default limit while the intensity is above the threshold, clamped to
// the device's constraints, and restores the stored limit when it is not.
// A job that is no longer running has its GPUs restored (success, cancel,
// a worker crash alike); at start-up every stored limit is restored, since
// no local worker outlives carbond. Each change is said in the job's reason;
// so is a helper that is missing or refuses ("GPU power cap unavailable:
// helper not running (...)"), never a silent no-op.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/job_spec.h"
#include "common/status.h"

namespace carbon {

struct CapJob {
  int64_t id = 0;
  int64_t pid = 0;                // its worker
  std::vector<std::string> gpus;  // as handed to it; empty: every GPU
  CarbonSpec::GpuPowerCap cap;
  std::string zone;
  std::optional<double> gco2_per_kwh;  // the zone's intensity now
};

class PowerCapper {
 public:
  // One request to carbond-gpucap (gpucap::Call on worker.gpu_cap_socket).
  using Call = std::function<StatusOr<nlohmann::json>(const nlohmann::json&)>;
  explicit PowerCapper(Call call) : call_(std::move(call)) {}

  // At start-up: every limit carbond-gpucap stored goes back. OK when there
  // was nothing to restore or no helper.
  Status RestoreAll();
  // The running jobs with a cap; returns the reasons that changed (job -> reason).
  std::map<int64_t, std::string> Apply(const std::vector<CapJob>& running);
  // Whether the capper still has GPUs to restore (a job's, or pending).
  bool idle() const { return jobs_.empty() && pending_.empty(); }

 private:
  struct State {
    std::optional<bool> capped;        // as applied; empty: nothing applied yet
    std::vector<std::string> uuids;    // its GPUs, once known
    std::string note;
  };
  // Caps or restores one job's GPUs; the reason to show.
  std::string Set(const CapJob& job, bool cap, State& s);
  Call call_;
  std::map<int64_t, State> jobs_;
  std::vector<std::string> pending_;  // GPUs whose restore failed: tried again each tick
  bool pending_warned_ = false;
};

}  // namespace carbon
