#include "daemon/core/scheduler.h"

#include <gtest/gtest.h>

#include <sqlite3.h>

#include <algorithm>
#include <map>
#include <random>
#include <cmath>

#include <nlohmann/json.hpp>

#include "common/time_util.h"
#include "daemon/store/db.h"
#include "daemon/store/sqlite_job_store.h"
#include "tests/support/fakes.h"
#include "tests/support/files.h"

namespace carbon {
namespace {

using fakes::WorkerEvent;

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = SqliteJobStore::Open(dir_ / "carbond.db");
    ASSERT_TRUE(s.ok());
    store_ = std::move(*s);
    Make();
  }
  void Make(int64_t max_jobs = 1, int64_t max_attempts = 3) {
    sched_ = std::make_unique<Scheduler>(*store_, exec_, policies_, clock_,
                                         SchedulerOptions{max_jobs, max_attempts, dir_ / "runs"});
    exec_.SetListener(sched_.get());
  }
  int64_t Submit(const std::string& spec, uint32_t uid = 1000) {
    auto j = sched_->Submit(spec, "job.yaml", uid);
    EXPECT_TRUE(j.ok()) << j.status().ToString();
    return j.ok() ? j->id : -1;
  }
  // As the API shows it: a waiting job with its live plan.
  JobRecord Job(int64_t id) { return *sched_->Job(id); }
  std::vector<std::string> States(int64_t id) {
    std::vector<std::string> out;
    auto events = store_->Events(id);
    for (auto& e : *events) out.push_back(e.to_state);
    return out;
  }

  fakes::TempDir dir_;
  std::unique_ptr<SqliteJobStore> store_;
  fakes::FakeExecutor exec_;
  PolicyRegistry policies_;
  FakeClock clock_{*ParseTime("2026-11-26T12:00:00Z")};
  std::unique_ptr<Scheduler> sched_;
};

TEST_F(SchedulerTest, JobGoesQueuedWaitingRunningSucceeded) {
  int64_t id = Submit("name: a\n");
  // Planned in the submission's own commit: queued -> waiting at once.
  EXPECT_EQ(Job(id).state, JobState::kWaiting);
  EXPECT_EQ(States(id), (std::vector<std::string>{"queued", "waiting"}));
  sched_->Tick();
  EXPECT_EQ(Job(id).state, JobState::kRunning);
  EXPECT_EQ(exec_.started, std::vector<int64_t>{id});
  EXPECT_EQ(exec_.run_dirs[id], dir_ / "runs" + "/" + std::to_string(id));
  clock_.Advance(std::chrono::minutes(5));
  exec_.Event(id, WorkerEvent(R"({"event":"epoch","epoch":1,"loss":0.5})"));
  EXPECT_NE(Job(id).progress.find("\"epoch\""), std::string::npos);
  exec_.Exit(id, 0);
  JobRecord j = Job(id);
  EXPECT_EQ(j.state, JobState::kSucceeded);
  EXPECT_EQ(j.attempts, 1);
  EXPECT_EQ(*j.exit_status, 0);
  EXPECT_EQ(FormatTime(*j.finished), "2026-11-26T12:05:00.000Z");
  EXPECT_EQ(States(id), (std::vector<std::string>{"queued", "waiting", "running", "succeeded"}));
}

TEST_F(SchedulerTest, InvalidSpecIsRejectedAndNothingStored) {
  auto r = sched_->Submit("name: x\ntrain: {epoch: 3}\n", "job.yaml", 1000);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().field(), "train.epoch");
  EXPECT_EQ(store_->List({})->size(), 0u);
}

