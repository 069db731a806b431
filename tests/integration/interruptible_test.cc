// carbon.interruptible end to end: a real carbond on a virtual clock
// replaying a half-hourly trace, the real carbon-worker training a subset of
// Fashion-MNIST. The job runs its first planned segment, pauses through the
// dirty hours (checkpoint and exit, back to waiting with the reason), resumes
// from its checkpoint at the clean hours in the same attempt, and ends with
// the weights of an uninterrupted run, every epoch's energy and emissions,
// and a saving over its segments. ctest -R Interruptible.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <chrono>
#include <csignal>

#include "tests/support/daemon_process.h"
#include "tests/support/weights.h"
#include "worker/checkpoint.h"

namespace carbon {
namespace {

using fakes::DaemonProcess;
using fakes::TempDir;
using fakes::MaxWeightDiff;
using worker::CheckpointPath;
using json = nlohmann::json;

const char* const kData = "/usr/share/datasets/fashion-mnist";

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Whether a SIGTERM waits to be delivered to (stopped) process `pid`.
bool SigtermPending(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("SigPnd:", 0) == 0 || line.rfind("ShdPnd:", 0) == 0)
      if (std::stoull(line.substr(7), nullptr, 16) & (1ull << (SIGTERM - 1))) return true;
  return false;
}

// The worker alone, start to end, in `run_dir`.
int RunWorkerAlone(const std::string& job, const std::string& run_dir) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
    ::execl(CARBON_WORKER_BIN, CARBON_WORKER_BIN, "--job", job.c_str(), "--run-dir", run_dir.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

TEST(Interruptible, PausesThroughTheDirtyHoursAndResumesFromItsCheckpoint) {
  ASSERT_TRUE(std::filesystem::exists(std::string(kData) + "/train-images-idx3-ubyte.gz"))
      << "install Debian's dataset-fashion-mnist (scripts/install-deps.sh does)";
  TempDir dir;
  // Half-hourly from 23:30: 50 g/kWh until 00:30, 500 until 02:00, 100
  // after. Submitted at 23:50, a 1 h job with a 06:00 deadline and a 10 min
  // minimum segment runs at once, pauses at 00:30 and resumes at 02:00. (It
  // is released within a tick, 10 virtual minutes; a release as late as
  // 00:20 would still make the same plan.) Clean from 02:00 to the trace's
  // end: the resumed run trains at the machine's speed on a clock 600 times
  // faster, and a loaded machine's run must not reach dirty hours (it once
  // did, at 03:30, when the clean spell ended there).
  DaemonProcess d(dir, CARBON_WORKER_BIN, fakes::PauseTraceConfig(dir / "trace.csv"));
  ASSERT_TRUE(d.Start()) << d.Log();
  // About 9 s of training on a 2-core machine, 4 s on a faster one.
  const std::string job = dir / "pause.yaml";
  const std::string body = "model: {arch: mlp, hidden: [64], dropout: 0.2}\n"
                           "data: {path: " + std::string(kData) + ", train_limit: 60000, test_limit: 500}\n"
                           "train: {epochs: 4, batch_size: 32, accumulation_steps: 2, lr: 0.002, threads: 1}\n"
                           "checkpoint: {keep: 5}\n";
  std::ofstream(job) << "name: pause\n" << body
                     << "carbon: {policy: forecast, zone: GB, interruptible: true, min_segment: 10m, "
                        "expected_duration: 1h, deadline: 2026-11-26T06:00:00Z}\n";
  auto sub = d.Ctl({"submit", job});
  ASSERT_EQ(sub.exit_code, 0) << sub.err;
  // The first segment ends at 00:30 on the clock, 4 s after the start. On a
  // machine that trains fast enough to finish before then, the worker is
  // held (SIGSTOP) after its first epoch until carbond has asked it to pause
  // (SIGTERM, delivered with SIGCONT), so the pause cuts the run however
  // fast the machine is; a slower one is asked before its first epoch ends.
  const std::string asked = "segment over; asking its worker to checkpoint and stop";
  pid_t held = -1;
  for (int i = 0; i < 6000 && d.Log().find(asked) == std::string::npos; ++i) {
    const json s = json::parse(d.Ctl({"-o", "json", "status", "1"}).out, nullptr, false);
    if (s.is_object() && s.value("epochs", json::array()).size() >= 1) {
      held = d.WorkerPid(1);
      ASSERT_GT(held, 0) << "the job ended before its first segment did\n" << d.Log();
      ASSERT_EQ(::kill(held, SIGSTOP), 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (held > 0) {
    // carbond logs the pause, then signals: SIGCONT only once the SIGTERM
    // is pending, so the worker stops where it was held (on a loaded machine
    // the signal can come a second after the log line).
    // Unless carbond ran on instead (a segment end seen late): then the
    // reason says so at once, not after a 300 s wait on a stopped worker.
    std::string reason;
    for (int i = 0; i < 6000 && !SigtermPending(held); ++i) {
      const json s = json::parse(d.Ctl({"-o", "json", "status", "1"}).out, nullptr, false);
      reason = s.is_object() ? s.value("reason", "") : "";
      if (reason.rfind("running on", 0) == 0 || reason.rfind("running to the end", 0) == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!SigtermPending(held)) {
      ::kill(held, SIGKILL);
      FAIL() << "carbond did not ask the held worker to pause; the job's reason: " << reason << "\n" << d.Log();
    }
    ::kill(held, SIGCONT);
    ASSERT_NE(d.Log().find(asked), std::string::npos) << d.Log();
  }
  std::printf("worker held after its first epoch until the pause was asked: %s\n", held > 0 ? "yes" : "no");
  auto w = d.Ctl({"watch", "1", "--timeout", "300"});
  ASSERT_EQ(w.exit_code, 0) << w.out << w.err << d.Log();
  json j = json::parse(d.Ctl({"-o", "json", "status", "1"}).out);
  ASSERT_EQ(j["state"], "succeeded") << j.dump(2) << d.Log();

  // running -> waiting (paused, with why) -> running (resumed) -> succeeded, in one attempt.
  std::vector<std::string> path;
  std::string paused_reason, resumed_reason;
  for (const json& e : j["events"]) {
    const std::string from = e["from"].is_string() ? e["from"].get<std::string>() : "";
    path.push_back(from + ">" + e["to"].get<std::string>());
    if (from == "running" && e["to"] == "waiting") paused_reason = e["reason"];
    if (from == "waiting" && e["to"] == "running" && !paused_reason.empty()) resumed_reason = e["reason"];
  }
  ASSERT_FALSE(paused_reason.empty()) << j["events"].dump(2) << d.Log();
  EXPECT_EQ(paused_reason.rfind("paused until 02:00 UTC: ", 0), 0u) << paused_reason;
  // "N g/kWh now" is the latest reading, polled on carbond's clock: 50 or 500 at 00:30.
  EXPECT_NE(paused_reason.find(" g/kWh now, 100 then; "), std::string::npos) << paused_reason;
  EXPECT_NE(paused_reason.find(" h of 1 h done; 1 segment planned"), std::string::npos) << paused_reason;
  EXPECT_EQ(resumed_reason.rfind("resumed to the end (1 segment planned", 0), 0u) << resumed_reason;
  EXPECT_NE(resumed_reason.find("; attempt 1"), std::string::npos) << resumed_reason;
  EXPECT_EQ(j["attempts"], 1) << "a pause is not a failed attempt";
  EXPECT_EQ(std::count(path.begin(), path.end(), "waiting>running"), 2) << j["events"].dump(2);

  // The worker checkpointed at the pause and resumed from it.
  const std::string run_dir = j["run_dir"];
  const std::string log = Read(run_dir + "/worker.log");
  EXPECT_NE(log.find("stopped on request at epoch"), std::string::npos) << log;
  EXPECT_NE(log.find("resumed from"), std::string::npos) << log;

  // The same weights as a run never paused.
  ASSERT_EQ(RunWorkerAlone(job, dir / "whole"), 0);
  EXPECT_LT(MaxWeightDiff(CheckpointPath(dir / "whole", 4, 0), CheckpointPath(run_dir, 4, 0)), 1e-6);

  // The epoch cut by the pause has the energy of both its parts (carried in
  // the checkpoint): its metered time exceeds its train+eval time after the
  // resume by at least half the share of the epoch done before the pause.
  long long cut_epoch = 0, cut_step = 0;
  const size_t at = log.find("stopped on request at epoch ");
  ASSERT_EQ(std::sscanf(log.c_str() + at, "stopped on request at epoch %lld step %lld", &cut_epoch, &cut_step), 2);
  {
    double whole_wall = 0;
    for (const json& ep : j["epochs"])
      if (ep["epoch"] != cut_epoch) whole_wall = std::max(whole_wall, ep["wall_s"].get<double>());
    const json& cut = j["epochs"][cut_epoch - 1];
    const double before_pause = static_cast<double>(cut_step) / 1875.0 * whole_wall;  // 60,000 / 32 steps
    std::printf("cut epoch %lld at step %lld: metered %.2f s, train+eval after the resume %.2f s, before the pause about %.2f s\n", cut_epoch, cut_step, cut["energy"]["seconds"].get<double>(), cut["wall_s"].get<double>(), before_pause);
    EXPECT_GT(cut["energy"]["seconds"].get<double>() - cut["wall_s"].get<double>(), 0.5 * before_pause)
        << cut.dump() << "\nstopped at step " << cut_step;
  }

  // Every epoch, with its energy and emissions; emissions.csv has them all.
  ASSERT_EQ(j["epochs"].size(), 4u) << j["epochs"].dump(2);
  double kg = 0;
  for (size_t i = 0; i < 4; ++i) {
    const json& ep = j["epochs"][i];
    EXPECT_EQ(ep["epoch"], static_cast<int>(i + 1));
    EXPECT_EQ(ep["attempt"], 1);
    EXPECT_GT(ep["energy"]["energy_kwh"].get<double>(), 0) << ep.dump();
    ASSERT_TRUE(ep["kg_co2"].is_number()) << ep.dump();
    kg += ep["kg_co2"].get<double>();
  }
  std::ifstream csv(run_dir + "/emissions.csv");
  int lines = 0;
  for (std::string l; std::getline(csv, l);) ++lines;
  EXPECT_EQ(lines, 5);
  auto total = json::parse(Read(run_dir + "/emissions-total.json"));
  EXPECT_NEAR(total[0]["emissions"].get<double>(), kg, 1e-12);

  // The saving counts the segments' time only, against as long from submission.
  ASSERT_TRUE(j["savings"].is_object()) << j.dump(2);
  EXPECT_GT(j["savings"]["saving_pct"].get<double>(), 0) << j["savings"].dump();
  EXPECT_LT(j["savings"]["run_mean_gco2_per_kwh"].get<double>(), 500) << j["savings"].dump();
}

}  // namespace
}  // namespace carbon
