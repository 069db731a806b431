// ProcessExecutor: runs each released job in its own carbon-worker process,
// started with fork+exec (never fork alone: the daemon has threads). The
// worker gets the job file and writes the worker protocol's events
// (common/worker_protocol.h) to one of two transports: a socketpair end as
// fd 3 (the default), or the append-only <run_dir>/events.jsonl, which the
// executor follows (the transport of workers that are not carbond's
// children). Either way one decoder reads them; a worker of another protocol
// version is killed and its job failed with the reason. The worker's stdout
// and stderr go to <run_dir>/worker.log.
//
// Each worker leads its own process group and gets PR_SET_PDEATHSIG, so it
// does not outlive carbond. Stop sends SIGTERM to the group and SIGKILL after
// the grace period. All callbacks run on the io_context's thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "daemon/core/executor.h"

namespace carbon {

enum class EventTransport { kSocketpair, kFile };

struct ProcessExecutorOptions {
  std::string worker_path;  // absolute path to the worker binary
  Duration cancel_grace = std::chrono::seconds(30);
  size_t stderr_tail_bytes = 2048;
  // Passed to every worker after the job's own flags (energy settings).
  std::vector<std::string> worker_flags;
  // Names removed from the worker's environment (the Electricity Maps
  // token's variable, CREDENTIALS_DIRECTORY): a worker needs no credential.
  std::vector<std::string> env_drop;
  // A worker whose resident memory exceeds this many bytes is killed and its
  // job failed (not retried); checked every memory_poll. 0: no limit.
  int64_t memory_limit = 0;
  Duration memory_poll = std::chrono::milliseconds(250);
  EventTransport event_transport = EventTransport::kSocketpair;
  Duration events_file_poll = std::chrono::milliseconds(200);  // kFile: how often the file is read
  // worker.gpus: the GPUs handed out, each job its train.gpus of them through
  // CUDA_VISIBLE_DEVICES (a CPU job gets none); empty: the environment's.
  std::vector<std::string> gpus;
};

class ProcessExecutor final : public Executor {
 public:
  ProcessExecutor(boost::asio::io_context& io, ProcessExecutorOptions options);
  ~ProcessExecutor() override;  // kills any worker still running

  void SetListener(ExecutorListener* listener) override { listener_ = listener; }
  Status Start(const JobRecord& job, const std::string& run_dir) override;
  Status Stop(int64_t job_id, StopMode mode) override;
  bool IsRunning(int64_t job_id) const override { return children_.count(job_id) > 0; }
  size_t RunningCount() const override { return children_.size(); }
  // With worker.gpus: whether enough of them are free for the job.
  bool Ready(const JobRecord& job, std::string* why) const override;
  Status Accepts(const JobSpec& spec) const override;

  void set_options(const ProcessExecutorOptions& o) { options_ = o; }
  // The start gate: with a hook set, every worker gets a pipe (--go-fd) and
  // waits on it before it loads or trains anything. Start calls the hook once
  // the worker has exec'd and counts as running (RunningJobs, Worker), then
  // opens the gate, whatever the hook did: carbond sets a job's GPU power cap
  // there, so no step ever runs before it (a start and every resume alike).
  using BeforeTraining = std::function<void(int64_t job_id)>;
  void set_before_training(BeforeTraining hook) { before_training_ = std::move(hook); }
  // A running job's worker: its pid and the GPUs it was handed (worker.gpus;
  // empty when carbond hands none out).
  struct RunningWorker {
    pid_t pid = -1;
    std::vector<std::string> gpus;
  };
  std::optional<RunningWorker> Worker(int64_t job_id) const;
  // The jobs whose workers run here.
  std::vector<int64_t> RunningJobs() const {
    std::vector<int64_t> ids;
    for (const auto& [id, child] : children_) ids.push_back(id);
    return ids;
  }

 private:
  struct Child;
  void WaitForSigchld();
  void ReadEvents(std::shared_ptr<Child> child);
  void FollowEventsFile(std::shared_ptr<Child> child);
  void PollEventsFile(const std::shared_ptr<Child>& child);
  // Hands a decoded line to the listener; refuses a worker of another version.
  void Deliver(const std::shared_ptr<Child>& child, StatusOr<protocol::Event> event, std::string_view line);
  void MaybeFinish(const std::shared_ptr<Child>& child);
  void WatchMemory(const std::shared_ptr<Child>& child);

  boost::asio::io_context& io_;
  ProcessExecutorOptions options_;
  ExecutorListener* listener_ = nullptr;
  BeforeTraining before_training_;
  boost::asio::signal_set sigchld_;
  std::map<int64_t, std::shared_ptr<Child>> children_;
  std::map<int64_t, std::vector<std::string>> gpus_in_use_;  // job -> its GPUs
  std::vector<std::string> FreeGpus() const;
};

// Resolves a worker path: absolute or relative with a '/' as given; a bare name
// beside the running executable first, then in PATH. NOT_FOUND when absent.
StatusOr<std::string> ResolveWorkerPath(const std::string& path);

}  // namespace carbon
