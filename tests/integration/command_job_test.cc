// Command jobs end to end (issue "Bring your own training"): a real carbond,
// the real carbon-worker as supervisor, and real PyTorch programs from
// Debian's python3-torch: examples/pytorch/train_fashion_mnist.py alone,
// paused and resumed on a virtual clock, and under torchrun with two ranks.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "tests/support/daemon_process.h"

namespace carbon {
namespace {

using fakes::DaemonProcess;
using fakes::TempDir;
using json = nlohmann::json;

const char* const kData = "/usr/share/datasets/fashion-mnist";
const std::string kPython = "/usr/bin/python3";
const std::string kScript = std::string(CARBON_SOURCE_DIR) + "/examples/pytorch/train_fashion_mnist.py";

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Shell(const std::string& cmd, int* rc = nullptr) {
  std::string out;
  if (FILE* p = ::popen((cmd + " 2>&1").c_str(), "r")) {
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    const int st = ::pclose(p);
    if (rc) *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }
  return out;
}

// carbond, carbonctl and carbon-worker copied into <dir>/bin (mode 0755), for
// tests that run them as another user: the build may lie under a folder only
// root may enter (/root in a fresh Debian). Returns the folder.
std::string CopyBinaries(const std::string& dir) {
  const std::string bin = dir + "/bin";
  std::filesystem::create_directories(bin);
  ::chmod(dir.c_str(), 0755);
  ::chmod(bin.c_str(), 0755);
  for (const char* b : {CARBOND_BIN, CARBONCTL_BIN, CARBON_WORKER_BIN})
    std::filesystem::copy_file(b, bin + "/" + std::filesystem::path(b).filename().string(),
                               std::filesystem::copy_options::overwrite_existing);
  return bin;
}

bool HavePyTorch() {
  int rc = -1;
  Shell(kPython + " -c 'import torch'", &rc);
  return rc == 0;
}

// Processes (other than this test) whose command line holds `tag`.
int ProcessesWith(const std::string& tag) {
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmd.find(tag) != std::string::npos && entry.path().filename() != std::to_string(::getpid())) ++n;
  }
  return n;
}

// The job's run section: the example script with `args`, Debian's python first in PATH.
std::string ExampleJob(const std::string& name, const std::string& args, const std::string& carbon,
                       const std::string& extra_run = "") {
  return "name: " + name + "\nrun:\n  command: [" + kPython + ", " + kScript + ", --data, " + kData + args +
         "]\n  env: {PATH: /usr/bin:/bin}\n" + extra_run + "carbon: " + carbon + "\n";
}