TEST_F(SchedulerTest, ConcurrentSubmissionsShareOneGroupCommit) {
  int hooks = 0;
  sched_->set_flush_hook([&] { ++hooks; });
  std::vector<int64_t> ids;
  std::vector<std::string> errors;
  auto done = [&](StatusOr<JobRecord> r) {
    if (r.ok()) ids.push_back(r->id);
    else errors.push_back(r.status().field());
  };
  sched_->SubmitAsync("name: a\n", "a.yaml", 1000, done);
  sched_->SubmitAsync("name: b\ntrain: {epoch: 1}\n", "b.yaml", 1000, done);  // invalid
  sched_->SubmitAsync("name: c\n", "c.yaml", 1001, done);
  // The invalid one is answered at once; the valid ones wait for the commit.
  EXPECT_EQ(errors, std::vector<std::string>{"train.epoch"});
  EXPECT_TRUE(ids.empty());
  EXPECT_EQ(hooks, 1);  // one flush requested for the whole batch
  EXPECT_EQ(store_->List({})->size(), 0u);
  sched_->FlushSubmits();
  EXPECT_EQ(ids, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(Job(2).name, "c");
  EXPECT_EQ(Job(2).owner_uid, 1001u);
  EXPECT_EQ(Job(1).state, JobState::kWaiting);
  sched_->SubmitAsync("name: d\n", "d.yaml", 1000, done);
  EXPECT_EQ(hooks, 2);  // a new batch asks again
}

TEST_F(SchedulerTest, OneSlotRunsOneJobAtATime) {
  int64_t a = Submit("name: a\n");
  int64_t b = Submit("name: b\n");
  sched_->Tick();
  EXPECT_EQ(Job(a).state, JobState::kRunning);
  EXPECT_EQ(Job(b).state, JobState::kWaiting);
  EXPECT_NE(Job(b).reason.find("waiting for a free worker slot at site local (1 of 1 busy)"), std::string::npos);
  exec_.Exit(a, 0);
  sched_->Tick();
  EXPECT_EQ(Job(b).state, JobState::kRunning);
}

TEST_F(SchedulerTest, ZeroSlotsPausesReleases) {
  Make(/*max_jobs=*/0);
  int64_t a = Submit("name: a\n");
  sched_->Tick();
  EXPECT_EQ(Job(a).state, JobState::kWaiting);
  EXPECT_TRUE(exec_.started.empty());
}

TEST_F(SchedulerTest, NotBeforeHoldsTheJobUntilItsTime) {
  int64_t id = Submit("name: a\ncarbon: {not_before: 2026-11-26T15:00:00Z}\n");
  sched_->Tick();
  JobRecord j = Job(id);
  EXPECT_EQ(j.state, JobState::kWaiting);
  EXPECT_EQ(j.reason, "waiting for not_before 2026-11-26T15:00:00.000Z");
  EXPECT_EQ(FormatTime(*j.planned_start), "2026-11-26T15:00:00.000Z");
  clock_.Advance(std::chrono::hours(2));
  sched_->Tick();
  EXPECT_EQ(Job(id).state, JobState::kWaiting);
  clock_.Advance(std::chrono::hours(1));
  sched_->Tick();
  EXPECT_EQ(Job(id).state, JobState::kRunning);
  EXPECT_EQ(FormatTime(*Job(id).started), "2026-11-26T15:00:00.000Z");
}

// A re-plan changes a waiting job's plan in carbond's memory only: the store
// keeps the plan of its last state change until SavePlans (carbond's stop),
// so a new forecast for 100,000 jobs writes nothing in front of a submit.
TEST_F(SchedulerTest, ARePlanIsLiveInTheSchedulerAndStoredBySavePlans) {
  Make(/*max_jobs=*/0);
  int64_t id = Submit("name: a\n");
  const JobRecord stored = *store_->Get(id);
  sched_->Tick();
  const std::string live = Job(id).reason;
  EXPECT_NE(live.find("waiting for a free worker slot"), std::string::npos) << live;
  EXPECT_EQ(store_->Get(id)->reason, stored.reason);
  EXPECT_EQ(sched_->UnsavedPlans(), 1u);
  std::vector<JobRecord> listed{*store_->Get(id)};
  sched_->ShowLivePlans(listed);
  EXPECT_EQ(listed[0].reason, live);
  ASSERT_TRUE(sched_->SavePlans().ok());
  EXPECT_EQ(store_->Get(id)->reason, live);
  EXPECT_EQ(sched_->UnsavedPlans(), 0u);
  // Once it leaves waiting, its state change carries its reason.
  ASSERT_TRUE(sched_->Cancel(id, 1000).ok());
  EXPECT_EQ(Job(id).reason, "cancelled by uid 1000 before it started");
  EXPECT_EQ(sched_->UnsavedPlans(), 0u);
}

// A grid the test sets by hand, with recorded history for savings.
class FakeGrid final : public GridProvider {
 public:
  GridView View(const std::string& zone) override {
    GridView v = view;
    v.zone = zone;
    return v;
  }
  IntensitySeries Recorded(const std::string&, Timestamp from, Timestamp to) override {
    return SliceSorted(recorded, from, to);
  }
  GridView view;
  IntensitySeries recorded;
};

IntensitySeries HalfHours(Timestamp from, const std::vector<double>& values) {
  IntensitySeries s;
  for (double v : values) {
    s.push_back(IntensityPoint{from, std::chrono::minutes(30), v, true});
    from += std::chrono::minutes(30);
  }
  return s;
}

TEST_F(SchedulerTest, ForecastPolicyWaitsForTheCleanestWindowThenReleases) {
  FakeGrid grid;
  grid.view.current_gco2_per_kwh = 400;
  grid.view.current_source = "mock";
  grid.view.forecast_source = "mock";
  // 12:00..24:00: 400 for 3 h, then 100 for 2 h, then 400.
  std::vector<double> v(24, 400);
  for (int i = 6; i < 10; ++i) v[static_cast<size_t>(i)] = 100;
  grid.view.forecast = HalfHours(clock_.Now(), v);
  sched_->set_grid(&grid);
  int64_t id = Submit("name: a\ncarbon: {policy: forecast, max_wait: 8h, expected_duration: 1h}\n");
  sched_->Tick();
  JobRecord j = Job(id);
  EXPECT_EQ(j.state, JobState::kWaiting);
  EXPECT_NE(j.reason.find("waiting for forecast window 15:00-16:00 UTC, mean 100 g/kWh vs 400 if started now"),
            std::string::npos)
      << j.reason;
  EXPECT_NE(j.reason.find("expected duration 1h (job spec)"), std::string::npos) << j.reason;
  EXPECT_EQ(FormatTime(*j.planned_start), "2026-11-26T15:00:00.000Z");
  clock_.Advance(std::chrono::hours(2));
  sched_->Tick();
  EXPECT_EQ(Job(id).state, JobState::kWaiting);
  clock_.Advance(std::chrono::hours(1));
  sched_->Tick();
  EXPECT_EQ(Job(id).state, JobState::kRunning) << Job(id).reason;
  EXPECT_NE(Job(id).reason.find("released: now is the cleanest start"), std::string::npos) << Job(id).reason;
}

TEST_F(SchedulerTest, ForecastPolicyReleasesAtTheLatestStartAndWithoutAForecast) {
  FakeGrid grid;
  grid.view.forecast_source = "mock";
  std::vector<double> v(48, 400);
  for (int i = 40; i < 48; ++i) v[static_cast<size_t>(i)] = 50;  // clean only after the deadline
  grid.view.forecast = HalfHours(clock_.Now(), v);
  sched_->set_grid(&grid);
  int64_t id = Submit("name: a\ncarbon: {policy: forecast, max_wait: 2h, expected_duration: 1h}\n");
  sched_->Tick();
  EXPECT_EQ(Job(id).state, JobState::kRunning) << Job(id).reason;  // flat 400 until the latest start: now
  exec_.Exit(id, 0);
  sched_->Tick();
  grid.view.forecast.clear();
  grid.view.why_no_data = "uk: HTTP 500";
  int64_t blind = Submit("name: b\ncarbon: {policy: forecast}\n");
  sched_->Tick();
  EXPECT_EQ(Job(blind).state, JobState::kRunning);
  EXPECT_NE(Job(blind).reason.find("no forecast for zone GB (uk: HTTP 500)"), std::string::npos) << Job(blind).reason;
}

TEST_F(SchedulerTest, ThresholdPolicyWaitsUntilUnderOrMaxWait) {
  FakeGrid grid;
  grid.view.current_gco2_per_kwh = 350;
  grid.view.current_source = "uk";
  sched_->set_grid(&grid);
  int64_t a = Submit("name: a\ncarbon: {policy: threshold, threshold_gco2_per_kwh: 300, max_wait: 2h}\n");
  sched_->Tick();
  EXPECT_EQ(Job(a).state, JobState::kWaiting);
  EXPECT_NE(Job(a).reason.find("waiting for intensity at or under 300 g/kWh: 350 g/kWh now (uk)"), std::string::npos)
      << Job(a).reason;
  grid.view.current_gco2_per_kwh = 280;
  clock_.Advance(std::chrono::minutes(10));
  sched_->Tick();
  EXPECT_EQ(Job(a).state, JobState::kRunning);
  EXPECT_NE(Job(a).reason.find("intensity 280 g/kWh (uk) is at or under the threshold 300"), std::string::npos);
  exec_.Exit(a, 0);
  grid.view.current_gco2_per_kwh = 500;
  int64_t b = Submit("name: b\ncarbon: {policy: threshold, threshold_gco2_per_kwh: 300, max_wait: 2h}\n");
  sched_->Tick();
  EXPECT_EQ(Job(b).state, JobState::kWaiting);
  clock_.Advance(std::chrono::hours(2));
  sched_->Tick();
  EXPECT_EQ(Job(b).state, JobState::kRunning);
  EXPECT_NE(Job(b).reason.find("max_wait/deadline reached"), std::string::npos) << Job(b).reason;
}


TEST_F(SchedulerTest, ASucceededJobStoresWhatWaitingSaved) {
  FakeGrid grid;
  // 400 g/kWh for 3 h, then 100: the forecast (perfect) and the record agree.
  std::vector<double> v(24, 400);
  for (int i = 6; i < 24; ++i) v[static_cast<size_t>(i)] = 100;
  grid.recorded = HalfHours(clock_.Now(), v);
  grid.view.forecast = grid.recorded;
  grid.view.forecast_source = "test";
  sched_->set_grid(&grid);
  int64_t id = Submit("name: a\ncarbon: {policy: forecast, max_wait: 8h, expected_duration: 1h}\n");
  sched_->Tick();
  clock_.Advance(std::chrono::hours(3));
  sched_->Tick();
  ASSERT_EQ(Job(id).state, JobState::kRunning) << Job(id).reason;
  clock_.Advance(std::chrono::hours(1));
  exec_.Exit(id, 0);
  auto s = store_->Savings(id);
  ASSERT_TRUE(s.ok() && *s);
  EXPECT_EQ((*s)->zone, "GB");
  EXPECT_DOUBLE_EQ((*s)->run_mean_gco2_per_kwh, 100);
  EXPECT_DOUBLE_EQ((*s)->counterfactual_mean_gco2_per_kwh, 400);  // 12:00-13:00 had it started at once
  EXPECT_DOUBLE_EQ((*s)->saving_pct, 75);
  EXPECT_FALSE((*s)->saving_kg);
  EXPECT_NE((*s)->note.find("energy not measured yet"), std::string::npos);
  // Without recorded intensity there is no figure, and nothing breaks.
  grid.recorded.clear();
  int64_t b = Submit("name: b\ncarbon: {policy: immediate}\n");
  sched_->Tick();
  clock_.Advance(std::chrono::minutes(5));
  exec_.Exit(b, 0);
  EXPECT_EQ(Job(b).state, JobState::kSucceeded);
  EXPECT_FALSE(*store_->Savings(b));
}

TEST_F(SchedulerTest, ExpectedDurationIsLearnedFromFinishedJobsLikeThisOne) {
  FakeGrid grid;
  grid.view.forecast_source = "mock";
  grid.view.forecast = HalfHours(clock_.Now(), std::vector<double>(96, 200));
  sched_->set_grid(&grid);
  const std::string spec = "name: a\ntrain: {epochs: 3}\ncarbon: {policy: forecast, max_wait: 1h}\n";
  for (int i = 0; i < 2; ++i) {
    int64_t id = Submit(spec);
    sched_->Tick();
    ASSERT_EQ(Job(id).state, JobState::kRunning) << Job(id).reason;
    EXPECT_NE(Job(id).reason.find(i == 0 ? "(default, +20%)" : "(learned from 1 finished job, +20%)"),
              std::string::npos)
        << Job(id).reason;
    clock_.Advance(std::chrono::minutes(50));
    exec_.Exit(id, 0);
  }
  int64_t third = Submit(spec);
  sched_->Tick();
  // Two runs of 50 min: planned as 60 min (50 min + 20%).
  EXPECT_NE(Job(third).reason.find("expected duration 1h (learned from 2 finished jobs, +20%)"), std::string::npos)
      << Job(third).reason;
  // Another model does not share the history.
  int64_t other = Submit("name: b\ntrain: {epochs: 4}\ncarbon: {policy: forecast, max_wait: 1h}\n");
  exec_.Exit(third, 0);
  sched_->Tick();
  EXPECT_NE(Job(other).reason.find("(default, +20%)"), std::string::npos) << Job(other).reason;
}

TEST_F(SchedulerTest, OnlyOwnerOrRootMayCancel) {
  int64_t id = Submit("name: a\n", 1000);
  auto other = sched_->Cancel(id, 1001);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(Job(id).state, JobState::kWaiting);
  auto root = sched_->Cancel(id, 0);
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->state, JobState::kCancelled);
  EXPECT_EQ(root->reason, "cancelled by uid 0 before it started");
}

