#include "daemon/exec/slurm/slurm_executor.h"

#include <sys/stat.h>

#include <random>
#include <unordered_map>
#include <spdlog/spdlog.h>
#include <system_error>

#include "common/paths.h"
#include "daemon/core/worker_launch.h"

namespace carbon::slurm {

namespace asio = boost::asio;

struct Executor::Job {
  Job(asio::io_context& io, JobRecord r, std::string dir)
      : record(std::move(r)), run_dir(std::move(dir)), said(record.id), kill_timer(io) {}
  JobRecord record;
  std::string run_dir;
  std::string token;
  int64_t slurm_id = 0;       // 0: not known (sbatch in flight, or not yet found in squeue)
  int64_t events_offset = 0;  // where this attempt's events start in events.jsonl
  bool submitting = false;    // sbatch in flight
  bool verified = false;      // submitted, or seen in squeue with its token
  bool released = false;      // carbond counts it as running (a slot)
  bool releasing = false;     // scontrol release in flight
  bool withdrawn = false;     // withdrawn while sbatch ran: cancelled once it answers
  Phase phase = Phase::kUnknown;  // as squeue last showed it
  bool ran = false;               // seen running, or its worker spoke
  int end_polls = 0;              // polls in a row that saw it ended or gone
  std::chrono::steady_clock::time_point ended_since;  // the first of those polls
  std::string note;               // the last OnSiteNote
  std::unique_ptr<protocol::EventsFileFollower> events;
  WorkerEvents said;  // what its worker said, and whether it was refused
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

ExitInfo ExitOf(int64_t slurm_id, const std::string& state, const std::string& reason,
               const std::optional<AcctRow>& row, std::optional<StopMode> stopped) {
  const std::string final_state = row ? row->state : state;
  ExitInfo info;
  const Phase phase = PhaseOf(final_state, reason);
  if (row && row->signal == 0) info.exit_status = row->exit_code;
  if (row && row->signal) info.exit_status = 128 + row->signal;
  info.description = "Slurm job " + std::to_string(slurm_id) + " " +
                     (final_state.empty() ? std::string("vanished from squeue and sacct") : final_state) +
                     (reason.empty() || reason == "None" ? "" : " (" + reason + ")") +
                     (row ? ", exit " + std::to_string(row->exit_code) + ":" + std::to_string(row->signal) : "");
  // Only COMPLETED is a success: Slurm records 0:0 for cancelled and timed-out jobs too.
  auto from_code = [&] {
    auto e = row && row->signal == 0 ? protocol::WorkerExitFromCode(row->exit_code) : protocol::WorkerExit::kFailed;
    return e == protocol::WorkerExit::kOk ? protocol::WorkerExit::kFailed : e;
  };
  switch (phase) {
    case Phase::kSucceeded: info.outcome = protocol::WorkerExit::kOk; break;
    case Phase::kRequeue: info.outcome = protocol::WorkerExit::kInterrupted; break;
    case Phase::kOutOfMemory: info.outcome = protocol::WorkerExit::kOutOfMemory; break;
    case Phase::kCancelled:
      info.outcome = from_code();
      if (!stopped) {
        info.no_retry = true;
        info.description += ", cancelled in Slurm outside carbond (scancel)";
      }
      break;
    default: info.outcome = from_code();
  }
  if (final_state.empty()) {
    info.no_retry = true;
    info.description += "; it may have run, so it is not run again";
  }
  if (stopped == StopMode::kDrain && info.outcome != protocol::WorkerExit::kOk) {
    info.outcome = protocol::WorkerExit::kInterrupted;
    info.no_retry = false;
  }
  return info;
}

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

Executor::~Executor() = default;  // Slurm's jobs go on; a restarted carbond adopts them

int64_t Executor::SlurmJobId(int64_t job_id) const {
  auto it = jobs_.find(job_id);
  return it == jobs_.end() ? 0 : it->second->slurm_id;
}

bool Executor::IsRunning(int64_t job_id) const {
  auto it = jobs_.find(job_id);
  return it != jobs_.end() && it->second->released;
}

void Executor::Persist(const std::shared_ptr<Job>& j) {
  if (listener_) listener_->OnSiteJob(j->record.id, {j->slurm_id, j->token, j->events_offset});
}

void Executor::Note(const std::shared_ptr<Job>& j, const std::string& note) {
  if (note == j->note) return;
  j->note = note;
  if (listener_)
    listener_->OnSiteNote(j->record.id, "attempt " + std::to_string(j->record.attempts) + " at site " +
                                            options_.site + ": " + note);
}

void Executor::CommandFailed(const Status& st) {
  if (st.code() == StatusCode::kUnavailable) {
    if (down_.empty()) spdlog::warn("site {}: Slurm unreachable: {}", options_.site, st.message());
    down_ = "site " + options_.site + ": Slurm unreachable (" + st.message() + ")";
  }
}

Status Executor::WriteFiles(const std::shared_ptr<Job>& j) {
  const JobRecord& job = j->record;
  const std::string& run_dir = j->run_dir;
  const std::string events = run_dir + "/events.jsonl";
  // A held job runs as the next attempt; a job started at once as this one.
  const int64_t attempt = j->released ? job.attempts : job.attempts + 1;
  ASSIGN_OR_RETURN(Launch launch, MakeLaunch(job, run_dir, attempt, {options_.worker_path, options_.worker_flags},
                                             {"--events-file", events}));
  std::string env;
  for (const std::string& e : options_.env) env += e + '\0';
  RETURN_IF_ERROR(WriteFileAtomically(run_dir + "/job.env", env));
  RETURN_IF_ERROR(WriteFileAtomically(
      run_dir + "/job.sh", BatchScript(launch.argv, "carbond job " + std::to_string(job.id) + ", attempt " +
                                                 std::to_string(attempt) + ", site " + options_.site)));
  if (::chmod((run_dir + "/job.sh").c_str(), 0750) != 0)
    return Unavailable("cannot make " + run_dir + "/job.sh executable: " + std::error_code(errno, std::generic_category()).message());
  j->events_offset = launch.events_offset;
  return Status();
}

void Executor::Hold(const JobRecord& job, const std::string& run_dir) {
  if (jobs_.count(job.id)) return;
  auto j = std::make_shared<Job>(io_, job, run_dir);
  if (!job.site_token.empty()) {
    // Submitted before (by a carbond that restarted since, or by an sbatch
    // that failed late): the next squeue finds it by its token, or it is
    // submitted anew.
    j->token = job.site_token;
    j->slurm_id = job.slurm_job_id.value_or(0);
    j->events_offset = job.events_offset;
    jobs_[job.id] = j;
    SchedulePoll();
    return;
  }
  if (submits_in_flight_ >= options_.max_submits_in_flight || std::chrono::steady_clock::now() < retry_at_) return;
  // Its run directory: made (or checked) now, before anything goes in.
  if (Status st = Prepare(job, run_dir); !st.ok()) {
    spdlog::warn("site {}: job {}: {}", options_.site, job.id, st.message());
    submit_error_ = st.message();
    return;  // the next tick tries again
  }
  j->token = RandomToken();
  if (Status st = WriteFiles(j); !st.ok()) {
    spdlog::warn("site {}: job {}: {}", options_.site, job.id, st.message());
    submit_error_ = st.message();
    return;  // the next tick tries again
  }
  jobs_[job.id] = j;
  Persist(j);  // the token first: a carbond killed during sbatch finds the job by it
  Submit(j, /*hold=*/true);
  SchedulePoll();
}

bool Executor::Held(int64_t job_id) const {
  auto it = jobs_.find(job_id);
  return it != jobs_.end() && it->second->verified && it->second->slurm_id != 0 && !it->second->submitting &&
         !it->second->withdrawn;
}

bool Executor::Ready(const JobRecord& job, std::string* why) const {
  const int64_t job_id = job.id;
  auto it = jobs_.find(job_id);
  const bool ready = it != jobs_.end() && it->second->verified && it->second->slurm_id != 0 &&
                     !it->second->released && !it->second->submitting && !it->second->withdrawn && down_.empty();
  if (!ready && why) {
    *why = down_.empty() ? Describe(job_id) : down_;
    if (why->empty()) *why = "waiting to be submitted to Slurm at site " + options_.site;
  }
  return ready;
}

std::string Executor::Describe(int64_t job_id) const {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) {
    if (!submit_error_.empty()) {
      const auto wait = std::chrono::duration_cast<std::chrono::seconds>(retry_at_ - std::chrono::steady_clock::now());
      return "not yet held in Slurm at site " + options_.site + ": " + submit_error_ + "; retrying" +
             (wait.count() > 0 ? " in " + std::to_string(wait.count()) + " s" : "");
    }
    return submits_in_flight_ >= options_.max_submits_in_flight
               ? "waiting its turn to be submitted to Slurm at site " + options_.site
               : "";
  }
  const Job& j = *it->second;
  if (j.submitting) return "being submitted to Slurm (held) at site " + options_.site;
  if (!j.verified)
    return down_.empty() ? "looking for its held Slurm job at site " + options_.site + " in squeue" : down_;
  return "held in Slurm as job " + std::to_string(j.slurm_id) + " at site " + options_.site;
}

size_t Executor::Reload(Duration cancel_grace, std::vector<std::string> worker_flags) {
  options_.cancel_grace = cancel_grace;
  if (worker_flags == options_.worker_flags) return 0;
  options_.worker_flags = std::move(worker_flags);
  std::vector<int64_t> held;
  for (const auto& [id, j] : jobs_)
    if (!j->released) held.push_back(id);
  for (int64_t id : held) Withdraw(id);
  if (!held.empty())
    spdlog::info("site {}: new worker flags: {} job{} held in Slurm with the old ones will be held again", options_.site,
                 held.size(), held.size() == 1 ? "" : "s");
  return held.size();
}

void Executor::Withdraw(int64_t job_id) {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end() || it->second->released) return;
  if (it->second->submitting) {
    it->second->withdrawn = true;  // cancelled once sbatch answers
    return;
  }
  Forget(it->second, /*cancel=*/true);
}

