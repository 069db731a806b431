// SlurmExecutor: runs released jobs as Slurm batch jobs (issue 20's site
// executor; the scheduler does not use it yet). Each job gets, in its run
// directory (on storage the compute nodes see): job.yaml, job.sh (the
// worker's command line, nothing else), job.env (its exact environment, for
// sbatch --export-file) and the worker's append-only events.jsonl, which
// this executor follows (the worker is not carbond's child: the events-file
// transport of docs/protocol.md). One squeue call per poll tracks all of its
// jobs; a job that left squeue is looked up in sacct. All callbacks run on
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
#include "daemon/command_runner.h"
#include "daemon/executor.h"
#include "daemon/slurm/slurm_client.h"

namespace carbon::slurm {

struct ExecutorOptions {
  ClientOptions client;
  std::string partition;                 // empty: the cluster's default
  std::vector<std::string> sbatch_args;  // the site's extra sbatch flags
  std::string worker_path = "/usr/bin/carbon-worker";  // as installed on the compute nodes
  std::vector<std::string> worker_flags;  // after the job's own flags (energy settings)
  std::vector<std::string> env = {"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"};  // the job's environment
  Duration poll = std::chrono::seconds(5);                  // squeue
  Duration events_poll = std::chrono::milliseconds(500);    // the events files
  Duration cancel_grace = std::chrono::seconds(30);          // TERM, then scancel
  size_t stderr_tail_bytes = 2048;                           // of worker.log, into the exit's stderr_tail
};

class Executor final : public carbon::Executor {
 public:
  Executor(boost::asio::io_context& io, ExecutorOptions options);
  ~Executor() override;

  void SetListener(ExecutorListener* listener) override { listener_ = listener; }
  // Writes the run directory's files and submits; the submission's outcome
  // comes later: a refused sbatch ends the run through OnWorkerExit.
  Status Start(const JobRecord& job, const std::string& run_dir) override;
  Status Stop(int64_t job_id, StopMode mode) override;
  bool IsRunning(int64_t job_id) const override { return jobs_.count(job_id) > 0; }
  size_t RunningCount() const override { return jobs_.size(); }

  // The Slurm job id of a running job (0 while its sbatch is in flight).
  int64_t SlurmJobId(int64_t job_id) const;

 private:
  struct Job;
  void Submit(const std::shared_ptr<Job>& j);
  void SchedulePoll();
  void Poll();
  void FollowEvents();
  void Finish(const std::shared_ptr<Job>& j, const std::string& state, const std::string& reason);
  void End(const std::shared_ptr<Job>& j, ExitInfo info);

  boost::asio::io_context& io_;
  ExecutorOptions options_;
  CommandRunner runner_;
  Client client_;
  ExecutorListener* listener_ = nullptr;
  std::map<int64_t, std::shared_ptr<Job>> jobs_;
  boost::asio::steady_timer poll_timer_, events_timer_;
  bool polling_ = false;
};

// The batch script for a command line: "#!/bin/sh", a comment, and `exec`
// of the arguments, each in single quotes (a ' inside as '\'').
std::string BatchScript(const std::vector<std::string>& argv, const std::string& comment);

}  // namespace carbon::slurm