TEST_F(SchedulerTest, CancelWaitingJobByOwner) {
  Submit("name: a\n");
  int64_t b = Submit("name: b\n");
  sched_->Tick();
  auto r = sched_->Cancel(b, 1000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->state, JobState::kCancelled);
  EXPECT_EQ(States(b), (std::vector<std::string>{"queued", "waiting", "cancelled"}));
}

TEST_F(SchedulerTest, CancelRunningJobStopsItsWorker) {
  int64_t id = Submit("name: a\n");
  sched_->Tick();
  auto r = sched_->Cancel(id, 1000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->state, JobState::kRunning);
  EXPECT_TRUE(r->cancel_requested);
  ASSERT_EQ(exec_.stops.size(), 1u);
  EXPECT_EQ(exec_.stops[0].second, StopMode::kCancel);
  exec_.Exit(id, 143);
  EXPECT_EQ(Job(id).state, JobState::kCancelled);
  EXPECT_FALSE(Job(id).cancel_requested);
}

TEST_F(SchedulerTest, CancelFinishedJobIsRefused) {
  int64_t id = Submit("name: a\n");
  sched_->Tick();
  exec_.Exit(id, 0);
  auto r = sched_->Cancel(id, 1000);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("already succeeded"), std::string::npos);
  EXPECT_EQ(sched_->Cancel(4242, 0).status().code(), StatusCode::kNotFound);
}

TEST_F(SchedulerTest, FailedAttemptsRetryUntilMaxAttempts) {
  Make(1, /*max_attempts=*/2);
  int64_t id = Submit("name: a\n");
  sched_->Tick();
  exec_.Exit(id, 1);
  JobRecord j = Job(id);
  EXPECT_EQ(j.state, JobState::kQueued);
  EXPECT_NE(j.reason.find("attempt 1 of 2 failed"), std::string::npos);
  EXPECT_EQ(j.error, "boom");
  sched_->Tick();
  EXPECT_EQ(Job(id).state, JobState::kRunning);
  exec_.Exit(id, 1);
  j = Job(id);
  EXPECT_EQ(j.state, JobState::kFailed);
  EXPECT_EQ(j.attempts, 2);
  EXPECT_NE(j.reason.find("failed on the last attempt (2 of 2)"), std::string::npos);
}

TEST_F(SchedulerTest, RejectedJobFailsWithoutRetry) {
  int64_t id = Submit("name: a\n");
  sched_->Tick();
  exec_.Exit(id, 2);
  EXPECT_EQ(Job(id).state, JobState::kFailed);
  EXPECT_EQ(Job(id).attempts, 1);
}

TEST_F(SchedulerTest, WorkerThatCannotStartFailsTheJob) {
  exec_.fail_next_start = true;
  int64_t id = Submit("name: a\n");
  sched_->Tick();
  JobRecord j = Job(id);
  EXPECT_EQ(j.state, JobState::kFailed);
  EXPECT_NE(j.reason.find("worker did not start"), std::string::npos);
}