void Executor::Forget(std::shared_ptr<Job> j, bool cancel) {  // by value: it erases the map's copy
  if (cancel && j->slurm_id)
    client_.Cancel(j->slurm_id, std::nullopt, LogFailure("Slurm job " + std::to_string(j->slurm_id) + ": scancel"));
  jobs_.erase(j->record.id);
  if (j->released) --released_;
  j->token.clear();
  j->slurm_id = 0;
  j->events_offset = 0;
  Persist(j);
}

Status Executor::Prepare(const JobRecord& job, const std::string& run_dir) {
  if (jobs_.count(job.id)) return Status();  // made when it was held
  return PrepareRunDir(run_dir, job.id, /*first_attempt=*/job.attempts == 0 && job.site_token.empty());
}

Status Executor::Start(const JobRecord& job, const std::string& run_dir) {
  auto it = jobs_.find(job.id);
  if (it == jobs_.end()) {  // never held: submitted now, to run at once
    auto j = std::make_shared<Job>(io_, job, run_dir);
    j->token = RandomToken();
    j->released = true;
    RETURN_IF_ERROR(WriteFiles(j));
    j->events = std::make_unique<protocol::EventsFileFollower>(run_dir + "/events.jsonl", j->events_offset);
    jobs_[job.id] = j;
    ++released_;
    Persist(j);
    Submit(j, /*hold=*/false);
    SchedulePoll();
    return Status();
  }
  auto j = it->second;
  if (j->released) return FailedPrecondition("job " + std::to_string(job.id) + " was already released to Slurm");
  if (!j->verified || j->slurm_id == 0 || j->submitting)
    return Unavailable("its held Slurm job at site " + options_.site + " is not confirmed yet");
  j->record = job;
  j->run_dir = run_dir;
  j->released = true;
  ++released_;
  j->events = std::make_unique<protocol::EventsFileFollower>(run_dir + "/events.jsonl", j->events_offset);
  Release(j);
  Note(j, "released Slurm job " + std::to_string(j->slurm_id));
  SchedulePoll();
  return Status();
}

