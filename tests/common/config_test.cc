#include "common/config.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace carbon {
namespace {

TEST(Config, EmptyGivesDefaults) {
  auto c = ParseConfig("", "carbond.yaml");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->socket_path, "/run/carbond/carbond.sock");
  EXPECT_EQ(c->socket_mode, 0660u);
  EXPECT_EQ(c->DatabasePath(), "/var/lib/carbond/carbond.db");
  EXPECT_EQ(c->RunsDir(), "/var/lib/carbond/runs");
  EXPECT_EQ(c->max_concurrent_jobs, 1);
  EXPECT_EQ(c->worker_path, "carbon-worker");
}

TEST(Config, ShippedConfigIsValidAndMatchesDefaults) {
  auto c = LoadConfigFile(CARBON_SOURCE_DIR "/configs/carbond.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  Config d;
  EXPECT_EQ(c->socket_path, d.socket_path);
  EXPECT_EQ(c->socket_mode, d.socket_mode);
  EXPECT_EQ(c->state_dir, d.state_dir);
  EXPECT_EQ(c->worker_path, d.worker_path);
  EXPECT_EQ(c->max_concurrent_jobs, d.max_concurrent_jobs);
  EXPECT_EQ(c->max_attempts, d.max_attempts);
  EXPECT_EQ(c->cancel_grace, d.cancel_grace);
  EXPECT_EQ(c->tick, d.tick);
  EXPECT_EQ(c->max_body_bytes, d.max_body_bytes);
  EXPECT_EQ(c->max_header_bytes, d.max_header_bytes);
  EXPECT_EQ(c->read_timeout, d.read_timeout);
  EXPECT_EQ(c->clock.mode, d.clock.mode);
  EXPECT_EQ(c->log_level, d.log_level);
}

TEST(Config, ErrorsNameFileLineAndSuggest) {
  auto c = ParseConfig("worker:\n  max_concurent_jobs: 2\n", "carbond.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("unknown key 'max_concurent_jobs' at carbond.yaml:2:3 in "
                                      "worker; did you mean 'max_concurrent_jobs'?"),
            std::string::npos)
      << c.status().message();
}

TEST(Config, ValuesAreChecked) {
  EXPECT_FALSE(ParseConfig("socket: {mode: '0999'}\n", "c").ok());
  EXPECT_FALSE(ParseConfig("worker: {cancel_grace: never}\n", "c").ok());
  EXPECT_FALSE(ParseConfig("log: {level: loud}\n", "c").ok());
  EXPECT_FALSE(ParseConfig("clock: {speed: 60}\n", "c").ok());  // speed needs mode virtual
  auto v = ParseConfig("clock: {mode: virtual, start: 2026-11-26T15:00:00Z, speed: 60}\n", "c");
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_DOUBLE_EQ(v->clock.speed, 60);
  auto s = ParseConfig("socket: /tmp/x.sock\n", "c");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->socket_path, "/tmp/x.sock");
}

TEST(Config, SystemdDirectoriesReplaceDefaultsOnly) {
  ::setenv("RUNTIME_DIRECTORY", "/run/carbond", 1);
  ::setenv("STATE_DIRECTORY", "/var/lib/carbond-x", 1);
  Config c;
  ApplySystemdDirectories(c);
  EXPECT_EQ(c.socket_path, "/run/carbond/carbond.sock");
  EXPECT_EQ(c.state_dir, "/var/lib/carbond-x");
  Config custom;
  custom.state_dir = "/srv/carbond";
  ApplySystemdDirectories(custom);
  EXPECT_EQ(custom.state_dir, "/srv/carbond");
  ::unsetenv("RUNTIME_DIRECTORY");
  ::unsetenv("STATE_DIRECTORY");
}

}  // namespace
}  // namespace carbon