TEST(CommandJob, TheExampleScriptSucceedsWithARowPerEpochAndCodeCarbonReadsIt) {
  if (!HavePyTorch()) GTEST_SKIP() << "Debian's python3-torch is not installed (scripts/install-deps.sh installs it)";
  TempDir dir;
  DaemonProcess d(dir, CARBON_WORKER_BIN);
  ASSERT_TRUE(d.Start()) << d.Log();
  const std::string job = dir / "script.yaml";
  std::ofstream(job) << ExampleJob("my-script", ", --epochs, '3', --train-limit, '6000', --test-limit, '1000'",
                                   "{policy: immediate}");
  auto sub = d.Ctl({"submit", job});
  ASSERT_EQ(sub.exit_code, 0) << sub.err;
  auto w = d.Ctl({"watch", "1", "--timeout", "300"});
  ASSERT_EQ(w.exit_code, 0) << w.out << w.err << d.Log();
  json j = json::parse(d.Ctl({"-o", "json", "status", "1"}).out);
  ASSERT_EQ(j["state"], "succeeded") << j.dump(2);
  ASSERT_EQ(j["epochs"].size(), 3u) << j["epochs"].dump(2);
  double kg = 0;
  for (int i = 0; i < 3; ++i) {
    const json& ep = j["epochs"][i];
    EXPECT_EQ(ep["epoch"], i + 1);
    // The program's own metrics in their columns...
    EXPECT_GT(ep["train_loss"].get<double>(), 0) << ep.dump();
    EXPECT_GT(ep["test_accuracy"].get<double>(), 0.5) << ep.dump();  // ten classes: chance is 0.1
    EXPECT_EQ(ep["samples"], 5952) << ep.dump();                     // 93 batches of 64
    // ...beside carbond's energy and CO2 at the recorded intensity.
    EXPECT_GT(ep["energy"]["energy_kwh"].get<double>(), 0) << ep.dump();
    ASSERT_TRUE(ep["kg_co2"].is_number()) << ep.dump();
    EXPECT_NEAR(ep["kg_co2"].get<double>(),
                ep["energy"]["energy_kwh"].get<double>() * ep["gco2_per_kwh"].get<double>() / 1000, 1e-15);
    EXPECT_EQ(ep["intensity_source"], "mock");
    kg += ep["kg_co2"].get<double>();
  }
  EXPECT_NEAR(j["progress"]["test_accuracy"].get<double>(), j["epochs"][2]["test_accuracy"].get<double>(), 1e-12);
  const std::string run_dir = j["run_dir"];
  EXPECT_NE(Read(run_dir + "/output.log").find("epoch 3/3"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(run_dir + "/checkpoints/checkpoint-rank0.pt"));
  auto total = json::parse(Read(run_dir + "/emissions-total.json"));
  EXPECT_NEAR(total[0]["emissions"].get<double>(), kg, 1e-15);
  // CodeCarbon's dashboard code reads emissions.csv with pandas, as for a built-in job.
  int rc = -1;
  const std::string out =
      Shell("/usr/bin/python3 " + std::string(CARBON_SOURCE_DIR) + "/tests/tools/carbonboard_summary.py " + run_dir +
                "/emissions.csv",
            &rc);
  ASSERT_EQ(rc, 0) << out;
  auto board = json::parse(out, nullptr, false);
  ASSERT_TRUE(board.is_object() && board.contains("my-script")) << out;
  EXPECT_EQ(board["my-script"]["rows"], 3);
  EXPECT_NEAR(board["my-script"]["emissions"].get<double>(), kg, kg * 1e-12);
}

TEST(CommandJob, InterruptibleIsPausedBySigtermAndResumesToTheSameWeights) {
  if (!HavePyTorch()) GTEST_SKIP() << "Debian's python3-torch is not installed (scripts/install-deps.sh installs it)";
  TempDir dir;
  // 50 g/kWh until 00:30, 500 until 02:00, 100 after, on a clock 600 times
  // faster from 23:50: the job runs at once, pauses at 00:30 and resumes at 02:00.
  DaemonProcess d(dir, CARBON_WORKER_BIN, fakes::PauseTraceConfig(dir / "trace.csv"));
  ASSERT_TRUE(d.Start()) << d.Log();
  // At least 8 x 93 x 10 ms of sleeping steps: longer than the first segment on any machine.
  const std::string args = ", --epochs, '8', --train-limit, '6000', --test-limit, '1000', --step-sleep, '0.01'";
  const std::string job = dir / "pause.yaml";
  std::ofstream(job) << ExampleJob("pause", args + ", --out, " + (dir / "carbond.pt"),
                                   "{policy: forecast, zone: GB, interruptible: true, min_segment: 10m, "
                                   "expected_duration: 1h, deadline: 2026-11-26T06:00:00Z}");
  auto sub = d.Ctl({"submit", job});
  ASSERT_EQ(sub.exit_code, 0) << sub.err;
  auto w = d.Ctl({"watch", "1", "--timeout", "300"});
  ASSERT_EQ(w.exit_code, 0) << w.out << w.err << d.Log();
  json j = json::parse(d.Ctl({"-o", "json", "status", "1"}).out);
  ASSERT_EQ(j["state"], "succeeded") << j.dump(2) << d.Log();
  std::string paused_reason;
  for (const json& e : j["events"])
    if (e["from"] == "running" && e["to"] == "waiting") paused_reason = e["reason"];
  ASSERT_EQ(paused_reason.rfind("paused until 02:00 UTC: ", 0), 0u) << j["events"].dump(2);
  EXPECT_EQ(j["attempts"], 1) << "a pause is not a failed attempt";
  const std::string run_dir = j["run_dir"];
  const std::string log = Read(run_dir + "/worker.log"), output = Read(run_dir + "/output.log");
  EXPECT_NE(log.find("sending SIGTERM"), std::string::npos) << log;
  EXPECT_NE(output.find("stopped at epoch"), std::string::npos) << output;
  EXPECT_NE(output.find("resuming at epoch"), std::string::npos) << output;

  // Every epoch has its row, with energy and emissions.
  ASSERT_EQ(j["epochs"].size(), 8u) << j["epochs"].dump(2);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(j["epochs"][i]["epoch"], i + 1);
    EXPECT_GT(j["epochs"][i]["energy"]["energy_kwh"].get<double>(), 0);
    EXPECT_TRUE(j["epochs"][i]["kg_co2"].is_number());
  }
  // The cut epoch keeps the energy metered before the pause: the supervisor
  // said how many seconds it carried, and the first row after the resume holds them.
  double carried = -1;
  const size_t at = log.find("carried ");
  ASSERT_NE(at, std::string::npos) << log;
  ASSERT_EQ(std::sscanf(log.c_str() + at, "carried %lf s", &carried), 1) << log.substr(at, 80);
  long long cut_epoch = 0, cut_step = 0;
  const size_t stop_at = output.find("stopped at epoch ");
  ASSERT_EQ(std::sscanf(output.c_str() + stop_at, "stopped at epoch %lld step %lld", &cut_epoch, &cut_step), 2);
  ASSERT_GE(cut_epoch, 1);
  ASSERT_LE(cut_epoch, 8);
  EXPECT_GT(carried, 0);
  EXPECT_GE(j["epochs"][cut_epoch - 1]["energy"]["seconds"].get<double>(), carried)
      << j["epochs"][cut_epoch - 1].dump();

  // The same weights as the script run bare, never paused.
  int rc = -1;
  const std::string bare = Shell("cd " + dir.path() + " && " + kPython + " " + kScript + " --data " + kData +
                                     " --epochs 8 --train-limit 6000 --test-limit 1000 --out " + (dir / "bare.pt"),
                                 &rc);
  ASSERT_EQ(rc, 0) << bare;
  const std::string diff = Shell(kPython + " -c \"import torch; a = torch.load('" + (dir / "bare.pt") +
                                 "'); b = torch.load('" + (dir / "carbond.pt") +
                                 "'); print(max((a[k] - b[k]).abs().max().item() for k in a))\"",
                                 &rc);
  ASSERT_EQ(rc, 0) << diff;
  EXPECT_LT(std::stod(diff), 1e-6) << diff;
}

