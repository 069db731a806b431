// Scheduler: the core of carbond. It owns the job state machine
//   queued -> waiting -> running -> succeeded | failed | cancelled | stopped_budget
// (plus running -> queued when a run is interrupted and will resume), decides
// releases through the policy registry, and starts jobs on the executor.
//
// Written against interfaces only (JobStore, Executor, Clock); no Asio, SQLite
// or Torch. Not thread-safe: the daemon calls it from its one event-loop thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <set>
#include <vector>

#include "common/budget.h"
#include "common/clock.h"
#include "common/job_spec.h"
#include "common/policy.h"
#include "common/segments.h"
#include "daemon/core/executor.h"
#include "daemon/core/grid_provider.h"
#include "daemon/core/job_store.h"
#include "daemon/core/wait_index.h"

namespace carbon {

struct SchedulerOptions {
  SchedulerOptions() = default;
  SchedulerOptions(int64_t jobs, int64_t attempts, std::string runs)
      : max_concurrent_jobs(jobs), max_attempts(attempts), runs_dir(std::move(runs)) {}
  int64_t max_concurrent_jobs = 1;
  int64_t max_attempts = 3;
  std::string runs_dir;  // each job runs in <runs_dir>/<id>
  // data.path must lie in one of these, at submit and again at release
  // (common/paths.h); empty: not checked.
  std::vector<std::string> data_roots;
  std::string default_zone = "GB";  // for jobs that name none
  PolicyDefaults policy_defaults;
  // A job planned over several sites moves from its current plan only to a
  // site more than this much cleaner (scheduler.site_switch_margin).
  double site_switch_margin = kDefaultSiteSwitchMargin;
  // How long one tick may decide waiting jobs before it yields (the API is
  // served between slices; HasDueWork says more is due). 0: no limit.
  std::chrono::microseconds tick_slice{500};
  // carbond's own uid: command jobs (run) run as it, so they are taken only
  // from it or root (the daemon sets it; 0: from root only).
  uint32_t service_uid = 0;
};

// A place where released jobs run (carbond.yaml's sites): its executor,
// its zone (empty: options.default_zone), its slots (negative:
// options.max_concurrent_jobs, which reloads) and where its run directories
// are (empty: options.runs_dir).
struct Site {
  std::string name;
  Executor* executor = nullptr;
  std::string zone;
  int64_t slots = -1;
  std::string runs_dir;
};

class Scheduler final : public ExecutorListener {
 public:
  // `executor` is the default site's ("local") until set_sites.
  Scheduler(JobStore& store, Executor& executor, const PolicyRegistry& policies, const Clock& clock,
            SchedulerOptions options);

  // The sites, the first one the default for jobs that name none; at
  // start-up, before Recover. Each executor's listener must be this scheduler.
  void set_sites(std::vector<Site> sites) { sites_ = std::move(sites); }
  const std::vector<Site>& sites() const { return sites_; }
  // Its slots, as configured or from options.max_concurrent_jobs.
  int64_t SlotsOf(const Site& site) const { return site.slots < 0 ? options_.max_concurrent_jobs : site.slots; }
  // Jobs released and not over, at every site.
  size_t RunningCount() const;
  // Whether some site has a free slot.
  bool SlotFree() const;

  using SubmitCallback = std::function<void(StatusOr<JobRecord>)>;

  // Validates the spec text (file names it in errors) at once; a valid job is
  // stored with the other submissions of the same moment in one durable
  // commit (group commit) when FlushSubmits runs, and `done` is called after
  // that commit. Without a flush hook (set_flush_hook) it flushes at once.
  void SubmitAsync(const std::string& spec_text, const std::string& file, uint32_t owner_uid,
                   SubmitCallback done);
  // Submits the job and, first, its baseline twin (BaselineTwinSpec) in the
  // same commit, the job linked to the twin (baseline_id); `done` gets the job.
  void SubmitWithBaselineAsync(const std::string& spec_text, const std::string& file, uint32_t owner_uid,
                               SubmitCallback done);
  // Stores every pending submission in one transaction and answers them.
  void FlushSubmits();
  // Called when the first submission of a batch is pending; the daemon posts
  // FlushSubmits to its event loop so concurrent requests share one commit.
  void set_flush_hook(std::function<void()> hook) { flush_hook_ = std::move(hook); }

