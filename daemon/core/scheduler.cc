#include "daemon/core/scheduler.h"

#include "daemon/core/exit_meaning.h"

#include <chrono>
#include <cstring>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "common/config.h"
#include "common/emissions_csv.h"
#include "common/grid_file.h"
#include "common/paths.h"
#include "common/time_util.h"

namespace carbon {

using protocol::WorkerExit;

Scheduler::Scheduler(JobStore& store, Executor& executor, const PolicyRegistry& policies,
                     const Clock& clock, SchedulerOptions options)
    : store_(store), sites_{Site{kDefaultSiteName, &executor, "", -1, ""}}, policies_(policies), clock_(clock),
      options_(std::move(options)) {}

const Site* Scheduler::FindSite(const std::string& name) const {
  for (const Site& s : sites_)
    if (s.name == name) return &s;
  return nullptr;
}

const Site* Scheduler::SiteOf(const JobRecord& job) const {
  return job.site.empty() ? &sites_.front() : FindSite(job.site);
}

std::string Scheduler::ZoneOf(const JobSpec& spec, const std::string& site) const {
  if (!spec.carbon.zone.empty()) return spec.carbon.zone;
  const Site* s = site.empty() ? &sites_.front() : FindSite(site);
  return s && !s->zone.empty() ? s->zone : options_.default_zone;
}

size_t Scheduler::RunningCount() const {
  size_t n = 0;
  for (const Site& s : sites_) n += s.executor->RunningCount();
  return n;
}

bool Scheduler::SlotFree() const {
  for (const Site& s : sites_)
    if (static_cast<int64_t>(s.executor->RunningCount()) < SlotsOf(s)) return true;
  return false;
}

void Scheduler::OnSiteJob(int64_t job_id, const SiteJobRecord& s) {
  if (Status st = store_.SetSiteJob(job_id, s); !st.ok())
    spdlog::error("job {}: cannot store its site's job (Slurm job {}): {}", job_id, s.slurm_job_id, st.ToString());
}

void Scheduler::OnSiteNote(int64_t job_id, const std::string& note) {
  if (Status st = store_.UpdateReasons({{job_id, JobState::kRunning, note, std::nullopt}}); !st.ok()) {
    spdlog::warn("job {}: cannot update its reason: {}", job_id, st.ToString());
    return;
  }
  Notify(job_id);
}

std::optional<Timestamp> Scheduler::PlannedEnd(int64_t id) const {
  const JobRuntime* r = FindRuntime(id);
  return r ? r->planned_end : std::nullopt;
}

StatusOr<JobRecord> Scheduler::Job(int64_t id) const {
  ASSIGN_OR_RETURN(JobRecord job, store_.Get(id));
  ShowLivePlan(job);
  return job;
}

void Scheduler::ShowLivePlans(std::vector<JobRecord>& jobs) const {
  for (JobRecord& j : jobs) ShowLivePlan(j);
}

void Scheduler::ShowLivePlan(JobRecord& job) const {
  if (job.state != JobState::kWaiting) return;
  if (const JobRuntime* r = FindRuntime(job.id); r && r->plan) {
    job.reason = r->plan->reason;
    job.planned_start = r->plan->planned_start;
  }
}

void Scheduler::SetPlan(JobRecord& job, const std::string& reason, std::optional<Timestamp> planned_start) {
  if (!planned_start) planned_start = job.planned_start;  // kept, as the store keeps it
  if (reason == job.reason && planned_start == job.planned_start) return;
  job.reason = reason;
  job.planned_start = planned_start;
  Runtime(job.id).plan = LivePlan{reason, planned_start};
}

void Scheduler::CarryPlan(int64_t id, Transition& t) const {
  if (const JobRuntime* r = FindRuntime(id); r && r->plan && r->plan->planned_start)
    t.planned_start = r->plan->planned_start;
}

size_t Scheduler::UnsavedPlans() const {
  size_t n = 0;
  for (const auto& [id, r] : runtime_) n += r.plan.has_value();
  return n;
}

Status Scheduler::SavePlans() {
  std::vector<ReasonUpdate> updates;
  for (const auto& [id, r] : runtime_)
    if (r.plan) updates.push_back({id, JobState::kWaiting, r.plan->reason, r.plan->planned_start});
  if (updates.empty()) return Status();
  std::sort(updates.begin(), updates.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  RETURN_IF_ERROR(store_.UpdateReasons(updates));
  for (auto& [id, r] : runtime_) r.plan.reset();
  spdlog::info("stored the live plans of {} waiting jobs", updates.size());
  return Status();
}

Scheduler::JobRuntime* Scheduler::FindRuntime(int64_t id) {
  auto it = runtime_.find(id);
  return it == runtime_.end() ? nullptr : &it->second;
}

const Scheduler::JobRuntime* Scheduler::FindRuntime(int64_t id) const {
  auto it = runtime_.find(id);
  return it == runtime_.end() ? nullptr : &it->second;
}

void Scheduler::Notify(int64_t id) {
  auto job = store_.Get(id);
  if (!job.ok()) return;
  ShowLivePlan(*job);
  if (JobRuntime* r = FindRuntime(id)) {
    if (job->state != JobState::kWaiting) r->planned_end.reset(), r->plan.reset();
    // A final job keeps only what is still to be done (an end to record, a
    // feed until its worker's exit is seen).
    if (IsFinal(job->state)) {
      r->spec.reset(), r->segment_end.reset(), r->pausing.reset(), r->resume_cost = ResumeCost{};
      if (!r->unrecorded_end && !r->feed && !r->budget_stop) runtime_.erase(id);
    }
  }
  // The index follows the state: a job that (again) waits is decided at the
  // next tick; one that no longer waits leaves it.
  if (job->state == JobState::kWaiting) {
    if (!waits_.Contains(id)) waits_.Wake(id);
  } else {
    waits_.Remove(id);
  }
  if (on_change) on_change(*job);
}

StatusOr<JobSpec> Scheduler::Admit(const std::string& spec_text, const std::string& file) const {
  if (draining_) return Unavailable("carbond is shutting down and accepts no new jobs");
  std::vector<std::string> sites;
  for (const Site& s : sites_) sites.push_back(s.name);
  ASSIGN_OR_RETURN(JobSpec spec,
                   ParseJobSpec(spec_text, file, options_.data_roots.empty() ? nullptr : &options_.data_roots, &sites));
  // Where every site it may run at is local, its data must be here now (a
  // Slurm site's nodes have their own file systems: the worker checks there).
  bool all_local = true;
  std::string names;
  for (const std::string& n : spec.carbon.sites.empty() ? std::vector<std::string>{sites_.front().name}
                                                         : spec.carbon.sites) {
    const Site* s = FindSite(n);
    all_local = all_local && s && !s->executor->Detached();
    names += (names.empty() ? "" : ", ") + n;
    if (s)
      if (Status st = s->executor->Accepts(spec); !st.ok())
        return InvalidArgument(file + ": " + st.message() + " at site " + n, st.field());
    if (s && s->executor->Detached() && spec.carbon.interruptible)
      return InvalidArgument(file + ": carbon.interruptible: site " + n +
                                 " queues its jobs itself (Slurm), where carbond cannot pause and resume them; "
                                 "accepted: a local site, or interruptible: false",
                             "carbon.interruptible");
  }
  if (all_local && !options_.data_roots.empty() && !spec.run) {
    std::error_code ec;
    if (!std::filesystem::exists(spec.data.path, ec))
      return InvalidArgument(file + ": data.path '" + spec.data.path + "' does not exist on this machine, where " +
                                 (spec.carbon.sites.size() > 1 ? "its sites (" + names + ") run" : "site " + names +
                                                                                                       " runs") +
                                 " its jobs; accepted: an existing dataset directory inside worker.data_roots",
                             "data.path");
  }
  return spec;
}

Status Scheduler::MayRunCommand(const JobSpec& spec, uint32_t owner_uid, const std::string& file) const {
  if (!spec.run || owner_uid == 0 || owner_uid == options_.service_uid) return Status();
  return PermissionDenied(
      file + ": run: a command job runs as carbond's user (uid " + std::to_string(options_.service_uid) +
      "), so carbond takes one only from that user or root, and uid " + std::to_string(owner_uid) +
      " submitted this one. Run a carbond of your own: started as yourself with no --config it keeps its queue in "
      "$XDG_STATE_HOME/carbond and serves $XDG_RUNTIME_DIR/carbond.sock, which carbonctl finds (README, \"Your own "
      "training script\")");
}

void Scheduler::SubmitAsync(const std::string& spec_text, const std::string& file,
                            uint32_t owner_uid, SubmitCallback done) {
  auto spec = Admit(spec_text, file);
  if (spec.ok())
    if (Status st = MayRunCommand(*spec, owner_uid, file); !st.ok()) spec = st;
  if (!spec.ok()) {
    done(spec.status());
    return;
  }
  Enqueue(std::move(spec).value(), spec_text, owner_uid, /*baseline_is_previous=*/false, std::move(done));
  RequestFlush();
}

void Scheduler::SubmitWithBaselineAsync(const std::string& spec_text, const std::string& file, uint32_t owner_uid,
                                        SubmitCallback done) {
  auto spec = Admit(spec_text, file);
  if (spec.ok())
    if (Status st = MayRunCommand(*spec, owner_uid, file); !st.ok()) spec = st;
  if (!spec.ok()) {
    done(spec.status());
    return;
  }
  auto twin_text = BaselineTwinSpec(spec_text, file);
  if (!twin_text.ok()) {
    done(twin_text.status());
    return;
  }
  auto twin = ParseJobSpec(*twin_text, file + " (baseline twin)");
  if (!twin.ok()) {
    done(twin.status());
    return;
  }
  // Adjacent in one batch, so one commit stores both and links them.
  Enqueue(std::move(twin).value(), *twin_text, owner_uid, false, [](StatusOr<JobRecord>) {});
  Enqueue(std::move(spec).value(), spec_text, owner_uid, /*baseline_is_previous=*/true, std::move(done));
  RequestFlush();
}

void Scheduler::Enqueue(JobSpec spec, const std::string& spec_text, uint32_t owner_uid, bool baseline_is_previous,
                        SubmitCallback done) {
  NewJob nj;
  nj.baseline_is_previous = baseline_is_previous;
  nj.name = spec.name;
  nj.spec_text = spec_text;
  nj.policy = spec.carbon.policy;
  nj.owner_uid = owner_uid;
  nj.submitted = clock_.Now();
  nj.not_before = spec.carbon.not_before;
  nj.deadline = spec.carbon.deadline;
  nj.reason = "submitted by uid " + std::to_string(owner_uid);
  nj.signature = JobSignature(spec);
  nj.site = spec.carbon.sites.empty() ? sites_.front().name : spec.carbon.sites.front();
  // Planned at once, in the same commit; a tick releases it.
  TickCache cache;
  ReleaseDecision d = Decide(spec, nj.site, nj.submitted, nj.submitted, cache);
  Transition plan{JobState::kQueued, JobState::kWaiting, d.reason, nj.submitted};
  plan.planned_start = d.planned_start;
  pending_.push_back({std::move(nj), std::move(plan), d.planned_end, std::move(spec), std::move(done)});
}

void Scheduler::RequestFlush() {
  if (flush_requested_) return;
  flush_requested_ = true;
  if (flush_hook_) flush_hook_();
  else FlushSubmits();
}

void Scheduler::FlushSubmits() {
  flush_requested_ = false;
  std::vector<PendingSubmit> batch;
  batch.swap(pending_);
  if (batch.empty()) return;
  std::vector<std::pair<NewJob, Transition>> rows;
  rows.reserve(batch.size());
  for (const auto& p : batch) rows.emplace_back(p.job, p.plan);
  StatusOr<std::vector<int64_t>> ids = store_.InsertAll(rows);
  if (!ids.ok()) {
    spdlog::error("cannot store {} submission(s): {}", batch.size(), ids.status().ToString());
    for (auto& p : batch) p.done(ids.status());
    return;
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    int64_t id = (*ids)[i];
    JobRuntime& r = Runtime(id);
    r.spec = std::move(batch[i].spec);
    waits_.Wake(id);  // stored waiting: the next tick decides it
    r.planned_end = batch[i].planned_end;
    spdlog::info("job {} '{}' submitted by uid {} (policy {})", id, batch[i].job.name,
                 batch[i].job.owner_uid, batch[i].job.policy);
    auto job = store_.Get(id);
    if (job.ok() && on_change) on_change(*job);
    batch[i].done(std::move(job));
  }
}

StatusOr<JobRecord> Scheduler::Submit(const std::string& spec_text, const std::string& file,
                                      uint32_t owner_uid) {
  std::optional<StatusOr<JobRecord>> result;
  auto hook = std::move(flush_hook_);
  flush_hook_ = nullptr;
  SubmitAsync(spec_text, file, owner_uid, [&](StatusOr<JobRecord> r) { result = std::move(r); });
  FlushSubmits();
  flush_hook_ = std::move(hook);
  return std::move(*result);
}

StatusOr<JobRecord> Scheduler::Cancel(int64_t id, uint32_t caller_uid) {
  ASSIGN_OR_RETURN(JobRecord job, store_.Get(id));
  if (caller_uid != 0 && caller_uid != job.owner_uid) {
    return PermissionDenied("job " + std::to_string(id) + " belongs to uid " +
                            std::to_string(job.owner_uid) +
                            "; only its owner or root may cancel it");
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (IsFinal(job.state)) {
      return FailedPrecondition("job " + std::to_string(id) + " is already " +
                                JobStateName(job.state) + "; only queued, waiting or running "
                                "jobs can be cancelled");
    }
    if (job.state == JobState::kRunning) {
      if (job.cancel_requested) return job;  // already on its way
      RETURN_IF_ERROR(store_.RequestCancel(id));
      if (const Site* site = SiteOf(job); site && site->executor->IsRunning(id)) {
        RETURN_IF_ERROR(site->executor->Stop(id, StopMode::kCancel));
        spdlog::info("job {}: cancel requested by uid {}; stopping its worker", id, caller_uid);
      } else {
        Transition t{JobState::kRunning, JobState::kCancelled,
                     "cancelled by uid " + std::to_string(caller_uid), clock_.Now()};
        t.finished = t.at;
        t.clear_cancel_request = true;
        RETURN_IF_ERROR(store_.Apply(id, t));
      }
      Notify(id);
      return store_.Get(id);
    }
    Transition t{job.state, JobState::kCancelled,
                 "cancelled by uid " + std::to_string(caller_uid) + " before it started",
                 clock_.Now()};
    t.finished = t.at;
    if (job.state == JobState::kWaiting) CarryPlan(id, t);
    Status st = store_.Apply(id, t);
    if (st.ok()) {
      spdlog::info("job {} cancelled by uid {}", id, caller_uid);
      if (const Site* site = SiteOf(job)) site->executor->Withdraw(id);
      Notify(id);
      return store_.Get(id);
    }
    if (st.code() != StatusCode::kFailedPrecondition) return st;
    ASSIGN_OR_RETURN(job, store_.Get(id));  // raced with a release: try again
  }
  return Internal("job " + std::to_string(id) + " kept changing state during cancel");
}

void Scheduler::EndUnstarted(int64_t id, JobState to, const std::string& reason, Timestamp now) {
  Transition t{JobState::kWaiting, to, reason, now};
  t.finished = now;
  CarryPlan(id, t);
  if (to == JobState::kFailed) t.error = reason;
  if (store_.Apply(id, t).ok()) {
    spdlog::warn("job {}: {}", id, reason);
    for (const Site& s : sites_) s.executor->Withdraw(id);
    Notify(id);
  }
}

Status Scheduler::CheckDataPath(const JobSpec& spec) const {
  if (options_.data_roots.empty() || spec.run) return Status();
  return ResolveInsideRoots(spec.data.path, options_.data_roots).status();
}

const JobSpec* Scheduler::SpecOf(const JobRecord& job, Status* error) {
  if (JobRuntime* r = FindRuntime(job.id); r && r->spec) return &*r->spec;
  auto spec = ParseJobSpec(job.spec_text, "job " + std::to_string(job.id));
  if (!spec.ok()) {
    *error = spec.status();
    return nullptr;
  }
  return &*(Runtime(job.id).spec = std::move(spec).value());
}

const GridView& Scheduler::GridOf(const std::string& zone, TickCache& cache) {
  auto g = cache.grids.find(zone);
  if (g == cache.grids.end()) {
    GridView v;
    v.zone = zone;
    if (grid_)
      v = grid_->View(zone);
    else
      v.why_no_data = "carbond has no intensity source";
    g = cache.grids.emplace(zone, std::move(v)).first;
  }
  return g->second;
}

ReleaseDecision Scheduler::Decide(const JobSpec& spec, const std::string& site, Timestamp submitted, Timestamp now,
                                  TickCache& cache, std::optional<Timestamp> planned_start, const JobRecord* job) {
  PolicyInput in{spec, submitted, now};
  in.planned_start = planned_start;
  in.defaults = options_.policy_defaults;
  if (job && spec.carbon.interruptible) {
    in.resume_overhead = ResumeOverhead(job->id);
    in.progress = ProgressOf(*job, now, *in.resume_overhead);
  }
  if (spec.carbon.policy == "immediate") return policies_.Decide(in);
  in.grid = &GridOf(ZoneOf(spec, site), cache);
  LearnDuration(spec, cache, in);
  return policies_.Decide(in);
}

StatusOr<std::vector<Segment>> Scheduler::RunsOf(int64_t id, Timestamp now) {
  ASSIGN_OR_RETURN(auto events, store_.Events(id));
  std::vector<Segment> runs;
  bool in_run = false;
  Timestamp since{};
  for (const JobEvent& e : events) {
    if (in_run) runs.push_back({since, std::max(since, e.at)}), in_run = false;
    if (e.to_state == JobStateName(JobState::kRunning)) since = e.at, in_run = true;
  }
  if (in_run) runs.push_back({since, std::max(since, now)});
  return runs;
}

SegmentProgress Scheduler::ProgressOf(const JobRecord& job, Timestamp now, Duration overhead) {
  SegmentProgress p;
  auto runs = RunsOf(job.id, now);
  if (!runs.ok() || runs->empty()) return p;
  Timestamp::duration ran{};
  for (const Segment& r : *runs) ran += r.end - r.start;
  p.started = true;
  p.running = job.state == JobState::kRunning;
  if (p.running) p.running_for = std::chrono::duration_cast<Duration>(runs->back().end - runs->back().start);
  const auto resumes = static_cast<int64_t>(runs->size()) - 1;
  p.done = std::max(Duration::zero(), std::chrono::duration_cast<Duration>(ran) - overhead * resumes);
  return p;
}

bool Scheduler::Paused(int64_t id) {
  auto events = store_.Events(id);
  return events.ok() && !events->empty() && events->back().from_state == JobStateName(JobState::kRunning) &&
         events->back().to_state == JobStateName(JobState::kWaiting);
}

Duration Scheduler::ResumeOverhead(int64_t id) const {
  const JobRuntime* r = FindRuntime(id);
  if (r && r->resume_cost.measured) return *r->resume_cost.measured;
  return options_.policy_defaults.resume_overhead;
}

void Scheduler::EndSegments(TickCache& cache) {
  const Timestamp now = clock_.Now();
  const std::vector<int64_t> running(running_.begin(), running_.end());
  for (int64_t id : running) {
    JobRuntime* r = FindRuntime(id);
    if (!r || !r->segment_end || now < *r->segment_end || r->pausing) continue;
    auto job = store_.Get(id);
    Status error;
    const JobSpec* spec = job.ok() && job->state == JobState::kRunning ? SpecOf(*job, &error) : nullptr;
    const Site* site = spec ? SiteOf(*job) : nullptr;
    if (!spec || !site) {
      r->segment_end.reset();
      continue;
    }
    ReleaseDecision d = Decide(*spec, job->site, job->submitted, now, cache, std::nullopt, &*job);
    r = &Runtime(id);  // Decide may have added records
    if (d.release) {  // on to the next segment's end, or to the end
      r->segment_end = d.segment_end;
      if (Status st = store_.UpdateReasons({{id, JobState::kRunning, d.reason, std::nullopt}}); !st.ok())
        spdlog::warn("job {}: cannot update its reason: {}", id, st.ToString());
      Notify(id);
      continue;
    }
    r->segment_end.reset();
    spdlog::info("job {}: segment over; asking its worker to checkpoint and stop ({})", id, d.reason);
    if (Status st = site->executor->Stop(id, StopMode::kDrain); !st.ok()) {
      spdlog::warn("job {}: cannot pause it, so it runs on: {}", id, st.message());
      continue;
    }
    r->pausing = Pause{d, now};
  }
}

void Scheduler::LearnDuration(const JobSpec& spec, TickCache& cache, PolicyInput& in) {
  if (spec.carbon.expected_duration) return;
  const std::string sig = JobSignature(spec);
  auto r = cache.run_times.find(sig);
  if (r == cache.run_times.end()) {
    auto times = store_.TypicalRunTime(sig);
    r = cache.run_times.emplace(sig, times.ok() ? *times : RunTimes{}).first;
  }
  in.learned_duration = r->second.median;
  in.learned_from = r->second.count;
}

const Site* Scheduler::Place(const JobRecord& job, const JobSpec& spec, Timestamp now, TickCache& cache,
                             ReleaseDecision& decision, std::string* missing) {
  std::vector<const Site*> sites;
  std::vector<SiteOption> options;
  std::optional<size_t> current;
  for (const std::string& name : spec.carbon.sites) {
    const Site* s = FindSite(name);
    if (!s) {
      *missing = name;
      return nullptr;
    }
    if (name == job.site) current = sites.size();
    sites.push_back(s);
    options.push_back({name, &GridOf(ZoneOf(spec, name), cache),
                       static_cast<int64_t>(s->executor->RunningCount()) < SlotsOf(*s)});
  }
  PolicyInput in{spec, job.submitted, now};
  in.planned_start = job.planned_start;
  in.defaults = options_.policy_defaults;
  LearnDuration(spec, cache, in);
  Placement p = PlaceJob(policies_, in, options, current, options_.site_switch_margin);
  decision = std::move(p.decision);
  return sites[p.site];
}

bool Scheduler::RecordEnd(const JobRecord& job, const Transition& t) {
  const int64_t id = job.id;
  Status st = store_.Apply(id, t);
  if (st.ok()) {
    ForgetUnrecordedEnd(id);
    return true;
  }
  if (st.code() == StatusCode::kFailedPrecondition) {
    // No longer running: something else (a cancel) already ended it.
    spdlog::warn("job {}: not recorded as {} ({}): {}", id, JobStateName(t.to), t.reason, st.message());
    ForgetUnrecordedEnd(id);
    return false;
  }
  spdlog::error("job {}: cannot record '{}' yet ({}); retrying at every tick", id, t.reason, st.ToString());
  Runtime(id).unrecorded_end = UnrecordedEnd{job, t};
  unrecorded_.insert(id);
  return false;
}

Scheduler::Feed& Scheduler::StartFeed(int64_t id, Feed feed) {
  running_.insert(id);
  return *(Runtime(id).feed = std::move(feed));
}

void Scheduler::StopFeed(int64_t id) {
  running_.erase(id);
  if (JobRuntime* r = FindRuntime(id)) r->feed.reset();
}

void Scheduler::ForgetUnrecordedEnd(int64_t id) {
  unrecorded_.erase(id);
  if (JobRuntime* r = FindRuntime(id)) r->unrecorded_end.reset();
}

void Scheduler::RetryUnrecordedEnds() {
  std::vector<UnrecordedEnd> retry;
  for (int64_t id : unrecorded_)
    if (const JobRuntime* r = FindRuntime(id); r && r->unrecorded_end) retry.push_back(*r->unrecorded_end);
  for (const UnrecordedEnd& end : retry)
    if (RecordEnd(end.job, end.t)) AfterEnd(end.job, end.t);
}

void Scheduler::AfterEnd(const JobRecord& job, const Transition& t) {
  spdlog::info("job {} -> {}: {}", job.id, JobStateName(t.to), t.reason);
  if (t.to == JobState::kSucceeded && job.started) RecordSavings(job, t.at);
  if (t.to == JobState::kSucceeded || t.to == JobState::kStoppedBudget) {
    JobRecord done = job;
    done.finished = t.at;
    WriteEmissions(done, /*with_total=*/true);
  }
  Notify(job.id);
}

void Scheduler::Tick() {
  RetryUnrecordedEnds();
  if (draining_) return;
  TickCache cache;
  if (!PlanQueued(cache)) return;
  // Waiting jobs: only those something happened to.
  LoadWaiting();
  waits_.BeginTick();
  WakeChangedZones(cache);
  DecideSlotWaiters(cache);
  DecideDue(cache);
  EndSegments(cache);
  for (int64_t id : running_)
    if (JobRuntime* r = FindRuntime(id); r && r->feed) FeedGrid(*r->feed, cache);
}

bool Scheduler::PlanQueued(TickCache& cache) {
  JobFilter queued;
  queued.state = JobState::kQueued;
  queued.limit = 1000;
  auto qs = store_.List(queued);
  if (!qs.ok()) {
    spdlog::error("cannot list queued jobs: {}", qs.status().ToString());
    return false;
  }
  // One commit for all of them.
  std::vector<std::pair<int64_t, Transition>> plans;
  for (JobRecord& job : *qs) {
    Status error;
    const JobSpec* spec = SpecOf(job, &error);
    Timestamp now = clock_.Now();
    if (!spec) {
      Transition t{JobState::kQueued, JobState::kFailed,
                   "stored job spec no longer validates: " + error.message(), now};
      t.finished = now;
      plans.emplace_back(job.id, t);
      continue;
    }
    ReleaseDecision d = Decide(*spec, job.site, job.submitted, now, cache);
    if (d.planned_end) Runtime(job.id).planned_end = *d.planned_end;
    Transition t{JobState::kQueued, JobState::kWaiting, d.reason, now};
    t.planned_start = d.planned_start;
    plans.emplace_back(job.id, t);
  }
  if (plans.empty()) return true;
  std::vector<Status> results = store_.ApplyAll(plans);
  for (size_t i = 0; i < plans.size(); ++i) {
    if (!results[i].ok())
      spdlog::warn("job {}: cannot plan: {}", plans[i].first, results[i].ToString());
    else
      Notify(plans[i].first);
  }
  return true;
}

void Scheduler::DecideSlotWaiters(TickCache& cache) {
  // In submission order, as many as free slots may take (and a few more: a
  // job whose GPUs are busy does not block the next).
  constexpr size_t kSlotLookahead = 8;
  bool any_free = false;
  for (const Site& site : sites_) {
    const int64_t free = SlotsOf(site) - static_cast<int64_t>(site.executor->RunningCount());
    if (free <= 0) continue;
    any_free = true;
    for (int64_t id : waits_.TakeSlotWaiters(site.name, static_cast<size_t>(free) + kSlotLookahead))
      DecideWaiting(id, cache);
  }
  if (any_free)
    for (int64_t id : waits_.TakeSlotWaiters("", kSlotLookahead)) DecideWaiting(id, cache);
}

void Scheduler::DecideDue(TickCache& cache) {
  const auto t0 = std::chrono::steady_clock::now();
  size_t decided = 0;
  while (options_.tick_slice.count() <= 0 || std::chrono::steady_clock::now() - t0 < options_.tick_slice) {
    const std::vector<int64_t> due = waits_.TakeDue(clock_.Now(), 8);
    if (due.empty()) break;
    for (int64_t id : due) DecideWaiting(id, cache);
    decided += due.size();
  }
  // A run of slices (a new forecast for many jobs, a start-up) is logged
  // once it is over: how many jobs, how long from first to last.
  if (decided > 0) {
    if (!run_.slices) run_.first = t0;
    ++run_.slices;
    run_.decided += decided;
    run_.busy += std::chrono::steady_clock::now() - t0;
  }
  if (run_.slices && !waits_.HasDue(clock_.Now())) {
    const auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
    if (run_.decided >= 1000)
      spdlog::info("scheduler: decided {} waiting jobs in {} slices, {:.0f} ms from the first to the last ({:.0f} ms "
                   "deciding); {} jobs wait",
                   run_.decided, run_.slices, ms(std::chrono::steady_clock::now() - run_.first), ms(run_.busy),
                   waits_.size());
    run_ = SliceRun{};
  }
}

void Scheduler::LoadWaiting() {
  if (waits_loaded_) return;
  // A page a slice: a million waiting jobs never hold the API up.
  constexpr int64_t kPage = 5000;
  auto waiting = store_.ListWaiting(load_after_, kPage);
  load_failed_ = !waiting.ok();
  if (!waiting.ok()) {
    spdlog::error("cannot list waiting jobs: {}; trying again at the next tick", waiting.status().ToString());
    return;
  }
  // Every one is decided again (the grid may have changed while carbond was
  // down, and a decision tells the index what wakes it): in each page, first
  // those whose planned start has come (or that have none), by id, then the
  // rest, by id.
  const Timestamp now = clock_.Now();
  for (const JobStore::WaitingJob& w : *waiting) {
    if (!w.planned_start || *w.planned_start <= now) waits_.Wake(w.id);
    else waits_.WakeAt(w.id, now);
  }
  if (!waiting->empty()) load_after_ = waiting->back().id;
  waits_loaded_ = static_cast<int64_t>(waiting->size()) < kPage;
}

namespace {
// A fingerprint of what the policies read of a zone's grid.
uint64_t GridPrint(const GridView& v) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](uint64_t x) {
    h ^= x;
    h *= 1099511628211ull;
  };
  auto mix_text = [&mix](const std::string& t) {
    mix(std::hash<std::string>{}(t));
  };
  auto mix_double = [&mix](double d) {
    uint64_t bits;
    std::memcpy(&bits, &d, sizeof bits);
    mix(bits);
  };
  mix(v.current_gco2_per_kwh.has_value());
  if (v.current_gco2_per_kwh) mix_double(*v.current_gco2_per_kwh);
  mix_text(v.current_source);
  mix_text(v.forecast_source);
  mix_text(v.why_no_data);
  mix(v.forecast.size());
  for (const IntensityPoint& p : v.forecast) {
    mix(static_cast<uint64_t>(p.time.time_since_epoch().count()));
    mix(static_cast<uint64_t>(p.period.count()));
    mix_double(p.gco2_per_kwh);
  }
  return h;
}
}  // namespace