TEST(CommandJob, TorchrunRanksAreAllInTheTreeAndNoneOutlivesACancel) {
  if (!HavePyTorch()) GTEST_SKIP() << "Debian's python3-torch is not installed (scripts/install-deps.sh installs it)";
  TempDir dir;
  DaemonProcess d(dir, CARBON_WORKER_BIN);
  ASSERT_TRUE(d.Start()) << d.Log();
  const std::string tag = "ddp-" + std::to_string(::getpid());
  const std::string job = dir / "ddp.yaml";
  // --redirects 1 --tee 1: Debian 12's torchrun (1.13 on Python 3.11) fails
  // with its default "0" (Std.from_str finds no member 0 in 3.11's IntFlag).
  std::ofstream(job) << "name: ddp\nrun:\n  command: [/usr/bin/torchrun, --standalone, --nproc_per_node=2, "
                        "--redirects, '1', --tee, '1', "
                     << kScript << ", --data, " << kData
                     << ", --epochs, '50', --train-limit, '6000', --test-limit, '500', --step-sleep, '0.02', --out, "
                     << (dir / tag) << "]\n  env: {PATH: /usr/bin:/bin, OMP_NUM_THREADS: '1'}\n  stop_grace: 20s\n"
                     << "  gpus: 0\ncarbon: {policy: immediate}\n";
  auto sub = d.Ctl({"submit", job});
  ASSERT_EQ(sub.exit_code, 0) << sub.err;
  // torchrun and its two ranks (each with the tag in its command line) run
  // under the job's supervisor.
  for (int i = 0; i < 1200 && ProcessesWith(tag) < 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_GE(ProcessesWith(tag), 3) << d.Log() << Read(dir / "state/runs/1/output.log");
  const pid_t supervisor = d.WorkerPid(1);
  ASSERT_GT(supervisor, 0);
  int in_tree = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmd.find(tag) == std::string::npos) continue;
    // Walk up to the supervisor.
    std::string pid = entry.path().filename();
    for (int depth = 0; depth < 10 && pid != "1" && pid != "0"; ++depth) {
      std::ifstream stat("/proc/" + pid + "/stat");
      std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
      const auto close = text.rfind(')');
      if (close == std::string::npos) break;
      std::istringstream rest(text.substr(close + 2));
      std::string state;
      rest >> state >> pid;
      if (pid == std::to_string(supervisor)) {
        ++in_tree;
        break;
      }
    }
  }
  EXPECT_GE(in_tree, 3) << "torchrun and both ranks descend from the supervisor";
  auto c = d.Ctl({"cancel", "1"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  auto w = d.Ctl({"watch", "1", "--timeout", "120"});
  json j = json::parse(d.Ctl({"-o", "json", "status", "1"}).out);
  EXPECT_EQ(j["state"], "cancelled") << j.dump(2) << d.Log();
  EXPECT_EQ(ProcessesWith(tag), 0) << "a rank outlived the cancel";
}

TEST(CommandJob, ACommandFromAnotherUserIsRefusedWithWhatToDo) {
  TempDir dir;
  DaemonProcess d(dir, CARBON_WORKER_BIN);
  ASSERT_TRUE(d.Start()) << d.Log();
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to submit as another uid";
  const std::string job = dir / "other.yaml";
  std::ofstream(job) << "name: other\nrun:\n  command: [true]\n";
  ::chmod(dir.path().c_str(), 0755);
  ::chmod(job.c_str(), 0644);
  ::chmod((dir / "carbond.sock").c_str(), 0666);
  int rc = -1;
  const std::string out = Shell("setpriv --reuid=65534 --regid=65534 --clear-groups " + CopyBinaries(dir.path()) +
                                    "/carbonctl --socket " + (dir / "carbond.sock") + " submit " + job,
                                &rc);
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find("command job runs as carbond's user"), std::string::npos) << out;
  EXPECT_NE(out.find("XDG_RUNTIME_DIR"), std::string::npos) << out;
  EXPECT_EQ(d.Ctl({"-o", "json", "list"}).out.find("other"), std::string::npos);
}