  // Submit and flush in one call (tests, tools).
  StatusOr<JobRecord> Submit(const std::string& spec_text, const std::string& file,
                             uint32_t owner_uid);
  // Only the owner or root (uid 0) may cancel. A queued or waiting job is
  // cancelled at once; a running one is stopped and becomes cancelled when
  // its worker exits.
  StatusOr<JobRecord> Cancel(int64_t id, uint32_t caller_uid);

  // Plans queued jobs and decides the waiting jobs something happened to
  // (WaitIndex: their time came, their zone's grid changed, a slot freed,
  // they were submitted or requeued), for at most options.tick_slice;
  // called by the daemon's timer, and again at once while HasDueWork.
  void Tick();
  // Whether waiting jobs are due that the last tick had no time left for.
  // (or waiting jobs still to load from the store).
  bool HasDueWork() const { return (!waits_loaded_ && !load_failed_) || waits_.HasDue(clock_.Now()); }
  // The earliest planned start after now among waiting jobs (what a clock
  // that skips idle time jumps to); empty when none waits for a time, or
  // while jobs are due that a tick has not decided yet.
  std::optional<Timestamp> NextPlannedStart();
  // How many waiting jobs the index holds (the metrics, tests).
  size_t WaitingIndexed() const { return waits_.size(); }
  // The end of a waiting job's planned window (forecast policy), as last decided.
  std::optional<Timestamp> PlannedEnd(int64_t id) const;

  // A waiting job's plan (reason and planned start) as last decided. The
  // store keeps the plan of the job's last state change: a new forecast
  // re-plans thousands of jobs, and writing each would put megabytes of WAL
  // in front of the next durable commit (a submit). The API reads jobs
  // through these; SavePlans writes the live plans back.
  StatusOr<JobRecord> Job(int64_t id) const;
  // Gives each waiting job in `jobs` its live plan.
  void ShowLivePlans(std::vector<JobRecord>& jobs) const;
  // Writes the live plans not yet stored (at shutdown), in one transaction.
  Status SavePlans();
  // How many live plans differ from the store (tests).
  size_t UnsavedPlans() const;

  // At start-up: jobs recorded as running have no worker any more (it died
  // with the previous carbond). They go back to the queue with their attempt
  // counted, or fail once max_attempts is reached; a requested cancel is honoured.
  Status Recover();

  // SIGTERM: stop releasing, ask every worker to checkpoint and stop. Their
  // exits requeue them ("interrupted"). True once no worker runs.
  void BeginDrain();
  bool Drained() const;
  bool draining() const { return draining_; }

  // A reload: every waiting job is decided again (defaults may have changed).
  void set_options(const SchedulerOptions& o) {
    options_ = o;
    waits_.WakeAll();
  }
  // Where policies learn about the grid; without one they see no grid data.
  void set_grid(GridProvider* grid) { grid_ = grid; }
  const SchedulerOptions& options() const { return options_; }

  // ExecutorListener
  void OnWorkerEvent(int64_t job_id, const protocol::Event& event) override;
  void OnWorkerExit(int64_t job_id, const ExitInfo& info) override;
  void OnSiteJob(int64_t job_id, const SiteJobRecord& s) override;
  void OnSiteNote(int64_t job_id, const std::string& note) override;

  // Called after every state change (logs, the event stream).
  std::function<void(const JobRecord&)> on_change;
  // Called for every worker event of a running job after it was handled (the
  // event stream); for an epoch, `epoch` is the record as stored.
  std::function<void(int64_t job_id, const protocol::Event& event, const EpochRecord* epoch)> on_worker_event;

  // The zone a job's grid is read in: its own, else its site's, else the default.
  std::string ZoneOf(const JobSpec& spec, const std::string& site) const;

