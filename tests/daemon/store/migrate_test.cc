#include "daemon/store/migrate.h"

#include <gtest/gtest.h>

#include "daemon/store/sqlite_job_store.h"
#include "tests/support/fakes.h"

namespace carbon {
namespace {

using fakes::TempDir;

TEST(Migrate, FreshDatabaseGetsTheWholeSchema) {
  TempDir dir;
  auto db = sql::Database::Open(dir / "a.db");
  ASSERT_TRUE(db.ok());
  auto v = sql::Migrate(**db, EmbeddedMigrations());
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(*v, EmbeddedMigrations().back().version);
  EXPECT_EQ(*sql::SchemaVersion(**db), *v);
  // Tables and the views for people exist.
  for (const char* name : {"jobs", "job_events", "job_summary", "job_history", "epochs", "epoch_summary"}) {
    auto st = (*db)->Prepare("SELECT COUNT(*) FROM sqlite_master WHERE name = ?");
    ASSERT_TRUE(st.ok());
    st->Bind(1, name);
    ASSERT_TRUE(*st->Step());
    EXPECT_EQ(st->ColumnInt(0), 1) << name;
  }
  // A second run is a no-op.
  EXPECT_EQ(*sql::Migrate(**db, EmbeddedMigrations()), *v);
}

TEST(Migrate, UpgradeAppliesOnlyNewMigrationsAndKeepsData) {
  TempDir dir;
  std::vector<Migration> v1 = {{1, "0001_a.sql", "CREATE TABLE t (x INTEGER);"}};
  std::vector<Migration> v2 = v1;
  v2.push_back({2, "0002_b.sql", "ALTER TABLE t ADD COLUMN y TEXT DEFAULT 'new';"});
  {
    auto db = sql::Database::Open(dir / "u.db");
    ASSERT_TRUE(sql::Migrate(**db, v1).ok());
    ASSERT_TRUE((*db)->Exec("INSERT INTO t (x) VALUES (42)").ok());
  }
  auto db = sql::Database::Open(dir / "u.db");
  auto v = sql::Migrate(**db, v2);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(*v, 2);
  auto st = (*db)->Prepare("SELECT x, y FROM t");
  ASSERT_TRUE(*st->Step());
  EXPECT_EQ(st->ColumnInt(0), 42);
  EXPECT_EQ(st->ColumnText(1), "new");
}

TEST(Migrate, FailedMigrationRollsBackWhole) {
  TempDir dir;
  std::vector<Migration> ms = {{1, "0001_a.sql", "CREATE TABLE t (x INTEGER);"},
                               {2, "0002_bad.sql", "CREATE TABLE u (y INTEGER); SELEC oops;"}};
  auto db = sql::Database::Open(dir / "f.db");
  auto v = sql::Migrate(**db, ms);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("migration 0002_bad.sql failed"), std::string::npos);
  EXPECT_EQ(*sql::SchemaVersion(**db), 1);
  auto st = (*db)->Prepare("SELECT COUNT(*) FROM sqlite_master WHERE name = 'u'");
  ASSERT_TRUE(*st->Step());
  EXPECT_EQ(st->ColumnInt(0), 0);  // the half-applied table is gone
}

TEST(Migrate, NewerDatabaseIsRefusedUntouched) {
  TempDir dir;
  {
    auto db = sql::Database::Open(dir / "n.db");
    ASSERT_TRUE((*db)->Exec("CREATE TABLE future (z INTEGER); PRAGMA user_version = 99;").ok());
  }
  auto store = SqliteJobStore::Open(dir / "n.db");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("has schema version 99, newer than this carbond knows"),
            std::string::npos)
      << store.status().message();
  auto db = sql::Database::Open(dir / "n.db");
  EXPECT_EQ(*sql::SchemaVersion(**db), 99);
  auto st = (*db)->Prepare("SELECT COUNT(*) FROM sqlite_master WHERE name = 'jobs'");
  ASSERT_TRUE(*st->Step());
  EXPECT_EQ(st->ColumnInt(0), 0);
}

