// Crash consistency: carbond is killed with SIGKILL at random moments while a
// client submits and jobs run, then restarted, many times. After every
// restart: every submission that got a 201 is stored with its name, the
// database passes PRAGMA integrity_check, no more jobs run than there are
// slots, and each job's history is a gap-free chain of states ending in its
// current state. CARBOND_CRASH_ROUNDS sets the rounds (default 12; e.g. 60 by
// hand); CARBOND_CRASH_SEED the random moments.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "daemon/store/db.h"
#include "proto-less-api/client.h"
#include "tests/support/daemon_process.h"

namespace carbon {
namespace {

using fakes::DaemonProcess;
using fakes::TempDir;

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

// The checks after a restart; returns the number of stored jobs.
int64_t CheckConsistent(const std::string& db_path, const std::map<int64_t, std::string>& acked, int round) {
  auto db = sql::Database::Open(db_path, {5000, /*read_only=*/true});
  EXPECT_TRUE(db.ok()) << "round " << round;
  if (!db.ok()) return 0;
  auto ic = (*db)->Prepare("PRAGMA integrity_check");
  EXPECT_TRUE(ic.ok() && *ic->Step());
  EXPECT_EQ(ic->ColumnText(0), "ok") << "round " << round;
  for (const auto& [id, name] : acked) {
    auto st = (*db)->Prepare("SELECT name FROM jobs WHERE id = ?");
    st->Bind(1, id);
    auto row = st->Step();
    EXPECT_TRUE(row.ok() && *row) << "round " << round << ": acknowledged job " << id << " is missing";
    if (row.ok() && *row) {
      EXPECT_EQ(st->ColumnText(0), name) << "round " << round;
    }
  }
  auto running = (*db)->Prepare("SELECT COUNT(*) FROM jobs WHERE state = 'running'");
  EXPECT_TRUE(*running->Step());
  EXPECT_LE(running->ColumnInt(0), 1) << "round " << round << ": more jobs running than slots";
  // Each job's events: NULL -> queued, then from = the previous to, ending in jobs.state.
  auto ev = (*db)->Prepare(
      "SELECT e.job_id, COALESCE(e.from_state, ''), e.to_state, j.state FROM job_events e JOIN jobs j ON j.id = "
      "e.job_id ORDER BY e.job_id, e.id");
  int64_t job = -1, jobs = 0;
  std::string prev, current;
  auto close_chain = [&] {
    if (job >= 0) {
      EXPECT_EQ(prev, current) << "round " << round << ": job " << job << " history ends elsewhere";
    }
  };
  for (;;) {
    auto row = ev->Step();
    if (!row.ok() || !*row) break;
    const int64_t id = ev->ColumnInt(0);
    const std::string from = ev->ColumnText(1), to = ev->ColumnText(2);
    if (id != job) {
      close_chain();
      job = id;
      ++jobs;
      current = ev->ColumnText(3);
      EXPECT_EQ(from, "") << "round " << round << ": job " << id << " history does not start at submission";
      EXPECT_EQ(to, "queued") << "round " << round;
    } else {
      EXPECT_EQ(from, prev) << "round " << round << ": job " << id << " history has a gap";
    }
    prev = to;
  }
  close_chain();
  return jobs;
}

TEST(Crash, SigkillAtRandomMomentsLosesNothingAcknowledged) {
  const int rounds = EnvInt("CARBOND_CRASH_ROUNDS", 12);
  std::mt19937 rng(static_cast<uint32_t>(EnvInt("CARBOND_CRASH_SEED", 20261127)));
  TempDir dir;
  DaemonProcess d(dir, FAKE_WORKER_BIN, "  max_attempts: 100\n");
  std::map<int64_t, std::string> acked;
  std::mutex mu;
  int64_t stored = 0;
  for (int round = 0; round < rounds; ++round) {
    ASSERT_TRUE(d.Start()) << "round " << round << "\n" << d.Log();
    stored = CheckConsistent(d.db(), acked, round);
    std::atomic<bool> stop{false};
    std::thread client([&, round] {
      api::Client c(d.socket());
      for (int i = 0; !stop.load(); ++i) {
        // Mostly quick jobs (run and finish), some slow ones (running when killed).
        const std::string name = (i % 5 == 0 ? "slow-" : "quick-") + std::to_string(round) + "-" + std::to_string(i);
        auto job = c.Submit("name: " + name + "\ncarbon: {policy: immediate}\n", name + ".yaml");
        if (job.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          acked[job->id] = name;
        } else if (job.status().code() == StatusCode::kUnavailable) {
          return;  // carbond is gone
        }
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(20, 300)(rng)));
    d.Kill(SIGKILL);
    stop = true;
    client.join();
  }
  ASSERT_TRUE(d.Start()) << d.Log();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // recovery has run
  stored = CheckConsistent(d.db(), acked, rounds);
  EXPECT_GE(stored, static_cast<int64_t>(acked.size()));
  EXPECT_GT(acked.size(), static_cast<size_t>(rounds)) << "the client got few submissions in";
  std::printf("crash test: %d SIGKILLs, %zu acknowledged submissions, %lld jobs stored\n", rounds, acked.size(),
              static_cast<long long>(stored));
}

}  // namespace
}  // namespace carbon