// The end of a run that the store could not record (the database was locked)
// is kept and recorded at a later tick: a job is never left `running` with no
// worker. Before the fix the failed start's transition was dropped.
TEST_F(SchedulerTest, AnEndTheStoreCouldNotRecordIsRecordedAtTheNextTick) {
  sql::OpenOptions quick;
  quick.busy_timeout_ms = 50;
  auto reopened = SqliteJobStore::Open(dir_ / "carbond.db", quick);
  ASSERT_TRUE(reopened.ok());
  store_ = std::move(*reopened);
  Make();
  auto other = sql::Database::Open(dir_ / "carbond.db");
  ASSERT_TRUE(other.ok());
  auto lock = [&] { ASSERT_TRUE((*other)->Exec("BEGIN IMMEDIATE").ok()); };
  auto unlock = [&] { ASSERT_TRUE((*other)->Exec("ROLLBACK").ok()); };

  // 1. The worker does not start, and the store is locked at that moment.
  exec_.fail_next_start = true;
  exec_.on_failed_start = lock;
  int64_t id = Submit("name: a\n");
  sched_->Tick();
  EXPECT_EQ(Job(id).state, JobState::kRunning);  // not yet recorded
  EXPECT_FALSE(exec_.IsRunning(id));
  sched_->Tick();  // still locked: kept
  EXPECT_EQ(Job(id).state, JobState::kRunning);
  unlock();
  sched_->Tick();
  EXPECT_EQ(Job(id).state, JobState::kFailed);
  EXPECT_NE(Job(id).reason.find("worker did not start"), std::string::npos) << Job(id).reason;

  // 2. A worker exits while the store is locked.
  int64_t b = Submit("name: b\n");
  sched_->Tick();
  ASSERT_EQ(Job(b).state, JobState::kRunning);
  exec_.Event(b, WorkerEvent(R"({"event":"epoch","epoch":1,"train_loss":0.5,"energy":{"energy_kwh":0.001},"kg_co2":0.0002})"));
  lock();
  exec_.Exit(b, 0);
  unlock();
  EXPECT_EQ(Job(b).state, JobState::kRunning);
  sched_->Tick();
  EXPECT_EQ(Job(b).state, JobState::kSucceeded);
  EXPECT_EQ(Job(b).reason, "worker finished on attempt 1");
  // What follows a recorded end happened too: the run's total was written.
  EXPECT_NE(fakes::ReadAll(exec_.run_dirs[b] + "/emissions-total.csv").find(",b,carbond-job-"), std::string::npos);
}

TEST_F(SchedulerTest, RecoverRequeuesJobsWhoseWorkerDied) {
  int64_t a = Submit("name: a\n");
  int64_t b = Submit("name: b\n");
  sched_->Tick();
  ASSERT_EQ(Job(a).state, JobState::kRunning);
  // carbond dies: a new scheduler and executor see a job recorded as running.
  fakes::FakeExecutor fresh;
  Scheduler after(*store_, fresh, policies_, clock_, SchedulerOptions{1, 3, dir_ / "runs"});
  fresh.SetListener(&after);
  ASSERT_TRUE(after.Recover().ok());
  EXPECT_EQ(Job(a).state, JobState::kQueued);
  EXPECT_NE(Job(a).reason.find("carbond restarted while attempt 1 ran"), std::string::npos);
  EXPECT_EQ(Job(b).state, JobState::kWaiting);
  after.Tick();
  EXPECT_EQ(Job(a).state, JobState::kRunning);
  EXPECT_EQ(Job(a).attempts, 2);
  fresh.Exit(a, 0);
  after.Tick();
  EXPECT_EQ(Job(b).state, JobState::kRunning);
}

TEST_F(SchedulerTest, RecoverHonoursCancelAndAttemptLimit) {
  Make(2, /*max_attempts=*/1);
  int64_t a = Submit("name: a\n");
  int64_t b = Submit("name: b\n");
  sched_->Tick();
  ASSERT_TRUE(sched_->Cancel(a, 1000).ok());
  fakes::FakeExecutor fresh;
  Scheduler after(*store_, fresh, policies_, clock_, SchedulerOptions{2, 1, dir_ / "runs"});
  ASSERT_TRUE(after.Recover().ok());
  EXPECT_EQ(Job(a).state, JobState::kCancelled);
  EXPECT_EQ(Job(b).state, JobState::kFailed);
  EXPECT_NE(Job(b).reason.find("no attempts left"), std::string::npos);
}

TEST_F(SchedulerTest, DrainInterruptsAndRequeuesRunningJobs) {
  int64_t id = Submit("name: a\n");
  int64_t later = Submit("name: later\n");
  sched_->Tick();
  sched_->BeginDrain();
  EXPECT_TRUE(sched_->draining());
  ASSERT_EQ(exec_.stops.size(), 1u);
  EXPECT_EQ(exec_.stops[0].second, StopMode::kDrain);
  EXPECT_FALSE(sched_->Drained());
  exec_.Exit(id, 75, /*interrupted=*/true);
  EXPECT_TRUE(sched_->Drained());
  EXPECT_EQ(Job(id).state, JobState::kQueued);
  EXPECT_NE(Job(id).reason.find("interrupted on attempt 1"), std::string::npos);
  sched_->Tick();  // no releases while draining
  EXPECT_EQ(Job(later).state, JobState::kWaiting);
  EXPECT_EQ(sched_->Submit("name: c\n", "job.yaml", 0).status().code(), StatusCode::kUnavailable);
}

TEST_F(SchedulerTest, EpochEventsBecomeEpochRows) {
  int64_t id = Submit("name: a\n");
  sched_->Tick();
  exec_.Event(id, WorkerEvent(R"({"event":"epoch","epoch":1,"epochs":2,"train_loss":0.9,"test_loss":0.8,)"
                  R"("test_accuracy":0.71,"samples":600,"samples_per_s":3000.5,"wall_s":0.2,)"
                  R"("peak_memory_bytes":1048576,"memory_method":"peak-rss"})"));
  auto epochs = store_->Epochs(id);
  ASSERT_EQ(epochs->size(), 1u);
  EXPECT_EQ((*epochs)[0].attempt, 1);
  EXPECT_DOUBLE_EQ((*epochs)[0].test_accuracy, 0.71);
  EXPECT_EQ((*epochs)[0].peak_memory_bytes, 1048576);
}

TEST_F(SchedulerTest, WithBaselineQueuesTheTwinFirstInOneCommitAndLinksIt) {
  std::optional<StatusOr<JobRecord>> result;
  sched_->SubmitWithBaselineAsync("name: aware\ntrain: {accumulation_steps: 4}\ncarbon: {policy: forecast}\n",
                                  "aware.yaml", 1000, [&](StatusOr<JobRecord> r) { result = std::move(r); });
  ASSERT_TRUE(result && result->ok()) << (result ? result->status().ToString() : "no answer");
  const JobRecord& cand = **result;
  EXPECT_EQ(cand.name, "aware");
  ASSERT_TRUE(cand.baseline_id);
  JobRecord twin = Job(*cand.baseline_id);
  EXPECT_LT(twin.id, cand.id);
  EXPECT_EQ(twin.name, "aware-baseline");
  EXPECT_EQ(twin.policy, "immediate");
  EXPECT_FALSE(twin.baseline_id);
  EXPECT_EQ(twin.owner_uid, 1000u);
  sched_->Tick();
  EXPECT_EQ(Job(twin.id).state, JobState::kRunning);  // the baseline runs at once
  // A spec that does not validate stores neither.
  std::optional<StatusOr<JobRecord>> bad;
  sched_->SubmitWithBaselineAsync("name: x\ntrain: {epochs: 0}\n", "x.yaml", 1000,
                                  [&](StatusOr<JobRecord> r) { bad = std::move(r); });
  ASSERT_TRUE(bad && !bad->ok());
  EXPECT_EQ(store_->List(JobFilter{})->size(), 2u);
}

