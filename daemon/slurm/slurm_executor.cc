#include "daemon/slurm/slurm_executor.h"

#include <sys/stat.h>

#include <random>
#include <spdlog/spdlog.h>
#include <system_error>

#include "common/paths.h"

namespace carbon::slurm {

namespace asio = boost::asio;

struct Executor::Job {
  Job(asio::io_context& io, JobRecord r, std::string dir) : record(std::move(r)), run_dir(std::move(dir)), kill_timer(io) {}
  JobRecord record;
  std::string run_dir;
  std::string token;
  int64_t slurm_id = 0;  // 0: sbatch in flight
  std::unique_ptr<protocol::EventsFileFollower> events;
  std::string refusal;  // another protocol version
  bool stop_requested = false;
  StopMode stop_mode = StopMode::kCancel;
  bool finishing = false;
  asio::steady_timer kill_timer;
};

namespace {

std::string RandomToken() {
  static std::random_device rd;
  static const char* hex = "0123456789abcdef";
  std::string t;
  for (int i = 0; i < 16; ++i) t += hex[rd() % 16];
  return t;
}

// A callback for a Slurm command whose failure is only worth a log line.
std::function<void(Status)> LogFailure(std::string what) {
  return [what = std::move(what)](Status st) {
    if (!st.ok()) spdlog::warn("{}: {}", what, st.message());
  };
}

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace

std::string BatchScript(const std::vector<std::string>& argv, const std::string& comment) {
  std::string s = "#!/bin/sh\n# " + comment + "\nexec";
  for (const std::string& a : argv) s += " " + Quote(a);
  return s + "\n";
}

Executor::Executor(asio::io_context& io, ExecutorOptions options)
    : io_(io),
      options_(std::move(options)),
      runner_(io),
      client_(runner_, options_.client),
      poll_timer_(io),
      events_timer_(io) {}

Executor::~Executor() = default;  // Slurm's jobs go on; a restarted carbond adopts them (issue 20)

int64_t Executor::SlurmJobId(int64_t job_id) const {
  auto it = jobs_.find(job_id);
  return it == jobs_.end() ? 0 : it->second->slurm_id;
}

Status Executor::Start(const JobRecord& job, const std::string& run_dir) {
  if (jobs_.count(job.id)) return FailedPrecondition("job already has a Slurm job");
  auto j = std::make_shared<Job>(io_, job, run_dir);
  j->token = RandomToken();
  const std::string events = run_dir + "/events.jsonl";
  std::vector<std::string> argv = {options_.worker_path, "--job-file", run_dir + "/job.yaml", "--run-dir", run_dir,
                                   "--job-id", std::to_string(job.id), "--attempt", std::to_string(job.attempts),
                                   "--grid-file", run_dir + "/grid.json", "--events-file", events};
  argv.insert(argv.end(), options_.worker_flags.begin(), options_.worker_flags.end());
  std::string env;
  for (const std::string& e : options_.env) env += e + '\0';
  RETURN_IF_ERROR(WriteFileAtomically(run_dir + "/job.yaml", job.spec_text));
  RETURN_IF_ERROR(WriteFileAtomically(run_dir + "/job.env", env));
  RETURN_IF_ERROR(WriteFileAtomically(
      run_dir + "/job.sh", BatchScript(argv, "carbond job " + std::to_string(job.id) + ", attempt " +
                                                 std::to_string(job.attempts))));
  if (::chmod((run_dir + "/job.sh").c_str(), 0750) != 0)
    return Unavailable("cannot make " + run_dir + "/job.sh executable: " + std::error_code(errno, std::generic_category()).message());
  // The file is append-only over attempts: this attempt's events start at its end.
  struct stat st {};
  j->events = std::make_unique<protocol::EventsFileFollower>(events, ::stat(events.c_str(), &st) == 0 ? st.st_size : 0);
  jobs_[job.id] = j;
  Submit(j);
  SchedulePoll();
  return Status();
}

void Executor::Submit(const std::shared_ptr<Job>& j) {
  Submission s;
  s.name = "carbond-" + std::to_string(j->record.id);
  s.comment = JobComment(j->record.id, j->token);
  s.chdir = j->run_dir;
  s.output = j->run_dir + "/worker.log";
  s.export_file = j->run_dir + "/job.env";
  s.partition = options_.partition;
  s.extra_args = options_.sbatch_args;
  s.script = j->run_dir + "/job.sh";
  s.hold = false;
  client_.Submit(s, [this, j](StatusOr<int64_t> id) {
    if (jobs_.count(j->record.id) == 0 || jobs_.at(j->record.id) != j) return;
    if (!id.ok()) {
      ExitInfo info;
      info.outcome = protocol::WorkerExit::kFailed;
      info.description = "Slurm did not take the job: " + id.status().message();
      End(j, info);
      return;
    }
    j->slurm_id = *id;
    spdlog::info("job {}: Slurm job {}", j->record.id, *id);
    if (j->stop_requested) {  // cancelled while sbatch ran
      client_.Cancel(*id, std::nullopt, LogFailure("Slurm job " + std::to_string(*id) + ": scancel"));
    }
  });
}

Status Executor::Stop(int64_t job_id, StopMode mode) {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return NotFound("job " + std::to_string(job_id) + " has no Slurm job");
  auto j = it->second;
  j->stop_requested = true;
  j->stop_mode = mode;
  if (j->slurm_id == 0) return Status();  // cancelled once sbatch answers
  const int64_t id = j->slurm_id;
  // TERM first (the worker checkpoints and exits 75), scancel after the grace period.
  client_.Cancel(id, std::string("TERM"), LogFailure("Slurm job " + std::to_string(id) + ": scancel --signal=TERM"));
  j->kill_timer.expires_after(options_.cancel_grace);
  j->kill_timer.async_wait([this, j, id](const boost::system::error_code& ec) {
    if (ec || j->finishing) return;
    spdlog::warn("job {}: Slurm job {} did not stop within the grace period; scancel", j->record.id, id);
    client_.Cancel(id, std::nullopt, LogFailure("Slurm job " + std::to_string(id) + ": scancel"));
  });
  return Status();
}

void Executor::SchedulePoll() {
  if (polling_ || jobs_.empty()) return;
  polling_ = true;
  poll_timer_.expires_after(options_.poll);
  poll_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    Poll();
  });
  FollowEvents();
}

