// Sites in the scheduler (issue 20): a job runs at the site it names, each
// site has its own slots, zone and run directories; a site that holds jobs
// (Slurm) gets each waiting job before its start and releases it only when
// ready; a restart adopts that site's running jobs instead of requeueing
// them, a drain leaves them running, a cancel withdraws a held one.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "daemon/core/scheduler.h"
#include "daemon/core/grid_provider.h"
#include "common/time_util.h"
#include "daemon/store/sqlite_job_store.h"
#include "tests/support/fakes.h"
#include "tests/support/files.h"

namespace carbon {
namespace {

// A site like Slurm's: it holds waiting jobs, and its jobs outlive carbond.
class HoldingExecutor final : public Executor {
 public:
  void SetListener(ExecutorListener* l) override { listener_ = l; }
  Status Start(const JobRecord& job, const std::string& run_dir) override {
    running.insert(job.id);
    started.push_back(job.id);
    run_dirs[job.id] = run_dir;
    return Status();
  }
  Status Stop(int64_t job_id, StopMode mode) override {
    stops.emplace_back(job_id, mode);
    return Status();
  }
  bool IsRunning(int64_t id) const override { return running.count(id) > 0; }
  size_t RunningCount() const override { return running.size(); }
  void Hold(const JobRecord& job, const std::string& run_dir) override {
    if (held.count(job.id)) return;
    held.insert(job.id);
    hold_dirs[job.id] = run_dir;
    listener_->OnSiteJob(job.id, {40 + job.id, "tok" + std::to_string(job.id), 0});
  }
  bool Ready(const JobRecord& job, std::string* why) const override {
    if (ready) return true;
    *why = "Slurm unreachable (test)";
    (void)job;
    return false;
  }
  void Withdraw(int64_t id) override { withdrawn.push_back(id); }
  std::string Describe(int64_t id) const override {
    return held.count(id) ? "held in Slurm as job " + std::to_string(40 + id) : "";
  }
  bool Detached() const override { return true; }
  Status Adopt(const JobRecord& job) override {
    adopted.push_back(job.id);
    running.insert(job.id);
    return Status();
  }
  void Exit(int64_t id, ExitInfo info) {
    running.erase(id);
    listener_->OnWorkerExit(id, info);
  }

  bool ready = true;
  std::set<int64_t> held, running;
  std::map<int64_t, std::string> hold_dirs, run_dirs;
  std::vector<int64_t> started, withdrawn, adopted;
  std::vector<std::pair<int64_t, StopMode>> stops;

 private:
  ExecutorListener* listener_ = nullptr;
};

class SchedulerSitesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = SqliteJobStore::Open(dir_ / "carbond.db");
    ASSERT_TRUE(s.ok());
    store_ = std::move(*s);
    Make();
  }
  void Make() {
    sched_ = std::make_unique<Scheduler>(*store_, local_, policies_, clock_,
                                         SchedulerOptions{1, 3, dir_ / "runs"});
    sched_->set_sites({Site{"box", &local_, "GB", 1, ""}, Site{"cluster", &slurm_, "DE", 2, dir_ / "shared"}});
    local_.SetListener(sched_.get());
    slurm_.SetListener(sched_.get());
  }
  int64_t Submit(const std::string& spec) {
    auto j = sched_->Submit(spec, "job.yaml", 1000);
    EXPECT_TRUE(j.ok()) << j.status().ToString();
    return j.ok() ? j->id : -1;
  }
  // As the API shows it: a waiting job with its live plan.
  JobRecord Job(int64_t id) { return *sched_->Job(id); }

  fakes::TempDir dir_;
  std::unique_ptr<SqliteJobStore> store_;
  fakes::FakeExecutor local_;
  HoldingExecutor slurm_;
  PolicyRegistry policies_;
  FakeClock clock_{*ParseTime("2026-11-26T12:00:00Z")};
  std::unique_ptr<Scheduler> sched_;
};