Status Executor::Adopt(const JobRecord& job) {
  if (jobs_.count(job.id)) return FailedPrecondition("job " + std::to_string(job.id) + " is already tracked");
  if (job.site_token.empty()) return FailedPrecondition("job " + std::to_string(job.id) + " has no Slurm token");
  const std::string run_dir = job.run_dir;
  auto j = std::make_shared<Job>(io_, job, run_dir);
  j->token = job.site_token;
  j->slurm_id = job.slurm_job_id.value_or(0);
  j->events_offset = job.events_offset;
  j->released = true;
  // From the attempt's first event: an epoch delivered before the restart
  // is stored again over itself.
  j->events = std::make_unique<protocol::EventsFileFollower>(run_dir + "/events.jsonl", j->events_offset);
  jobs_[job.id] = j;
  ++released_;
  SchedulePoll();
  return Status();
}

void Executor::Release(const std::shared_ptr<Job>& j) {
  j->releasing = true;
  client_.Release(j->slurm_id, [this, j](Status st) {
    j->releasing = false;
    if (st.ok()) return CommandWorked();
    CommandFailed(st);
    spdlog::warn("site {}: job {}: scontrol release {} failed ({}); the next poll tries again", options_.site,
                 j->record.id, j->slurm_id, st.message());
  });
}

