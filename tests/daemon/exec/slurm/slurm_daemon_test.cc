// carbond with a Slurm site (issue 20), end to end on a real single-node
// cluster on localhost: carbond and carbonctl as processes, Slurm's own
// commands to look at what Slurm sees. A waiting job is held in Slurm's
// queue and released at its planned start; real LibTorch training runs
// through Slurm with its epochs and emissions.csv; cancel while held and
// while running; carbond SIGKILLed while its job runs adopts it (attempts
// stays 1); the controller stopped and started keeps every job (health
// degraded, then ok); a job scancelled from outside fails with that reason;
// a job Slurm requeues resumes from its checkpoint; an unknown site and a
// bad Slurm config are clear errors.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/time_util.h"
#include "tests/daemon/exec/slurm/slurm_cluster.h"
#include "tests/support/daemon_process.h"
#include "tests/support/files.h"

namespace carbon {
namespace {

using fakes::DaemonProcess;
using fakes::RunCommand;
using fakes::StateIs;
using nlohmann::json;

constexpr const char* kData = "/usr/share/datasets/fashion-mnist";

class SlurmDaemonTest : public fakes::SlurmClusterTest {
 protected:
  // carbond with two sites: "box" (local, the default) and "cluster" (Slurm).
  std::unique_ptr<DaemonProcess> Carbond(const std::string& worker, const std::string& extra = "") {
    return std::make_unique<DaemonProcess>(dir_, worker, Sites(worker) + extra);
  }
  // The config after carbond.yaml's worker: block: the two sites.
  std::string Sites(const std::string& worker) const {
    return "  cancel_grace: 10s\nscheduler: {tick: 200ms}\nsites:\n"
           "  - {name: box, executor: local, zone: GB}\n"
           "  - name: cluster\n    executor: slurm\n    zone: GB\n    slots: 4\n    slurm:\n"
           "      conf: " + cluster_->conf() + "\n      run_root: " + Shared() +
           "\n      worker_path: " + worker + "\n      poll: 300ms\n";
  }
  std::string Shared() const { return dir_ / "shared"; }
  // Slurm's view of one job: "ID|STATE|REASON|NAME|COMMENT", or "".
  std::string SqueueRow(int64_t slurm_id) {
    auto r = RunCommand({"/usr/bin/squeue", "-h", "-t", "all", "-o", "%i|%T|%r|%j|%k"},
                        {"SLURM_CONF=" + cluster_->conf()});
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);)
      if (line.rfind(std::to_string(slurm_id) + "|", 0) == 0) return line;
    return "";
  }
  fakes::CmdResult Slurm(const std::string& tool, std::vector<std::string> args) {
    args.insert(args.begin(), "/usr/bin/" + tool);
    return RunCommand(args, {"SLURM_CONF=" + cluster_->conf()});
  }
  // Polls the job until `pred` holds or `seconds` pass.
  template <typename Pred>
  json Wait(DaemonProcess& d, int64_t id, Pred pred, int seconds = 60) {
    json j;
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (std::chrono::steady_clock::now() < end) {
      auto r = d.Ctl({"-o", "json", "status", std::to_string(id)});
      if (r.exit_code == 0) {
        j = json::parse(r.out);
        if (pred(j)) return j;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "job " << id << " never got there; last: " << j.dump() << "\n" << d.Log();
    return j;
  }
  json Health(DaemonProcess& d) {
    auto r = d.Ctl({"health"});
    return r.exit_code == 0 ? json::parse(r.out) : json();
  }
  std::string Job(const std::string& name, const std::string& carbon) {
    const std::string path = dir_ / (name + ".yaml");
    std::ofstream(path) << "name: " << name << "\ncarbon: " << carbon << "\n";
    return path;
  }
  std::string TrainingJob(const std::string& name, int epochs, int train_limit, const std::string& carbon) {
    const std::string path = dir_ / (name + ".yaml");
    std::ofstream(path) << "name: " << name << "\ncarbon: " << carbon << "\nmodel: {arch: mlp, hidden: [64]}\n"
                        << "data: {path: " << kData << ", train_limit: " << train_limit << ", test_limit: 500}\n"
                        << "train: {epochs: " << epochs << ", batch_size: 32, threads: 1}\n"
                        << "checkpoint: {every_epochs: 1}\n";
    return path;
  }

  fakes::TempDir dir_;
};

TEST_F(SlurmDaemonTest, AWaitingJobIsHeldInSlurmAndReleasedAtItsPlannedStart) {
  auto d = Carbond(FAKE_WORKER_BIN);
  ASSERT_TRUE(d->Start()) << d->Log();
  const Timestamp start = SystemClock().Now() + std::chrono::seconds(6);
  const int64_t id = fakes::Submit(*d, Job("later", "{policy: immediate, not_before: " + FormatTime(start) + ", sites: [cluster]}"));
  json j = Wait(*d, id, [](const json& x) { return x["slurm_job_id"].is_number(); }, 20);
  const int64_t slurm = j["slurm_job_id"].get<int64_t>();
  EXPECT_EQ(j["site"], "cluster");
  EXPECT_EQ(j["state"], "waiting");
  // Slurm's users see it held, with carbond's comment naming the job.
  const std::string row = SqueueRow(slurm);
  EXPECT_NE(row.find("|PENDING|JobHeldUser|carbond-" + std::to_string(id) + "|carbond:" + std::to_string(id) + ":"),
            std::string::npos)
      << row;
  j = Wait(*d, id, [](const json& x) { return x["reason"].get<std::string>().find("held in Slurm as job") != std::string::npos; }, 10);
  EXPECT_NE(j["reason"].get<std::string>().find("held in Slurm as job " + std::to_string(slurm) + " at site cluster"),
            std::string::npos)
      << j.dump();
  EXPECT_LT(SystemClock().Now(), start);  // still before its start
  j = Wait(*d, id, StateIs("succeeded"), 40);
  EXPECT_EQ(j["slurm_job_id"], slurm);  // the same Slurm job, released
  // Times are stored to the millisecond: a release in the same millisecond
  // as `start` reads back as up to 1 ms before it.
  EXPECT_GE(*ParseTime(j["started_at"].get<std::string>()), std::chrono::floor<std::chrono::milliseconds>(start));
  EXPECT_EQ(j["attempts"], 1);
  EXPECT_NE(SqueueRow(slurm).find("|COMPLETED|"), std::string::npos) << SqueueRow(slurm);
  // carbonctl status names the site and the Slurm job.
  auto st = d->Ctl({"status", std::to_string(id)});
  EXPECT_NE(st.out.find("site:          cluster (Slurm job " + std::to_string(slurm) + ")"), std::string::npos)
      << st.out;
  // The worker's events came through the events file in run_root.
  EXPECT_TRUE(std::filesystem::exists(Shared() + "/" + std::to_string(id) + "/events.jsonl"));
  ASSERT_EQ(j["epochs"].size(), 1u) << j.dump();
  // A job that names no site runs at the default site, locally.
  const int64_t local = fakes::Submit(*d, Job("here", "{policy: immediate}"));
  j = Wait(*d, local, StateIs("succeeded"), 20);
  EXPECT_EQ(j["site"], "box");
  EXPECT_TRUE(j["slurm_job_id"].is_null());
}

TEST_F(SlurmDaemonTest, RealTrainingRunsThroughSlurmWithItsEpochsAndEmissions) {
  if (std::string(CARBON_WORKER_BIN).empty()) GTEST_SKIP() << "carbon-worker is not built (no LibTorch)";
  ASSERT_TRUE(std::filesystem::exists(std::string(kData) + "/train-images-idx3-ubyte.gz"))
      << "install Debian's dataset-fashion-mnist (scripts/install-deps.sh does)";
  auto d = Carbond(CARBON_WORKER_BIN);
  ASSERT_TRUE(d->Start()) << d->Log();
  const int64_t id = fakes::Submit(*d, TrainingJob("mlp-slurm", 2, 2000, "{policy: immediate, sites: [cluster]}"));
  json j = Wait(*d, id, StateIs("succeeded"), 240);
  EXPECT_EQ(j["attempts"], 1);
  EXPECT_TRUE(j["slurm_job_id"].is_number());
  ASSERT_EQ(j["epochs"].size(), 2u) << j.dump();
  for (const auto& ep : j["epochs"]) {
    EXPECT_GT(ep["energy"]["energy_kwh"].get<double>(), 0) << ep.dump();
    EXPECT_GT(ep["kg_co2"].get<double>(), 0) << ep.dump();
    EXPECT_EQ(ep["zone"], "GB");
  }
  EXPECT_GT(j["progress"]["test_accuracy"].get<double>(), 0.5) << j.dump();
  const std::string run = Shared() + "/" + std::to_string(id);
  EXPECT_EQ(j["run_dir"], run);
  // emissions.csv: the header and one row per epoch; the total once the job is over.
  std::ifstream csv(run + "/emissions.csv");
  int lines = 0;
  for (std::string line; std::getline(csv, line);) ++lines;
  EXPECT_EQ(lines, 3);
  EXPECT_TRUE(std::filesystem::exists(run + "/emissions-total.csv"));
  EXPECT_TRUE(std::filesystem::exists(run + "/checkpoint-2-0.pt"));  // the last epoch's checkpoint, in the shared run dir
}

// A command job at a Slurm site: the batch script runs the same supervisor,
// which reports the program's epochs and, on a cancel, sends the program the
// job's own stop signal (USR1 here), not Slurm's TERM.
TEST_F(SlurmDaemonTest, ACommandJobRunsInTheBatchJobAndHearsItsOwnStopSignal) {
  if (std::string(CARBON_WORKER_BIN).empty()) GTEST_SKIP() << "carbon-worker is not built (no LibTorch)";
  auto d = Carbond(CARBON_WORKER_BIN);
  ASSERT_TRUE(d->Start()) << d->Log();
  const std::string done = dir_ / "done.yaml";
  std::ofstream(done) << "name: cmd-slurm\nrun:\n  command: [sh, -c, 'echo $SLURM_JOB_ID > slurm_id.txt; "
                         "for i in 1 2; do echo \"{\\\"v\\\":1,\\\"event\\\":\\\"epoch\\\",\\\"epoch\\\":$i,"
                         "\\\"train_loss\\\":0.5}\" >> $CARBOND_EVENTS; done']\n  gpus: 0\n"
                         "carbon: {policy: immediate, sites: [cluster]}\n";
  const int64_t id = fakes::Submit(*d, done);
  json j = Wait(*d, id, StateIs("succeeded"), 120);
  ASSERT_EQ(j["epochs"].size(), 2u) << j.dump();
  EXPECT_DOUBLE_EQ(j["epochs"][1]["train_loss"].get<double>(), 0.5);
  EXPECT_GT(j["epochs"][0]["energy"]["energy_kwh"].get<double>(), 0) << j.dump();
  const std::string run = Shared() + "/" + std::to_string(id);
  std::ifstream slurm_id(run + "/slurm_id.txt");
  int64_t in_job = 0;
  slurm_id >> in_job;
  EXPECT_EQ(in_job, j["slurm_job_id"].get<int64_t>()) << "the program ran inside the Slurm job";

  const std::string stop = dir_ / "stop.yaml";
  std::ofstream(stop) << "name: cmd-stop\nrun:\n  command: [sh, -c, 'trap \"\" TERM; trap \"echo USR1 > got.txt; "
                         "exit 0\" USR1; touch started; while :; do sleep 0.1; done']\n  stop_signal: USR1\n"
                         "  gpus: 0\ncarbon: {policy: immediate, sites: [cluster]}\n";
  const int64_t stopped = fakes::Submit(*d, stop);
  const std::string stop_run = Shared() + "/" + std::to_string(stopped);
  for (int i = 0; i < 600 && !std::filesystem::exists(stop_run + "/started"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(std::filesystem::exists(stop_run + "/started")) << d->Log();
  ASSERT_EQ(d->Ctl({"cancel", std::to_string(stopped)}).exit_code, 0);
  j = Wait(*d, stopped, StateIs("cancelled"), 60);
  std::ifstream got(stop_run + "/got.txt");
  std::string word;
  got >> word;
  EXPECT_EQ(word, "USR1");
}

TEST_F(SlurmDaemonTest, CancelRemovesAHeldJobAtOnceAndStopsARunningOne) {
  auto d = Carbond(FAKE_WORKER_BIN);
  ASSERT_TRUE(d->Start()) << d->Log();
  const std::string later = FormatTime(SystemClock().Now() + std::chrono::hours(2));
  const int64_t held = fakes::Submit(*d, Job("held", "{policy: immediate, not_before: " + later + ", sites: [cluster]}"));
  json j = Wait(*d, held, [](const json& x) { return x["slurm_job_id"].is_number(); }, 20);
  const int64_t held_slurm = j["slurm_job_id"].get<int64_t>();
  ASSERT_EQ(d->Ctl({"cancel", std::to_string(held)}).exit_code, 0);
  Wait(*d, held, StateIs("cancelled"), 5);
  for (int i = 0; i < 50 && SqueueRow(held_slurm).find("|CANCELLED|") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_NE(SqueueRow(held_slurm).find("|CANCELLED|"), std::string::npos) << SqueueRow(held_slurm);

  const int64_t run = fakes::Submit(*d, Job("slow", "{policy: immediate, sites: [cluster]}"));
  j = Wait(*d, run, [](const json& x) { return x["progress"].is_object(); }, 30);  // the worker started
  const int64_t run_slurm = j["slurm_job_id"].get<int64_t>();
  ASSERT_EQ(d->Ctl({"cancel", std::to_string(run)}).exit_code, 0);
  j = Wait(*d, run, StateIs("cancelled"), 30);
  EXPECT_EQ(j["attempts"], 1);
  // TERM reached the worker: it checkpointed and said so.
  EXPECT_EQ(j["progress"]["event"], "interrupted") << j.dump();
  EXPECT_EQ(SqueueRow(run_slurm).find("|RUNNING|"), std::string::npos) << SqueueRow(run_slurm);
}

TEST_F(SlurmDaemonTest, ASigkilledCarbondAdoptsItsRunningSlurmJobAndNeverRunsItTwice) {
  auto d = Carbond(FAKE_WORKER_BIN);
  ASSERT_TRUE(d->Start()) << d->Log();
  const int64_t id = fakes::Submit(*d, Job("slow", "{policy: immediate, sites: [cluster]}"));
  json j = Wait(*d, id, [](const json& x) { return x["progress"].is_object(); }, 30);
  const int64_t slurm = j["slurm_job_id"].get<int64_t>();
  d->Kill(SIGKILL);
  // The Slurm job runs on without carbond.
  EXPECT_NE(SqueueRow(slurm).find("|RUNNING|"), std::string::npos) << SqueueRow(slurm);
  ASSERT_TRUE(d->Start()) << d->Log();
  j = Wait(*d, id, StateIs("running"), 5);
  EXPECT_EQ(j["attempts"], 1);
  EXPECT_NE(d->Log().find("adopted Slurm job " + std::to_string(slurm)), std::string::npos) << d->Log();
  // A stop (SIGTERM) drains local workers but leaves Slurm's jobs running;
  // the next carbond adopts it again.
  d->Signal(SIGTERM);
  EXPECT_EQ(d->Wait(std::chrono::seconds(10)), 0);
  EXPECT_NE(SqueueRow(slurm).find("|RUNNING|"), std::string::npos) << SqueueRow(slurm);
  ASSERT_TRUE(d->Start()) << d->Log();
  EXPECT_EQ(Wait(*d, id, StateIs("running"), 5)["attempts"], 1);
  // Followed to its end: a cancel reaches the same Slurm job.
  ASSERT_EQ(d->Ctl({"cancel", std::to_string(id)}).exit_code, 0);
  j = Wait(*d, id, StateIs("cancelled"), 30);
  EXPECT_EQ(j["attempts"], 1);
  EXPECT_EQ(j["slurm_job_id"], slurm);
  // One start of the worker: <run_dir>/attempts has one line.
  std::ifstream attempts(Shared() + "/" + std::to_string(id) + "/attempts");
  int starts = 0;
  for (std::string line; std::getline(attempts, line);) ++starts;
  EXPECT_EQ(starts, 1);
}

TEST_F(SlurmDaemonTest, AStoppedControllerKeepsEveryJobAndHealthSaysDegradedUntilItIsBack) {
  auto d = Carbond(FAKE_WORKER_BIN);
  ASSERT_TRUE(d->Start()) << d->Log();
  const Timestamp start = SystemClock().Now() + std::chrono::seconds(25);
  const int64_t held = fakes::Submit(*d, Job("held", "{policy: immediate, not_before: " + FormatTime(start) + ", sites: [cluster]}"));
  Wait(*d, held, [](const json& x) { return x["slurm_job_id"].is_number(); }, 20);
  EXPECT_EQ(Health(*d)["status"], "ok");
  cluster_->StopController();
  // A job submitted while Slurm is down waits with the reason.
  const int64_t fresh = fakes::Submit(*d, Job("fresh", "{policy: immediate, sites: [cluster]}"));
  json h;
  for (int i = 0; i < 300 && h["status"] != "degraded"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    h = Health(*d);
  }
  EXPECT_EQ(h["status"], "degraded") << h.dump();
  EXPECT_NE(h.dump().find("Slurm unreachable"), std::string::npos) << h.dump();
  json f = Wait(*d, fresh, [](const json& x) { return x["reason"].get<std::string>().find("Slurm") != std::string::npos; }, 30);
  EXPECT_EQ(f["state"], "waiting") << f.dump();
  EXPECT_EQ(f["attempts"], 0);
  EXPECT_EQ(Wait(*d, held, StateIs("waiting"), 1)["attempts"], 0);
  cluster_->StartController();
  for (int i = 0; i < 600 && Health(*d)["status"] != "ok"; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(Health(*d)["status"], "ok") << Health(*d).dump();
  // Nothing lost: both run, once each.
  EXPECT_EQ(Wait(*d, fresh, StateIs("succeeded"), 90)["attempts"], 1);
  EXPECT_EQ(Wait(*d, held, StateIs("succeeded"), 90)["attempts"], 1);
}

TEST_F(SlurmDaemonTest, AJobScancelledOutsideCarbondFailsWithThatReason) {
  auto d = Carbond(FAKE_WORKER_BIN);
  ASSERT_TRUE(d->Start()) << d->Log();
  const int64_t id = fakes::Submit(*d, Job("slow", "{policy: immediate, sites: [cluster]}"));
  json j = Wait(*d, id, [](const json& x) { return x["progress"].is_object(); }, 30);
  ASSERT_EQ(Slurm("scancel", {std::to_string(j["slurm_job_id"].get<int64_t>())}).exit_code, 0);
  j = Wait(*d, id, StateIs("failed"), 30);
  EXPECT_NE(j["reason"].get<std::string>().find("CANCELLED"), std::string::npos) << j.dump();
  EXPECT_NE(j["reason"].get<std::string>().find("outside carbond"), std::string::npos) << j.dump();
  EXPECT_EQ(j["attempts"], 1);
}

TEST_F(SlurmDaemonTest, AJobSlurmRequeuesResumesFromItsCheckpoint) {
  if (std::string(CARBON_WORKER_BIN).empty()) GTEST_SKIP() << "carbon-worker is not built (no LibTorch)";
  ASSERT_TRUE(std::filesystem::exists(std::string(kData) + "/train-images-idx3-ubyte.gz"));
  auto d = Carbond(CARBON_WORKER_BIN);
  ASSERT_TRUE(d->Start()) << d->Log();
  const int64_t id = fakes::Submit(*d, TrainingJob("requeued", 3, 40000, "{policy: immediate, sites: [cluster]}"));
  json j = Wait(*d, id, [](const json& x) { return x["epochs"].size() >= 1; }, 240);
  const int64_t slurm = j["slurm_job_id"].get<int64_t>();
  // As preemption does: Slurm stops the job and queues it again.
  auto rq = Slurm("scontrol", {"requeue", std::to_string(slurm)});
  ASSERT_EQ(rq.exit_code, 0) << rq.err;
  // Slurm makes a requeued job eligible two minutes later; carbond says so.
  j = Wait(*d, id, [](const json& x) { return x["reason"].get<std::string>().find("requeued by Slurm") != std::string::npos; }, 30);
  EXPECT_NE(j["reason"].get<std::string>().find("PENDING (BeginTime)"), std::string::npos) << j.dump();
  EXPECT_EQ(j["state"], "running");
  // The test does not wait that long, but it cannot start it `now`: the
  // requeue revoked the job's credential, and slurmd refuses (and Slurm then
  // fails the job, "Job credential revoked", exit 1) a credential made in the
  // same second as the revocation, whole seconds apart. The revocation came
  // before squeue showed PENDING (BeginTime), so two seconds on is later.
  for (int i = 0; i < 50; ++i) {
    if (Slurm("scontrol", {"update", "JobId=" + std::to_string(slurm), "StartTime=now+2"}).exit_code == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  j = Wait(*d, id, StateIs("succeeded"), 300);
  const std::string log = fakes::ReadAll(Shared() + "/" + std::to_string(id) + "/worker.log");
  // Slurm's requeue is not a failed attempt (on failure: carbond's log, the job, the worker's log).
  EXPECT_EQ(j["attempts"], 1) << d->Log() << "\n" << j.dump() << "\n" << log;
  EXPECT_EQ(j["slurm_job_id"], slurm);
  ASSERT_EQ(j["epochs"].size(), 3u) << j.dump();
  EXPECT_NE(log.find("resumed from"), std::string::npos) << log;
  if (HasFailure()) std::cerr << "slurmctld on job " << slurm << ":\n" << cluster_->ControllerLog(slurm);
}

TEST_F(SlurmDaemonTest, ASighupReachesTheSlurmSiteItsHeldJobsAreHeldAgainWithTheNewFlags) {
  auto d = Carbond(FAKE_WORKER_BIN);
  ASSERT_TRUE(d->Start()) << d->Log();
  const std::string later = FormatTime(SystemClock().Now() + std::chrono::hours(2));
  const int64_t id = fakes::Submit(*d, Job("held", "{policy: immediate, not_before: " + later + ", sites: [cluster]}"));
  auto held_in_slurm = [](const json& x) {
    return x["slurm_job_id"].is_number() && x["reason"].get<std::string>().find("held in Slurm as job") != std::string::npos;
  };
  json j = Wait(*d, id, held_in_slurm, 20);
  const int64_t old_slurm = j["slurm_job_id"].get<int64_t>();
  const std::string script = Shared() + "/" + std::to_string(id) + "/job.sh";
  EXPECT_NE(fakes::ReadAll(script).find("'--pue' '1'"), std::string::npos) << fakes::ReadAll(script);
  // A new PUE: the held job's batch script, which Slurm keeps as submitted,
  // has the old one, so carbond holds the job again with the new one.
  d->WriteConfig(Sites(FAKE_WORKER_BIN) + "energy: {pue: 1.4}\n");
  d->Signal(SIGHUP);
  j = Wait(*d, id, [&](const json& x) { return held_in_slurm(x) && x["slurm_job_id"] != old_slurm; }, 30);
  EXPECT_EQ(j["state"], "waiting");
  EXPECT_EQ(j["attempts"], 0);
  EXPECT_NE(fakes::ReadAll(script).find("'--pue' '1.4'"), std::string::npos) << fakes::ReadAll(script);
  EXPECT_NE(d->Log().find("SIGHUP: applied energy.pue 1 -> 1.4"), std::string::npos) << d->Log();
  EXPECT_NE(d->Log().find("site cluster: new worker flags: 1 job held in Slurm with the old ones will be held again"),
            std::string::npos)
      << d->Log();
  for (int i = 0; i < 50 && SqueueRow(old_slurm).find("|CANCELLED|") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_NE(SqueueRow(old_slurm).find("|CANCELLED|"), std::string::npos) << SqueueRow(old_slurm);
  const int64_t new_slurm = j["slurm_job_id"].get<int64_t>();
  EXPECT_NE(SqueueRow(new_slurm).find("|PENDING|JobHeldUser|"), std::string::npos) << SqueueRow(new_slurm);
  // A reload that changes no flag leaves it held where it is.
  d->WriteConfig(Sites(FAKE_WORKER_BIN) + "energy: {pue: 1.4}\nlog: {level: debug}\n");
  d->Signal(SIGHUP);
  for (int i = 0; i < 100 && d->Log().find("SIGHUP: applied log.level") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const std::string log = d->Log();
  EXPECT_EQ(log.find("will be held again"), log.rfind("will be held again")) << log;
  EXPECT_EQ(Wait(*d, id, held_in_slurm, 5)["slurm_job_id"], new_slurm);
  ASSERT_EQ(d->Ctl({"cancel", std::to_string(id)}).exit_code, 0);
  Wait(*d, id, StateIs("cancelled"), 10);
}

TEST_F(SlurmDaemonTest, AnUnknownSiteAndABadSlurmConfigAreClearErrors) {
  auto d = Carbond(FAKE_WORKER_BIN);
  ASSERT_TRUE(d->Start()) << d->Log();
  const std::string job = Job("lost", "\n  policy: immediate\n  sites: [cluster, elsewhere]");
  auto r = d->Ctl({"submit", job});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find(job + ":4:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("carbon.sites[1]"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("'elsewhere' is not accepted; expected one of: box, cluster"), std::string::npos) << r.err;
  d->Kill(SIGTERM);
  // A Slurm site without run_root: carbond does not start, and says why.
  fakes::TempDir other;
  DaemonProcess bad(other, FAKE_WORKER_BIN,
                    "sites:\n  - name: cluster\n    zone: GB\n    executor: slurm\n    slurm: {conf: " + cluster_->conf() +
                        ", partition: gpu}\n");
  EXPECT_FALSE(bad.Start());
  EXPECT_NE(bad.Log().find("sites[0].slurm.run_root"), std::string::npos) << bad.Log();
  EXPECT_NE(bad.Log().find("carbond.yaml:"), std::string::npos) << bad.Log();
}

}  // namespace
}  // namespace carbon