 private:
  // A waiting job that will not run: `to` (failed, stopped_budget) with
  // `reason`, finished now; a failure's reason is also its error.
  void EndUnstarted(int64_t id, JobState to, const std::string& reason, Timestamp now);
  // The site a job runs at (the default site for jobs stored before sites);
  // null when its site is no longer configured.
  const Site* SiteOf(const JobRecord& job) const;
  const Site* FindSite(const std::string& name) const;
  // OK when data.path lies in options_.data_roots (or there are none).
  Status CheckDataPath(const JobSpec& spec) const;
  // The parsed spec of a job, parsed once and cached while the job is not
  // final; null (and the error in *error) when the stored text does not parse.
  const JobSpec* SpecOf(const JobRecord& job, Status* error);
  // The parsed spec, or why a submission is refused (draining, invalid).
  StatusOr<JobSpec> Admit(const std::string& spec_text, const std::string& file) const;
  // Adds a validated submission to the pending batch (planned at once).
  // A command job only from carbond's uid or root (PERMISSION_DENIED says why and what to do).
  Status MayRunCommand(const JobSpec& spec, uint32_t owner_uid, const std::string& file) const;
  void Enqueue(JobSpec spec, const std::string& spec_text, uint32_t owner_uid, bool baseline_is_previous,
               SubmitCallback done);
  // Flushes now, or through the flush hook, unless a flush is already due.
  void RequestFlush();
  // The policy's decision, with the grid of the job's zone and the learned
  // duration; `cache` holds the views and run times of one tick.
  struct TickCache {
    std::unordered_map<std::string, GridView> grids;
    std::unordered_map<std::string, RunTimes> run_times;
  };
  // `job`, for an interruptible one: its progress and measured pause cost.
  ReleaseDecision Decide(const JobSpec& spec, const std::string& site, Timestamp submitted, Timestamp now,
                         TickCache& cache, std::optional<Timestamp> planned_start = std::nullopt,
                         const JobRecord* job = nullptr);
  // Interruptible jobs (carbon.interruptible). The times a job ran, from its
  // events (each running spell; the last one up to `now` while it runs).
  StatusOr<std::vector<Segment>> RunsOf(int64_t id, Timestamp now);
  // Where it stands: the work done (time run less each resume's overhead),
  // whether it runs now and for how long.
  SegmentProgress ProgressOf(const JobRecord& job, Timestamp now, Duration overhead);
  // Whether its last run ended in a pause (running -> waiting).
  bool Paused(int64_t id);
  // What a pause costs this job: measured (checkpoint at the pause + restart
  // to the worker's start), else scheduler.default_resume_overhead.
  Duration ResumeOverhead(int64_t id) const;
  // Running interruptible jobs at their segment's end: on to the next
  // segment's end, or pause (checkpoint and exit, then waiting).
  void EndSegments(TickCache& cache);
  // A job over several sites (carbon.sites): its decision (`decision`) and
  // the site chosen; null, with the name in *missing, when one of its
  // sites is no longer configured.
  const Site* Place(const JobRecord& job, const JobSpec& spec, Timestamp now, TickCache& cache,
                    ReleaseDecision& decision, std::string* missing);
  // The run time learned from finished jobs like this one, into `in`
  // (when the spec gives none).
  void LearnDuration(const JobSpec& spec, TickCache& cache, PolicyInput& in);
  // The grid of a zone, read once per tick.
  const GridView& GridOf(const std::string& zone, TickCache& cache);
  void Notify(int64_t id);
  // A tick's steps, in order (Tick): plans every queued job (false: the
  // store could not list them, and the tick stops), ...
  bool PlanQueued(TickCache& cache);
  // ... decides the jobs ready to run that wait for a slot where one is free ...
  void DecideSlotWaiters(TickCache& cache);
  // ... then those whose time came, whose grid changed, or that are new, for
  // at most options.tick_slice (a new forecast for 100,000 jobs never holds
  // the API up), and logs a run of slices once it is over.
  void DecideDue(TickCache& cache);
  // The waiting jobs in the store, into the index, a page a tick from the
  // first tick on.
  void LoadWaiting();
  // Wakes the jobs of each zone whose grid (current reading or forecast)
  // changed since the last tick.
  void WakeChangedZones(TickCache& cache);
  // Decides one waiting job taken from the index and puts it back with what
  // wakes it next (or releases, moves or ends it).
  void DecideWaiting(int64_t id, TickCache& cache);
  // Keeps a waiting job's new plan (reason, planned start) in its record
  // when it differs from the one it has (live, else stored).
  void SetPlan(JobRecord& job, const std::string& reason, std::optional<Timestamp> planned_start);
  // The live plan over the stored one, for a waiting job.
  void ShowLivePlan(JobRecord& job) const;
  // A waiting job's transition out of waiting stores its live planned start.
  void CarryPlan(int64_t id, Transition& t) const;
  // Stores the end of a run (running -> anything). A store error keeps the
  // transition in its record's unrecorded_end, retried at every tick, so a job is never
  // left `running` with no worker; true once stored.
  bool RecordEnd(const JobRecord& job, const Transition& t);
  void ForgetUnrecordedEnd(int64_t id);
  // Retries them; each one stored gets AfterEnd, as it would have at once.
  void RetryUnrecordedEnds();
  // After a run's end was stored: the log line, the savings of a succeeded
  // job, the emissions files with their total, the change notification.
  void AfterEnd(const JobRecord& job, const Transition& t);
  // Stores what a succeeded job saved against starting at submission.
  void RecordSavings(const JobRecord& job, Timestamp finished);
  // Fills an epoch's zone, mean grid intensity and kg CO2 from its energy.
  void AttachEmissions(const JobRecord& job, EpochRecord& e);
  // Rewrites <run_dir>/emissions.csv and .json from the stored epochs.
  void WriteEmissions(const JobRecord& job, bool with_total);
  // The run's predicted emissions against carbon.budget_kg; empty without a
  // budget, or before an epoch was measured.
  std::optional<BudgetPrediction> PredictBudget(const JobRecord& job, const JobSpec& spec);
  // After an epoch: stops the worker (checkpoint, then stopped_budget) when
  // the prediction exceeds the budget.
  void CheckBudget(const JobRecord& job);
  // The live intensity of a running job's zone, written to its run
  // directory's grid.json whenever it changes (the worker charges at it).
  struct Feed {
    std::string zone, run_dir;
    std::optional<double> gco2_per_kwh;
    std::string source;
  };
  void FeedGrid(Feed& feed, TickCache& cache);
  // A running job's feed, with its id in running_ (what a tick walks).
  Feed& StartFeed(int64_t id, Feed feed);
  void StopFeed(int64_t id);

