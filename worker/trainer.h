// Trainer: runs one job's training in the worker process: loads the data,
// builds the model, resumes from the newest checkpoint in the run directory,
// trains with gradient accumulation, evaluates, checkpoints and reports every
// epoch on the event channel.
#pragma once

#include <atomic>
#include <string>

#include "common/job_spec.h"
#include "worker/event_channel.h"

namespace carbon::worker {

// Exit codes shared with carbond's executor.
constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitRejected = 2;     // the job or its data is wrong: retrying will not help
constexpr int kExitInterrupted = 75; // stopped on request after its last checkpoint; resumable

// Returns one of the exit codes above. `stop` is set from the SIGTERM handler.
int RunTraining(const JobSpec& spec, const std::string& run_dir, EventChannel& events,
                const std::atomic<bool>& stop);

}  // namespace carbon::worker
