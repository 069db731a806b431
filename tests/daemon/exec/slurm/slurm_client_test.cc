// SlurmClient (daemon/exec/slurm/slurm_client.h) against a real single-node
// cluster on localhost: a held job is visible in squeue with carbond's
// comment and reason, runs once released, is cancelled, is found by sacct
// afterwards; a controller that is down is UNAVAILABLE, not a failure.
#include "daemon/exec/slurm/slurm_client.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "tests/daemon/exec/slurm/slurm_cluster.h"
#include "tests/support/fakes.h"
#include "tests/support/files.h"

namespace carbon::slurm {
namespace {

class SlurmClientTest : public fakes::SlurmClusterTest {
 protected:
  void SetUp() override {
    fakes::SlurmClusterTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ClientOptions o;
    o.conf = cluster_->conf();
    o.timeout = std::chrono::seconds(20);
    client_ = std::make_unique<Client>(runner_, o);
  }

  // Waits on the loop for one callback's value.
  template <class T, class Call>
  T Await(Call call) {
    std::optional<T> v;
    call([&v](T r) { v = std::move(r); });
    while (!v && io_.run_one_for(std::chrono::seconds(30)) > 0) {
    }
    if (!v) ADD_FAILURE() << "no answer";
    return v ? std::move(*v) : T(Internal("no answer"));
  }
  StatusOr<std::vector<QueueRow>> Queue() {
    return Await<StatusOr<std::vector<QueueRow>>>([&](auto cb) { client_->Queue(cb); });
  }
  // The row of job `id`, once `pred` holds (or after 20 s).
  std::optional<QueueRow> WaitFor(int64_t id, const std::function<bool(const QueueRow&)>& pred) {
    std::optional<QueueRow> last;
    for (int i = 0; i < 200; ++i) {
      auto rows = Queue();
      if (rows.ok())
        for (const QueueRow& r : *rows)
          if (r.id == id) last = r;
      if (last && pred(*last)) return last;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "job " << id << " never got there; last state " << (last ? last->state : "none");
    return last;
  }
  Submission Job(const std::string& name, const std::string& body) {
    Submission s;
    s.name = name;
    s.comment = JobComment(42, "tok" + name.substr(name.size() - 1));
    s.chdir = dir_.path();
    s.output = dir_ / (name + ".out");
    s.export_file = dir_ / "env";
    std::string env("PATH=/usr/bin:/bin\0CARBON_NOTE=a,b c\0", 36);
    std::ofstream(s.export_file, std::ios::binary) << env;
    s.script = dir_ / (name + ".sh");
    std::ofstream(s.script) << "#!/bin/sh\n" << body << "\n";
    ::chmod(s.script.c_str(), 0755);
    return s;
  }

  fakes::TempDir dir_;
  boost::asio::io_context io_;
  CommandRunner runner_{io_};
  std::unique_ptr<Client> client_;
};

TEST_F(SlurmClientTest, HeldVisibleReleasedRunSignalledAndAccounted) {
  // As carbon-worker does: on SIGTERM, checkpoint and exit 75.
  auto id = Await<StatusOr<int64_t>>([&](auto cb) {
    client_->Submit(Job("carbond-1", "trap 'echo stopping > stopped.txt; exit 75' TERM\n"
                                     "echo \"$CARBON_NOTE\" > note.txt\nsleep 60 & wait"),
                    cb);
  });
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  auto held = WaitFor(*id, [](const QueueRow& r) { return r.state == "PENDING"; });
  ASSERT_TRUE(held);
  EXPECT_EQ(PhaseOf(held->state, held->reason), Phase::kHeld) << held->reason;
  EXPECT_EQ(held->name, "carbond-1");
  EXPECT_EQ(held->comment, "carbond:42:tok1");

  ASSERT_TRUE(Await<Status>([&](auto cb) { client_->Release(*id, cb); }).ok());
  auto running = WaitFor(*id, [](const QueueRow& r) { return r.state == "RUNNING"; });
  ASSERT_TRUE(running);
  // The job ran in its directory with exactly the environment given.
  for (int i = 0; i < 50 && !std::filesystem::exists(dir_ / "note.txt"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(fakes::ReadAll(dir_ / "note.txt"), "a,b c\n");

  // TERM reaches the batch script, which exits 75 after its "checkpoint".
  ASSERT_TRUE(Await<Status>([&](auto cb) { client_->Cancel(*id, std::string("TERM"), cb); }).ok());
  auto ended = WaitFor(*id, [](const QueueRow& r) { return IsFinal(PhaseOf(r.state, r.reason)); });
  ASSERT_TRUE(ended);
  EXPECT_EQ(fakes::ReadAll(dir_ / "stopped.txt"), "stopping\n");
  auto acct = Await<StatusOr<std::vector<AcctRow>>>([&](auto cb) { client_->Accounting({*id}, true, cb); });
  ASSERT_TRUE(acct.ok()) << acct.status().ToString();
  ASSERT_EQ(acct->size(), 1u);
  EXPECT_EQ((*acct)[0].id, *id);
  EXPECT_EQ((*acct)[0].exit_code, 75);
}

TEST_F(SlurmClientTest, AHeldJobIsCancelledAtOnce) {
  auto id = Await<StatusOr<int64_t>>([&](auto cb) { client_->Submit(Job("carbond-5", "sleep 60"), cb); });
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  ASSERT_TRUE(WaitFor(*id, [](const QueueRow& r) { return r.state == "PENDING"; }));
  ASSERT_TRUE(Await<Status>([&](auto cb) { client_->Cancel(*id, std::nullopt, cb); }).ok());
  auto ended = WaitFor(*id, [](const QueueRow& r) { return IsFinal(PhaseOf(r.state, r.reason)); });
  ASSERT_TRUE(ended);
  EXPECT_EQ(PhaseOf(ended->state, ended->reason), Phase::kCancelled) << ended->state;
  // scancel of a job long gone is no error (Slurm says so on stderr only).
  EXPECT_TRUE(Await<Status>([&](auto cb) { client_->Cancel(999999, std::nullopt, cb); }).ok());
}

TEST_F(SlurmClientTest, AJobThatFailsIsFailedWithItsExitCode) {
  auto id = Await<StatusOr<int64_t>>([&](auto cb) {
    Submission s = Job("carbond-2", "exit 3");
    s.hold = false;
    client_->Submit(s, cb);
  });
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  auto ended = WaitFor(*id, [](const QueueRow& r) { return IsFinal(PhaseOf(r.state, r.reason)); });
  ASSERT_TRUE(ended);
  EXPECT_EQ(PhaseOf(ended->state, ended->reason), Phase::kFailed);
  auto acct = Await<StatusOr<std::vector<AcctRow>>>([&](auto cb) { client_->Accounting({*id}, true, cb); });
  ASSERT_TRUE(acct.ok() && acct->size() == 1u) << acct.status().ToString();
  EXPECT_EQ((*acct)[0].exit_code, 3);
}

TEST_F(SlurmClientTest, RefusalsAndAnOutageSayWhich) {
  Submission bad = Job("carbond-3", "true");
  bad.partition = "nosuch";
  auto refused = Await<StatusOr<int64_t>>([&](auto cb) { client_->Submit(bad, cb); });
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("Invalid partition name specified"), std::string::npos) << refused.status().message();

  cluster_->StopController();
  const auto t0 = std::chrono::steady_clock::now();
  auto down = Queue();
  std::fprintf(stderr, "squeue with the controller down answered in %.1f s\n",
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(down.status().message().find("Unable to contact slurm controller"), std::string::npos)
      << down.status().message();
  auto submit_down = Await<StatusOr<int64_t>>([&](auto cb) { client_->Submit(Job("carbond-4", "true"), cb); });
  EXPECT_EQ(submit_down.status().code(), StatusCode::kUnavailable);
  cluster_->StartController();
  EXPECT_TRUE(Queue().ok());
}

TEST(SlurmClientArgv, TheSubmissionIsWhatSlurmExpects) {
  boost::asio::io_context io;
  CommandRunner runner(io);
  Client client(runner, {});
  Submission s;
  s.name = "carbond-7";
  s.comment = "carbond:7:abc";
  s.chdir = "/runs/7";
  s.output = "/runs/7/slurm-%j.out";
  s.export_file = "/runs/7/env";
  s.partition = "gpu";
  s.extra_args = {"--gres=gpu:1", "--time=1-00:00:00"};
  s.script = "/runs/7/job.sh";
  EXPECT_EQ(client.SubmitArgv(s),
            (std::vector<std::string>{"--parsable", "-J", "carbond-7", "--comment=carbond:7:abc", "--chdir=/runs/7",
                                      "--output=/runs/7/slurm-%j.out", "--export-file=/runs/7/env", "--requeue",
                                      "--open-mode=append", "--hold",
                                      "--partition=gpu", "--gres=gpu:1", "--time=1-00:00:00", "/runs/7/job.sh"}));
}

}  // namespace
}  // namespace carbon::slurm
