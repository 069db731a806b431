// ProcessExecutor and the worker protocol's two transports: a stream a real
// carbon-worker recorded (tests/fixtures/worker-events/recorded.jsonl) is
// sent by the fake worker over the socketpair and through the events file,
// and the listener must get the same typed events from both; a worker of
// another protocol version is refused on both.
#include "daemon/process_executor.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/fakes.h"

namespace carbon {
namespace {

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
};

FakeRun RunFake(const std::string& name, EventTransport transport) {
  fakes::TempDir dir;
  boost::asio::io_context io;
  ProcessExecutorOptions o;
  o.worker_path = FAKE_WORKER_BIN;
  o.event_transport = transport;
  o.events_file_poll = std::chrono::milliseconds(20);
  ProcessExecutor exec(io, o);
  Collector c;
  exec.SetListener(&c);
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

}  // namespace
}  // namespace carbon
