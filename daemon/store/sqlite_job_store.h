// The JobStore on SQLite. Opens (and migrates) the database file; the daemon
// is the only writer. Not thread-safe: use from the event-loop thread.
#pragma once

#include <memory>
#include <string>

#include "daemon/core/job_store.h"
#include "daemon/store/db.h"

namespace carbon {

class SqliteJobStore final : public JobStore {
 public:
  // Opens `path`, creating it, and applies the embedded migrations. Refuses a
  // database newer than this code.
  static StatusOr<std::unique_ptr<SqliteJobStore>> Open(const std::string& path,
                                                        sql::OpenOptions options = {});

  StatusOr<int64_t> Insert(const NewJob& job, const Transition* plan = nullptr) override;
  StatusOr<std::vector<int64_t>> InsertAll(
      const std::vector<std::pair<NewJob, Transition>>& jobs) override;
  StatusOr<JobRecord> Get(int64_t id) override;
  StatusOr<std::vector<JobRecord>> List(const JobFilter& filter) override;
  StatusOr<std::vector<WaitingJob>> ListWaiting(int64_t after_id, int64_t limit) override;
  Status Apply(int64_t id, const Transition& t) override;
  std::vector<Status> ApplyAll(const std::vector<std::pair<int64_t, Transition>>& ts) override;
  Status UpdateReasons(const std::vector<ReasonUpdate>& updates) override;
  Status SetProgress(int64_t id, const std::string& progress_json) override;
  Status SetSiteJob(int64_t id, const SiteJobRecord& s) override;
  Status SetSite(int64_t id, const std::string& site) override;
  Status RequestCancel(int64_t id) override;
  StatusOr<std::vector<JobEvent>> Events(int64_t id) override;
  Status RecordEpoch(const EpochRecord& epoch) override;
  StatusOr<std::vector<EpochRecord>> Epochs(int64_t id) override;
  StatusOr<std::map<JobState, int64_t>> CountByState() override;
  StatusOr<Totals> TotalsForMetrics() override;
  StatusOr<std::vector<DayTotals>> DailyTotals(const std::string& from_day) override;
  Status Ping() override;
  StatusOr<RunTimes> TypicalRunTime(const std::string& signature) override;
  Status RecordSavings(const JobSavings& s) override;
  StatusOr<std::optional<JobSavings>> Savings(int64_t id) override;

  sql::Database& db() { return *db_; }

 private:
  explicit SqliteJobStore(std::unique_ptr<sql::Database> db) : db_(std::move(db)) {}
  // The UPDATE and its event, inside the caller's transaction.
  Status ApplyInTransaction(int64_t id, const Transition& t);
  StatusOr<int64_t> InsertInTransaction(const NewJob& job, const Transition* plan);
  Status AddEvent(int64_t id, const std::optional<std::string>& from, const std::string& to,
                  const std::string& reason, Timestamp at);
  std::unique_ptr<sql::Database> db_;
};

}  // namespace carbon
