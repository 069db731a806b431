// JobRecord: one job as stored and as shown by the API. Plain data; the
// daemon's store fills it, the API turns it into JSON and back.
//
// States follow Slurm's vocabulary, with the reason kept apart:
//   queued    accepted and durable, not yet planned
//   waiting   planned by its release policy; waits for its window or a free slot
//   running   a worker process trains it
//   succeeded | failed | cancelled | stopped_budget   final (stopped_budget:
//             carbond stopped it after a checkpoint because its predicted
//             emissions exceeded carbon.budget_kg)
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/clock.h"

namespace carbon {

enum class JobState { kQueued, kWaiting, kRunning, kSucceeded, kFailed, kCancelled, kStoppedBudget };
inline constexpr JobState kAllJobStates[] = {JobState::kQueued,    JobState::kWaiting, JobState::kRunning,
                                             JobState::kSucceeded, JobState::kFailed,  JobState::kCancelled,
                                             JobState::kStoppedBudget};

const char* JobStateName(JobState s);
// Accepts the names above; false when unknown.
bool ParseJobState(const std::string& name, JobState* out);
inline bool IsFinal(JobState s) {
  return s == JobState::kSucceeded || s == JobState::kFailed || s == JobState::kCancelled ||
         s == JobState::kStoppedBudget;
}

struct JobRecord {
  int64_t id = 0;
  std::string name;
  std::string spec_text;  // exactly as submitted
  std::string policy;     // carbon.policy of the spec
  uint32_t owner_uid = 0;
  JobState state = JobState::kQueued;
  std::string reason;  // why it is in this state, for people
  Timestamp submitted{};
  std::optional<Timestamp> not_before;
  std::optional<Timestamp> deadline;
  std::optional<Timestamp> planned_start;
  std::optional<Timestamp> started;
  std::optional<Timestamp> finished;
  int64_t attempts = 0;
  std::optional<int64_t> exit_status;
  std::string error;          // final error text, tail of the worker's stderr
  std::string progress;       // last progress event of the worker (JSON), may be empty
  bool cancel_requested = false;
  std::string run_dir;
  std::optional<int64_t> baseline_id;  // submitted with --with-baseline: its twin
  // Where it runs (carbond.yaml's sites; empty: stored before sites, local)
  // and, on a Slurm site, what carbond keeps across its restarts: the Slurm
  // job id, the token of its --comment, where this attempt's events start.
  std::string site;
  std::optional<int64_t> slurm_job_id;
  std::string site_token;
  int64_t events_offset = 0;
};

// What a site keeps of a job across carbond restarts (JobStore::SetSiteJob).
struct SiteJobRecord {
  int64_t slurm_job_id = 0;  // 0: none (yet)
  std::string token;         // empty: nothing submitted
  int64_t events_offset = 0;
};

// The machine an epoch ran on and its load over the epoch, as the worker
// saw them: what CodeCarbon's rows carry beside the energy (issue 19).
struct EpochHost {
  std::string cpu_model;              // /proc/cpuinfo "model name"
  std::optional<int64_t> cpu_count;   // logical CPUs
  std::string gpu_model;              // CodeCarbon's form: "1 x NVIDIA H100 80GB HBM3"
  std::optional<int64_t> gpu_count;   // absent without a GPU in use
  std::optional<double> ram_total_gib;
  std::string os;                     // Python's platform.platform() form
  // Means over the epoch's samples: busy share of all CPUs, (MemTotal -
  // MemAvailable) / MemTotal, and psutil's `used` in GiB (MemTotal - MemFree
  // - Buffers - Cached - SReclaimable; worker/energy_meters.h).
  std::optional<double> cpu_utilization_pct, ram_utilization_pct, ram_used_gib;
};

// One finished epoch as the worker reported it.
struct EpochRecord {
  int64_t job_id = 0;
  int64_t epoch = 0;
  int64_t attempt = 0;
  Timestamp at{};
  double train_loss = 0;
  double test_loss = 0;
  double test_accuracy = 0;
  int64_t samples = 0;
  double samples_per_s = 0;
  double wall_s = 0;
  double lr = 0;
  int64_t peak_memory_bytes = 0;
  // What training added over the memory held before its first step (the
  // data, the model, LibTorch): the peak minus that baseline. It shows what
  // gradient accumulation saves, which the peak hides on CPU.
  std::optional<int64_t> memory_added_bytes;
  std::string memory_method;
  // Energy over the epoch (the worker's meters) and its emissions (carbond:
  // the energy times the grid intensity recorded during the epoch).
  double cpu_kwh = 0, gpu_kwh = 0, ram_kwh = 0, energy_kwh = 0;
  double cpu_w = 0, gpu_w = 0, ram_w = 0;
  // The seconds the energy covers: from the previous epoch-end sample to
  // this one (checkpoint saves included), where wall_s is train + evaluation.
  std::optional<double> energy_s;
  std::string cpu_method, gpu_method, ram_method;
  // CodeCarbon's tracking_mode: "machine" (the whole machine's energy) or
  // "process" (the worker's share); empty: a worker before schema v14 (machine).
  std::string tracking_mode;
  // The GPU power limit in force at the epoch's end (W, summed over the
  // metered GPUs, from NVML); empty: no GPU or no NVML (schema v15).
  std::optional<double> gpu_power_limit_w;
  std::optional<double> gco2_per_kwh;
  std::optional<double> kg_co2;
  std::string intensity_source;
  std::string zone;
  EpochHost host;
};

struct JobEvent {
  int64_t id = 0;
  int64_t job_id = 0;
  Timestamp at{};
  std::string from_state;  // empty for the submission
  std::string to_state;
  std::string reason;
};

}  // namespace carbon