void Scheduler::WakeChangedZones(TickCache& cache) {
  for (const std::string& zone : waits_.Zones()) {
    const uint64_t print = GridPrint(GridOf(zone, cache));
    auto [it, fresh] = zone_prints_.try_emplace(zone, print);
    if (!fresh && it->second == print) continue;
    it->second = print;
    waits_.WakeZone(zone);
    // One zone a slice (marking 33,000 jobs takes a few ms); the next
    // changed zone is found at the next slice, which follows at once.
    if (waits_.HasDue(clock_.Now())) return;
  }
}

void Scheduler::DecideWaiting(int64_t id, TickCache& cache) {
  auto stored = store_.Get(id);
  if (!stored.ok()) {
    if (stored.status().code() == StatusCode::kNotFound) {
      waits_.Remove(id);
    } else {
      spdlog::warn("job {}: cannot read it: {}", id, stored.status().ToString());
      waits_.Wake(id);
    }
    return;
  }
  JobRecord& job = *stored;
  if (job.state != JobState::kWaiting) {
    waits_.Remove(id);
    return;
  }
  ShowLivePlan(job);
  Status error;
  const JobSpec* spec = SpecOf(job, &error);
  if (!spec) {  // cannot happen: it validated when planned
    spdlog::error("job {}: stored spec no longer parses: {}", job.id, error.message());
    waits_.Remove(job.id);
    return;
  }
  Timestamp now = clock_.Now();
  const Site* site = SiteOf(job);
  if (!site) {  // carbond.yaml no longer has it
    EndUnstarted(job.id, JobState::kFailed,
                 "not started: its site '" + job.site + "' is no longer in carbond.yaml's sites", now);
    return;
  }
  ReleaseDecision d;
  if (spec->carbon.sites.size() > 1) {
    // Placed over its sites; a waiting job may move (a held one is withdrawn).
    std::string missing;
    const Site* to = Place(job, *spec, now, cache, d, &missing);
    if (!to) {
      EndUnstarted(job.id, JobState::kFailed,
                   "not started: its site '" + missing + "' is no longer in carbond.yaml's sites", now);
      return;
    }
    if (to != site) {
      if (Status st = store_.SetSite(job.id, to->name); !st.ok()) {
        spdlog::warn("job {}: cannot move it to site {}: {}", job.id, to->name, st.ToString());
        waits_.Wake(job.id);
        return;
      }
      spdlog::info("job {}: re-planned from site {} to site {}", job.id, site->name, to->name);
      site->executor->Withdraw(job.id);
      job.site = to->name;
      job.site_token.clear();
      job.slurm_job_id.reset();
      site = to;
    }
  } else {
    d = Decide(*spec, job.site, job.submitted, now, cache, job.planned_start, &job);
  }
  const std::string run_dir = (site->runs_dir.empty() ? options_.runs_dir : site->runs_dir) + "/" +
                              std::to_string(job.id);
  site->executor->Hold(job, run_dir);
  // Each site's zone: a new reading or forecast there wakes the job.
  std::vector<std::string> zones;
  for (const std::string& n : spec->carbon.sites.size() > 1 ? spec->carbon.sites : std::vector<std::string>{job.site})
    zones.push_back(ZoneOf(*spec, n));
  waits_.SetZones(job.id, zones);
  // A zone seen for the first time: its grid as this decision read it, so
  // the next tick wakes its jobs only if it changes after.
  for (const std::string& z : zones)
    if (!zone_prints_.count(z)) zone_prints_[z] = GridPrint(GridOf(z, cache));
  // A site that holds it (Slurm) is asked again at every tick until it does.
  const bool held_there = site->executor->Held(job.id);
  const std::string slot_site = spec->carbon.sites.size() > 1 ? std::string() : site->name;
  Runtime(job.id).planned_end = d.release ? std::nullopt : d.planned_end;
  const std::string held = site->executor->Describe(job.id);
  if (!d.release) {
    const std::string reason = held.empty() ? d.reason : d.reason + "; " + held;
    SetPlan(job, reason, d.planned_start);
    if (!held_there) waits_.Wake(job.id);
    else if (d.needs_slot) waits_.WaitForSlot(job.id, slot_site);
    else if (d.planned_start && *d.planned_start > now) waits_.WakeAt(job.id, *d.planned_start);
    else if (d.planned_start) waits_.Wake(job.id);
    else waits_.Sleep(job.id);  // until its zone's grid changes
    return;
  }
  const int64_t busy = static_cast<int64_t>(site->executor->RunningCount()), slots = SlotsOf(*site);
  if (busy >= slots) {
    std::string reason = "ready to run; waiting for a free worker slot at site " + site->name + " (" +
                         std::to_string(busy) + " of " + std::to_string(slots) + " busy)";
    SetPlan(job, reason, std::nullopt);
    if (held_there) waits_.WaitForSlot(job.id, slot_site);
    else waits_.Wake(job.id);
    return;
  }
  if (std::string why; !site->executor->Ready(job, &why)) {
    const std::string reason = "ready to run; " + why;
    SetPlan(job, reason, std::nullopt);
    // Its GPUs or the site's word: looked at again when a slot is free.
    if (held_there) waits_.WaitForSlot(job.id, slot_site);
    else waits_.Wake(job.id);
    return;
  }
  if (auto p = spec->carbon.budget_kg ? PredictBudget(job, *spec) : std::nullopt;
      p && p->remaining_epochs > 0 && OverBudget(*p, *spec->carbon.budget_kg)) {
    EndUnstarted(job.id, JobState::kStoppedBudget, DescribeBudget(*p, *spec->carbon.budget_kg) + "; not resumed",
                 now);
    return;
  }
  if (Status st = CheckDataPath(*spec); !st.ok()) {
    // The roots or a symlink changed since the job was admitted.
    EndUnstarted(job.id, JobState::kFailed, "not started: data.path " + st.message(), now);
    return;
  }
  if (Status st = site->executor->Prepare(job, run_dir); !st.ok()) {
    if (st.code() == StatusCode::kUnavailable) {  // the file system; try again next tick
      const std::string why = "cannot start yet: " + st.message();
      SetPlan(job, why, std::nullopt);
      waits_.Wake(job.id);
      return;
    }
    EndUnstarted(job.id, JobState::kFailed, "not started: " + st.message(), now);
    return;
  }
  // A job paused by its plan resumes in the same attempt.
  const bool resumed = spec->carbon.interruptible && Paused(job.id);
  const int64_t attempt = resumed ? std::max<int64_t>(job.attempts, 1) : job.attempts + 1;
  Transition t{JobState::kWaiting, JobState::kRunning,
               d.reason + "; attempt " + std::to_string(attempt) +
                   (sites_.size() > 1 || site->executor->Detached() ? " at site " + site->name : ""),
               now};
  t.started = now;
  CarryPlan(job.id, t);
  t.count_attempt = !resumed || job.attempts == 0;
  t.run_dir = run_dir;
  Status st = store_.Apply(job.id, t);
  if (!st.ok()) {
    spdlog::warn("job {}: cannot mark running: {}", job.id, st.ToString());
    waits_.Wake(job.id);
    return;
  }
  job.attempts = attempt;
  JobRuntime& r = Runtime(job.id);
  r.segment_end = d.segment_end;
  if (resumed) r.resume_cost.resumed = now;
  FeedGrid(StartFeed(job.id, Feed{ZoneOf(*spec, job.site), run_dir, std::nullopt, ""}), cache);
  Status started = site->executor->Start(job, run_dir);
  if (!started.ok()) {
    Transition f{JobState::kRunning, JobState::kFailed,
                 "worker did not start: " + started.message(), clock_.Now()};
    f.finished = f.at;
    f.error = started.message();
    StopFeed(job.id);
    spdlog::error("job {}: worker did not start: {}", job.id, started.message());
    RecordEnd(job, f);  // or at a later tick
  } else {
    spdlog::info("job {} '{}' running (attempt {}) in {}", job.id, job.name, job.attempts, run_dir);
  }
  Notify(job.id);
}