TEST_F(SchedulerTest, TheWorkerGetsTheLiveIntensityInItsRunDirectory) {
  FakeGrid grid;
  grid.view.current_gco2_per_kwh = 200;
  grid.view.current_source = "mock";
  sched_->set_grid(&grid);
  int64_t id = Submit("name: a\ncarbon: {policy: immediate, zone: DE}\n");
  sched_->Tick();
  ASSERT_EQ(Job(id).state, JobState::kRunning);
  const std::string file = exec_.run_dirs[id] + "/grid.json";
  auto first = nlohmann::json::parse(fakes::ReadAll(file));
  EXPECT_EQ(first["zone"], "DE");
  EXPECT_DOUBLE_EQ(first["gco2_per_kwh"].get<double>(), 200);
  EXPECT_EQ(first["source"], "mock");
  grid.view.current_gco2_per_kwh = 310;
  grid.view.current_source = "uk";
  sched_->Tick();
  auto second = nlohmann::json::parse(fakes::ReadAll(file));
  EXPECT_DOUBLE_EQ(second["gco2_per_kwh"].get<double>(), 310);
  EXPECT_EQ(second["source"], "uk");
  // The worker's own figure (each interval at the intensity it was given) is kept.
  exec_.Event(id, WorkerEvent(R"({"event":"epoch","epoch":1,"epochs":1,"wall_s":10,"energy":{"energy_kwh":0.002},)"
                  R"("kg_co2":0.0005,"gco2_per_kwh":250,"intensity_source":"mock+uk"})"));
  auto epochs = store_->Epochs(id);
  ASSERT_EQ(epochs->size(), 1u);
  EXPECT_DOUBLE_EQ(*(*epochs)[0].kg_co2, 0.0005);
  EXPECT_DOUBLE_EQ(*(*epochs)[0].gco2_per_kwh, 250);
  EXPECT_EQ((*epochs)[0].intensity_source, "mock+uk");
  EXPECT_EQ((*epochs)[0].zone, "DE");
}

// An epoch event with the worker's energy and emissions.
std::string EpochEvent(int epoch, double kwh, double kg) {
  return nlohmann::json{{"event", "epoch"},     {"epoch", epoch},    {"epochs", 5},
                        {"wall_s", 60},         {"train_loss", 0.5}, {"test_accuracy", 0.8},
                        {"energy", {{"energy_kwh", kwh}}}, {"kg_co2", kg}, {"intensity_source", "mock"}}
      .dump();
}