  JobStore& store_;
  std::vector<Site> sites_;
  const PolicyRegistry& policies_;
  const Clock& clock_;
  SchedulerOptions options_;
  GridProvider* grid_ = nullptr;
  bool draining_ = false;
  WaitIndex waits_;
  struct SliceRun {
    std::chrono::steady_clock::time_point first;
    std::chrono::steady_clock::duration busy{};
    size_t slices = 0, decided = 0;
  };
  SliceRun run_;  // the slices of the ticks since nothing was left due
  bool waits_loaded_ = false;  // every waiting job in the store is in waits_
  int64_t load_after_ = 0;     // the last id loaded
  bool load_failed_ = false;   // the last page could not be read (tried again at the next tick)
  std::unordered_map<std::string, uint64_t> zone_prints_;  // each zone's grid as last seen
  struct Pause {
    ReleaseDecision decision;  // why, and until when
    Timestamp asked;
  };
  struct ResumeCost {
    std::optional<Duration> checkpoint;  // the last pause: asked -> exit
    std::optional<Timestamp> resumed;    // started again, waiting for the worker's start
    std::optional<Duration> measured;    // checkpoint + restart
  };
  struct LivePlan {
    std::string reason;
    std::optional<Timestamp> planned_start;
  };
  struct UnrecordedEnd {
    JobRecord job;  // as it was when the run ended
    Transition t;
  };
  // What the scheduler keeps of one job between ticks (the store has the
  // rest); the record goes when the job is final and nothing in it is left.
  struct JobRuntime {
    std::optional<JobSpec> spec;             // parsed once, while the job is not final
    std::optional<Timestamp> planned_end;    // waiting, with a planned window
    std::optional<LivePlan> plan;            // waiting: its plan as last decided, when not stored
    std::optional<Feed> feed;                // running: its zone's live intensity, into grid.json
    std::optional<std::string> budget_stop;  // being stopped for its budget: why
    std::optional<Timestamp> segment_end;    // running interruptible: when its segment ends
    std::optional<Pause> pausing;            // asked to checkpoint and stop for a pause
    ResumeCost resume_cost;                  // what a pause costs it
    std::optional<UnrecordedEnd> unrecorded_end;  // its run ended; the store failed to record it
  };
  std::unordered_map<int64_t, JobRuntime> runtime_;
  // The records each tick walks, by id: running jobs carbond feeds or pauses,
  // and runs whose end is not recorded yet (a few; never the waiting queue).
  std::set<int64_t> running_, unrecorded_;
  JobRuntime& Runtime(int64_t id) { return runtime_[id]; }
  JobRuntime* FindRuntime(int64_t id);
  const JobRuntime* FindRuntime(int64_t id) const;
  struct PendingSubmit {
    NewJob job;
    Transition plan;
    std::optional<Timestamp> planned_end;
    JobSpec spec;
    SubmitCallback done;
  };
  std::vector<PendingSubmit> pending_;
  std::function<void()> flush_hook_;
  bool flush_requested_ = false;
};

}  // namespace carbon