void Executor::Submit(const std::shared_ptr<Job>& j, bool hold) {
  Submission s;
  s.name = "carbond-" + std::to_string(j->record.id);
  s.comment = JobComment(j->record.id, j->token);
  s.chdir = j->run_dir;
  s.output = j->run_dir + "/worker.log";
  s.export_file = j->run_dir + "/job.env";
  s.partition = options_.partition;
  s.extra_args = options_.sbatch_args;
  s.script = j->run_dir + "/job.sh";
  s.hold = hold;
  j->submitting = true;
  ++submits_in_flight_;
  client_.Submit(s, [this, j, hold](StatusOr<int64_t> id) {
    --submits_in_flight_;
    j->submitting = false;
    const bool tracked = jobs_.count(j->record.id) && jobs_.at(j->record.id) == j;
    if (!id.ok()) {
      CommandFailed(id.status());
      if (!tracked) return;
      if (!hold) {
        ExitInfo info;
        info.outcome = protocol::WorkerExit::kFailed;
        info.description = "Slurm did not take the job: " + id.status().message();
        End(j, info);
        return;
      }
      // Retried with backoff. The token stays stored: a timed-out sbatch
      // may have submitted it, and the next squeue would find it.
      submit_error_ = id.status().message();
      retry_delay_ = std::min<Duration>(retry_delay_ == Duration{} ? options_.retry_min : retry_delay_ * 2,
                                        options_.retry_max);
      retry_at_ = std::chrono::steady_clock::now() +
                  std::chrono::duration_cast<std::chrono::steady_clock::duration>(retry_delay_);
      spdlog::warn("site {}: job {}: sbatch failed: {}; retrying in {} s", options_.site, j->record.id,
                   submit_error_, std::chrono::duration_cast<std::chrono::seconds>(retry_delay_).count());
      jobs_.erase(j->record.id);
      return;
    }
    CommandWorked();
    submit_error_.clear();
    retry_delay_ = Duration{};
    j->slurm_id = *id;
    j->verified = true;
    if (!tracked || j->withdrawn) {  // withdrawn while sbatch ran
      client_.Cancel(*id, std::nullopt, LogFailure("Slurm job " + std::to_string(*id) + ": scancel"));
      if (tracked) Forget(j, /*cancel=*/false);
      return;
    }
    Persist(j);
    spdlog::info("site {}: job {}: Slurm job {}{}", options_.site, j->record.id, *id, hold ? " (held)" : "");
    if (j->stop_requested)  // cancelled while sbatch ran
      client_.Cancel(*id, std::nullopt, LogFailure("Slurm job " + std::to_string(*id) + ": scancel"));
  });
}

