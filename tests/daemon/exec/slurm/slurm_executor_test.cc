// SlurmExecutor (daemon/exec/slurm/slurm_executor.h) on a real single-node
// cluster, with the test fake as the worker: its events come back through
// the events file, its exit through sacct; a drain stop checkpoints
// (exit 75), a refused submission and a worker of another protocol version
// end the run with the reason.
#include "daemon/exec/slurm/slurm_executor.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <optional>

#include "tests/daemon/exec/slurm/slurm_cluster.h"
#include "tests/support/fakes.h"
#include "tests/support/files.h"

namespace carbon::slurm {
namespace {

struct Collector final : ExecutorListener {
  std::vector<std::string> events;
  std::optional<ExitInfo> exit;
  void OnWorkerEvent(int64_t, const protocol::Event& e) override { events.push_back(protocol::EventName(e)); }
  void OnWorkerExit(int64_t, const ExitInfo& info) override { exit = info; }
};

class SlurmExecutorTest : public fakes::SlurmClusterTest {
 protected:
  struct Run {
    Collector c;
    int64_t slurm_id = 0;
  };
  // Runs one job named `name` through Slurm; `during` runs once it has a Slurm id.
  void RunJob(const std::string& name, Run& run, const std::string& partition = "",
              const std::function<void(Executor&, int64_t job_id)>& during = nullptr) {
    boost::asio::io_context io;
    ExecutorOptions o;
    o.client.conf = cluster_->conf();
    o.client.timeout = std::chrono::seconds(20);
    o.partition = partition;
    o.worker_path = FAKE_WORKER_BIN;
    o.poll = std::chrono::milliseconds(200);
    o.events_poll = std::chrono::milliseconds(100);
    o.cancel_grace = std::chrono::seconds(10);
    Executor exec(io, o);
    exec.SetListener(&run.c);
    JobRecord job;
    job.id = ++next_id_;
    job.attempts = 1;
    job.spec_text = "name: " + name + "\n";
    ASSERT_TRUE(exec.Start(job, dir_.path()).ok());
    bool ran_during = false;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!run.c.exit && std::chrono::steady_clock::now() < deadline) {
      io.run_one_for(std::chrono::milliseconds(100));
      if (!run.slurm_id) run.slurm_id = exec.SlurmJobId(job.id);
      if (during && !ran_during && run.slurm_id && !run.c.events.empty()) {
        ran_during = true;
        during(exec, job.id);
      }
    }
    ASSERT_TRUE(run.c.exit) << name << ": no exit within 60 s";
    EXPECT_FALSE(exec.IsRunning(job.id));
  }

  static inline int64_t next_id_ = 100;
  fakes::TempDir dir_;
};

TEST_F(SlurmExecutorTest, AJobRunsThroughSlurmWithItsEventsAndExit) {
  Run run;
  RunJob("plain", run);
  EXPECT_GT(run.slurm_id, 0);
  EXPECT_EQ(run.c.events, (std::vector<std::string>{"started", "epoch", "finished"}));
  EXPECT_EQ(run.c.exit->outcome, protocol::WorkerExit::kOk) << run.c.exit->description;
  EXPECT_NE(run.c.exit->description.find("COMPLETED"), std::string::npos) << run.c.exit->description;
  // The batch script is the worker's command line and nothing else.
  const std::string script = fakes::ReadAll(dir_ / "job.sh");
  EXPECT_EQ(script.rfind("#!/bin/sh\n# carbond job ", 0), 0u) << script;
  EXPECT_NE(script.find("exec '" FAKE_WORKER_BIN "' '--job-file' "), std::string::npos) << script;
}

TEST_F(SlurmExecutorTest, AFailingWorkerFailsWithItsExitCode) {
  Run run;
  RunJob("fail", run);
  EXPECT_EQ(run.c.exit->outcome, protocol::WorkerExit::kFailed);
  EXPECT_EQ(run.c.exit->exit_status, 1) << run.c.exit->description;
  Run rejected;
  RunJob("reject", rejected);
  EXPECT_EQ(rejected.c.exit->outcome, protocol::WorkerExit::kRejected) << rejected.c.exit->description;
}

TEST_F(SlurmExecutorTest, ADrainStopCheckpointsAndIsResumable) {
  Run run;
  RunJob("slow", run, "", [](Executor& e, int64_t id) { EXPECT_TRUE(e.Stop(id, StopMode::kDrain).ok()); });
  EXPECT_EQ(run.c.events, (std::vector<std::string>{"started", "interrupted"}));
  EXPECT_EQ(run.c.exit->outcome, protocol::WorkerExit::kInterrupted) << run.c.exit->description;
  EXPECT_EQ(run.c.exit->exit_status, 75) << run.c.exit->description;
}

TEST_F(SlurmExecutorTest, ARefusedSubmissionAndAnotherProtocolVersionEndTheRun) {
  Run refused;
  RunJob("plain", refused, "nosuch");
  EXPECT_EQ(refused.c.exit->outcome, protocol::WorkerExit::kFailed);
  EXPECT_NE(refused.c.exit->description.find("Slurm did not take the job"), std::string::npos);
  EXPECT_NE(refused.c.exit->description.find("Invalid partition name specified"), std::string::npos)
      << refused.c.exit->description;
  Run old;
  RunJob("oldproto", old);  // would sleep 60 s
  EXPECT_EQ(old.c.exit->outcome, protocol::WorkerExit::kRejected);
  EXPECT_NE(old.c.exit->description.find("without a protocol version"), std::string::npos) << old.c.exit->description;
}

}  // namespace
}  // namespace carbon::slurm
