#include "daemon/store/sqlite_job_store.h"

#include <gtest/gtest.h>

#include "common/time_util.h"
#include "tests/support/fakes.h"

namespace carbon {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = SqliteJobStore::Open(dir_ / "carbond.db");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  int64_t Add(const std::string& name) {
    NewJob j;
    j.name = name;
    j.spec_text = "name: " + name + "\n";
    j.policy = "immediate";
    j.owner_uid = 1000;
    j.submitted = now_;
    j.reason = "submitted";
    auto id = store_->Insert(j);
    EXPECT_TRUE(id.ok());
    return *id;
  }
  fakes::TempDir dir_;
  std::unique_ptr<SqliteJobStore> store_;
  Timestamp now_ = *ParseTime("2026-11-26T12:00:00Z");
};

TEST_F(StoreTest, InsertThenGetRoundTrips) {
  int64_t id = Add("a");
  auto j = store_->Get(id);
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(j->name, "a");
  EXPECT_EQ(j->state, JobState::kQueued);
  EXPECT_EQ(j->owner_uid, 1000u);
  EXPECT_EQ(j->submitted, now_);
  EXPECT_EQ(j->spec_text, "name: a\n");
  auto ev = store_->Events(id);
  ASSERT_EQ(ev->size(), 1u);
  EXPECT_EQ((*ev)[0].to_state, "queued");
  EXPECT_EQ((*ev)[0].from_state, "");
}

TEST_F(StoreTest, TransitionIsCompareAndSet) {
  int64_t id = Add("a");
  Transition t(JobState::kQueued, JobState::kWaiting, "planned", now_);
  ASSERT_TRUE(store_->Apply(id, t).ok());
  // The same transition again: the job is no longer queued.
  Status again = store_->Apply(id, t);
  EXPECT_EQ(again.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(again.message().find("is waiting, not queued"), std::string::npos) << again.message();
  Transition run(JobState::kWaiting, JobState::kRunning, "go", now_);
  run.started = now_;
  run.count_attempt = true;
  ASSERT_TRUE(store_->Apply(id, run).ok());
  auto j = store_->Get(id);
  EXPECT_EQ(j->state, JobState::kRunning);
  EXPECT_EQ(j->attempts, 1);
  EXPECT_EQ(*j->started, now_);
  EXPECT_EQ(store_->Events(id)->size(), 3u);  // a failed CAS records nothing
}

TEST_F(StoreTest, InsertWithPlanIsOneCommitWithBothEvents) {
  NewJob j;
  j.name = "planned";
  j.spec_text = "name: planned\n";
  j.policy = "immediate";
  j.submitted = now_;
  Transition plan(JobState::kQueued, JobState::kWaiting, "released: policy immediate", now_);
  plan.planned_start = now_;
  auto id = store_->Insert(j, &plan);
  ASSERT_TRUE(id.ok());
  auto got = store_->Get(*id);
  EXPECT_EQ(got->state, JobState::kWaiting);
  EXPECT_EQ(*got->planned_start, now_);
  auto ev = store_->Events(*id);
  ASSERT_EQ(ev->size(), 2u);
  EXPECT_EQ((*ev)[1].from_state, "queued");
  EXPECT_EQ((*ev)[1].to_state, "waiting");
}

TEST_F(StoreTest, ApplyAllReportsEachCompareAndSet) {
  int64_t a = Add("a");
  int64_t b = Add("b");
  ASSERT_TRUE(store_->Apply(b, Transition(JobState::kQueued, JobState::kCancelled, "", now_)).ok());
  auto results = store_->ApplyAll({{a, Transition(JobState::kQueued, JobState::kWaiting, "", now_)},
                                   {b, Transition(JobState::kQueued, JobState::kWaiting, "", now_)}});
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(results[0].ok());
  EXPECT_EQ(results[1].code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->Get(a)->state, JobState::kWaiting);
  EXPECT_EQ(store_->Get(b)->state, JobState::kCancelled);
}

TEST_F(StoreTest, EpochsAreStoredAndAResumedEpochReplacesItsRow) {
  int64_t id = Add("e");
  EpochRecord e;
  e.job_id = id;
  e.epoch = 1;
  e.attempt = 1;
  e.at = now_;
  e.test_accuracy = 0.5;
  e.peak_memory_bytes = 123;
  e.memory_method = "peak-rss";
  ASSERT_TRUE(store_->RecordEpoch(e).ok());  // no memory_added_bytes: NULL
  e.epoch = 2;
  e.memory_added_bytes = 3 * 1048576;
  ASSERT_TRUE(store_->RecordEpoch(e).ok());
  e.attempt = 2;
  e.test_accuracy = 0.7;
  ASSERT_TRUE(store_->RecordEpoch(e).ok());  // epoch 2 again, after a resume
  auto all = store_->Epochs(id);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[1].attempt, 2);
  EXPECT_DOUBLE_EQ((*all)[1].test_accuracy, 0.7);
  EXPECT_EQ((*all)[0].memory_method, "peak-rss");
  EXPECT_EQ((*all)[0].peak_memory_bytes, 123);
  EXPECT_FALSE((*all)[0].memory_added_bytes);
  EXPECT_EQ((*all)[1].memory_added_bytes, 3 * 1048576);
  auto st = store_->db().Prepare("SELECT COUNT(*) FROM epoch_summary WHERE job_id = ?");
  st->Bind(1, id);
  ASSERT_TRUE(*st->Step());
  EXPECT_EQ(st->ColumnInt(0), 2);
  // A person with sqlite3 sees it in MB beside the peak.
  auto mb = store_->db().Prepare("SELECT memory_added_mb FROM epoch_summary WHERE job_id = ? AND epoch = 2");
  mb->Bind(1, id);
  ASSERT_TRUE(*mb->Step());
  EXPECT_DOUBLE_EQ(mb->ColumnDouble(0), 3.0);
}