std::optional<Timestamp> Scheduler::NextPlannedStart() {
  const Timestamp now = clock_.Now();
  if (!waits_loaded_ || waits_.HasDue(now)) return std::nullopt;  // a tick has jobs to decide first
  return waits_.NextWake(now);
}

void Scheduler::FeedGrid(Feed& feed, TickCache& cache) {
  if (!grid_) return;
  const GridView& v = GridOf(feed.zone, cache);
  if (!v.current_gco2_per_kwh) return;
  if (feed.gco2_per_kwh == v.current_gco2_per_kwh && feed.source == v.current_source) return;
  if (Status st = WriteGridFile(feed.run_dir, {*v.current_gco2_per_kwh, v.current_source, feed.zone}, clock_.Now());
      !st.ok()) {
    spdlog::warn("cannot give the worker the grid intensity: {}", st.message());
    return;
  }
  feed.gco2_per_kwh = v.current_gco2_per_kwh;
  feed.source = v.current_source;
}

std::optional<BudgetPrediction> Scheduler::PredictBudget(const JobRecord& job, const JobSpec& spec) {
  // A command's epochs are its own to count: only the measured CO2 stops it.
  if (!spec.carbon.budget_kg || spec.run) return std::nullopt;
  auto epochs = store_.Epochs(job.id);
  if (!epochs.ok() || epochs->empty()) return std::nullopt;
  TickCache cache;
  const GridView& v = GridOf(ZoneOf(spec, job.site), cache);
  auto p = PredictRunEmissions(*epochs, spec.train.epochs, v.forecast, v.current_gco2_per_kwh, clock_.Now());
  if (!p.ok()) {
    spdlog::info("job {}: no carbon budget prediction yet: {}", job.id, p.status().message());
    return std::nullopt;
  }
  return *p;
}

