// The command job's supervisor (worker/supervisor.h) on real programs: sh
// scripts that report epochs, report nothing, ignore the stop signal,
// double-fork, exit on their own. Each run's events go to a file and are
// read back with the protocol's decoder, as carbond reads them.
#include "worker/supervisor.h"
#include "worker/job_cgroup.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <cstdio>
#include <sstream>
#include <thread>
#include <variant>
#include <vector>

#include "tests/support/files.h"

namespace carbon::worker {
namespace {

namespace fs = std::filesystem;
using protocol::WorkerExit;

struct Dir {
  Dir() {
    char tmpl[] = "/tmp/carbon-supervisor-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~Dir() { fs::remove_all(path); }
  std::string path;
};

struct Outcome {
  int code = -1;
  std::vector<protocol::Event> events;
  double seconds = 0;
  template <typename T>
  std::vector<T> All() const {
    std::vector<T> out;
    for (const auto& e : events)
      if (auto* t = std::get_if<T>(&e)) out.push_back(*t);
    return out;
  }
};

JobSpec Command(const std::string& yaml_run) {
  auto spec = ParseJobSpec("name: cmd\nrun:\n" + yaml_run, "job.yaml");
  EXPECT_TRUE(spec.ok()) << spec.status().message();
  return spec.ok() ? *spec : JobSpec{};
}

SupervisorOptions Options(const std::string& run_dir, int64_t attempt = 1) {
  SupervisorOptions o;
  o.run_dir = run_dir;
  o.job_id = 7;
  o.attempt = attempt;
  o.meter.measure_power_secs = 0.2;
  o.meter.fallback = GridReading{};
  o.meter.fallback->gco2_per_kwh = 100;
  o.meter.fallback->source = "fixed";
  o.meter.tracker.try_nvml = false;
  o.poll = std::chrono::milliseconds(20);
  return o;
}

// Runs the command to its end; `stop_when` (if set) is polled and sets the
// stop flag once true, as the worker's SIGTERM handler does.
Outcome Supervise(const JobSpec& spec, const SupervisorOptions& o, std::function<bool()> stop_when = nullptr) {
  static std::atomic<int> calls{0};  // a file of its own: two runs may overlap
  const std::string events_file = o.run_dir + "/events-" + std::to_string(calls++) + ".jsonl";
  std::atomic<bool> stop{false};
  std::atomic<bool> done{false};
  std::thread watcher;
  if (stop_when)
    watcher = std::thread([&] {
      while (!done.load() && !stop_when()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      stop.store(true);
    });
  Outcome r;
  const auto t0 = std::chrono::steady_clock::now();
  {
    EventChannel channel(-1, events_file);
    r.code = RunCommand(spec, o, channel, stop);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  done.store(true);
  if (watcher.joinable()) watcher.join();
  protocol::EventStreamDecoder decoder;
  decoder.Feed(fakes::ReadAll(events_file), [&](StatusOr<protocol::Event> e, std::string_view line) {
    EXPECT_TRUE(e.ok()) << line;
    if (e.ok()) r.events.push_back(*e);
  });
  fs::remove(events_file);
  return r;
}

bool Exists(const std::string& path) { return fs::exists(path); }

// Processes whose command line holds `tag` (a test's own marker).
int ProcessesWith(const std::string& tag) {
  int n = 0;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmd.find(tag) != std::string::npos && entry.path().filename() != std::to_string(::getpid())) ++n;
  }
  return n;
}

TEST(Supervisor, ReportedEpochsBecomeRowsWithTheirMetricsAndTheTreesEnergy) {
  Dir d;
  auto spec = Command(
      "  command: [sh, -c, 'env > env.txt; for i in 1 2 3; do echo step $i; "
      "echo \"{\\\"v\\\":1,\\\"event\\\":\\\"epoch\\\",\\\"epoch\\\":$i,\\\"train_loss\\\":0.$i,"
      "\\\"test_accuracy\\\":0.8$i,\\\"samples\\\":600}\" >> \"$CARBOND_EVENTS\"; sleep 0.3; done']\n"
      "  env: {GREETING: hello}\n");
  Outcome r = Supervise(spec, Options(d.path));
  ASSERT_EQ(r.code, protocol::ExitCode(WorkerExit::kOk));
  auto epochs = r.All<protocol::Epoch>();
  ASSERT_EQ(epochs.size(), 3u);  // the 0.3 s after the last report is less than a row's worth
  for (int i = 0; i < 3; ++i) {
    const EpochRecord& e = epochs[i].record;
    EXPECT_EQ(e.epoch, i + 1);
    EXPECT_DOUBLE_EQ(e.train_loss, 0.1 * (i + 1));
    EXPECT_EQ(e.samples, 600);
    EXPECT_GT(e.energy_kwh, 0);
    ASSERT_TRUE(e.kg_co2);
    EXPECT_NEAR(*e.kg_co2, e.energy_kwh * 0.1, 1e-12);  // 100 g/kWh
    EXPECT_EQ(e.memory_method, "tree-rss");
    EXPECT_GT(e.peak_memory_bytes, 0);
  }
  ASSERT_EQ(r.All<protocol::Finished>().size(), 1u);
  EXPECT_DOUBLE_EQ(r.All<protocol::Finished>()[0].test_accuracy, 0.83);
  EXPECT_EQ(r.All<protocol::Started>().size(), 1u);
  // Its output went to the bounded log, and it had carbond's environment.
  EXPECT_NE(fakes::ReadAll(d.path + "/output.log").find("step 3"), std::string::npos);
  const std::string env = fakes::ReadAll(d.path + "/env.txt");  // workdir: the run directory
  for (const std::string& want : std::vector<std::string>{
           "CARBOND_JOB_ID=7\n", "CARBOND_ATTEMPT=1\n", "CARBOND_RUN_DIR=" + d.path + "\n",
        "CARBOND_CHECKPOINT_DIR=" + d.path + "/checkpoints\n", "CARBOND_EVENTS=" + d.path + "/program-events.jsonl\n",
        "CARBOND_STOP_SIGNAL=SIGTERM\n", "GREETING=hello\n"})
    EXPECT_NE(env.find(want), std::string::npos) << want;
  EXPECT_EQ(env.find("CARBOND_RESUME="), std::string::npos);
  EXPECT_TRUE(fs::is_directory(d.path + "/checkpoints"));
}

TEST(Supervisor, CheckpointKeepRemovesTheOldestReportedCheckpoints) {
  Dir d;
  // Four checkpoints reported in the folder, one outside it; keep 2.
  auto spec = ParseJobSpec(
      "name: keep\ncheckpoint: {keep: 2}\nrun:\n  command: [sh, -c, 'for i in 1 2 3 4; do "
      "f=$CARBOND_CHECKPOINT_DIR/ck-$i.pt; echo x > $f; echo \"{\\\"v\\\":1,\\\"event\\\":\\\"checkpoint\\\","
      "\\\"epoch\\\":$i,\\\"path\\\":\\\"$f\\\"}\" >> $CARBOND_EVENTS; sleep 0.15; done; echo y > mine.pt; "
      "echo \"{\\\"v\\\":1,\\\"event\\\":\\\"checkpoint\\\",\\\"path\\\":\\\"mine.pt\\\"}\" >> $CARBOND_EVENTS; "
      "sleep 0.15']\n",
      "job.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  Outcome r = Supervise(*spec, Options(d.path));
  ASSERT_EQ(r.code, protocol::ExitCode(WorkerExit::kOk));
  EXPECT_EQ(r.All<protocol::Checkpoint>().size(), 5u);
  for (int i : {1, 2}) EXPECT_FALSE(Exists(d.path + "/checkpoints/ck-" + std::to_string(i) + ".pt")) << i;
  for (int i : {3, 4}) EXPECT_TRUE(Exists(d.path + "/checkpoints/ck-" + std::to_string(i) + ".pt")) << i;
  EXPECT_TRUE(Exists(d.path + "/mine.pt"));  // outside the checkpoint folder: left alone
}

TEST(Supervisor, AProgramThatReportsNothingGetsARowEveryReportEveryAndOneForTheRest) {
  Dir d;
  auto spec = Command("  command: [sleep, '2.6']\n  report_every: 1s\n");
  Outcome r = Supervise(spec, Options(d.path));
  ASSERT_EQ(r.code, protocol::ExitCode(WorkerExit::kOk));
  auto epochs = r.All<protocol::Epoch>();
  ASSERT_EQ(epochs.size(), 3u);  // at 1 s, 2 s, and the last 0.6 s at the exit
  double seconds = 0;
  for (size_t i = 0; i < epochs.size(); ++i) {
    EXPECT_EQ(epochs[i].record.epoch, static_cast<int64_t>(i + 1));
    ASSERT_TRUE(epochs[i].record.energy_s);
    seconds += *epochs[i].record.energy_s;
  }
  EXPECT_GE(epochs[0].record.wall_s, 1.0);
  EXPECT_NEAR(seconds, r.seconds, 0.5);  // the rows cover the whole run
}

TEST(Supervisor, AStubbornTreeIsKilledAfterTheGraceAndTheStopIsWhatWasAsked) {
  Dir d;
  const std::string tag = "stubborn-" + std::to_string(::getpid());
  // The program ignores SIGTERM and double-forks a grandchild into its own
  // session that ignores it too.
  auto spec = Command("  command: [sh, -c, 'trap \"\" TERM; (setsid sh -c \"trap \\\"\\\" TERM; while :; do sleep "
                      "0.1; done; : " + tag + "\" &); touch started; while :; do sleep 0.1; done; : " + tag +
                      "']\n  stop_grace: 1s\n");
  Outcome r = Supervise(spec, Options(d.path), [&] { return Exists(d.path + "/started") && ProcessesWith(tag) >= 2; });
  EXPECT_EQ(r.code, protocol::ExitCode(WorkerExit::kInterrupted));
  EXPECT_LT(r.seconds, 1.0 + 5.0);
  EXPECT_EQ(ProcessesWith(tag), 0) << "a process of the job outlived it";
  ASSERT_EQ(r.All<protocol::Interrupted>().size(), 1u);
  EXPECT_TRUE(Exists(d.path + "/carried-energy.json"));  // the cut row's energy is kept
}

TEST(Supervisor, TheProgramIsInACgroupOfItsOwnWhereOneCanBeMade) {
  Dir d;
  std::string why;
  auto probe = JobCgroup::Make("carbond-probe-" + std::to_string(::getpid()), &why);
  if (!probe) GTEST_SKIP() << "no cgroup v2 to write here: " << why;
  probe.reset();
  const std::string tag = "cg-" + std::to_string(::getpid());
  // A grandchild that leaves the session and the process group: the cgroup still holds it.
  auto spec = Command("  command: [sh, -c, 'cat /proc/self/cgroup > cgroup.txt; (setsid sleep 30 " + tag +
                      " &); touch started; sleep 30']\n  stop_grace: 1s\n");
  Outcome r = Supervise(spec, Options(d.path), [&] { return Exists(d.path + "/started"); });
  EXPECT_EQ(r.code, protocol::ExitCode(WorkerExit::kInterrupted));
  const std::string cg = fakes::ReadAll(d.path + "/cgroup.txt");
  EXPECT_NE(cg.find("0::"), std::string::npos) << cg;
  EXPECT_NE(cg.find("/carbond-job-7-1-"), std::string::npos) << cg;
  EXPECT_EQ(ProcessesWith(tag), 0);
  // The cgroup is gone with the job.
  const std::string line = cg.substr(cg.find("0::") + 3, cg.find('\n', cg.find("0::")) - cg.find("0::") - 3);
  const std::string name = line.substr(line.rfind('/') + 1);
  std::string left;
  for (const auto& entry : fs::recursive_directory_iterator("/sys/fs/cgroup", fs::directory_options::skip_permission_denied))
    if (entry.path().filename() == name) left = entry.path();
  EXPECT_EQ(left, "") << "the job's cgroup was left behind";
}

TEST(Supervisor, AnExitAfterTheStopIsTheStopWhateverItsCode) {
  Dir d;
  // Exits 0 at once on SIGTERM: carbond asked, so it is interrupted, not succeeded.
  auto spec = Command("  command: [sh, -c, 'trap \"exit 0\" TERM; touch started; while :; do sleep 0.05; done']\n");
  Outcome r = Supervise(spec, Options(d.path), [&] { return Exists(d.path + "/started"); });
  EXPECT_EQ(r.code, protocol::ExitCode(WorkerExit::kInterrupted));
  EXPECT_TRUE(r.All<protocol::Finished>().empty());
  EXPECT_EQ(r.All<protocol::Interrupted>().size(), 1u);
}

TEST(Supervisor, TheStopSignalIsTheOneTheJobNames) {
  Dir d;
  auto spec = Command("  command: [sh, -c, 'trap \"echo got USR1 > sig.txt; exit 0\" USR1; touch started; "
                      "while :; do sleep 0.05; done']\n  stop_signal: USR1\n");
  Outcome r = Supervise(spec, Options(d.path), [&] { return Exists(d.path + "/started"); });
  EXPECT_EQ(r.code, protocol::ExitCode(WorkerExit::kInterrupted));
  EXPECT_EQ(fakes::ReadAll(d.path + "/sig.txt"), "got USR1\n");
}

TEST(Supervisor, ExitCodesDecide75ResumesOthersFail) {
  {
    Dir d;
    Outcome r = Supervise(Command("  command: [sh, -c, 'exit 75']\n"), Options(d.path));
    EXPECT_EQ(r.code, protocol::ExitCode(WorkerExit::kInterrupted));
  }
  {
    Dir d;
    Outcome r = Supervise(Command("  command: [sh, -c, 'echo Traceback: boom >&2; exit 3']\n"), Options(d.path));
    EXPECT_EQ(r.code, protocol::ExitCode(WorkerExit::kFailed));
    auto failed = r.All<protocol::Failed>();
    ASSERT_EQ(failed.size(), 1u);
    EXPECT_NE(failed[0].message.find("exited with status 3"), std::string::npos) << failed[0].message;
    EXPECT_TRUE(failed[0].retryable);
  }
  {
    Dir d;
    Outcome r = Supervise(Command("  command: [sh, -c, 'kill -9 $$']\n"), Options(d.path));
    EXPECT_EQ(r.code, protocol::ExitCode(WorkerExit::kFailed));
    ASSERT_EQ(r.All<protocol::Failed>().size(), 1u);
    EXPECT_NE(r.All<protocol::Failed>()[0].message.find("signal 9"), std::string::npos);
  }
}

TEST(Supervisor, AProgramNotInPathFailsAtOnceNotRetried) {
  Dir d;
  Outcome r = Supervise(Command("  command: [no-such-trainer-xyz, --epochs, '3']\n  env: {PATH: /usr/bin}\n"),
                    Options(d.path));
  EXPECT_EQ(r.code, protocol::ExitCode(WorkerExit::kRejected));
  auto failed = r.All<protocol::Failed>();
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_FALSE(failed[0].retryable);
  EXPECT_NE(failed[0].message.find("no-such-trainer-xyz"), std::string::npos);
  EXPECT_NE(failed[0].message.find("/usr/bin"), std::string::npos);
  // And a workdir that is not there.
  Outcome w = Supervise(Command("  command: [true]\n  workdir: /no/such/dir\n"), Options(d.path));
  EXPECT_EQ(w.code, protocol::ExitCode(WorkerExit::kRejected));
  ASSERT_EQ(w.All<protocol::Failed>().size(), 1u);
  EXPECT_NE(w.All<protocol::Failed>()[0].message.find("/no/such/dir"), std::string::npos);
}

TEST(Supervisor, AResumedRunIsToldSoContinuesTheRowsAndKeepsTheCutEnergy) {
  Dir d;
  auto spec = Command("  command: [sh, -c, 'env > env.txt; touch started; while :; do sleep 0.05; done']\n"
                      "  report_every: 1s\n");
  Outcome first = Supervise(spec, Options(d.path), [&] { return Exists(d.path + "/started"); });
  ASSERT_EQ(first.code, protocol::ExitCode(WorkerExit::kInterrupted));
  EXPECT_TRUE(first.All<protocol::Epoch>().empty());
  fs::remove(d.path + "/started");
  auto second_spec = Command("  command: [sh, -c, 'env > env.txt; sleep 1.3']\n  report_every: 1s\n");
  Outcome second = Supervise(second_spec, Options(d.path));
  ASSERT_EQ(second.code, protocol::ExitCode(WorkerExit::kOk));
  EXPECT_NE(fakes::ReadAll(d.path + "/env.txt").find("CARBOND_RESUME=1\n"), std::string::npos);
  auto rows = second.All<protocol::Epoch>();
  ASSERT_GE(rows.size(), 1u);
  EXPECT_EQ(rows[0].record.epoch, 1);
  ASSERT_TRUE(rows[0].record.energy_s);
  // The first row holds the cut segment's seconds as well as its own.
  EXPECT_GT(*rows[0].record.energy_s, 1.0 + 0.01);
  EXPECT_FALSE(Exists(d.path + "/carried-energy.json"));
  EXPECT_EQ(second.All<protocol::Started>().at(0).resumed_epoch, 0);
}

// Two busy "ranks" for a second each, then the shell's `times`: the CPU
// seconds of its waited-for children, what the tree used.
const char* const kTwoRanks =
    "  command: [sh, -c, '(timeout 1 sh -c \"while :; do :; done\") & (timeout 1 sh -c \"while :; do :; done\") & "
    "wait; times > times.txt']\n";

// The children's user + system seconds from the second line of `times`.
double ChildrenCpuSeconds(const std::string& times) {
  std::istringstream in(times);
  std::string line;
  std::getline(in, line);
  std::getline(in, line);
  int um = 0, sm = 0;
  double us = 0, ss = 0;
  EXPECT_EQ(std::sscanf(line.c_str(), "%dm%lfs %dm%lfs", &um, &us, &sm, &ss), 4) << times;
  return um * 60 + us + sm * 60 + ss;
}

TEST(Supervisor, ProcessModeCountsTheCpuTimeOfEveryProcessInTheTree) {
  Dir d;
  SupervisorOptions o = Options(d.path);
  o.meter.tracker.tracking_mode = energy::TrackingMode::kProcess;
  Outcome r = Supervise(Command(kTwoRanks), o);
  ASSERT_EQ(r.code, protocol::ExitCode(WorkerExit::kOk));
  const double children = ChildrenCpuSeconds(fakes::ReadAll(d.path + "/times.txt"));
  double metered = 0;
  for (const auto& e : r.All<protocol::Epoch>()) {
    EXPECT_EQ(e.record.tracking_mode, "process");
    ASSERT_TRUE(e.process_cpu_s);
    metered += *e.process_cpu_s;
  }
  // Both ranks' time (one alone would be about half); a tick's rounding per process.
  EXPECT_GE(metered, children - 0.05) << "children used " << children << " s of CPU";
  EXPECT_GT(children, 0.2);
}

TEST(Supervisor, MachineModeMetersTheMachineOnceHoweverManyRanks) {
  Dir d;
  SupervisorOptions o = Options(d.path);
  energy::EnergyTracker probe(o.meter.tracker);  // the same meters, for the machine's CPU power
  Outcome r = Supervise(Command(kTwoRanks), o);
  ASSERT_EQ(r.code, protocol::ExitCode(WorkerExit::kOk));
  auto rows = r.All<protocol::Epoch>();
  ASSERT_EQ(rows.size(), 1u);
  const EpochRecord& e = rows[0].record;
  EXPECT_EQ(e.tracking_mode, "machine");
  EXPECT_FALSE(rows[0].process_cpu_s);
  // One meter for the job: its CPU power is at most the machine's, not one machine's per rank.
  if (e.cpu_method == "tdp-model") {
    EXPECT_LE(e.cpu_w, probe.cpu_tdp_watts() * 1.0001) << "TDP " << probe.cpu_tdp_watts();
  }
  EXPECT_GT(e.cpu_w, 0);
}

TEST(Supervisor, ATreeOverTheMemoryLimitIsKilledAndTheJobFailsNotRetried) {
  Dir d;
  const std::string tag = "hog-" + std::to_string(::getpid());
  SupervisorOptions o = Options(d.path);
  o.memory_limit = 100ll << 20;
  // A grandchild holds 300 MiB; the supervisor sees the tree, not its top.
  auto spec = Command("  command: [sh, -c, '/usr/bin/python3 -c \"import time; b = b\\\"x\\\" * (300 << 20); "
                      "time.sleep(60)\" " + tag + "; true']\n");
  Outcome r = Supervise(spec, o);
  EXPECT_EQ(r.code, protocol::ExitCode(WorkerExit::kOutOfMemory));
  auto failed = r.All<protocol::Failed>();
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_FALSE(failed[0].retryable);
  EXPECT_NE(failed[0].message.find("over worker.memory_limit 100 MiB"), std::string::npos) << failed[0].message;
  EXPECT_LT(r.seconds, 30);
  EXPECT_EQ(ProcessesWith(tag), 0);
}

// After a carbond crash the next attempt may start while the previous
// supervisor still stops its program: the new one waits for it.
TEST(Supervisor, ANewAttemptWaitsForThePreviousSupervisorOfItsRunDirectory) {
  Dir d;
  auto slow_stop = Command("  command: [sh, -c, 'trap \"sleep 1; echo first-done >> order.txt; exit 0\" TERM; "
                           "touch started; while :; do sleep 0.05; done']\n  stop_grace: 10s\n");
  std::atomic<bool> stop_first{false};
  Outcome first;
  std::thread t([&] {
    first = Supervise(slow_stop, Options(d.path), [&] { return stop_first.load(); });
  });
  for (int i = 0; i < 200 && !Exists(d.path + "/started"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(Exists(d.path + "/started"));
  stop_first.store(true);  // the first now takes about 1 s to stop
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  Outcome second = Supervise(Command("  command: [sh, -c, 'echo second-ran >> order.txt']\n"), Options(d.path, 2));
  t.join();
  EXPECT_EQ(first.code, protocol::ExitCode(WorkerExit::kInterrupted));
  EXPECT_EQ(second.code, protocol::ExitCode(WorkerExit::kOk));
  EXPECT_EQ(fakes::ReadAll(d.path + "/order.txt"), "first-done\nsecond-ran\n");
}

TEST(Supervisor, TheTreeHoldsEveryDescendant) {
  // A child and its double-forked grandchild are both in the tree of this process.
  const std::string tag = "tree-" + std::to_string(::getpid());
  pid_t child = ::fork();
  if (child == 0) {
    ::execl("/bin/sh", "sh", "-c", ("(sleep 3; : " + tag + ") & sleep 3; : " + tag).c_str(), nullptr);
    ::_exit(127);
  }
  std::vector<std::string> tree;
  for (int i = 0; i < 200 && tree.size() < 4; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    tree = energy::ProcessTree("/proc", "self");
  }
  EXPECT_EQ(tree.front(), std::to_string(::getpid()));
  EXPECT_NE(std::find(tree.begin(), tree.end(), std::to_string(child)), tree.end());
  EXPECT_GE(tree.size(), 4u);  // this process, sh, the subshell and their sleeps
  // The kernel's children lists and a scan of every process agree.
  std::vector<std::string> scanned = energy::ProcessTree("/proc", "self", /*full_scan=*/true);
  std::sort(tree.begin(), tree.end());
  std::sort(scanned.begin(), scanned.end());
  EXPECT_EQ(tree, scanned);
  ::kill(-child, SIGKILL);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  EXPECT_TRUE(energy::ProcessTree("/proc", "999999999").empty());
}

}  // namespace
}  // namespace carbon::worker