TEST_F(SchedulerTest, CarbonBudgetStopsTheRunWhenThePredictionExceedsIt) {
  FakeGrid grid;
  grid.view.current_gco2_per_kwh = 200;
  grid.view.current_source = "mock";
  grid.view.forecast = HalfHours(clock_.Now(), std::vector<double>(48, 200));
  sched_->set_grid(&grid);
  int64_t id = Submit("name: a\ntrain: {epochs: 5}\ncarbon: {policy: immediate, budget_kg: 0.0025}\n");
  sched_->Tick();
  ASSERT_EQ(Job(id).state, JobState::kRunning);
  // 0.0004 kg so far + 4 x 0.002 kWh x 200 g/kWh = 0.002 kg <= 0.0025: runs on.
  exec_.Event(id, WorkerEvent(EpochEvent(1, 0.002, 0.0004)));
  EXPECT_TRUE(exec_.stops.empty());
  // The grid turns dirty: 0.0012 + 3 x 0.002 x 400 / 1000 = 0.0036 kg > 0.0025.
  grid.view.forecast = HalfHours(clock_.Now(), std::vector<double>(48, 400));
  exec_.Event(id, WorkerEvent(EpochEvent(2, 0.002, 0.0008)));
  ASSERT_EQ(exec_.stops.size(), 1u);
  EXPECT_EQ(exec_.stops[0].second, StopMode::kDrain);  // checkpoint, then exit
  exec_.Event(id, WorkerEvent(EpochEvent(3, 0.002, 0.0008)));     // no second stop
  EXPECT_EQ(exec_.stops.size(), 1u);
  exec_.Exit(id, 75, /*interrupted=*/true);
  JobRecord j = Job(id);
  EXPECT_EQ(j.state, JobState::kStoppedBudget);
  EXPECT_TRUE(IsFinal(j.state));
  EXPECT_TRUE(j.finished);
  EXPECT_NE(j.reason.find("carbon budget 0.0025 kg: predicted 0.0036 kg = 0.0012 kg in 2 epochs + 3 more x "
                          "0.002 kWh at 400 g/kWh (forecast)"),
            std::string::npos)
      << j.reason;
  EXPECT_NE(j.reason.find("after a checkpoint"), std::string::npos) << j.reason;
  // The run directory gets the run's total beside the epoch rows.
  const std::string csv = fakes::ReadAll(exec_.run_dirs[id] + "/emissions.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 4) << csv;  // header and 3 epochs
  const std::string total = fakes::ReadAll(exec_.run_dirs[id] + "/emissions-total.csv");
  EXPECT_EQ(std::count(total.begin(), total.end(), '\n'), 2) << total;  // header and the run
  EXPECT_NE(total.find(",a,carbond-job-" + std::to_string(id) + ","), std::string::npos) << total;
}

TEST_F(SchedulerTest, AnInterruptedJobOverItsBudgetIsNotResumed) {
  FakeGrid grid;
  grid.view.current_gco2_per_kwh = 100;
  grid.view.current_source = "mock";
  sched_->set_grid(&grid);
  int64_t id = Submit("name: a\ntrain: {epochs: 5}\ncarbon: {policy: immediate, budget_kg: 0.003}\n");
  sched_->Tick();
  exec_.Event(id, WorkerEvent(EpochEvent(1, 0.002, 0.0002)));  // 0.0002 + 4 x 0.002 x 100 / 1000 = 0.001: fine
  EXPECT_TRUE(exec_.stops.empty());
  exec_.Exit(id, 75, /*interrupted=*/true);        // carbond stopped, say
  ASSERT_EQ(Job(id).state, JobState::kQueued);
  grid.view.current_gco2_per_kwh = 500;            // no forecast: the current reading counts
  sched_->Tick();
  JobRecord j = Job(id);
  EXPECT_EQ(j.state, JobState::kStoppedBudget);
  EXPECT_NE(j.reason.find("predicted 0.0042 kg"), std::string::npos) << j.reason;
  EXPECT_NE(j.reason.find("(current reading); not resumed"), std::string::npos) << j.reason;
  EXPECT_EQ(exec_.started.size(), 1u);
}


// carbon.interruptible: 12:00-13:00 clean, 13:00-15:00 dirty, 15:00-16:00
// clean, then dirty, and a 2 h job due by 17:00.
void CleanDirtyCleanDirty(FakeGrid& grid, Timestamp from) {
  grid.view.current_gco2_per_kwh = 100;
  grid.view.current_source = "mock";
  grid.view.forecast_source = "mock";
  std::vector<double> v(24, 450);
  for (int i : {0, 1, 6, 7}) v[static_cast<size_t>(i)] = 100;
  grid.view.forecast = HalfHours(from, v);
}
const char* const kInterruptible2h =
    "name: a\ncarbon: {policy: forecast, interruptible: true, expected_duration: 2h, deadline: "
    "2026-11-26T17:00:00Z}\n";

// The job runs 12:00-13:00, pauses, and resumes at 15:00 in the same
// attempt (its plan: 2 h at 100 and the resume's 2 minutes at 450, mean 106 g/kWh).
TEST_F(SchedulerTest, AnInterruptibleJobPausesAtItsSegmentEndAndResumesInTheSameAttempt) {
  FakeGrid grid;
  CleanDirtyCleanDirty(grid, clock_.Now());
  grid.recorded = grid.view.forecast;
  sched_->set_grid(&grid);
  const std::string spec = kInterruptible2h;
  int64_t id = Submit(spec);
  sched_->Tick();
  JobRecord j = Job(id);
  ASSERT_EQ(j.state, JobState::kRunning) << j.reason;
  EXPECT_EQ(j.reason.rfind("released until 13:00 UTC (2 segments planned, mean 106 g/kWh; 0 h of 2 h done)", 0), 0u)
      << j.reason;
  EXPECT_EQ(j.attempts, 1);
  // Before the segment's end nothing changes; at it, the worker is asked to checkpoint.
  clock_.Advance(std::chrono::minutes(50));
  sched_->Tick();
  EXPECT_TRUE(exec_.stops.empty());
  clock_.Advance(std::chrono::minutes(10));
  grid.view.current_gco2_per_kwh = 450;
  sched_->Tick();
  ASSERT_EQ(exec_.stops.size(), 1u);
  EXPECT_EQ(exec_.stops[0].second, StopMode::kDrain);
  EXPECT_EQ(Job(id).state, JobState::kRunning);  // until the worker exits
  clock_.Advance(std::chrono::seconds(30));
  exec_.Exit(id, 75, /*interrupted=*/true);
  j = Job(id);
  ASSERT_EQ(j.state, JobState::kWaiting);
  EXPECT_EQ(j.reason.rfind("paused until 15:00 UTC: 450 g/kWh now, 111 then; 1 h of 2 h done", 0), 0u) << j.reason;
  EXPECT_EQ(FormatTime(*j.planned_start), "2026-11-26T15:00:00.000Z");
  EXPECT_EQ(j.attempts, 1);
  sched_->Tick();
  EXPECT_EQ(Job(id).state, JobState::kWaiting);
  EXPECT_EQ(Job(id).reason.rfind("paused until 15:00 UTC", 0), 0u) << Job(id).reason;
  // 15:00: resumed in attempt 1 (its run directory kept), to the end.
  clock_.Advance(std::chrono::hours(2) - std::chrono::seconds(30));
  sched_->Tick();
  j = Job(id);
  ASSERT_EQ(j.state, JobState::kRunning) << j.reason;
  EXPECT_EQ(j.reason.rfind("resumed to the end (1 segment planned", 0), 0u) << j.reason;
  EXPECT_NE(j.reason.find("; attempt 1"), std::string::npos) << j.reason;
  EXPECT_EQ(j.attempts, 1);
  EXPECT_EQ(exec_.started, (std::vector<int64_t>{id, id}));
  // The worker's start measures what a pause costs: 30 s to stop, 20 s to start.
  clock_.Advance(std::chrono::seconds(20));
  exec_.Event(id, WorkerEvent(R"({"event":"started","device":"cpu","resumed_epoch":1})"));
  clock_.Advance(std::chrono::hours(1));
  sched_->Tick();
  EXPECT_EQ(exec_.stops.size(), 1u);  // the last segment runs to the end
  exec_.Exit(id, 0);
  j = Job(id);
  EXPECT_EQ(j.state, JobState::kSucceeded);
  EXPECT_EQ(j.attempts, 1);
  EXPECT_EQ(States(id), (std::vector<std::string>{"queued", "waiting", "running", "waiting", "running", "succeeded"}));
  // Its saving counts the two segments only: about 100 g/kWh, against 450 from 13:00 had it run at once.
  auto saved = store_->Savings(id);
  ASSERT_TRUE(saved.ok() && *saved);
  EXPECT_LT((*saved)->run_mean_gco2_per_kwh, 110);
  // 12:00-13:00:30 (30 s to checkpoint) and 15:00-16:00:20.
  EXPECT_NEAR(std::chrono::duration<double>((*saved)->run_time).count(), 3600 + 30 + 3600 + 20, 1);
}

TEST_F(SchedulerTest, APausedJobCanBeCancelledAndAFailureAfterAPauseCountsOnce) {
  FakeGrid grid;
  CleanDirtyCleanDirty(grid, clock_.Now());
  sched_->set_grid(&grid);
  const std::string spec = kInterruptible2h;
  // Paused, then cancelled: at once, no worker to stop.
  int64_t a = Submit(spec);
  sched_->Tick();
  clock_.Advance(std::chrono::hours(1));
  sched_->Tick();
  exec_.Exit(a, 75, /*interrupted=*/true);
  ASSERT_EQ(Job(a).state, JobState::kWaiting);
  ASSERT_TRUE(sched_->Cancel(a, 1000).ok());
  EXPECT_EQ(Job(a).state, JobState::kCancelled);
  EXPECT_EQ(exec_.stops.size(), 1u);
  // A job that fails after a resume: attempt 1 failed, retried as attempt 2.
  clock_.Advance(std::chrono::hours(-1));
  int64_t b = Submit(spec);
  sched_->Tick();
  clock_.Advance(std::chrono::hours(1));
  sched_->Tick();
  exec_.Exit(b, 75, /*interrupted=*/true);
  clock_.Advance(std::chrono::hours(2));
  sched_->Tick();
  ASSERT_EQ(Job(b).state, JobState::kRunning);
  EXPECT_EQ(Job(b).attempts, 1);
  exec_.Exit(b, 1);
  EXPECT_EQ(Job(b).state, JobState::kQueued);
  EXPECT_NE(Job(b).reason.find("attempt 1 of 3 failed"), std::string::npos) << Job(b).reason;
  sched_->Tick();
  EXPECT_EQ(Job(b).state, JobState::kRunning);
  EXPECT_EQ(Job(b).attempts, 2);
}

}  // namespace
}  // namespace carbon

