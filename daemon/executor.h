// Executor: runs released jobs somewhere and reports back. The core never
// sees a pid: a job is known by its id, and the executor reports its events
// and its end through the listener. ProcessExecutor (fork+exec of
// carbon-worker) is the local implementation; a Slurm one can follow.
#pragma once

#include <cstdint>
#include <string>

#include "common/job_record.h"
#include "common/status.h"

namespace carbon {

struct ExitInfo {
  bool succeeded = false;    // the worker reported success and exited 0
  bool interrupted = false;  // stopped on request (drain), resumable
  int64_t exit_status = 0;   // exit code, or 128 + signal
  std::string description;   // "exited with status 1", "killed by signal 9"
  std::string stderr_tail;   // last lines the worker wrote to stderr
  // Killed for worker.memory_limit, or an allocation in the worker failed:
  // the same job would run out again, so it is not retried.
  bool out_of_memory = false;
};

class ExecutorListener {
 public:
  virtual ~ExecutorListener() = default;
  // One JSON line the worker sent (started, epoch, checkpoint, finished, ...).
  virtual void OnWorkerEvent(int64_t job_id, const std::string& json_line) = 0;
  // Called once per started job when it is over and all its events were delivered.
  virtual void OnWorkerExit(int64_t job_id, const ExitInfo& info) = 0;
};

enum class StopMode {
  kCancel,  // the user cancelled: stop now (SIGTERM, SIGKILL after the grace period)
  kDrain,   // the daemon stops: checkpoint and exit (same signals; resumable)
};

class Executor {
 public:
  virtual ~Executor() = default;
  virtual void SetListener(ExecutorListener* listener) = 0;
  // Starts the job in `run_dir`, which the caller made or checked
  // (daemon/run_dir.h); an error means it did not start (and no exit will follow).
  virtual Status Start(const JobRecord& job, const std::string& run_dir) = 0;
  // Asks a running job to stop; its exit is reported through the listener.
  virtual Status Stop(int64_t job_id, StopMode mode) = 0;
  virtual bool IsRunning(int64_t job_id) const = 0;
  virtual size_t RunningCount() const = 0;
};

}  // namespace carbon
