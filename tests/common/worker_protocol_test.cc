// The worker protocol (common/worker_protocol.h): encoding, decoding, the
// version check and the two ways bytes arrive (a stream in pieces, a file
// that grows).
#include "common/worker_protocol.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "tests/support/fakes.h"

namespace carbon::protocol {
namespace {

Epoch SampleEpoch() {
  Epoch ep;
  ep.record.epoch = 2;
  ep.epochs = 3;
  ep.record.train_loss = 0.5;
  ep.record.test_accuracy = 0.81;
  ep.record.samples = 1000;
  ep.record.wall_s = 2.5;
  ep.record.peak_memory_bytes = 300 << 20;
  ep.memory_baseline_bytes = 200 << 20;
  ep.record.memory_added_bytes = 100 << 20;
  ep.record.memory_method = "rss";
  ep.record.cpu_kwh = 0.001;
  ep.record.ram_kwh = 0.0005;
  ep.record.energy_kwh = 0.0015;
  ep.record.cpu_method = "tdp";
  ep.energy_samples = 4;
  ep.pue = 1.2;
  ep.record.kg_co2 = 0.0003;
  ep.record.gco2_per_kwh = 200;
  ep.record.intensity_source = "grid";
  ep.record.zone = "GB";
  ep.record.host.cpu_model = "Intel(R) Xeon(R) CPU @ 2.20GHz";
  ep.record.host.cpu_count = 2;
  ep.record.host.gpu_model = "1 x NVIDIA H100 80GB HBM3";
  ep.record.host.gpu_count = 1;
  ep.record.host.ram_total_gib = 23.5;
  ep.record.host.os = "Linux-6.1.0-18-amd64-x86_64-with-glibc2.36";
  ep.record.host.cpu_utilization_pct = 99.5;
  ep.record.host.ram_utilization_pct = 10.5;
  ep.record.host.ram_used_gib = 2.5;
  ep.record.tracking_mode = "process";
  return ep;
}

std::vector<Event> OneOfEach() {
  Started s;
  s.device = "cpu";
  s.precision = "bf16";
  s.accumulation_steps = 4;
  s.epochs = 3;
  return {s,           Progress{1, 3, 10, 20, 0.7}, SampleEpoch(), Checkpoint{2, 0, "/r/ckpt-2-0.pt"},
          Interrupted{3, 5, true}, Finished{0.82, 0.4, 0.83, 3}, Failed{"data.path does not exist", false}};
}

TEST(WorkerProtocol, EveryEventSurvivesEncodingAndDecoding) {
  for (const Event& e : OneOfEach()) {
    const std::string line = Encode(e);
    ASSERT_EQ(line.back(), '\n');
    EXPECT_EQ(line.rfind("{\"v\":1,\"event\":\"" + std::string(EventName(e)) + "\"", 0), 0u) << line;
    auto back = Decode(std::string_view(line).substr(0, line.size() - 1));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->index(), e.index());
    EXPECT_EQ(Encode(*back), line);  // every field came back
  }
  auto ep = Decode(Encode(SampleEpoch()));
  ASSERT_TRUE(ep.ok());
  const auto& r = std::get<Epoch>(*ep).record;
  EXPECT_EQ(r.epoch, 2);
  EXPECT_EQ(r.memory_added_bytes, 100 << 20);
  EXPECT_DOUBLE_EQ(r.energy_kwh, 0.0015);
  EXPECT_EQ(r.kg_co2, 0.0003);
  EXPECT_EQ(std::get<Epoch>(*ep).pue, 1.2);
  EXPECT_EQ(r.host.gpu_model, "1 x NVIDIA H100 80GB HBM3");
  EXPECT_EQ(r.tracking_mode, "process");
  EXPECT_EQ(r.host.cpu_count, 2);
  EXPECT_EQ(r.host.ram_used_gib, 2.5);
  // A worker that reports no host (energy tracking off) leaves it empty.
  Epoch bare;
  bare.record.epoch = 1;
  const std::string line = Encode(bare);
  EXPECT_EQ(line.find("\"host\""), std::string::npos) << line;
  auto b = Decode(std::string_view(line).substr(0, line.size() - 1));
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(std::get<Epoch>(*b).record.host.cpu_count);
  EXPECT_EQ(std::get<Epoch>(*b).record.host.os, "");
}

TEST(WorkerProtocol, AnotherVersionIsRefusedNamingBoth) {
  auto two = Decode(R"({"v":2,"event":"started","device":"cpu"})");
  ASSERT_FALSE(two.ok());
  EXPECT_EQ(two.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(two.status().message().find("protocol version 2"), std::string::npos) << two.status().message();
  EXPECT_NE(two.status().message().find("carbond speaks version 1"), std::string::npos);
  auto none = Decode(R"({"event":"started","device":"cpu"})");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(none.status().message().find("without a protocol version"), std::string::npos);
}

TEST(WorkerProtocol, MalformedLinesAreErrorsThatSayWhat) {
  struct Case {
    std::string line, says;
  };
  for (const Case& c : std::vector<Case>{
           {"not json", "one JSON object per line"},
           {"[1,2]", "one JSON object per line"},
           {R"({"v":1})", "without a string field 'event'"},
           {R"({"v":1,"event":7})", "without a string field 'event'"},
           {R"({"v":1,"event":"exploded"})", "unknown worker event 'exploded'"},
           {R"({"v":1,"event":"epoch"})", "without its field 'epoch'"},
           {R"({"v":1,"event":"epoch","epoch":"two"})", "field 'epoch' must be an integer, not \"two\""},
           {R"({"v":1,"event":"epoch","epoch":0})", "must be 1 or more"},
           {R"({"v":1,"event":"epoch","epoch":1,"energy":[1]})", "field 'energy' must be an object"},
           {R"({"v":1,"event":"epoch","epoch":1,"energy":{"cpu_kwh":"x"}})", "field 'cpu_kwh' must be a number"},
           {R"({"v":1,"event":"epoch","epoch":1,"energy":{"tracking_mode":"gpu"}})",
            "field 'tracking_mode' must be \"machine\" or \"process\", not \"gpu\""},
           {R"({"v":1,"event":"failed","retryable":"yes"})", "field 'retryable' must be true or false"},
       }) {
    auto e = Decode(c.line);
    ASSERT_FALSE(e.ok()) << c.line;
    EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument) << c.line;
    EXPECT_NE(e.status().message().find(c.says), std::string::npos) << c.line << " -> " << e.status().message();
  }
}

TEST(WorkerProtocol, ExitCodesHaveOneMeaning) {
  EXPECT_EQ(WorkerExitFromCode(0), WorkerExit::kOk);
  EXPECT_EQ(WorkerExitFromCode(2), WorkerExit::kRejected);
  EXPECT_EQ(WorkerExitFromCode(3), WorkerExit::kOutOfMemory);
  EXPECT_EQ(WorkerExitFromCode(75), WorkerExit::kInterrupted);
  for (int64_t other : {1, 4, 74, 76, 137, -1}) EXPECT_EQ(WorkerExitFromCode(other), WorkerExit::kFailed) << other;
  for (WorkerExit e : {WorkerExit::kOk, WorkerExit::kFailed, WorkerExit::kRejected, WorkerExit::kOutOfMemory,
                       WorkerExit::kInterrupted})
    EXPECT_EQ(WorkerExitFromCode(ExitCode(e)), e) << WorkerExitName(e);
}

// What a decoder made of a stream: each line's event name or error.
std::vector<std::string> Collect(const std::function<void(const EventStreamDecoder::Sink&)>& feed) {
  std::vector<std::string> out;
  feed([&out](StatusOr<Event> e, std::string_view) {
    out.push_back(e.ok() ? EventName(*e) : "error: " + e.status().message());
  });
  return out;
}

std::string Stream() {
  std::string s;
  for (const Event& e : OneOfEach()) s += Encode(e);
  return s + "not json\r\n\n" + Encode(Finished{});
}

TEST(WorkerProtocol, AStreamDecodesTheSameInAnyPieces) {
  const std::string s = Stream();
  auto whole = Collect([&](const auto& sink) { EventStreamDecoder().Feed(s, sink); });
  ASSERT_EQ(whole.size(), 9u);
  EXPECT_EQ(whole[0], "started");
  EXPECT_EQ(whole[6], "failed");
  EXPECT_NE(whole[7].find("error: not a worker event"), std::string::npos);
  EXPECT_EQ(whole[8], "finished");
  for (size_t piece : {1u, 2u, 7u, 100u}) {
    auto pieces = Collect([&](const auto& sink) {
      EventStreamDecoder d;
      for (size_t i = 0; i < s.size(); i += piece) d.Feed(std::string_view(s).substr(i, piece), sink);
      EXPECT_EQ(d.pending(), 0u);
    });
    EXPECT_EQ(pieces, whole) << "pieces of " << piece;
  }
  EventStreamDecoder cut;
  auto partial = Collect([&](const auto& sink) { cut.Feed(Encode(Finished{}).substr(0, 10), sink); });
  EXPECT_TRUE(partial.empty());
  EXPECT_EQ(cut.pending(), 10u);
}

TEST(WorkerProtocol, AnOverlongLineIsSkippedAndTheNextOneDecodes) {
  const std::string huge(EventStreamDecoder::kMaxLine + 10, 'x');
  auto out = Collect([&](const auto& sink) {
    EventStreamDecoder d;
    d.Feed(huge.substr(0, 600000), sink);
    d.Feed(huge.substr(600000) + "\n" + Encode(Finished{}), sink);
  });
  ASSERT_EQ(out.size(), 2u);
  EXPECT_NE(out[0].find("longer than"), std::string::npos);
  EXPECT_EQ(out[1], "finished");
}

TEST(WorkerProtocol, AFollowedFileGivesWhatAStreamGives) {
  fakes::TempDir dir;
  const std::string path = dir / "events.jsonl";
  const std::string s = Stream();
  auto whole = Collect([&](const auto& sink) { EventStreamDecoder().Feed(s, sink); });
  auto followed = Collect([&](const auto& sink) {
    EventsFileFollower f(path);
    EXPECT_TRUE(f.Poll(sink).ok());  // not there yet: nothing, no error
    for (size_t i = 0; i < s.size(); i += 333) {
      std::ofstream(path, std::ios::app) << s.substr(i, 333);
      EXPECT_TRUE(f.Poll(sink).ok());
    }
    EXPECT_EQ(f.offset(), static_cast<int64_t>(s.size()));
  });
  EXPECT_EQ(followed, whole);
}

}  // namespace
}  // namespace carbon::protocol