// Personal mode: a user (made here) with no root starts carbond without a
// config; carbonctl, run as that user with no --socket, finds it and the
// command job runs as that user.
TEST(CommandJob, PersonalModeRunsAUsersOwnCarbondAndTheirCommand) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to create the test's user";
  TempDir dir;
  ::chmod(dir.path().c_str(), 0755);
  const std::string user = "cbtest" + std::to_string(::getpid() % 100000);
  const std::string home = dir / "home";
  int rc = -1;
  std::string out = Shell("useradd --no-create-home --home-dir " + home + " --shell /bin/sh " + user, &rc);
  ASSERT_EQ(rc, 0) << out;
  struct Cleanup {
    std::string user;
    ~Cleanup() { Shell("userdel " + user); }
  } cleanup{user};
  std::filesystem::create_directories(home + "/run");
  Shell("chown -R " + user + ": " + home + " && chmod 700 " + home + "/run");
  const std::string uid = Shell("id -u " + user).substr(0, Shell("id -u " + user).find('\n'));
  // The binaries where the user can run them (the build may sit under a
  // folder only root may enter, such as /root); carbond finds carbon-worker beside it.
  const std::string bin = CopyBinaries(dir.path());
  const std::string as_user = "setpriv --reuid=" + user + " --regid=" + user + " --init-groups env -i HOME=" + home +
                              " XDG_RUNTIME_DIR=" + home + "/run PATH=/usr/bin:/bin ";
  pid_t carbond = ::fork();
  if (carbond == 0) {
    const std::string cmd = "exec " + as_user + bin + "/carbond > " + dir.path() + "/personal.log 2>&1";
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  struct Stop {
    pid_t pid;
    ~Stop() {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
    }
  } stop{carbond};
  const std::string socket = home + "/run/carbond.sock";
  for (int i = 0; i < 200 && !std::filesystem::exists(socket); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(std::filesystem::exists(socket)) << Read(dir / "personal.log");
  EXPECT_NE(Read(dir / "personal.log").find("personal mode"), std::string::npos) << Read(dir / "personal.log");
  EXPECT_TRUE(std::filesystem::exists(home + "/.local/state/carbond/carbond.db"));
  const std::string job = home + "/mine.yaml";
  std::ofstream(job) << "name: mine\nrun:\n  command: [sh, -c, 'id -u > whoami.txt']\ncarbon: {policy: immediate}\n";
  Shell("chown " + user + ": " + job);
  const std::string ctl = as_user + bin + "/carbonctl";
  out = Shell(ctl + " submit " + job, &rc);
  ASSERT_EQ(rc, 0) << out << Read(dir / "personal.log");
  out = Shell(ctl + " watch 1 --timeout 120", &rc);
  ASSERT_EQ(rc, 0) << out << Read(dir / "personal.log");
  json j = json::parse(Shell(ctl + " -o json status 1"), nullptr, false);
  ASSERT_TRUE(j.is_object()) << Shell(ctl + " -o json status 1");
  EXPECT_EQ(j["state"], "succeeded") << j.dump(2);
  EXPECT_EQ(Read(j["run_dir"].get<std::string>() + "/whoami.txt"), uid + "\n");
}

}  // namespace
}  // namespace carbon