namespace carbon {
namespace {

// SchedulerTest's store, executor and fake clock (Make(slots) anew), with
// bursts of submissions and ticks until no slice is left over.
class SchedulerQueueTest : public SchedulerTest {
 protected:
  // Many submissions in one commit, as a burst of requests is stored.
  void SubmitMany(const std::string& spec, int n) {
    for (int i = 0; i < n; ++i)
      sched_->SubmitAsync(spec, "job.yaml", 1000, [](StatusOr<JobRecord> r) { ASSERT_TRUE(r.ok()); });
    sched_->FlushSubmits();
  }
  // Ticks until no decided job is left over from a slice.
  void TickAll() {
    do sched_->Tick();
    while (sched_->HasDueWork());
  }
};

// 2,000 jobs planned for 2030, then one immediate job: it starts at the
// next tick, however many jobs wait before it (it never did past 1,000).
TEST_F(SchedulerQueueTest, AnImmediateJobBehindTwoThousandFutureJobsStartsAtTheNextTick) {
  Make(1);
  SubmitMany("name: later\ncarbon: {policy: forecast, not_before: 2030-01-01T00:00:00Z}\n", 2000);
  TickAll();
  EXPECT_TRUE(exec_.started.empty());
  const int64_t now = sched_->Submit("name: now\ncarbon: {policy: immediate}\n", "job.yaml", 1000)->id;
  EXPECT_EQ(now, 2001);
  sched_->Tick();
  EXPECT_EQ(exec_.started, std::vector<int64_t>{now});
  EXPECT_EQ(store_->Get(now)->state, JobState::kRunning);
  // The waiting ones sleep until 2030: the next planned start is theirs.
  EXPECT_EQ(FormatTime(*sched_->NextPlannedStart()), "2030-01-01T00:00:00.000Z");
  EXPECT_EQ(sched_->WaitingIndexed(), 2000u);
}

// After a restart every stored job is decided again, in slices; the one
// whose planned start came while carbond was down goes first, in the first
// slice, not after the 2,000 submitted before it.
TEST_F(SchedulerQueueTest, AfterARestartTheJobWhoseStartCameIsDecidedFirst) {
  Make(1);
  SubmitMany("name: later\ncarbon: {policy: forecast, not_before: 2030-01-01T00:00:00Z}\n", 2000);
  const int64_t soon =
      Submit("name: soon\ncarbon: {policy: immediate, not_before: " + FormatTime(clock_.Now() + std::chrono::hours(1)) +
             "}\n");
  EXPECT_EQ(Job(soon).state, JobState::kWaiting);
  Make(1);  // a new scheduler on the same store, two hours on
  clock_.Advance(std::chrono::hours(2));
  sched_->Tick();
  EXPECT_EQ(exec_.started, std::vector<int64_t>{soon});
  TickAll();
  EXPECT_EQ(sched_->WaitingIndexed(), 2000u);
  EXPECT_EQ(exec_.started, std::vector<int64_t>{soon});
}

// A carbond started on a database with waiting jobs finds every one of them
// (paged), however many there are, and releases them in submission order
// as slots free up.
TEST_F(SchedulerQueueTest, WaitingJobsInTheDatabaseAreAllFoundAndReleasedInOrder) {
  Make(1);
  SubmitMany("name: q\n", 2500);
  // A new scheduler on the same store, as after a restart.
  Make(3);
  TickAll();
  EXPECT_EQ(sched_->WaitingIndexed(), 2497u);
  EXPECT_EQ(exec_.started, (std::vector<int64_t>{1, 2, 3}));
  for (int64_t id = 1; id <= 2500; ++id) {
    ASSERT_EQ(exec_.started.size(), static_cast<size_t>(std::min<int64_t>(id + 2, 2500)));
    exec_.Exit(id, 0);
    TickAll();
  }
  std::vector<int64_t> want(2500);
  for (int64_t i = 0; i < 2500; ++i) want[static_cast<size_t>(i)] = i + 1;
  EXPECT_EQ(exec_.started, want);
  EXPECT_EQ(sched_->WaitingIndexed(), 0u);
}

// The release order, against a brute-force oracle on random small queues:
// jobs with random submission minutes, not_before and run times on 1-3
// slots, a tick a minute. The rule the oracle follows: at each tick, ended
// runs free their slots, then the free slots go to the jobs still waiting
// for a slot from earlier ticks (by id), then to the jobs submitted this
// tick (by id), then to those whose not_before came (by not_before, then
// id). A job never starts before its not_before, and never waits while a
// slot is free.
TEST_F(SchedulerQueueTest, TheReleaseOrderMatchesABruteForceOracleOnRandomQueues) {
  const Timestamp t0 = clock_.Now();
  const auto minute = std::chrono::minutes(1);
  for (unsigned seed = 1; seed <= 60; ++seed) {
    std::mt19937 rng(seed);
    auto pick = [&rng](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    const int slots = 1 + pick(3), n = 2 + pick(9);
    struct J {
      int submit = 0;                // minute
      std::optional<int> not_before;  // minute
      int run = 1;                   // minutes
    };
    std::vector<J> jobs(static_cast<size_t>(n));
    for (J& j : jobs) {
      j.submit = pick(6);
      if (pick(2)) j.not_before = pick(12);
      j.run = 1 + pick(4);
    }
    // Ids follow submission order: sort by minute (stable: ties keep their order).
    std::stable_sort(jobs.begin(), jobs.end(), [](const J& a, const J& b) { return a.submit < b.submit; });
    const int horizon = 12 + n * 4 + 2;

    // The oracle: (minute, job index) of each start.
    std::vector<std::pair<int, int>> want;
    {
      std::vector<int> started(static_cast<size_t>(n), -1);
      std::vector<bool> slot_waiter(static_cast<size_t>(n), false);
      for (int m = 0; m <= horizon; ++m) {
        int running = 0;
        for (int i = 0; i < n; ++i)
          if (started[static_cast<size_t>(i)] >= 0 && started[static_cast<size_t>(i)] + jobs[static_cast<size_t>(i)].run > m) ++running;
        std::vector<int> order;
        for (int i = 0; i < n; ++i)
          if (started[static_cast<size_t>(i)] < 0 && slot_waiter[static_cast<size_t>(i)]) order.push_back(i);
        for (int i = 0; i < n; ++i) {
          const J& j = jobs[static_cast<size_t>(i)];
          if (started[static_cast<size_t>(i)] < 0 && !slot_waiter[static_cast<size_t>(i)] && j.submit == m &&
              (!j.not_before || *j.not_before <= m))
            order.push_back(i);
        }
        std::vector<int> timed;
        for (int i = 0; i < n; ++i) {
          const J& j = jobs[static_cast<size_t>(i)];
          if (started[static_cast<size_t>(i)] < 0 && !slot_waiter[static_cast<size_t>(i)] && j.submit < m &&
              j.not_before && *j.not_before <= m)
            timed.push_back(i);
        }
        std::stable_sort(timed.begin(), timed.end(), [&](int a, int b) {
          return *jobs[static_cast<size_t>(a)].not_before < *jobs[static_cast<size_t>(b)].not_before;
        });
        order.insert(order.end(), timed.begin(), timed.end());
        for (int i : order) {
          if (running < slots) {
            started[static_cast<size_t>(i)] = m;
            want.push_back({m, i});
            ++running;
          } else {
            slot_waiter[static_cast<size_t>(i)] = true;
          }
        }
      }
    }

    // The scheduler, on the same queue (a store and an executor of its own).
    auto fresh = SqliteJobStore::Open(dir_ / ("seed-" + std::to_string(seed) + ".db"));
    ASSERT_TRUE(fresh.ok());
    store_ = std::move(*fresh);
    exec_ = fakes::FakeExecutor();
    Make(slots);
    clock_.Set(t0);
    std::vector<std::pair<int, int>> got;
    std::map<int64_t, int> index_of, ends;  // id -> job index; id -> minute its run ends
    size_t seen = 0;
    for (int m = 0; m <= horizon; ++m) {
      clock_.Set(t0 + m * minute);
      for (auto it = ends.begin(); it != ends.end();) {
        if (it->second <= m) {
          exec_.Exit(it->first, 0);
          it = ends.erase(it);
        } else {
          ++it;
        }
      }
      for (int i = 0; i < n; ++i) {
        const J& j = jobs[static_cast<size_t>(i)];
        if (j.submit != m) continue;
        std::string spec = "name: j" + std::to_string(i) + "\ncarbon: {policy: immediate";
        if (j.not_before) spec += ", not_before: " + FormatTime(t0 + *j.not_before * minute);
        index_of[Submit(spec + "}\n")] = i;
      }
      TickAll();
      for (; seen < exec_.started.size(); ++seen) {
        const int64_t id = exec_.started[seen];
        got.push_back({m, index_of.at(id)});
        ends[id] = m + jobs[static_cast<size_t>(index_of.at(id))].run;
      }
    }
    ASSERT_EQ(got, want) << "seed " << seed << ", " << slots << " slots";
  }
}

}  // namespace
}  // namespace carbon

namespace carbon {
namespace {

// 20,000 waiting jobs written straight into the database with SQL (as an
// old carbond or a restore leaves them), four kinds mixed: threshold jobs
// that only max_wait releases, forecast jobs with deadlines, forecast jobs
// with not_before and max_wait, immediate ones. The clock then moves a
// minute a tick over three days of a daily-cycle forecast: every job starts
// by the time it was promised (its max_wait or latest start), never before
// its not_before, however many wait before it.
TEST_F(SchedulerQueueTest, TwentyThousandJobsMadeWithSqlAllStartByTheirPromisedTime) {
  const Timestamp t0 = clock_.Now();
  struct Promise {
    Timestamp earliest, latest;
  };
  std::vector<Promise> promises;
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "carbond.db").c_str(), &db), SQLITE_OK);
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db,
                                 "INSERT INTO jobs (name, spec, policy, owner_uid, state, reason, submitted_at, "
                                 "not_before, deadline) VALUES (?, ?, ?, 1000, 'waiting', 'made with SQL', ?, ?, ?)",
                                 -1, &st, nullptr),
              SQLITE_OK);
    for (int i = 0; i < 20000; ++i) {
      std::string spec, policy;
      std::optional<Timestamp> nb, deadline;
      Promise p{t0, t0};
      switch (i % 4) {
        case 0: {  // threshold 50: the grid never gets there; max_wait releases it
          const int h = 1 + i % 48;
          policy = "threshold";
          spec = "carbon: {policy: threshold, threshold_gco2_per_kwh: 50, max_wait: " + std::to_string(h) + "h}\n";
          p.latest = t0 + std::chrono::hours(h);
          break;
        }
        case 1: {  // a deadline: it must start by deadline - expected_duration
          const int h = 2 + i % 60;
          deadline = t0 + std::chrono::hours(h);
          policy = "forecast";
          spec = "carbon: {policy: forecast, expected_duration: 1h, deadline: " + FormatTime(*deadline) + "}\n";
          p.latest = *deadline - std::chrono::hours(1);
          break;
        }
        case 2: {  // not before nb, and within max_wait of its submission
          nb = t0 + std::chrono::hours(i % 5);
          policy = "forecast";
          spec = "carbon: {policy: forecast, expected_duration: 30m, max_wait: 8h, not_before: " + FormatTime(*nb) +
                 "}\n";
          p.earliest = *nb;
          p.latest = t0 + std::chrono::hours(8);
          break;
        }
        default:
          policy = "immediate";
          spec = "carbon: {policy: immediate}\n";
          break;
      }
      spec = "name: sql" + std::to_string(i) + "\n" + spec;
      promises.push_back(p);
      const std::string name = "sql" + std::to_string(i), at = FormatTime(t0);
      const std::string nb_text = nb ? FormatTime(*nb) : "", dl_text = deadline ? FormatTime(*deadline) : "";
      sqlite3_bind_text(st, 1, name.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(st, 2, spec.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(st, 3, policy.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(st, 4, at.c_str(), -1, SQLITE_TRANSIENT);
      if (nb) sqlite3_bind_text(st, 5, nb_text.c_str(), -1, SQLITE_TRANSIENT);
      else sqlite3_bind_null(st, 5);
      if (deadline) sqlite3_bind_text(st, 6, dl_text.c_str(), -1, SQLITE_TRANSIENT);
      else sqlite3_bind_null(st, 6);
      ASSERT_EQ(sqlite3_step(st), SQLITE_DONE) << sqlite3_errmsg(db);
      sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    ASSERT_EQ(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  // Slots for all: what is checked is that each job is decided in time.
  Make(20000);
  FakeGrid grid;
  std::vector<double> day;
  for (int k = 0; k < 48 * 4; ++k) day.push_back(300 + 150 * std::sin(k * 3.14159265 / 24));  // a daily cycle
  grid.view.current_gco2_per_kwh = 400;
  grid.view.current_source = "fake";
  grid.view.forecast = HalfHours(t0, day);
  grid.view.forecast_source = "fake";
  sched_->set_grid(&grid);
  const auto step = std::chrono::minutes(1);
  for (Timestamp now = t0; now <= t0 + std::chrono::hours(72) && exec_.started.size() < 20000; now += step) {
    clock_.Set(now);
    TickAll();
  }
  ASSERT_EQ(exec_.started.size(), 20000u);
  size_t late = 0, early = 0;
  for (int64_t id = 1; id <= 20000; ++id) {
    const JobRecord j = *store_->Get(id);
    ASSERT_EQ(j.state, JobState::kRunning) << id;
    const Promise& p = promises[static_cast<size_t>(id - 1)];
    // A tick a minute: a start falls on the first tick at or after its time.
    if (*j.started > p.latest + step) ++late, ADD_FAILURE() << "job " << id << " started " << FormatTime(*j.started)
                                                             << ", promised by " << FormatTime(p.latest);
    if (*j.started < p.earliest) ++early, ADD_FAILURE() << "job " << id << " started before its not_before";
    if (late + early > 5) break;
  }
}

}  // namespace
}  // namespace carbon