void Scheduler::CheckBudget(const JobRecord& job) {
  Status error;
  const JobSpec* spec = SpecOf(job, &error);
  if (!spec || !spec->carbon.budget_kg || job.cancel_requested) return;
  if (const JobRuntime* r = FindRuntime(job.id); r && r->budget_stop) return;
  auto p = PredictBudget(job, *spec);
  if (!p) return;
  const std::string what = DescribeBudget(*p, *spec->carbon.budget_kg);
  if (p->remaining_epochs == 0 || !OverBudget(*p, *spec->carbon.budget_kg)) {
    spdlog::info("job {}: within its {}", job.id, what);
    return;
  }
  Runtime(job.id).budget_stop = what;
  spdlog::warn("job {}: {}; stopping it after a checkpoint", job.id, what);
  const Site* site = SiteOf(job);
  if (Status st = site ? site->executor->Stop(job.id, StopMode::kDrain) : NotFound("no site");
      !st.ok())
    spdlog::warn("job {}: cannot stop its worker: {}", job.id, st.message());
}

Status Scheduler::Recover() {
  JobFilter running;
  running.state = JobState::kRunning;
  running.limit = 100000;
  ASSIGN_OR_RETURN(auto jobs, store_.List(running));
  for (const JobRecord& job : jobs) {
    const Site* site = SiteOf(job);
    if (site && site->executor->Detached() && !job.site_token.empty()) {
      // It runs on without carbond (Slurm): follow it to its end, never run it twice.
      Status adopted = site->executor->Adopt(job);
      if (adopted.ok()) {
        spdlog::info("job {}: adopted Slurm job {} at site {} (attempt {})", job.id, job.slurm_job_id.value_or(0),
                     site->name, job.attempts);
        Status error;
        if (const JobSpec* spec = SpecOf(job, &error)) {
          StartFeed(job.id, Feed{ZoneOf(*spec, job.site), job.run_dir, std::nullopt, ""});
        }
        if (Status st = job.cancel_requested ? site->executor->Stop(job.id, StopMode::kCancel) : Status(); !st.ok())
          spdlog::warn("job {}: cannot pass on its cancel request: {}", job.id, st.message());
        continue;
      }
      spdlog::error("job {}: cannot adopt its Slurm job: {}", job.id, adopted.message());
    }
    Transition t{JobState::kRunning, JobState::kQueued, "", clock_.Now()};
    if (job.cancel_requested) {
      t.to = JobState::kCancelled;
      t.reason = "cancelled; its worker ended when carbond stopped";
      t.finished = t.at;
      t.clear_cancel_request = true;
    } else if (job.attempts >= options_.max_attempts) {
      t.to = JobState::kFailed;
      t.reason = "carbond stopped while attempt " + std::to_string(job.attempts) + " of " +
                 std::to_string(options_.max_attempts) + " ran; no attempts left";
      t.finished = t.at;
    } else {
      t.reason = "carbond restarted while attempt " + std::to_string(job.attempts) +
                 " ran; requeued to resume from its last checkpoint";
    }
    RETURN_IF_ERROR(store_.Apply(job.id, t));
    spdlog::warn("job {}: {}", job.id, t.reason);
    Notify(job.id);
  }
  return Status();
}

