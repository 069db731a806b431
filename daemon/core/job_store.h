// JobStore: the durable queue the scheduler core is written against.
// Every mutation is one transaction; a state change is a compare-and-set that
// fails with FAILED_PRECONDITION when the job is no longer in `from`.
// Implementations: SqliteJobStore (daemon/store), fakes in tests.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/job_record.h"
#include "common/savings.h"
#include "common/status.h"

namespace carbon {

struct Transition;

struct NewJob {
  std::string name;
  std::string spec_text;
  std::string policy;
  uint32_t owner_uid = 0;
  Timestamp submitted{};
  std::optional<Timestamp> not_before;
  std::optional<Timestamp> deadline;
  std::string reason;
  std::string signature;  // JobSignature of the spec
  std::optional<int64_t> baseline_id;  // the baseline twin of this job
  std::string site;  // where it runs (empty: the default site)
  // InsertAll: the baseline is the job inserted just before this one.
  bool baseline_is_previous = false;
};

// A compare-and-set of a job's state, with the fields that change with it.
struct Transition {
  Transition(JobState from_state, JobState to_state, std::string why, Timestamp when)
      : from(from_state), to(to_state), reason(std::move(why)), at(when) {}
  JobState from;
  JobState to;
  std::string reason;
  Timestamp at{};
  std::optional<Timestamp> planned_start;
  std::optional<Timestamp> started;
  std::optional<Timestamp> finished;
  bool count_attempt = false;           // attempts += 1
  std::optional<int64_t> exit_status;
  std::optional<std::string> error;
  std::optional<std::string> run_dir;
  bool clear_cancel_request = false;
};

// A new reason for a job that stays in its state (compare-and-set on state).
struct ReasonUpdate {
  int64_t id = 0;
  JobState state = JobState::kWaiting;
  std::string reason;
  std::optional<Timestamp> planned_start;
};

struct JobFilter {
  std::optional<JobState> state;
  int64_t limit = 100;
  int64_t after_id = 0;  // ids greater than this (paging)
};

// How long finished jobs with one signature ran (succeeded ones, newest 20).
struct RunTimes {
  std::optional<Duration> median;
  int64_t count = 0;
};

class JobStore {
 public:
  virtual ~JobStore() = default;
  // Run times of succeeded jobs with this signature.
  virtual StatusOr<RunTimes> TypicalRunTime(const std::string& signature) {
    (void)signature;
    return RunTimes{};
  }
  // Totals over all jobs for /metrics.
  struct Totals {
    double wait_seconds_sum = 0;  // submitted -> started, over jobs that started
    int64_t started = 0;
    double cpu_kwh = 0, gpu_kwh = 0, ram_kwh = 0;
    double kg_co2 = 0;
    double saved_kg = 0;  // counterfactual savings of succeeded jobs
  };
  virtual StatusOr<Totals> TotalsForMetrics() { return Totals{}; }
  // Energy and CO2 of the epochs that ended on each UTC day, and the savings
  // of the jobs whose savings were computed that day, from `from_day`
  // ("YYYY-MM-DD") on, by day ascending; days with nothing are absent.
  struct DayTotals {
    std::string day;
    double energy_kwh = 0, kg_co2 = 0, saved_kg = 0;
    int64_t epochs = 0, jobs_saved = 0;
  };
  virtual StatusOr<std::vector<DayTotals>> DailyTotals(const std::string& from_day) {
    (void)from_day;
    return std::vector<DayTotals>();
  }
  // A finished job's counterfactual savings (one row per job, replaced).
  virtual Status RecordSavings(const JobSavings& s) {
    (void)s;
    return Status();
  }
  virtual StatusOr<std::optional<JobSavings>> Savings(int64_t id) {
    (void)id;
    return std::optional<JobSavings>();
  }
  // Inserts a job in state queued with its submission event and, when `plan`
  // is given (queued -> waiting), applies it in the same transaction: one
  // durable commit per submission. Returns the new id.
  virtual StatusOr<int64_t> Insert(const NewJob& job, const Transition* plan = nullptr) = 0;
  // Inserts several planned jobs in one transaction (group commit): all are
  // stored (their ids, in order), or none is.
  virtual StatusOr<std::vector<int64_t>> InsertAll(
      const std::vector<std::pair<NewJob, Transition>>& jobs) = 0;
  virtual StatusOr<JobRecord> Get(int64_t id) = 0;
  virtual StatusOr<std::vector<JobRecord>> List(const JobFilter& filter) = 0;
  // Waiting jobs' ids and planned starts, in id order, from after `after_id`,
  // at most `limit`, without the rest of their records (carbond's start-up
  // with a million waiting jobs reads them a page a slice).
  struct WaitingJob {
    int64_t id = 0;
    std::optional<Timestamp> planned_start;
  };
  virtual StatusOr<std::vector<WaitingJob>> ListWaiting(int64_t after_id, int64_t limit) {
    std::vector<WaitingJob> out;
    JobFilter f;
    f.state = JobState::kWaiting;
    f.after_id = after_id;
    f.limit = limit;
    auto page = List(f);
    if (!page.ok()) return page.status();
    for (const JobRecord& j : *page) out.push_back({j.id, j.planned_start});
    return out;
  }
  virtual Status Apply(int64_t id, const Transition& t) = 0;
  // Applies several transitions in one transaction (one durable commit).
  // Each gets its own result: a failed compare-and-set skips that one only.
  virtual std::vector<Status> ApplyAll(const std::vector<std::pair<int64_t, Transition>>& ts) = 0;
  // Changes reasons without a state change, all in one transaction; no
  // events. A job that left its state meanwhile is skipped.
  virtual Status UpdateReasons(const std::vector<ReasonUpdate>& updates) = 0;
  virtual Status SetProgress(int64_t id, const std::string& progress_json) = 0;
  // What the job's site keeps of it across carbond restarts (Slurm job id, token, events offset).
  // Moves a waiting job to another site (compare-and-set on waiting); what
  // the old site kept of it is cleared.
  virtual Status SetSite(int64_t id, const std::string& site) {
    (void)id;
    (void)site;
    return Status();
  }
  virtual Status SetSiteJob(int64_t id, const SiteJobRecord& s) {
    (void)id;
    (void)s;
    return Status();
  }
  // Marks a running job for cancellation (survives a daemon restart).
  virtual Status RequestCancel(int64_t id) = 0;
  virtual StatusOr<std::vector<JobEvent>> Events(int64_t id) = 0;
  // Stores a finished epoch (replacing one with the same number).
  virtual Status RecordEpoch(const EpochRecord& epoch) = 0;
  virtual StatusOr<std::vector<EpochRecord>> Epochs(int64_t id) = 0;
  virtual StatusOr<std::map<JobState, int64_t>> CountByState() = 0;
  // A cheap query that proves the store answers (health checks).
  virtual Status Ping() = 0;
};

}  // namespace carbon