// The machine an epoch ran on (schema v13) comes back as stored; absent parts stay absent.
TEST_F(StoreTest, AnEpochsHostComesBackAsStored) {
  int64_t id = Add("host");
  EpochRecord e;
  e.job_id = id;
  e.epoch = 1;
  e.attempt = 1;
  e.at = now_;
  e.host.cpu_model = "AMD EPYC 7B13";
  e.host.cpu_count = 2;
  e.host.ram_total_gib = 23.47;
  e.host.os = "Linux-6.1.0-18-amd64-x86_64-with-glibc2.36";
  e.host.cpu_utilization_pct = 97.5;
  e.host.ram_utilization_pct = 12.25;
  e.host.ram_used_gib = 2.875;
  ASSERT_TRUE(store_->RecordEpoch(e).ok());
  auto all = store_->Epochs(id);
  ASSERT_EQ(all->size(), 1u);
  const EpochHost& h = (*all)[0].host;
  EXPECT_EQ(h.cpu_model, "AMD EPYC 7B13");
  EXPECT_EQ(h.cpu_count, 2);
  EXPECT_EQ(h.ram_total_gib, 23.47);
  EXPECT_EQ(h.os, e.host.os);
  EXPECT_EQ(h.cpu_utilization_pct, 97.5);
  EXPECT_EQ(h.ram_utilization_pct, 12.25);
  EXPECT_EQ(h.ram_used_gib, 2.875);
  EXPECT_FALSE(h.gpu_count);
  EXPECT_EQ(h.gpu_model, "");
  auto null = store_->db().Prepare("SELECT host_gpu_count IS NULL, host_gpu_model IS NULL FROM epochs WHERE job_id = ?");
  null->Bind(1, id);
  ASSERT_TRUE(*null->Step());
  EXPECT_EQ(null->ColumnInt(0), 1);
  EXPECT_EQ(null->ColumnInt(1), 1);
}

// How the energy was attributed (schema v14): stored and read back; a row
// without one (before v14, machine mode) reads as empty.
TEST_F(StoreTest, AnEpochsTrackingModeComesBackAsStored) {
  int64_t id = Add("mode");
  EpochRecord e;
  e.job_id = id;
  e.epoch = 1;
  e.attempt = 1;
  e.at = now_;
  e.tracking_mode = "process";
  ASSERT_TRUE(store_->RecordEpoch(e).ok());
  e.epoch = 2;
  e.tracking_mode.clear();
  ASSERT_TRUE(store_->RecordEpoch(e).ok());
  auto all = store_->Epochs(id);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].tracking_mode, "process");
  EXPECT_EQ((*all)[1].tracking_mode, "");
  auto null = store_->db().Prepare("SELECT tracking_mode IS NULL FROM epochs WHERE job_id = ? AND epoch = 2");
  null->Bind(1, id);
  ASSERT_TRUE(*null->Step());
  EXPECT_EQ(null->ColumnInt(0), 1);
}