void Scheduler::BeginDrain() {
  if (draining_) return;
  draining_ = true;
  JobFilter running;
  running.state = JobState::kRunning;
  running.limit = 100000;
  auto jobs = store_.List(running);
  if (!jobs.ok()) return;
  for (const JobRecord& job : *jobs) {
    const Site* site = SiteOf(job);
    if (!site || site->executor->Detached()) continue;  // Slurm jobs run on without carbond
    if (site->executor->IsRunning(job.id)) {
      spdlog::info("job {}: asking its worker to checkpoint and stop", job.id);
      if (Status st = site->executor->Stop(job.id, StopMode::kDrain); !st.ok())
        spdlog::error("job {}: cannot ask its worker to stop: {}", job.id, st.ToString());
    }
  }
}

bool Scheduler::Drained() const {
  for (const Site& s : sites_)
    if (!s.executor->Detached() && s.executor->RunningCount() > 0) return false;
  return true;
}

void Scheduler::OnWorkerEvent(int64_t job_id, const protocol::Event& event) {
  spdlog::debug("job {}: worker event {}", job_id, protocol::EventName(event));
  std::optional<EpochRecord> epoch;
  if (const auto* ep = std::get_if<protocol::Epoch>(&event)) {
    EpochRecord e = ep->record;
    e.job_id = job_id;
    e.at = clock_.Now();
    auto job = store_.Get(job_id);
    e.attempt = job.ok() ? job->attempts : 0;
    if (job.ok()) AttachEmissions(*job, e);
    Status st = store_.RecordEpoch(e);
    if (!st.ok()) spdlog::warn("job {}: cannot store epoch {}: {}", job_id, e.epoch, st.ToString());
    if (job.ok()) WriteEmissions(*job, /*with_total=*/false);
    if (job.ok() && st.ok()) CheckBudget(*job);
    spdlog::info("job {}: epoch {}/{} loss {:.4f} accuracy {:.4f}", job_id, e.epoch, ep->epochs, e.train_loss,
                 e.test_accuracy);
    epoch = std::move(e);
  }
  if (std::holds_alternative<protocol::Started>(event))
    if (JobRuntime* r = FindRuntime(job_id); r && r->resume_cost.resumed) {
      ResumeCost& c = r->resume_cost;
      const auto restart = std::chrono::duration_cast<Duration>(clock_.Now() - *c.resumed);
      c.resumed.reset();
      c.measured = restart + c.checkpoint.value_or(Duration::zero());
      spdlog::info("job {}: a pause costs it {} (checkpoint and exit {}, restart {})", job_id,
                   FormatDuration(*c.measured), FormatDuration(c.checkpoint.value_or(Duration::zero())),
                   FormatDuration(restart));
    }
  std::string line = protocol::Encode(event);
  line.pop_back();  // the newline
  Status st = store_.SetProgress(job_id, line);
  if (!st.ok()) spdlog::warn("job {}: cannot store progress: {}", job_id, st.ToString());
  if (on_worker_event) on_worker_event(job_id, event, epoch ? &*epoch : nullptr);
}

