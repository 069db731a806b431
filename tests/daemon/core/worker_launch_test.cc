// The launch every site shares (daemon/core/worker_launch.h): job.yaml and the
// argv, where an attempt's events start, what is delivered of a worker's
// lines, and what a refused worker's end says.
#include "daemon/core/worker_launch.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/fakes.h"

namespace carbon {
namespace {

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(WorkerLaunch, WritesTheJobFileAndTheArgvWithTransportThenFlags) {
  fakes::TempDir dir;
  const std::string run_dir = dir / "runs/7";
  std::filesystem::create_directories(run_dir);
  JobRecord job;
  job.id = 7;
  job.spec_text = "name: a\n";
  // A symbolic link planted as job.yaml is replaced, never written through.
  const std::string victim = dir / "victim";
  std::ofstream(victim) << "keep";
  ASSERT_EQ(::symlink(victim.c_str(), (run_dir + "/job.yaml").c_str()), 0);
  std::ofstream(run_dir + "/events.jsonl") << "{\"v\":1}\n";  // an earlier attempt's line
  auto l = MakeLaunch(job, run_dir, 2, {"/usr/bin/carbon-worker", {"--pue", "1.2"}}, {"--events-file", "E"});
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_EQ(l->argv, (std::vector<std::string>{"/usr/bin/carbon-worker", "--job-file", run_dir + "/job.yaml",
                                               "--run-dir", run_dir, "--job-id", "7", "--attempt", "2",
                                               "--grid-file", run_dir + "/grid.json", "--events-file", "E", "--pue",
                                               "1.2"}));
  EXPECT_EQ(Read(run_dir + "/job.yaml"), "name: a\n");
  EXPECT_FALSE(std::filesystem::is_symlink(run_dir + "/job.yaml"));
  EXPECT_EQ(Read(victim), "keep");
  EXPECT_EQ(l->events_offset, 8);  // this attempt's events start after the earlier one's
  EXPECT_EQ(l->LogFile(), run_dir + "/worker.log");
  // A run directory that is not there: UNAVAILABLE, nothing started.
  auto gone = MakeLaunch(job, dir / "missing", 1, {"/w", {}}, {});
  EXPECT_EQ(gone.status().code(), StatusCode::kUnavailable);
}

TEST(WorkerLaunch, ALineOfAnotherVersionRefusesTheWorkerAndNothingAfterIsDelivered) {
  WorkerEvents said(3);
  std::vector<std::string> delivered;
  auto deliver = [&](const protocol::Event& e) { delivered.push_back(protocol::EventName(e)); };
  const std::string started = protocol::Encode(protocol::Started{});
  EXPECT_FALSE(said.Take(protocol::Decode(started.substr(0, started.size() - 1)), started, deliver));
  EXPECT_FALSE(said.Take(protocol::Decode("not json"), "not json", deliver));  // skipped
  EXPECT_FALSE(said.refused());
  const std::string v99 = R"({"v":99,"event":"started"})";
  auto other = protocol::Decode(v99);
  ASSERT_EQ(other.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(said.Take(other, v99, deliver));  // refused now: the executor stops it
  EXPECT_TRUE(said.refused());
  EXPECT_FALSE(said.Take(protocol::Decode(started.substr(0, started.size() - 1)), started, deliver));
  EXPECT_EQ(delivered, std::vector<std::string>{"started"});

  fakes::TempDir dir;
  std::ofstream(dir / "worker.log") << "line 1\nline 2\n";
  ExitInfo info;
  info.outcome = protocol::WorkerExit::kOk;
  FinishExit(info, said, dir.path(), 2048);
  EXPECT_EQ(info.outcome, protocol::WorkerExit::kRejected);
  EXPECT_EQ(info.description.rfind("refused by carbond: ", 0), 0u) << info.description;
  EXPECT_EQ(info.stderr_tail, "line 1\nline 2");
  // A worker that was not refused keeps its end.
  ExitInfo ok;
  ok.outcome = protocol::WorkerExit::kOk;
  FinishExit(ok, WorkerEvents(4), dir.path(), 2048);
  EXPECT_EQ(ok.outcome, protocol::WorkerExit::kOk);
  EXPECT_EQ(ok.stderr_tail, "line 1\nline 2");
}

}  // namespace
}  // namespace carbon
