// Executor: runs released jobs somewhere and reports back. The core never
// sees a pid: a job is known by its id, and the executor reports its events
// and its end through the listener. ProcessExecutor (fork+exec of
// carbon-worker) is the local implementation; a Slurm one can follow.
#pragma once

#include <cstdint>
#include <string>

#include "common/job_record.h"
#include "common/status.h"
#include "common/worker_protocol.h"

namespace carbon {

struct ExitInfo {
  // What the exit means: the worker's exit code (common/worker_protocol.h),
  // or what the executor knows better: kOutOfMemory when it killed the
  // worker for worker.memory_limit, kInterrupted when it stopped it for a
  // drain, kRejected when the worker spoke another protocol version.
  protocol::WorkerExit outcome = protocol::WorkerExit::kFailed;
  int64_t exit_status = 0;   // exit code, or 128 + signal
  std::string description;   // "exited with status 1", "killed by signal 9"
  std::string stderr_tail;   // last lines the worker wrote to stderr
};

class ExecutorListener {
 public:
  virtual ~ExecutorListener() = default;
  // One event the worker sent (started, epoch, checkpoint, finished, ...),
  // decoded by the executor; lines that do not decode never get here.
  virtual void OnWorkerEvent(int64_t job_id, const protocol::Event& event) = 0;
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