void Scheduler::OnWorkerExit(int64_t job_id, const ExitInfo& info) {
  auto job = store_.Get(job_id);
  if (!job.ok()) {
    spdlog::error("worker of unknown job {} exited: {}", job_id, info.description);
    return;
  }
  if (job->state != JobState::kRunning) {
    spdlog::warn("job {}: worker exited ({}) but the job is {}", job_id, info.description,
                 JobStateName(job->state));
    return;
  }
  StopFeed(job_id);
  JobRuntime& r = Runtime(job_id);
  r.segment_end.reset();
  ExitFacts facts;
  facts.info = info;
  facts.attempts = job->attempts;
  facts.max_attempts = options_.max_attempts;
  facts.cancel_requested = job->cancel_requested;
  facts.draining = draining_;
  std::optional<Timestamp> pause_asked;
  if (r.pausing) {
    facts.pause = ExitFacts::Pause{r.pausing->decision.reason, r.pausing->decision.planned_start};
    pause_asked = r.pausing->asked;
    r.pausing.reset();
  }
  facts.budget_stop = std::move(r.budget_stop);
  r.budget_stop.reset();
  const Transition t = ExitTransition(facts, clock_.Now());
  if (t.to == JobState::kWaiting && pause_asked)
    r.resume_cost.checkpoint = std::chrono::duration_cast<Duration>(t.at - *pause_asked);
  if (RecordEnd(*job, t)) AfterEnd(*job, t);
}