Status Executor::Stop(int64_t job_id, StopMode mode) {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end() || !it->second->released)
    return NotFound("job " + std::to_string(job_id) + " has no released Slurm job");
  auto j = it->second;
  j->stop_requested = true;
  j->stop_mode = mode;
  if (j->slurm_id == 0) return Status();  // cancelled once sbatch answers
  const int64_t id = j->slurm_id;
  if (j->phase == Phase::kHeld || j->phase == Phase::kPending) {
    // Slurm refuses signals to a job that does not run.
    client_.Cancel(id, std::nullopt, LogFailure("Slurm job " + std::to_string(id) + ": scancel"));
    return Status();
  }
  // TERM first (the worker checkpoints and exits 75), scancel after the
  // grace period, or at once when Slurm refuses the signal (it did not run yet).
  client_.Cancel(id, std::string("TERM"), [this, id](Status st) {
    if (st.ok()) return;
    spdlog::warn("Slurm job {}: scancel --signal=TERM: {}; scancel", id, st.message());
    client_.Cancel(id, std::nullopt, LogFailure("Slurm job " + std::to_string(id) + ": scancel"));
  });
  j->kill_timer.expires_after(KillAfter(j->record, options_.cancel_grace));
  j->kill_timer.async_wait([this, j, id](const boost::system::error_code& ec) {
    if (ec || j->finishing) return;
    spdlog::warn("job {}: Slurm job {} did not stop within the grace period; scancel", j->record.id, id);
    client_.Cancel(id, std::nullopt, LogFailure("Slurm job " + std::to_string(id) + ": scancel"));
  });
  return Status();
}

void Executor::SchedulePoll() {
  if (released_ > 0 && !following_) {
    following_ = true;
    FollowEvents();
  }
  if (polling_ || jobs_.empty()) return;
  polling_ = true;
  poll_timer_.expires_after(options_.poll);
  poll_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    Poll();
  });
}

void Executor::FollowEvents() {
  events_timer_.expires_after(options_.events_poll);
  events_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    for (auto& [id, j] : jobs_) {
      if (!j->events) continue;
      Status st = j->events->Poll([this, j = j](StatusOr<protocol::Event> e, std::string_view line) {
        const bool refused = j->said.Take(std::move(e), line, [&](const protocol::Event& event) {
          j->phase = Phase::kRunning;  // its worker speaks
          j->ran = true;
          if (listener_) listener_->OnWorkerEvent(j->record.id, event);
        });
        if (refused && j->slurm_id)
          client_.Cancel(j->slurm_id, std::nullopt, LogFailure("Slurm job " + std::to_string(j->slurm_id) + ": scancel"));
      });
      if (!st.ok()) spdlog::warn("job {}: {}", id, st.message());
    }
    if (released_ > 0)
      FollowEvents();
    else
      following_ = false;
  });
}

void Executor::Poll() {
  client_.Queue([this](StatusOr<std::vector<QueueRow>> rows) {
    polling_ = false;
    if (!rows.ok()) {
      CommandFailed(rows.status());  // the jobs are kept; the next poll retries
      if (rows.status().code() != StatusCode::kUnavailable) spdlog::warn("site {}: {}", options_.site, rows.status().message());
      SchedulePoll();
      return;
    }
    CommandWorked();
    // carbond's jobs by comment: Slurm reuses ids, the token tells them apart.
    std::unordered_map<std::string_view, const QueueRow*> by_comment;
    for (const QueueRow& r : *rows)
      if (r.comment.rfind("carbond:", 0) == 0) by_comment[r.comment] = &r;
    std::vector<std::shared_ptr<Job>> live;
    for (auto& [id, j] : jobs_) live.push_back(j);
    for (auto& j : live) {
      if (j->submitting || j->finishing || !jobs_.count(j->record.id)) continue;
      auto found = by_comment.find(JobComment(j->record.id, j->token));
      const QueueRow* row = found == by_comment.end() ? nullptr : found->second;
      if (row) {
        j->phase = PhaseOf(row->state, row->reason);
        if (j->slurm_id != row->id) {
          j->slurm_id = row->id;
          Persist(j);
        }
      }
      if (!j->released) {
        if (row && j->phase == Phase::kHeld) {
          j->verified = true;
          continue;
        }
        // Gone, or released by someone else: carbond decides when it runs,
        // so it is submitted anew, held.
        if (row)
          spdlog::warn("site {}: job {}: its held Slurm job {} is {} ({}) without carbond's release; "
                       "cancelling it and holding a new one", options_.site, j->record.id, row->id, row->state,
                       row->reason);
        Forget(j, /*cancel=*/row && !IsFinal(j->phase));
        continue;
      }
      j->verified = true;
      // Ended (or gone from squeue): believed at the second poll in a row,
      // and, unless carbond stopped it, once squeue has said so for
      // end_settle, so that a job Slurm is requeueing is not taken for over
      // (under load a requeued job showed FAILED at two 300 ms polls).
      const bool ended = !row || (IsFinal(j->phase) && j->phase != Phase::kRequeue);
      const auto now = std::chrono::steady_clock::now();
      if (ended && j->end_polls == 0) j->ended_since = now;
      j->end_polls = ended ? j->end_polls + 1 : 0;
      if (ended && (j->end_polls < 2 ||
                    (row && !j->stop_requested && now - j->ended_since < options_.end_settle)))
        continue;
      if (!row) {
        Finish(j, "", "");  // gone from squeue: sacct knows how it ended
        continue;
      }
      if (j->phase == Phase::kHeld && row->reason == "JobHeldUser" && !j->releasing) Release(j);  // it failed before
      if (ended) {
        Finish(j, row->state, row->reason);
        continue;
      }
      std::string note = "Slurm job " + std::to_string(row->id) + " " + row->state;
      if (!row->reason.empty() && row->reason != "None") note += " (" + row->reason + ")";
      if (j->phase == Phase::kRunning) j->ran = true;
      if (j->phase == Phase::kRequeue || (j->ran && (j->phase == Phase::kPending || j->phase == Phase::kHeld)))
        note += "; requeued by Slurm, it resumes from its checkpoint";
      Note(j, note);
    }
    SchedulePoll();
  });
}