TEST(Migrate, ConnectionsUseWalAndForeignKeys) {
  TempDir dir;
  auto db = sql::Database::Open(dir / "w.db");
  auto st = (*db)->Prepare("PRAGMA journal_mode");
  ASSERT_TRUE(*st->Step());
  EXPECT_EQ(st->ColumnText(0), "wal");
  auto fk = (*db)->Prepare("PRAGMA foreign_keys");
  ASSERT_TRUE(*fk->Step());
  EXPECT_EQ(fk->ColumnInt(0), 1);
  // Every commit is durable: synchronous FULL (2) fsyncs the WAL on commit.
  auto sync = (*db)->Prepare("PRAGMA synchronous");
  ASSERT_TRUE(*sync->Step());
  EXPECT_EQ(sync->ColumnInt(0), 2);
  auto busy = (*db)->Prepare("PRAGMA busy_timeout");
  ASSERT_TRUE(*busy->Step());
  EXPECT_EQ(busy->ColumnInt(0), 5000);
}

TEST(Migrate, V7RebuildsJobsKeepingEveryRowIdAndForeignKey) {
  TempDir dir;
  const auto& all = EmbeddedMigrations();
  std::vector<Migration> v6(all.begin(), all.begin() + 6);
  ASSERT_EQ(v6.back().version, 6);
  auto db = sql::Database::Open(dir / "v6.db");
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(sql::Migrate(**db, v6).ok());
  // Three jobs, the newest deleted: AUTOINCREMENT must not hand out id 3 again.
  ASSERT_TRUE((*db)->Exec(R"(
    INSERT INTO jobs (name, spec, policy, owner_uid, state, submitted_at, signature)
      VALUES ('a', 'name: a', 'immediate', 1000, 'succeeded', '2026-11-26T00:00:00.000Z', 'sig'),
             ('b', 'name: b', 'forecast', 1000, 'waiting', '2026-11-26T00:01:00.000Z', ''),
             ('c', 'name: c', 'forecast', 1000, 'queued', '2026-11-26T00:02:00.000Z', '');
    INSERT INTO job_events (job_id, at, from_state, to_state, reason)
      VALUES (1, '2026-11-26T00:00:00.000Z', NULL, 'queued', 'submitted'),
             (2, '2026-11-26T00:01:00.000Z', NULL, 'queued', 'submitted');
    INSERT INTO epochs (job_id, epoch, attempt, at, train_loss, test_loss, test_accuracy, samples,
                        samples_per_s, wall_s, lr, peak_memory_bytes, memory_method)
      VALUES (1, 1, 1, '2026-11-26T00:00:30.000Z', 0.5, 0.4, 0.8, 100, 10, 10, 0.01, 1, 'peak-rss');
    DELETE FROM jobs WHERE id = 3;)")
                  .ok());
  auto v = sql::Migrate(**db, all);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  auto count = [&](const std::string& q) {
    auto st = (*db)->Prepare(q);
    EXPECT_TRUE(st.ok()) << q;
    EXPECT_TRUE(*st->Step()) << q;
    return st->ColumnInt(0);
  };
  EXPECT_EQ(count("SELECT COUNT(*) FROM jobs"), 2);
  EXPECT_EQ(count("SELECT COUNT(*) FROM job_events"), 2);  // no cascade while rebuilding
  EXPECT_EQ(count("SELECT COUNT(*) FROM epochs"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM job_history"), 2);  // views survive the rename
  EXPECT_EQ(count("SELECT COUNT(*) FROM epoch_emissions"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM jobs WHERE signature = 'sig'"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM sqlite_master WHERE name IN ('jobs_state', 'jobs_signature')"), 2);
  EXPECT_EQ(count("PRAGMA foreign_keys"), 1);  // back on
  ASSERT_TRUE((*db)->Exec("INSERT INTO jobs (name, spec, policy, owner_uid, state, submitted_at) "
                          "VALUES ('d', 'name: d', 'immediate', 0, 'stopped_budget', '2026-11-26T00:03:00.000Z')")
                  .ok());
  EXPECT_EQ(count("SELECT MAX(id) FROM jobs"), 4);
  EXPECT_FALSE((*db)->Exec("UPDATE jobs SET state = 'bogus' WHERE id = 1").ok());
  // Foreign keys still cascade from the new table.
  ASSERT_TRUE((*db)->Exec("DELETE FROM jobs WHERE id = 1").ok());
  EXPECT_EQ(count("SELECT COUNT(*) FROM job_events"), 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM epochs"), 0);
}

}  // namespace
}  // namespace carbon