void Scheduler::WriteEmissions(const JobRecord& job, bool with_total) {
  auto epochs = store_.Epochs(job.id);
  if (!epochs.ok() || epochs->empty()) return;
  const std::string dir = job.run_dir.empty() ? options_.runs_dir + "/" + std::to_string(job.id) : job.run_dir;
  const std::optional<EmissionsRecord> total =
      with_total ? std::optional<EmissionsRecord>(EmissionsTotal(job, *epochs)) : std::nullopt;
  if (Status st = WriteEmissionsFiles(dir, EmissionsRows(job, *epochs), total ? &*total : nullptr); !st.ok())
    spdlog::warn("job {}: {}", job.id, st.message());
}

void Scheduler::AttachEmissions(const JobRecord& job, EpochRecord& e) {
  Status error;
  const JobSpec* spec = SpecOf(job, &error);
  e.zone = spec ? ZoneOf(*spec, job.site) : options_.default_zone;
  // The worker charged each sampling interval at the reading carbond gave it
  // (grid.json); only an epoch it could not charge gets the recorded mean.
  if (e.kg_co2) return;
  if (!grid_ || e.energy_kwh <= 0) return;
  // The epoch ran over [now - wall_s, now]: its mean recorded intensity.
  Timestamp end = e.at;
  Timestamp begin = end - std::chrono::duration_cast<Timestamp::duration>(std::chrono::duration<double>(e.wall_s));
  IntensitySeries rec = grid_->Recorded(e.zone, begin, end + Duration(1));
  std::optional<double> g;
  if (!SliceSorted(rec, begin, end + Duration(1)).empty()) {
    g = MeanIntervals(rec, begin, end > begin ? end : begin + Duration(1));
    e.intensity_source = "recorded";
  } else {
    GridView v = grid_->View(e.zone);
    if (v.current_gco2_per_kwh) {
      g = *v.current_gco2_per_kwh;
      e.intensity_source = v.current_source;
    }
  }
  if (!g) return;
  e.gco2_per_kwh = *g;
  e.kg_co2 = e.energy_kwh * *g * 0.001;  // kWh x g/kWh = g; x 0.001 = kg
}