void Executor::Finish(const std::shared_ptr<Job>& j, const std::string& state, const std::string& reason) {
  j->finishing = true;
  if (j->slurm_id == 0) {
    ExitInfo info;
    info.no_retry = true;
    info.description = "its Slurm job (comment " + JobComment(j->record.id, j->token) +
                       ") is in neither squeue nor sacct; it may have run, so it is not run again";
    End(j, info);
    return;
  }
  client_.Accounting({j->slurm_id}, /*jobcomp=*/false, [this, j, state, reason](StatusOr<std::vector<AcctRow>> rows) {
    auto conclude = [this, j, state, reason](StatusOr<std::vector<AcctRow>> acct) {
      if (!acct.ok() && acct.status().code() == StatusCode::kUnavailable) {
        CommandFailed(acct.status());
        j->finishing = false;  // the next poll asks again
        return;
      }
      // A job Slurm requeued has a record per run (the earlier ones
      // REQUEUED or PREEMPTED): its end is the latest run's.
      std::optional<AcctRow> row;
      if (acct.ok())
        for (const AcctRow& r : *acct)
          if (r.id == j->slurm_id && (r.comment.empty() || r.comment == JobComment(j->record.id, j->token)) &&
              (!row || !row->start || (r.start && *r.start >= *row->start)))
            row = r;
      End(j, ExitOf(j->slurm_id, state, reason, row,
                    j->stop_requested ? std::optional<StopMode>(j->stop_mode) : std::nullopt));
    };
    // Without slurmdbd, sacct reads the jobcomp file (-c).
    if (!rows.ok() && rows.status().code() == StatusCode::kFailedPrecondition)
      client_.Accounting({j->slurm_id}, /*jobcomp=*/true, conclude);
    else
      conclude(std::move(rows));
  });
}

void Executor::End(std::shared_ptr<Job> j, ExitInfo info) {  // by value: it erases the map's copy
  // What the worker wrote last.
  if (j->events) {
    Status st = j->events->Poll([this, j](StatusOr<protocol::Event> e, std::string_view line) {
      j->said.Take(std::move(e), line, [&](const protocol::Event& event) {
        if (listener_) listener_->OnWorkerEvent(j->record.id, event);
      });
    });
    if (!st.ok()) spdlog::warn("job {}: {}", j->record.id, st.message());
  }
  j->kill_timer.cancel();
  jobs_.erase(j->record.id);
  if (j->released) --released_;
  FinishExit(info, j->said, j->run_dir, options_.stderr_tail_bytes);
  // The Slurm job id stays on record; the token goes: a next attempt is a new Slurm job.
  j->token.clear();
  Persist(j);
  if (listener_) listener_->OnWorkerExit(j->record.id, info);
}

}  // namespace carbon::slurm