void Executor::FollowEvents() {
  events_timer_.expires_after(options_.events_poll);
  events_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    for (auto& [id, j] : jobs_) {
      Status st = j->events->Poll([this, j = j](StatusOr<protocol::Event> e, std::string_view) {
        if (!j->refusal.empty()) return;
        if (e.ok()) {
          if (listener_) listener_->OnWorkerEvent(j->record.id, *e);
        } else if (e.status().code() == StatusCode::kFailedPrecondition) {
          j->refusal = e.status().message();
          spdlog::error("job {}: refusing its worker: {}", j->record.id, j->refusal);
          if (j->slurm_id)
            client_.Cancel(j->slurm_id, std::nullopt, LogFailure("Slurm job " + std::to_string(j->slurm_id) + ": scancel"));
        } else {
          spdlog::warn("job {}: ignoring a worker event that does not decode: {}", j->record.id, e.status().message());
        }
      });
      if (!st.ok()) spdlog::warn("job {}: {}", id, st.message());
    }
    if (!jobs_.empty()) FollowEvents();
  });
}

void Executor::Poll() {
  client_.Queue([this](StatusOr<std::vector<QueueRow>> rows) {
    polling_ = false;
    if (!rows.ok()) {
      spdlog::warn("Slurm: {}", rows.status().message());  // the jobs are kept; the next poll retries
      SchedulePoll();
      return;
    }
    std::vector<std::shared_ptr<Job>> live;
    for (auto& [id, j] : jobs_) live.push_back(j);
    for (auto& j : live) {
      if (j->slurm_id == 0 || j->finishing) continue;
      const QueueRow* row = nullptr;
      for (const QueueRow& r : *rows)
        if (r.id == j->slurm_id && r.comment == JobComment(j->record.id, j->token)) row = &r;
      if (!row) {
        Finish(j, "", "");  // gone from squeue: sacct knows how it ended
      } else if (IsFinal(PhaseOf(row->state, row->reason))) {
        Finish(j, row->state, row->reason);
      }
    }
    SchedulePoll();
  });
}

void Executor::Finish(const std::shared_ptr<Job>& j, const std::string& state, const std::string& reason) {
  j->finishing = true;
  client_.Accounting({j->slurm_id}, /*jobcomp=*/false, [this, j, state, reason](StatusOr<std::vector<AcctRow>> rows) {
    auto conclude = [this, j, state, reason](StatusOr<std::vector<AcctRow>> acct) {
      std::optional<AcctRow> row;
      if (acct.ok())
        for (const AcctRow& r : *acct)
          if (r.id == j->slurm_id) row = r;
      const std::string final_state = row ? row->state : state;
      ExitInfo info;
      const Phase phase = PhaseOf(final_state, reason);
      if (row && row->signal == 0) info.exit_status = row->exit_code;
      if (row && row->signal) info.exit_status = 128 + row->signal;
      info.description = "Slurm job " + std::to_string(j->slurm_id) + " " +
                         (final_state.empty() ? std::string("vanished from squeue and sacct") : final_state) +
                         (reason.empty() || reason == "None" ? "" : " (" + reason + ")") +
                         (row ? ", exit " + std::to_string(row->exit_code) + ":" + std::to_string(row->signal) : "");
      switch (phase) {
        case Phase::kSucceeded: info.outcome = protocol::WorkerExit::kOk; break;
        case Phase::kRequeue: info.outcome = protocol::WorkerExit::kInterrupted; break;
        case Phase::kOutOfMemory: info.outcome = protocol::WorkerExit::kOutOfMemory; break;
        default:
          info.outcome = row && row->signal == 0 ? protocol::WorkerExitFromCode(row->exit_code)
                                                 : protocol::WorkerExit::kFailed;
      }
      if (j->stop_requested && j->stop_mode == StopMode::kDrain && info.outcome != protocol::WorkerExit::kOk)
        info.outcome = protocol::WorkerExit::kInterrupted;
      if (!j->refusal.empty()) {
        info.outcome = protocol::WorkerExit::kRejected;
        info.description = "refused by carbond: " + j->refusal;
      }
      End(j, info);
    };
    // Without slurmdbd, sacct reads the jobcomp file (-c).
    if (!rows.ok() && rows.status().code() == StatusCode::kFailedPrecondition)
      client_.Accounting({j->slurm_id}, /*jobcomp=*/true, conclude);
    else
      conclude(std::move(rows));
  });
}

void Executor::End(const std::shared_ptr<Job>& j, ExitInfo info) {
  // What the worker wrote last.
  Status st = j->events->Poll([this, j](StatusOr<protocol::Event> e, std::string_view) {
    if (e.ok() && j->refusal.empty() && listener_) listener_->OnWorkerEvent(j->record.id, *e);
  });
  if (!st.ok()) spdlog::warn("job {}: {}", j->record.id, st.message());
  j->kill_timer.cancel();
  jobs_.erase(j->record.id);
  info.stderr_tail = TailOfFile(j->run_dir + "/worker.log", options_.stderr_tail_bytes);
  if (listener_) listener_->OnWorkerExit(j->record.id, info);
}

}  // namespace carbon::slurm