void Scheduler::RecordSavings(const JobRecord& job, Timestamp finished) {
  if (!grid_) return;
  Status error;
  const JobSpec* spec = SpecOf(job, &error);
  if (!spec) return;
  const std::string zone = ZoneOf(*spec, job.site);
  IntensitySeries rec = grid_->Recorded(zone, job.submitted, finished);
  std::optional<double> energy;
  if (auto epochs = store_.Epochs(job.id); epochs.ok()) {
    double sum = 0;
    for (const auto& ep : *epochs) sum += ep.energy_kwh;
    if (sum > 0) energy = sum;
  }
  // Against starting at once at the first-listed site (issue 17), in its zone when that differs.
  const std::string base_zone = ZoneOf(*spec, spec->carbon.sites.empty() ? "" : spec->carbon.sites.front());
  IntensitySeries base;
  if (base_zone != zone) base = grid_->Recorded(base_zone, job.submitted, finished);
  // An interruptible job ran in segments: its runs, from its events.
  std::vector<Segment> runs = {{*job.started, finished}};
  if (spec->carbon.interruptible)
    if (auto r = RunsOf(job.id, finished); r.ok() && !r->empty()) runs = *r;
  auto s = ComputeSavings(rec, job.submitted, runs, energy, base_zone != zone ? &base : nullptr);
  if (s.ok() && base_zone != zone) s->baseline_zone = base_zone;
  if (!s.ok()) {
    spdlog::info("job {}: no savings figure: {}", job.id, s.status().message());
    return;
  }
  s->job_id = job.id;
  s->zone = zone;
  s->computed_at = clock_.Now();
  if (Status st = store_.RecordSavings(*s); !st.ok())
    spdlog::warn("job {}: cannot store savings: {}", job.id, st.ToString());
  else
    spdlog::info("job {}: ran at {:.0f} g/kWh vs {:.0f} had it started at submission ({:.1f}% saved)", job.id,
                 s->run_mean_gco2_per_kwh, s->counterfactual_mean_gco2_per_kwh, s->saving_pct);
}

}  // namespace carbon