TEST_F(SchedulerSitesTest, AJobRunsAtTheSiteItNamesWithThatSitesSlotsAndRunDirectory) {
  const int64_t a = Submit("name: a\ncarbon: {policy: immediate}\n");
  const int64_t b = Submit("name: b\ncarbon: {policy: immediate, sites: [cluster]}\n");
  const int64_t c = Submit("name: c\ncarbon: {policy: immediate}\n");
  EXPECT_EQ(Job(a).site, "box");  // the first site is the default
  EXPECT_EQ(Job(b).site, "cluster");
  sched_->Tick();
  EXPECT_EQ(local_.started, std::vector<int64_t>{a});
  EXPECT_EQ(slurm_.started, std::vector<int64_t>{b});
  EXPECT_EQ(slurm_.run_dirs[b], dir_ / "shared" + "/" + std::to_string(b));
  EXPECT_EQ(Job(c).state, JobState::kWaiting);
  EXPECT_NE(Job(c).reason.find("free worker slot at site box (1 of 1 busy)"), std::string::npos) << Job(c).reason;
  EXPECT_NE(Job(b).reason.find("at site cluster"), std::string::npos) << Job(b).reason;
  EXPECT_EQ(Job(b).slurm_job_id, 40 + b);
  EXPECT_EQ(sched_->RunningCount(), 2u);
  // Its epochs are charged in its site's zone.
  sched_->OnWorkerEvent(b, fakes::WorkerEvent(R"({"event":"epoch","epoch":1,"epochs":2,"energy_kwh":0.001})"));
  ASSERT_EQ(store_->Epochs(b)->size(), 1u);
  EXPECT_EQ(store_->Epochs(b)->front().zone, "DE");
  EXPECT_TRUE(sched_->SlotFree());  // cluster has 2 slots
}

