// SlurmExecutor: a Slurm site (README "Running on a Slurm cluster"). A
// waiting job is submitted held (Hold: sbatch --hold, with the comment
// carbond:<job id>:<token>) so Slurm's users see it in squeue, and released
// at its planned start (Start: scontrol release). Each job gets, in its run
// directory (on storage the compute nodes see): job.yaml, job.sh (the
// worker's command line, nothing else), job.env (its exact environment, for
// sbatch --export-file) and the worker's append-only events.jsonl, which
// this executor follows (the worker is not carbond's child: the events-file
// transport of docs/protocol.md). One squeue call per poll tracks all of its
// jobs, held or released, matched by comment (Slurm reuses ids); a job that
// left squeue is looked up in sacct. Jobs outlive carbond: a restarted
// carbond adopts them by their stored id and token. Slurm being down keeps
// everything as it is; submissions retry with backoff. All callbacks run on
// the io_context's thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/worker_protocol.h"
#include "daemon/exec/command_runner.h"
#include "daemon/core/executor.h"
#include "daemon/exec/slurm/slurm_client.h"

namespace carbon::slurm {

struct ExecutorOptions {
  std::string site = "slurm";            // the site's name, in reasons and logs
  ClientOptions client;
  std::string partition;                 // empty: the cluster's default
  std::vector<std::string> sbatch_args;  // the site's extra sbatch flags
  std::string worker_path = "/usr/bin/carbon-worker";  // as installed on the compute nodes
  std::vector<std::string> worker_flags;  // after the job's own flags (energy settings)
  std::vector<std::string> env = {"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"};  // the job's environment
  Duration poll = std::chrono::seconds(5);                  // squeue
  // How long squeue must show a job carbond did not stop in a final state
  // before it is believed: a requeued job can show FAILED or CANCELLED for a
  // moment on its way back to PENDING.
  Duration end_settle = std::chrono::seconds(5);
  Duration events_poll = std::chrono::milliseconds(500);    // the events files
  Duration cancel_grace = std::chrono::seconds(30);          // TERM, then scancel
  size_t stderr_tail_bytes = 2048;                           // of worker.log, into the exit's stderr_tail
  size_t max_submits_in_flight = 8;                          // concurrent sbatch calls
  Duration retry_min = std::chrono::seconds(5);              // after a failed sbatch; doubles up to retry_max
  Duration retry_max = std::chrono::minutes(5);
};

class Executor final : public carbon::Executor {
 public:
  Executor(boost::asio::io_context& io, ExecutorOptions options);
  ~Executor() override;

  void SetListener(ExecutorListener* listener) override { listener_ = listener; }
  // Its run directory is made when the job is held; a job started without
  // a hold gets it here.
  Status Prepare(const JobRecord& job, const std::string& run_dir) override;
  // Releases the job's held Slurm job; a job never held is submitted now.
  // A refused sbatch then ends the run through OnWorkerExit.
  Status Start(const JobRecord& job, const std::string& run_dir) override;
  Status Stop(int64_t job_id, StopMode mode) override;
  bool IsRunning(int64_t job_id) const override;
  size_t RunningCount() const override { return released_; }

  void Hold(const JobRecord& job, const std::string& run_dir) override;
  bool Held(int64_t job_id) const override;
  bool Ready(const JobRecord& job, std::string* why) const override;
  void Withdraw(int64_t job_id) override;
  std::string Describe(int64_t job_id) const override;
  bool Detached() const override { return true; }
  Status Adopt(const JobRecord& job) override;
  std::string Degraded() const override { return down_; }

  // SIGHUP: worker.cancel_grace applies to the next stop; new worker flags
  // (energy.*, worker.data_roots) to every job submitted from now on. The
  // jobs held in Slurm were submitted with the old ones: each is cancelled
  // there and forgotten, so the scheduler's next decision holds it again
  // with the new flags (the reload wakes every waiting job). Running jobs
  // keep theirs, as local workers do. Returns how many were held again.
  size_t Reload(Duration cancel_grace, std::vector<std::string> worker_flags);
  // The Slurm job id of a job (0 while its sbatch is in flight or unknown).
  int64_t SlurmJobId(int64_t job_id) const;
  // Jobs tracked, held or released.
  size_t TrackedCount() const { return jobs_.size(); }

 private:
  struct Job;
  // Writes job.yaml, job.sh and job.env for the job's next attempt.
  Status WriteFiles(const std::shared_ptr<Job>& j);
  void Submit(const std::shared_ptr<Job>& j, bool hold);
  void Release(const std::shared_ptr<Job>& j);
  void Forget(std::shared_ptr<Job> j, bool cancel);
  void Persist(const std::shared_ptr<Job>& j);
  void Note(const std::shared_ptr<Job>& j, const std::string& note);
  void SchedulePoll();
  void Poll();
  void FollowEvents();
  void Finish(const std::shared_ptr<Job>& j, const std::string& state, const std::string& reason);
  void End(std::shared_ptr<Job> j, ExitInfo info);
  // A Slurm command failed: UNAVAILABLE marks the site down until one works.
  void CommandFailed(const Status& st);
  void CommandWorked() { down_.clear(); }

  boost::asio::io_context& io_;
  ExecutorOptions options_;
  CommandRunner runner_;
  Client client_;
  ExecutorListener* listener_ = nullptr;
  std::map<int64_t, std::shared_ptr<Job>> jobs_;
  size_t released_ = 0;
  size_t submits_in_flight_ = 0;
  std::string down_;            // why the site is degraded; empty: it answers
  std::string submit_error_;    // the last sbatch failure, while retrying
  Duration retry_delay_{};      // the current backoff; zero after a success
  std::chrono::steady_clock::time_point retry_at_{};
  boost::asio::steady_timer poll_timer_, events_timer_;
  bool polling_ = false, following_ = false;
};

// How a Slurm job ended, for carbond: `state` and `reason` as squeue last
// showed them ("" when it had left squeue), `row` what accounting recorded
// (its state wins), `stopped` how carbond stopped it, if it did. Only
// COMPLETED succeeds (Slurm records 0:0 for cancelled and timed-out jobs
// too); PREEMPTED, NODE_FAIL and REQUEUED resume (interrupted); TIMEOUT and
// FAILED are failed attempts (retried while attempts remain); OUT_OF_MEMORY
// is not retried; a job cancelled by someone else, or found in neither
// squeue nor accounting, fails without retry (it may have run).
ExitInfo ExitOf(int64_t slurm_id, const std::string& state, const std::string& reason,
                const std::optional<AcctRow>& row, std::optional<StopMode> stopped);

// The batch script for a command line: "#!/bin/sh", a comment, and `exec`
// of the arguments, each in single quotes (a ' inside as '\'').
std::string BatchScript(const std::vector<std::string>& argv, const std::string& comment);

}  // namespace carbon::slurm
