// Executor: runs released jobs at one site and reports back. The core never
// sees a pid: a job is known by its id, and the executor reports its events
// and its end through the listener. ProcessExecutor (fork+exec of
// carbon-worker) runs them locally; slurm::Executor (daemon/exec/slurm) hands
// them to a Slurm cluster, which holds them while they wait and runs them
// whether carbond is up or not.
#pragma once

#include <cstdint>
#include <string>

#include "common/job_record.h"
#include "common/job_spec.h"
#include "common/status.h"
#include "common/worker_protocol.h"
#include "daemon/core/run_dir.h"

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
  // The run cannot be retried: the job fails with `description` as its
  // reason (a Slurm job that vanished while carbond was down: it may have
  // run, so it never runs twice).
  bool no_retry = false;
};

class ExecutorListener {
 public:
  virtual ~ExecutorListener() = default;
  // One event the worker sent (started, epoch, checkpoint, finished, ...),
  // decoded by the executor; lines that do not decode never get here.
  virtual void OnWorkerEvent(int64_t job_id, const protocol::Event& event) = 0;
  // Called once per started job when it is over and all its events were delivered.
  virtual void OnWorkerExit(int64_t job_id, const ExitInfo& info) = 0;
  // What the site keeps of a job across carbond restarts changed (a Slurm
  // job id and token); the listener stores it before anything else happens.
  virtual void OnSiteJob(int64_t job_id, const SiteJobRecord& s) {
    (void)job_id;
    (void)s;
  }
  // What the site says of a running job now ("Slurm job 7 PENDING
  // (Resources)"), for its reason; only changes are reported.
  virtual void OnSiteNote(int64_t job_id, const std::string& note) {
    (void)job_id;
    (void)note;
  }
};

enum class StopMode {
  kCancel,  // the user cancelled: stop now (SIGTERM, SIGKILL after the grace period)
  kDrain,   // the daemon stops: checkpoint and exit (same signals; resumable)
};

class Executor {
 public:
  virtual ~Executor() = default;
  virtual void SetListener(ExecutorListener* listener) = 0;
  // The job's run directory, ready for its start: called just before the
  // scheduler marks it running. UNAVAILABLE (the file system) is tried
  // again at the next tick; any other error fails the job. This default
  // makes or checks it (PrepareRunDir, daemon/core/run_dir.h); a site that holds
  // its jobs (Slurm) made it when it held the job.
  virtual Status Prepare(const JobRecord& job, const std::string& run_dir) {
    return PrepareRunDir(run_dir, job.id, /*first_attempt=*/job.attempts == 0);
  }
  // Starts the job (attempt job.attempts) in `run_dir`, as Prepare left it
  // (daemon/core/worker_launch.h); an error means it did not start (and no exit
  // will follow).
  virtual Status Start(const JobRecord& job, const std::string& run_dir) = 0;
  // Asks a running job to stop; its exit is reported through the listener.
  virtual Status Stop(int64_t job_id, StopMode mode) = 0;
  virtual bool IsRunning(int64_t job_id) const = 0;
  // Jobs started here and not yet over (what the site's slots count).
  virtual size_t RunningCount() const = 0;

  // A site that queues jobs itself (Slurm) gets each waiting job before its
  // start, with its run directory (the site makes it): Hold is called whenever
  // the scheduler decides a waiting job of the site, at every tick until Held
  // says it is held, and is idempotent (the
  // record's slurm_job_id and site_token say what was submitted before a
  // restart). Ready says whether Start can take the job
  // now, and if not, why (*why); Withdraw drops a held job that will not run
  // here (cancelled, re-planned). Local sites hold nothing.
  virtual void Hold(const JobRecord& job, const std::string& run_dir) {
    (void)job;
    (void)run_dir;
  }
  virtual bool Held(int64_t job_id) const {
    (void)job_id;
    return true;
  }
  virtual bool Ready(const JobRecord& job, std::string* why) const {
    (void)job;
    (void)why;
    return true;
  }
  // Whether this site can ever run such a job (its GPUs); checked at submission.
  virtual Status Accepts(const JobSpec& spec) const {
    (void)spec;
    return Status();
  }
  virtual void Withdraw(int64_t job_id) { (void)job_id; }
  // What the site says of a waiting job, for its reason ("held in Slurm as
  // job 7"); empty: nothing.
  virtual std::string Describe(int64_t job_id) const {
    (void)job_id;
    return "";
  }
  // True when jobs outlive carbond here (Slurm): a restart adopts them
  // (Adopt) instead of requeueing them, and a drain leaves them running.
  virtual bool Detached() const { return false; }
  // Follows a job recorded as running before carbond restarted, to its end.
  virtual Status Adopt(const JobRecord& job) {
    (void)job;
    return FailedPrecondition("this site's jobs end with carbond");
  }
  // Empty when the site works; else why it is degraded (health).
  virtual std::string Degraded() const { return ""; }
};

}  // namespace carbon