TEST_F(SchedulerSitesTest, AnUnknownSiteIsRefusedWithItsLineAndColumn) {
  auto r = sched_->Submit("name: x\ncarbon:\n  sites: [box, nowhere]\n", "job.yaml", 1000);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().field(), "carbon.sites[1]");
  EXPECT_NE(r.status().message().find("job.yaml:3:"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("'nowhere'"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("box, cluster"), std::string::npos) << r.status().message();
  EXPECT_EQ(store_->List({})->size(), 0u);
  auto empty = sched_->Submit("name: x\ncarbon: {sites: []}\n", "job.yaml", 1000);
  EXPECT_EQ(empty.status().field(), "carbon.sites");
}

TEST_F(SchedulerSitesTest, AnInterruptibleJobIsRefusedAtASiteThatQueuesItsJobsItself) {
  auto r = sched_->Submit("name: x\ncarbon: {interruptible: true, sites: [cluster]}\n", "job.yaml", 1000);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().field(), "carbon.interruptible");
  EXPECT_NE(r.status().message().find("site cluster queues its jobs itself (Slurm)"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("accepted: a local site, or interruptible: false"), std::string::npos);
  EXPECT_EQ(store_->List({})->size(), 0u);
  EXPECT_TRUE(sched_->Submit("name: x\ncarbon: {interruptible: true, sites: [box]}\n", "job.yaml", 1000).ok());
}

TEST_F(SchedulerSitesTest, AHoldingSiteGetsTheWaitingJobAndReleasesItOnlyWhenReady) {
  const int64_t id = Submit("name: a\ncarbon: {not_before: 2026-11-26T15:00:00Z, sites: [cluster]}\n");
  sched_->Tick();
  ASSERT_TRUE(slurm_.held.count(id));
  // Its run directory at the site's runs_dir (the site makes it).
  EXPECT_EQ(slurm_.hold_dirs[id], dir_ / ("shared/" + std::to_string(id)));
  EXPECT_FALSE(std::filesystem::exists(slurm_.hold_dirs[id]));
  JobRecord j = Job(id);
  EXPECT_EQ(j.state, JobState::kWaiting);
  EXPECT_EQ(j.reason, "waiting for not_before 2026-11-26T15:00:00.000Z; held in Slurm as job " + std::to_string(40 + id));
  EXPECT_EQ(j.site_token, "tok" + std::to_string(id));
  clock_.Advance(std::chrono::hours(3));
  slurm_.ready = false;  // Slurm down at the planned start: it waits, no attempt spent
  sched_->Tick();
  EXPECT_EQ(Job(id).state, JobState::kWaiting);
  EXPECT_EQ(Job(id).reason, "ready to run; Slurm unreachable (test)");
  EXPECT_EQ(Job(id).attempts, 0);
  slurm_.ready = true;
  sched_->Tick();
  EXPECT_EQ(Job(id).state, JobState::kRunning);
  EXPECT_EQ(Job(id).attempts, 1);
  sched_->OnSiteNote(id, "attempt 1 at site cluster: Slurm job 41 RUNNING");
  EXPECT_EQ(Job(id).reason, "attempt 1 at site cluster: Slurm job 41 RUNNING");
}

TEST_F(SchedulerSitesTest, ACancelledHeldJobIsWithdrawn) {
  const int64_t id = Submit("name: a\ncarbon: {not_before: 2026-11-26T15:00:00Z, sites: [cluster]}\n");
  sched_->Tick();
  ASSERT_TRUE(sched_->Cancel(id, 1000).ok());
  EXPECT_EQ(Job(id).state, JobState::kCancelled);
  EXPECT_EQ(slurm_.withdrawn, std::vector<int64_t>{id});
}

TEST_F(SchedulerSitesTest, ARestartAdoptsDetachedJobsAndADrainLeavesThemRunning) {
  const int64_t local = Submit("name: a\ncarbon: {policy: immediate}\n");
  const int64_t remote = Submit("name: b\ncarbon: {policy: immediate, sites: [cluster]}\n");
  sched_->Tick();
  ASSERT_EQ(Job(remote).state, JobState::kRunning);
  // carbond is killed: a new scheduler over the same database.
  fakes::FakeExecutor local2;
  HoldingExecutor slurm2;
  Scheduler again(*store_, local2, policies_, clock_, SchedulerOptions{1, 3, dir_ / "runs"});
  again.set_sites({Site{"box", &local2, "GB", 1, ""}, Site{"cluster", &slurm2, "DE", 2, dir_ / "shared"}});
  local2.SetListener(&again);
  slurm2.SetListener(&again);
  ASSERT_TRUE(again.Recover().ok());
  EXPECT_EQ(Job(local).state, JobState::kQueued);  // its worker died with carbond
  EXPECT_EQ(Job(remote).state, JobState::kRunning);
  EXPECT_EQ(Job(remote).attempts, 1);
  EXPECT_EQ(slurm2.adopted, std::vector<int64_t>{remote});
  again.BeginDrain();
  EXPECT_TRUE(slurm2.stops.empty());
  EXPECT_TRUE(again.Drained());  // Slurm's jobs go on without carbond
  // A job that vanished while carbond was down fails, never retried.
  ExitInfo gone;
  gone.no_retry = true;
  gone.description = "its Slurm job is in neither squeue nor sacct";
  slurm2.Exit(remote, gone);
  EXPECT_EQ(Job(remote).state, JobState::kFailed);
  EXPECT_EQ(Job(remote).reason, "its Slurm job is in neither squeue nor sacct on attempt 1; not retried");
}

TEST_F(SchedulerSitesTest, AJobOfASiteNoLongerConfiguredFailsWithThatReason) {
  const int64_t id = Submit("name: b\ncarbon: {not_before: 2026-11-26T15:00:00Z, sites: [cluster]}\n");
  sched_->set_sites({Site{"box", &local_, "GB", 1, ""}});
  sched_->Tick();
  EXPECT_EQ(Job(id).state, JobState::kFailed);
  EXPECT_EQ(Job(id).reason, "not started: its site 'cluster' is no longer in carbond.yaml's sites");
}

// A grid per zone: a flat forecast at each zone's value, and its recorded
// readings (for the savings).
class ZoneGrid final : public GridProvider {
 public:
  GridView View(const std::string& zone) override {
    GridView v;
    v.zone = zone;
    v.current_gco2_per_kwh = now[zone];
    v.current_source = "test";
    v.forecast_source = "test";
    Timestamp t = start;
    for (int h = 0; h < 48; ++h, t += std::chrono::hours(1))
      v.forecast.push_back({t, std::chrono::hours(1), now[zone], true});
    return v;
  }
  IntensitySeries Recorded(const std::string& zone, Timestamp from, Timestamp to) override {
    return SliceSorted(recorded[zone], from, to);
  }
  Timestamp start;
  std::map<std::string, double> now;
  std::map<std::string, IntensitySeries> recorded;
};

TEST_F(SchedulerSitesTest, AWaitingJobMovesToAClearlyCleanerSiteAndItsHeldJobIsWithdrawn) {
  ZoneGrid grid;
  grid.start = *ParseTime("2026-11-26T12:00:00Z");
  grid.now = {{"GB", 100}, {"DE", 300}};
  sched_->set_grid(&grid);
  // Held at the cluster (DE) until not_before; placed by forecast over both sites.
  const int64_t id = Submit(
      "name: a\ncarbon: {policy: forecast, expected_duration: 1h, not_before: 2026-11-26T15:00:00Z, "
      "sites: [cluster, box]}\n");
  EXPECT_EQ(Job(id).site, "cluster");  // the first-listed until planned
  sched_->Tick();
  EXPECT_EQ(Job(id).site, "cluster");  // not_before: no forecast decision yet
  ASSERT_TRUE(slurm_.held.count(id));
  clock_.Advance(std::chrono::hours(3));
  sched_->Tick();  // GB is 3x cleaner: it moves to box, and its held Slurm job is withdrawn
  JobRecord j = Job(id);
  EXPECT_EQ(j.site, "box");
  EXPECT_TRUE(j.site_token.empty());
  EXPECT_FALSE(j.slurm_job_id);
  EXPECT_EQ(slurm_.withdrawn, std::vector<int64_t>{id});
  EXPECT_EQ(j.state, JobState::kRunning);
  EXPECT_NE(j.reason.find("site box: released"), std::string::npos) << j.reason;
  EXPECT_NE(j.reason.find("other sites: cluster 300 g/kWh"), std::string::npos) << j.reason;
  EXPECT_EQ(local_.started, std::vector<int64_t>{id});
  // Its saving is against starting at once at the first-listed site (DE),
  // in time (none: both flat) and place (GB against DE).
  Timestamp t = *ParseTime("2026-11-26T12:00:00Z");
  for (int h = 0; h < 6; ++h, t += std::chrono::hours(1)) {
    grid.recorded["GB"].push_back({t, std::chrono::hours(1), 100, false});
    grid.recorded["DE"].push_back({t, std::chrono::hours(1), 300, false});
  }
  clock_.Advance(std::chrono::hours(1));
  local_.Exit(id, 0);
  auto saved = store_->Savings(id);
  ASSERT_TRUE(saved.ok() && *saved);
  EXPECT_EQ((*saved)->zone, "GB");
  EXPECT_EQ((*saved)->baseline_zone, "DE");
  EXPECT_NEAR((*saved)->saving_pct, 100.0 * 2 / 3, 1e-9);
  EXPECT_NEAR((*saved)->time_saving_pct, 0, 1e-9);
  EXPECT_NEAR((*saved)->place_saving_pct, 100.0 * 2 / 3, 1e-9);
}

TEST_F(SchedulerSitesTest, ANearTieKeepsTheFirstListedSiteAndAFullOneWaitsForItsSlot) {
  ZoneGrid grid;
  grid.start = *ParseTime("2026-11-26T12:00:00Z");
  grid.now = {{"GB", 100}, {"DE", 98}};
  sched_->set_grid(&grid);
  const int64_t busy = Submit("name: busy\ncarbon: {policy: immediate}\n");
  sched_->Tick();
  ASSERT_EQ(Job(busy).state, JobState::kRunning);  // box's one slot is taken
  const int64_t id = Submit("name: a\ncarbon: {policy: forecast, expected_duration: 1h, sites: [box, cluster]}\n");
  sched_->Tick();  // DE is 2% cleaner: a near-tie, and box is full: released at the cluster
  EXPECT_EQ(Job(id).site, "cluster");
  grid.now = {{"GB", 100}, {"DE", 400}};
  const int64_t other = Submit("name: b\ncarbon: {policy: forecast, expected_duration: 1h, sites: [box, cluster]}\n");
  sched_->Tick();  // box is full and the cluster 300% dirtier: it waits for box
  EXPECT_EQ(Job(other).state, JobState::kWaiting);
  EXPECT_EQ(Job(other).reason.rfind("waiting for a slot at box; cluster is 300% dirtier", 0), 0u) << Job(other).reason;
}

}  // namespace
}  // namespace carbon
