// ProcessExecutor and the worker protocol's two transports: a stream a real
// carbon-worker recorded (tests/fixtures/worker-events/recorded.jsonl) is
// sent by the fake worker over the socketpair and through the events file,
// and the listener must get the same typed events from both; a worker of
// another protocol version is refused on both.
#include "daemon/exec/local/process_executor.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/fakes.h"
#include "tests/support/files.h"

namespace carbon {
namespace {

namespace fs = std::filesystem;

const std::string kRecorded = std::string(CARBON_SOURCE_DIR) + "/tests/fixtures/worker-events/recorded.jsonl";

struct Collector final : ExecutorListener {
  std::vector<std::string> events;  // each as the protocol encodes it
  std::optional<ExitInfo> exit;
  void OnWorkerEvent(int64_t, const protocol::Event& e) override { events.push_back(protocol::Encode(e)); }
  void OnWorkerExit(int64_t, const ExitInfo& info) override { exit = info; }
};

struct FakeRun {
  std::vector<std::string> events;
  ExitInfo exit;
  double seconds = 0;
  bool started = false;  // the fake worker got past the start gate (<run-dir>/attempts)
  std::string log;       // worker.log
};

// `gate`, when given, is the executor's start-gate hook; it gets the
// executor and the run directory.
using Gate = std::function<void(int64_t id, ProcessExecutor& exec, const std::string& run_dir)>;

FakeRun RunFake(const std::string& name, EventTransport transport, const Gate& gate = nullptr) {
  fakes::TempDir dir;
  boost::asio::io_context io;
  ProcessExecutorOptions o;
  o.worker_path = FAKE_WORKER_BIN;
  o.event_transport = transport;
  o.events_file_poll = std::chrono::milliseconds(20);
  ProcessExecutor exec(io, o);
  Collector c;
  exec.SetListener(&c);
  if (gate) exec.set_before_training([&](int64_t id) { gate(id, exec, dir.path()); });
  JobRecord job;
  job.id = 7;
  job.attempts = 1;
  job.spec_text = "name: " + name + "\n";
  const auto t0 = std::chrono::steady_clock::now();
  Status st = exec.Start(job, dir.path());
  EXPECT_TRUE(st.ok()) << st.ToString();
  while (!c.exit && io.run_one_for(std::chrono::seconds(30)) > 0) {
  }
  FakeRun r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_TRUE(c.exit) << name << ": no exit reported";
  r.events = c.events;
  if (c.exit) r.exit = *c.exit;
  r.started = fs::exists(dir / "attempts");
  r.log = fakes::ReadAll(dir / "worker.log");
  return r;
}

TEST(ProcessExecutor, BothTransportsDeliverTheSameRecordedStream) {
  // What the decoder makes of the recording, line by line.
  std::vector<std::string> want;
  std::ifstream in(kRecorded);
  for (std::string line; std::getline(in, line);) {
    auto e = protocol::Decode(line);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    want.push_back(protocol::Encode(*e));
  }
  ASSERT_GE(want.size(), 5u);  // started, progress..., epochs, checkpoints, finished
  ::setenv("CARBON_FAKE_REPLAY", kRecorded.c_str(), 1);
  FakeRun socket = RunFake("replay", EventTransport::kSocketpair);
  FakeRun file = RunFake("replay", EventTransport::kFile);
  ::unsetenv("CARBON_FAKE_REPLAY");
  EXPECT_EQ(socket.events, want);
  EXPECT_EQ(file.events, want);
  EXPECT_EQ(socket.exit.outcome, protocol::WorkerExit::kOk);
  EXPECT_EQ(file.exit.outcome, protocol::WorkerExit::kOk);
  // Every line of the recording came back as it was written, field for field.
  std::ifstream again(kRecorded);
  size_t i = 0;
  for (std::string line; std::getline(again, line) && i < want.size(); ++i) EXPECT_EQ(line + "\n", want[i]);
}

TEST(ProcessExecutor, AWorkerOfAnotherProtocolVersionIsRefusedOnBothTransports) {
  for (EventTransport t : {EventTransport::kSocketpair, EventTransport::kFile}) {
    FakeRun r = RunFake("oldproto", t);  // it would sleep for 60 s
    EXPECT_TRUE(r.events.empty());
    EXPECT_EQ(r.exit.outcome, protocol::WorkerExit::kRejected);
    EXPECT_NE(r.exit.description.find("refused by carbond: worker event without a protocol version"),
              std::string::npos)
        << r.exit.description;
    EXPECT_LT(r.seconds, 20);
  }
}

TEST(ProcessExecutor, ExitCodesBecomeOutcomes) {
  for (EventTransport t : {EventTransport::kSocketpair, EventTransport::kFile}) {
    FakeRun ok = RunFake("plain", t);
    EXPECT_EQ(ok.exit.outcome, protocol::WorkerExit::kOk);
    ASSERT_EQ(ok.events.size(), 3u);  // started, epoch, finished
    EXPECT_EQ(ok.events[1].rfind(R"({"v":1,"event":"epoch","epoch":1,)", 0), 0u) << ok.events[1];
    EXPECT_EQ(RunFake("reject", t).exit.outcome, protocol::WorkerExit::kRejected);
    FakeRun failed = RunFake("fail", t);
    EXPECT_EQ(failed.exit.outcome, protocol::WorkerExit::kFailed);
    EXPECT_EQ(failed.exit.exit_status, 1);
  }
}

// worker.gpus: each job gets its train.gpus of them through
// CUDA_VISIBLE_DEVICES (numbered as NVML numbers them), a CPU job none, and
// a job waits while too few are free; an exit returns them.
TEST(ProcessExecutor, WorkerGpusAreHandedOutAndReturned) {
  fakes::TempDir dir;
  const std::string worker = dir / "worker.sh";
  {
    std::ofstream w(worker);
    w << "#!/bin/sh\n"
         "while [ $# -gt 0 ]; do [ \"$1\" = --run-dir ] && rd=$2; shift; done\n"
         // Written aside and renamed: the test reads it as soon as it exists.
         "printf '%s|%s' \"${CUDA_VISIBLE_DEVICES-unset}\" \"${CUDA_DEVICE_ORDER-unset}\" > \"$rd/env.tmp\"\n"
         "mv \"$rd/env.tmp\" \"$rd/env\"\n"
         "while [ ! -e \"$rd/stop\" ]; do sleep 0.02; done\n";
  }
  fs::permissions(worker, fs::perms::owner_all);
  boost::asio::io_context io;
  ProcessExecutorOptions o;
  o.worker_path = worker;
  o.gpus = {"0", "GPU-8f2a"};
  ProcessExecutor exec(io, o);
  struct Exits final : ExecutorListener {
    std::vector<int64_t> ids;
    void OnWorkerEvent(int64_t, const protocol::Event&) override {}
    void OnWorkerExit(int64_t id, const ExitInfo&) override { ids.push_back(id); }
  } exits;
  exec.SetListener(&exits);
  auto job = [](int64_t id, const std::string& train) {
    JobRecord j;
    j.id = id;
    j.attempts = 1;
    j.spec_text = "name: j" + std::to_string(id) + "\ntrain: " + train + "\n";
    return j;
  };
  auto run_dir = [&](int64_t id) {
    const std::string d = dir / ("run-" + std::to_string(id));
    fs::create_directories(d);
    return d;
  };
  auto env_of = [&](int64_t id) {
    const std::string f = dir / ("run-" + std::to_string(id) + "/env");
    for (int i = 0; i < 500 && !fs::exists(f); ++i) io.run_for(std::chrono::milliseconds(10));
    return fakes::ReadAll(f);
  };
  auto stop = [&](int64_t id) {
    std::ofstream(dir / ("run-" + std::to_string(id) + "/stop")).put('\n');
    for (int i = 0; i < 1000 && std::find(exits.ids.begin(), exits.ids.end(), id) == exits.ids.end(); ++i)
      io.run_for(std::chrono::milliseconds(10));
    ASSERT_NE(std::find(exits.ids.begin(), exits.ids.end(), id), exits.ids.end()) << "job " << id << " did not end";
  };
  // Never more than the list: refused at submission.
  auto three = ParseJobSpec("name: x\ntrain: {gpus: 3}\n", "big.yaml");
  ASSERT_TRUE(three.ok());
  EXPECT_NE(exec.Accepts(*three).message().find("asks for 3 GPUs but worker.gpus lists 2"), std::string::npos);
  EXPECT_TRUE(exec.Accepts(*ParseJobSpec("name: x\ntrain: {gpus: 2}\n", "two.yaml")).ok());

  ASSERT_TRUE(exec.Start(job(1, "{device: auto}"), run_dir(1)).ok());
  EXPECT_EQ(env_of(1), "0|PCI_BUS_ID");
  std::string why;
  EXPECT_FALSE(exec.Ready(job(2, "{device: cuda, gpus: 2}"), &why));
  EXPECT_EQ(why, "waiting for 2 GPUs (1 of 2 in worker.gpus in use by jobs 1)");
  ASSERT_TRUE(exec.Start(job(3, "{device: cpu}"), run_dir(3)).ok());
  EXPECT_EQ(env_of(3), "|PCI_BUS_ID");  // a CPU job sees no GPU, and meters none
  EXPECT_TRUE(exec.Ready(job(4, "{device: cuda}"), &why));
  ASSERT_TRUE(exec.Start(job(4, "{device: cuda}"), run_dir(4)).ok());
  EXPECT_EQ(env_of(4), "GPU-8f2a|PCI_BUS_ID");
  EXPECT_FALSE(exec.Ready(job(5, "{device: cuda}"), &why));
  EXPECT_EQ(why, "waiting for 1 GPU (2 of 2 in worker.gpus in use by jobs 1, 4)");
  EXPECT_FALSE(exec.Start(job(5, "{device: cuda}"), run_dir(5)).ok());
  stop(1);
  EXPECT_FALSE(exec.Ready(job(2, "{device: cuda, gpus: 2}"), &why));
  stop(4);
  EXPECT_TRUE(exec.Ready(job(2, "{device: cuda, gpus: 2}"), &why));
  ASSERT_TRUE(exec.Start(job(2, "{device: cuda, gpus: 2}"), run_dir(2)).ok());
  EXPECT_EQ(env_of(2), "0,GPU-8f2a|PCI_BUS_ID");
  stop(2);
  stop(3);
}

}  // namespace
}  // namespace carbon

namespace carbon {
namespace {

// The start gate: the hook runs once the worker has exec'd and counts as
// running, before it does anything (the fake worker, like the real one,
// writes nothing before the gate opens), on both transports.
TEST(ProcessExecutor, TheHookRunsBeforeTheWorkerDoesAnything) {
  for (EventTransport transport : {EventTransport::kSocketpair, EventTransport::kFile}) {
    int calls = 0;
    FakeRun r = RunFake("gated", transport, [&](int64_t id, ProcessExecutor& exec, const std::string& run_dir) {
      ++calls;
      EXPECT_EQ(id, 7);
      EXPECT_TRUE(exec.IsRunning(7));
      auto w = exec.Worker(7);
      ASSERT_TRUE(w.has_value());
      // Exec'd: its own command line, not carbond's.
      const std::string cmdline = fakes::ReadAll("/proc/" + std::to_string(w->pid) + "/cmdline");
      EXPECT_NE(cmdline.find("--go-fd"), std::string::npos) << cmdline;
      EXPECT_FALSE(fs::exists(run_dir + "/attempts")) << "the worker ran before the gate opened";
    });
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(r.exit.exit_status, 0) << r.log;
    EXPECT_TRUE(r.started);
  }
}

}  // namespace
}  // namespace carbon