TEST_F(StoreTest, UnknownJobIsNotFound) {
  EXPECT_EQ(store_->Get(999).status().code(), StatusCode::kNotFound);
  Transition t(JobState::kQueued, JobState::kWaiting, "x", now_);
  EXPECT_EQ(store_->Apply(999, t).code(), StatusCode::kNotFound);
}

TEST_F(StoreTest, ListFiltersByStateLimitAndPage) {
  for (int i = 0; i < 5; ++i) Add("j" + std::to_string(i));
  ASSERT_TRUE(store_->Apply(2, Transition(JobState::kQueued, JobState::kWaiting, "", now_)).ok());
  JobFilter f;
  f.state = JobState::kQueued;
  EXPECT_EQ(store_->List(f)->size(), 4u);
  JobFilter lim;
  lim.limit = 2;
  lim.after_id = 2;
  auto page = store_->List(lim);
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].id, 3);
  auto counts = store_->CountByState();
  EXPECT_EQ((*counts)[JobState::kQueued], 4);
  EXPECT_EQ((*counts)[JobState::kWaiting], 1);
}

// The waiting jobs' ids and planned starts, in id order, the others left
// out: the same as the records List pages through (the base class's way).
TEST_F(StoreTest, ListWaitingGivesEveryWaitingIdAndPlannedStart) {
  std::vector<int64_t> ids;
  for (int i = 0; i < 2100; ++i) ids.push_back(Add("w" + std::to_string(i)));
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i % 7 == 3) continue;  // stays queued
    Transition t(JobState::kQueued, JobState::kWaiting, "", now_);
    if (i % 2 == 0) t.planned_start = now_ + std::chrono::minutes(static_cast<int>(i));
    ASSERT_TRUE(store_->Apply(ids[i], t).ok());
  }
  // Read in pages of 500, as the scheduler does.
  auto read = [&](auto list) {
    std::vector<JobStore::WaitingJob> all;
    for (int64_t after = 0;;) {
      StatusOr<std::vector<JobStore::WaitingJob>> page = list(after);
      EXPECT_TRUE(page.ok()) << page.status().ToString();
      if (!page.ok() || page->empty()) return all;
      EXPECT_LE(page->size(), 500u);
      all.insert(all.end(), page->begin(), page->end());
      after = page->back().id;
    }
  };
  auto fast = read([&](int64_t after) { return store_->ListWaiting(after, 500); });
  auto paged = read([&](int64_t after) { return store_->JobStore::ListWaiting(after, 500); });
  ASSERT_EQ(fast.size(), 1800u);
  ASSERT_EQ(fast.size(), paged.size());
  for (size_t k = 0; k < fast.size(); ++k) {
    EXPECT_EQ(fast[k].id, paged[k].id);
    EXPECT_EQ(fast[k].planned_start, paged[k].planned_start);
    if (k > 0) {
      EXPECT_LT(fast[k - 1].id, fast[k].id);
    }
  }
  EXPECT_EQ(fast[0].id, ids[0]);
  EXPECT_EQ(fast[0].planned_start, now_);
  EXPECT_FALSE(fast[1].planned_start.has_value());
}

TEST_F(StoreTest, CancelRequestOnlyForRunningJobs) {
  int64_t id = Add("a");
  EXPECT_EQ(store_->RequestCancel(id).code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(store_->Apply(id, Transition(JobState::kQueued, JobState::kRunning, "", now_)).ok());
  ASSERT_TRUE(store_->RequestCancel(id).ok());
  EXPECT_TRUE(store_->Get(id)->cancel_requested);
}

TEST_F(StoreTest, DataSurvivesReopen) {
  int64_t id = Add("durable");
  store_.reset();
  auto s = SqliteJobStore::Open(dir_ / "carbond.db");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)->Get(id)->name, "durable");
}

TEST_F(StoreTest, SummaryViewReadsForPeople) {
  int64_t id = Add("v");
  Transition run(JobState::kQueued, JobState::kRunning, "", now_ + std::chrono::seconds(30));
  run.started = run.at;
  ASSERT_TRUE(store_->Apply(id, run).ok());
  auto st = store_->db().Prepare("SELECT name, state, wait_s FROM job_summary WHERE id = ?");
  st->Bind(1, id);
  ASSERT_TRUE(*st->Step());
  EXPECT_EQ(st->ColumnText(0), "v");
  EXPECT_EQ(st->ColumnText(1), "running");
  EXPECT_EQ(st->ColumnInt(2), 30);
}

}  // namespace
}  // namespace carbon
