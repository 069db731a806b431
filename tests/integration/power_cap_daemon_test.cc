// carbon.gpu_power_cap end to end: a real carbond, the real carbond-gpucap
// on a socket, the real carbon-worker training on the CPU with the fake
// NVML (tests/support/fake_nvml.cc) as its GPU, through LD_LIBRARY_PATH.
// The limit follows the grid (a local UK Carbon Intensity API the test turns clean),
// each epoch row records the limit in force, and the limit goes back when
// the job succeeds, is cancelled, its worker is killed, or carbond is
// SIGKILLed and started again. ctest -R PowerCap.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <nlohmann/json.hpp>
#include <thread>

#include "daemon/gpucap/nvml_control.h"
#include "tests/support/daemon_process.h"
#include "tests/support/fake_upstream.h"
#include "tests/support/files.h"

namespace carbon {
namespace {

using fakes::DaemonProcess;
using fakes::TempDir;
using json = nlohmann::json;

const char* const kData = "/usr/share/datasets/fashion-mnist";
const char* const kScenario = "device Fake H100 watts 350 limit 300 min_limit 150 max_limit 300 uuid GPU-aaaa-1111\n";

// carbond-gpucap on a socket in the test's directory, serving this uid.
class Helper {
 public:
  explicit Helper(const TempDir& dir) : sock_(dir / "gpucap.sock") {
    const std::string state = dir / "limits.json", uid = std::to_string(::getuid());
    pid_ = ::fork();
    if (pid_ == 0) {
      int log = ::open((dir / "gpucap.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      ::dup2(log, 2);
      ::execl(GPUCAP_BIN, GPUCAP_BIN, "--socket", sock_.c_str(), "--allow-uid", uid.c_str(), "--state-file",
              state.c_str(), "--idle-exit", "0", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 200 && !fakes::CanConnect(sock_); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ~Helper() {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
  const std::string& socket() const { return sock_; }

 private:
  std::string sock_;
  pid_t pid_ = -1;
};

class PowerCapDaemon : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(dir_ / "scenario") << kScenario;
    // Inherited by carbond-gpucap, carbond and (through carbond) the worker.
    ::setenv("FAKE_NVML_SCENARIO", (dir_ / "scenario").c_str(), 1);
    ::setenv("LD_LIBRARY_PATH", FAKE_NVML_DIR, 1);
    ::unsetenv("CUDA_VISIBLE_DEVICES");
  }
  // The limit in force now, as NVML reports it to any process.
  static double Limit() {
    // By path: LD_LIBRARY_PATH set here reaches the children, not this process's loader.
    auto n = gpucap::NvmlControl::Open(std::string(FAKE_NVML_DIR) + "/libnvidia-ml.so.1");
    if (!n.ok()) return -1;
    auto l = (*n)->Limits(0);
    return l.ok() ? l->limit_w : -1;
  }
  static bool Eventually(const std::function<bool()>& pred, int seconds = 60) {
    for (int i = 0; i < seconds * 20; ++i) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  std::string Config(const std::string& socket, const std::string& intensity, const std::string& extra = "") const {
    // DaemonProcess writes "worker:\n  path: ..." just before: this continues that map.
    return "  gpus: [GPU-aaaa-1111]\n  gpu_cap_socket: " + socket + "\n  max_attempts: 1\n" +
           "energy: {measure_power_secs: 1}\n" + intensity + extra;
  }
  // A long job (epochs: 2000) has 20,000 images an epoch, so it is still
  // running when the test stops it; a short one 2,000.
  std::string Job(const std::string& name, int epochs) const {
    const std::string path = dir_ / (name + ".yaml");
    std::ofstream(path) << "name: " << name << "\nmodel: {arch: mlp, hidden: [16]}\n"
                        << "data: {path: " << kData << ", train_limit: " << (epochs > 10 ? 20000 : 2000)
                        << ", test_limit: 200}\n"
                        << "train: {epochs: " << epochs << ", batch_size: 64, threads: 1}\n"
                        << "carbon: {policy: immediate, zone: GB, gpu_power_cap: {above_gco2_per_kwh: 300, "
                           "limit_pct: 70}}\n";
    return path;
  }
  static json Status(DaemonProcess& d, int64_t id) {
    auto r = d.Ctl({"-o", "json", "status", std::to_string(id)});
    return r.exit_code == 0 ? json::parse(r.out) : json();
  }
  static std::string Reason(DaemonProcess& d, int64_t id) { return Status(d, id).value("reason", ""); }
  static std::vector<std::optional<double>> EpochLimits(DaemonProcess& d, int64_t id) {
    std::vector<std::optional<double>> out;
    for (const json& e : Status(d, id).value("epochs", json::array())) {
      const json& l = e["energy"]["gpu_power_limit_w"];
      out.push_back(l.is_number() ? std::optional<double>(l.get<double>()) : std::nullopt);
    }
    return out;
  }
  // Whether carbond has a current intensity for GB (a job started before
  // would run uncapped: nothing says the grid is above the threshold).
  static bool GridKnown(DaemonProcess& d) {
    auto r = d.Ctl({"-o", "json", "health"});
    if (r.exit_code != 0) return false;
    const json h = json::parse(r.out, nullptr, false);
    return h.is_object() && h["intensity"]["zones"]["GB"].value("gco2_per_kwh", json()).is_number();
  }
  // A UK Carbon Intensity API body at `g` g/kWh: the current half hour for
  // /intensity, 48 h of half hours from it for a forecast.
  static std::string UkBody(const std::string& target, int g) {
    using std::chrono::system_clock;
    const auto now = std::chrono::floor<std::chrono::minutes>(system_clock::now());
    const auto from = now - std::chrono::minutes(now.time_since_epoch().count() % 30);
    auto uk = [](system_clock::time_point t) {
      const std::time_t tt = system_clock::to_time_t(t);
      std::tm tm{};
      ::gmtime_r(&tt, &tm);
      char buf[32];
      std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%MZ", &tm);
      return std::string(buf);
    };
    json data = json::array();
    const int periods = target == "/intensity" ? 1 : 96;
    for (int k = 0; k < periods; ++k) {
      const auto t = from + std::chrono::minutes(30 * k);
      data.push_back({{"from", uk(t)}, {"to", uk(t + std::chrono::minutes(30))},
                      {"intensity", {{"forecast", g}, {"actual", g}, {"index", "high"}}}});
    }
    return json{{"data", data}}.dump();
  }
  TempDir dir_;
};

TEST_F(PowerCapDaemon, TheLimitFollowsTheGridAndEachEpochRecordsIt) {
  // The grid is a local UK Carbon Intensity API at 400 g/kWh until the job's
  // first epoch row is stored, then at 100: the change falls between epochs
  // on a machine of any speed, with epochs on both sides of it.
  fakes::FakeUpstream upstream(dir_.path());
  std::atomic<int> grid{400};
  upstream.set_handler([&grid](const fakes::UpstreamRequest& r) {
    fakes::UpstreamReply reply;
    reply.body = UkBody(r.target, grid.load());
    return reply;
  });
  Helper helper(dir_);
  DaemonProcess d(dir_, CARBON_WORKER_BIN,
                  Config(helper.socket(), "intensity:\n  chain: [uk]\n  poll: 1s\n  uk: {base_url: '" +
                                              upstream.http_url() + "'}\n"));
  ASSERT_TRUE(d.Start()) << d.Log();
  ASSERT_TRUE(Eventually([&] { return GridKnown(d); })) << d.Log();
  const int64_t id = fakes::Submit(d, Job("follows", 2000));
  ASSERT_TRUE(Eventually([&] { return !EpochLimits(d, id).empty(); })) << d.Log();
  // Capped before its first step: the first epoch ran under the cap.
  EXPECT_EQ(EpochLimits(d, id).front(), 210.0) << Status(d, id).dump();
  EXPECT_EQ(Limit(), 210);
  EXPECT_TRUE(Eventually([&] {
    return Reason(d, id) ==
           "GPU power capped: GPU-aaaa-1111 at 210 W (70% of its default 300 W); GB at 400 g/kWh is above 300";
  })) << Reason(d, id);
  grid = 100;
  ASSERT_TRUE(Eventually([] { return Limit() == 300; })) << d.Log();
  EXPECT_TRUE(Eventually([&] { return Reason(d, id) == "GPU power at its default limit; GB at 100 g/kWh is at or under 300"; }))
      << Reason(d, id);
  // Epochs on both sides of the change, each with the limit of its end.
  ASSERT_TRUE(Eventually([&] {
    auto l = EpochLimits(d, id);
    return !l.empty() && l.back() == 300.0;
  })) << Status(d, id).dump();
  const auto limits = EpochLimits(d, id);
  size_t capped = 0;
  for (size_t i = 0; i < limits.size(); ++i) {
    ASSERT_TRUE(limits[i] == 210.0 || limits[i] == 300.0) << i;
    if (limits[i] == 210.0) {
      EXPECT_EQ(capped, i) << "a capped epoch after an uncapped one";
      ++capped;
    }
  }
  EXPECT_GE(capped, 1u);
  ASSERT_EQ(d.Ctl({"cancel", std::to_string(id)}).exit_code, 0);
  EXPECT_TRUE(Eventually([&] { return Status(d, id).value("state", "") == "cancelled"; }));
  EXPECT_EQ(Limit(), 300);
}

TEST_F(PowerCapDaemon, TheLimitGoesBackOnSuccessCancelWorkerCrashAndCarbondSigkill) {
  Helper helper(dir_);
  DaemonProcess d(dir_, CARBON_WORKER_BIN, Config(helper.socket(), "intensity: {chain: [static], static: 400}\n"));
  ASSERT_TRUE(d.Start()) << d.Log();

  ASSERT_TRUE(Eventually([&] { return GridKnown(d); })) << d.Log();

  // Success: three short epochs, each under the cap (set before the first
  // step, however fast the machine), then the default limit again.
  const int64_t ok = fakes::Submit(d, Job("short", 3));
  ASSERT_TRUE(Eventually([&] { return Status(d, ok).value("state", "") == "succeeded"; })) << d.Log();
  EXPECT_TRUE(Eventually([] { return Limit() == 300; }));
  auto limits = EpochLimits(d, ok);
  ASSERT_EQ(limits.size(), 3u);
  for (size_t i = 0; i < limits.size(); ++i) EXPECT_EQ(limits[i], 210.0) << "epoch " << i + 1;
  const std::string log = fakes::ReadAll(dir_ / "scenario.limits");
  EXPECT_NE(log.find("GPU-aaaa-1111 210000 "), std::string::npos) << log;

  // Cancel.
  const int64_t cancel = fakes::Submit(d, Job("cancelled", 2000));
  ASSERT_TRUE(Eventually([] { return Limit() == 210; })) << d.Log();
  ASSERT_EQ(d.Ctl({"cancel", std::to_string(cancel)}).exit_code, 0);
  ASSERT_TRUE(Eventually([&] { return Status(d, cancel).value("state", "") == "cancelled"; }));
  EXPECT_TRUE(Eventually([] { return Limit() == 300; }));

  // The worker is killed (max_attempts 1: the job fails).
  const int64_t crash = fakes::Submit(d, Job("crashed", 2000));
  ASSERT_TRUE(Eventually([] { return Limit() == 210; })) << d.Log();
  const pid_t worker = d.WorkerPid(crash);
  ASSERT_GT(worker, 0);
  ::kill(worker, SIGKILL);
  ASSERT_TRUE(Eventually([&] { return Status(d, crash).value("state", "") == "failed"; })) << d.Log();
  EXPECT_TRUE(Eventually([] { return Limit() == 300; }));

  // carbond is SIGKILLed under a capped job: the worker dies with it and
  // nobody restores the limit until the next carbond starts.
  const int64_t killed = fakes::Submit(d, Job("orphaned", 2000));
  ASSERT_TRUE(Eventually([] { return Limit() == 210; })) << d.Log();
  d.Kill(SIGKILL);
  ASSERT_TRUE(Eventually([&] { return d.WorkerPid(killed) < 0; }));
  EXPECT_EQ(Limit(), 210);
  DaemonProcess again(dir_, CARBON_WORKER_BIN, Config(helper.socket(), "intensity: {chain: [static], static: 100}\n"));
  ASSERT_TRUE(again.Start()) << again.Log();
  EXPECT_TRUE(Eventually([] { return Limit() == 300; })) << again.Log();
  EXPECT_NE(again.Log().find("GPU GPU-aaaa-1111: power limit restored to 300 W (stored before carbond stopped)"),
            std::string::npos)
      << again.Log();
}

TEST_F(PowerCapDaemon, WithoutTheHelperTheJobRunsAndItsReasonSaysTheCapIsUnavailable) {
  const std::string missing = dir_ / "no-gpucap.sock";
  DaemonProcess d(dir_, CARBON_WORKER_BIN, Config(missing, "intensity: {chain: [static], static: 400}\n"));
  ASSERT_TRUE(d.Start()) << d.Log();
  const int64_t id = fakes::Submit(d, Job("nohelper", 2000));
  EXPECT_TRUE(Eventually([&] { return Reason(d, id).find("unavailable") != std::string::npos; })) << d.Log();
  EXPECT_EQ(Reason(d, id), "GPU power cap unavailable: helper not running (connect " + missing +
                               ": No such file or directory)");
  EXPECT_EQ(Status(d, id).value("state", ""), "running");
  EXPECT_EQ(Limit(), 300);
  d.Ctl({"cancel", std::to_string(id)});
}

}  // namespace
}  // namespace carbon
