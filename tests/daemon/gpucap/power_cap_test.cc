// carbon.gpu_power_cap's parts against the fake NVML (tests/support/fake_nvml.cc,
// found through LD_LIBRARY_PATH): carbond-gpucap's request handling, the
// capper that follows the grid, and the real helper binary over its socket.
// ctest -R PowerCap selects these (tests/integration/power_cap_daemon_test.cc
// runs them inside a real carbond with a real worker).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "daemon/gpucap/gpucap_client.h"
#include "daemon/gpucap/gpucap_server.h"
#include "daemon/gpucap/nvml_control.h"
#include "daemon/gpucap/power_cap.h"
#include "tests/support/fakes.h"
#include "tests/support/files.h"

namespace carbon {
namespace {

using json = nlohmann::json;

class PowerCap : public ::testing::Test {
 protected:
  void SetUp() override {
    ::unsetenv("CUDA_VISIBLE_DEVICES");
    Scenario("device Fake H100 watts 350 limit 300 min_limit 150 max_limit 300 uuid GPU-aaaa-1111\n"
             "device Fake H100 watts 350 limit 300 min_limit 150 max_limit 300 uuid GPU-bbbb-2222\n");
  }
  void TearDown() override { ::unsetenv("FAKE_NVML_SCENARIO"); }
  void Scenario(const std::string& text) {
    const std::string path = dir_ / "scenario";
    std::ofstream(path) << text;
    ::setenv("FAKE_NVML_SCENARIO", path.c_str(), 1);
  }
  std::unique_ptr<gpucap::NvmlControl> Nvml() {
    auto n = gpucap::NvmlControl::Open();
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    return n.ok() ? std::move(*n) : nullptr;
  }
  gpucap::ServerOptions Options() const { return {::getuid(), dir_ / "limits.json", "/proc"}; }
  static json Ask(gpucap::Server& s, const json& request, uid_t uid = ::getuid()) {
    return json::parse(s.Handle(request.dump(), uid));
  }
  // The limit in force now, as another process (the worker) reads it.
  double LimitNow(size_t index) {
    auto n = gpucap::NvmlControl::Open();
    auto l = (*n)->Limits(index);
    return l.ok() ? l->limit_w : -1;
  }
  fakes::TempDir dir_;
};

TEST_F(PowerCap, HelperCapsWithinConstraintsStoresTheLimitFirstAndRestoresIt) {
  auto nvml = Nvml();
  ASSERT_TRUE(nvml);
  gpucap::Server s(nvml.get(), "", Options());
  json l = Ask(s, {{"op", "limits"}});
  ASSERT_TRUE(l["ok"]) << l.dump();
  ASSERT_EQ(l["gpus"].size(), 2u);
  EXPECT_EQ(l["gpus"][0]["default_w"], 300.0);
  EXPECT_EQ(l["gpus"][0]["min_w"], 150.0);
  EXPECT_TRUE(l["gpus"][0]["stored_w"].is_null());

  json set = Ask(s, {{"op", "set"}, {"pid", ::getpid()}, {"gpu", "GPU-aaaa"}, {"limit_w", 210}});
  ASSERT_TRUE(set["ok"]) << set.dump();
  EXPECT_EQ(set["gpu"]["limit_w"], 210.0);
  EXPECT_EQ(set["gpu"]["stored_w"], 300.0);  // stored before the change
  EXPECT_EQ(LimitNow(0), 210.0);
  EXPECT_EQ(LimitNow(1), 300.0);
  EXPECT_EQ(json::parse(std::ifstream(dir_ / "limits.json"))["GPU-aaaa-1111"], 300.0);
  // A second cap keeps the first stored limit (the one to go back to).
  ASSERT_TRUE(Ask(s, {{"op", "set"}, {"pid", ::getpid()}, {"gpu", 0}, {"limit_w", 180}})["ok"]);
  EXPECT_EQ(LimitNow(0), 180.0);

  json r = Ask(s, {{"op", "restore"}, {"gpus", {"GPU-aaaa-1111", "GPU-bbbb-2222"}}});
  ASSERT_TRUE(r["ok"]) << r.dump();
  ASSERT_EQ(r["restored"].size(), 1u);  // GPU-bbbb was never changed
  EXPECT_EQ(r["restored"][0]["limit_w"], 300.0);
  EXPECT_EQ(LimitNow(0), 300.0);
  EXPECT_TRUE(json::parse(std::ifstream(dir_ / "limits.json")).empty());
}

TEST_F(PowerCap, HelperRefusesOtherUidsOutOfRangeLimitsAndGpusThatAreNotTheWorkers) {
  auto nvml = Nvml();
  ASSERT_TRUE(nvml);
  gpucap::Server s(nvml.get(), "", Options());
  auto error = [&](const json& req, uid_t uid = ::getuid()) {
    json a = Ask(s, req, uid);
    EXPECT_FALSE(a["ok"]) << req.dump();
    return a.value("error", "");
  };
  const json ok_set = {{"op", "set"}, {"pid", ::getpid()}, {"gpu", "GPU-aaaa"}, {"limit_w", 200}};
  EXPECT_NE(error(ok_set, ::getuid() + 1).find("may not use carbond-gpucap; only carbond's uid"), std::string::npos);
  json low = ok_set, high = ok_set;
  low["limit_w"] = 100;
  high["limit_w"] = 301;
  EXPECT_EQ(error(low), "limit 100 W is outside GPU-aaaa-1111's constraints, 150-300 W");
  EXPECT_EQ(error(high), "limit 301 W is outside GPU-aaaa-1111's constraints, 150-300 W");
  json other = ok_set;
  other["gpu"] = "GPU-cccc";
  EXPECT_NE(error(other).find("'GPU-cccc' names none of the 2 GPU(s)"), std::string::npos);
  json gone = ok_set;
  gone["pid"] = 999999999;
  EXPECT_NE(error(gone).find("no running process 999999999"), std::string::npos);
  EXPECT_NE(error({{"op", "set"}, {"gpu", 0}, {"limit_w", 200}}).find("needs \"pid\""), std::string::npos);
  EXPECT_NE(error({{"op", "reboot"}}).find("unknown op 'reboot'"), std::string::npos);
  EXPECT_NE(Ask(s, json::object()).value("error", "").find("no \"op\""), std::string::npos);
  json bad = json::parse(s.Handle("{not json", ::getuid()));
  EXPECT_NE(bad.value("error", "").find("not JSON"), std::string::npos);

  // A worker given only GPU-bbbb may not have GPU-aaaa capped.
  pid_t child = ::fork();
  if (child == 0) {
    ::setenv("CUDA_VISIBLE_DEVICES", "GPU-bbbb-2222", 1);
    ::execl("/bin/sleep", "sleep", "30", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  std::string env;
  for (int i = 0; i < 100 && env.find("CUDA_VISIBLE_DEVICES") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    env = fakes::ReadAll("/proc/" + std::to_string(child) + "/environ");
  }
  json theirs = ok_set;
  theirs["pid"] = child;
  EXPECT_EQ(error(theirs), "GPU-aaaa-1111 is not a GPU of process " + std::to_string(child) +
                               " (CUDA_VISIBLE_DEVICES=GPU-bbbb-2222)");
  theirs["gpu"] = "GPU-bbbb";
  EXPECT_TRUE(Ask(s, theirs)["ok"]);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  // Nothing refused changed a limit.
  EXPECT_EQ(LimitNow(0), 300.0);
  EXPECT_EQ(LimitNow(1), 200.0);
}

TEST_F(PowerCap, NoPermissionFromTheDriverIsSaidAndNothingChanges) {
  Scenario("device Fake A100 watts 250 limit 250 uuid GPU-aaaa set_error 4\n");
  auto nvml = Nvml();
  ASSERT_TRUE(nvml);
  gpucap::Server s(nvml.get(), "", Options());
  json a = Ask(s, {{"op", "set"}, {"pid", ::getpid()}, {"gpu", 0}, {"limit_w", 200}});
  EXPECT_FALSE(a["ok"]);
  EXPECT_NE(a.value("error", "").find("NVML error 4 (Insufficient Permissions); setting a power limit needs root"),
            std::string::npos)
      << a.dump();
  EXPECT_EQ(LimitNow(0), 250.0);
}

TEST_F(PowerCap, WithoutNvmlEveryRequestSaysWhy) {
  auto missing = gpucap::NvmlControl::Open("libnvidia-ml-does-not-exist.so.1");
  ASSERT_FALSE(missing.ok());
  gpucap::Server s(nullptr, missing.status().message(), Options());
  EXPECT_NE(Ask(s, {{"op", "limits"}}).value("error", "").find("no NVML"), std::string::npos);
}

// The capper with the helper's request handling behind it (no socket).
TEST_F(PowerCap, CapperFollowsTheGridClampsToConstraintsAndRestoresWhenTheJobEnds) {
  auto nvml = Nvml();
  ASSERT_TRUE(nvml);
  gpucap::Server s(nvml.get(), "", Options());
  auto call = [&](const json& r) -> StatusOr<json> {
    json a = Ask(s, r);
    if (!a["ok"]) return FailedPrecondition(a.value("error", ""));
    return a;
  };
  PowerCapper capper(call);
  CapJob job;
  job.id = 7;
  job.pid = ::getpid();
  job.gpus = {"GPU-aaaa-1111"};
  job.cap = {300, 70};
  job.zone = "GB";
  job.gco2_per_kwh = 350;
  auto notes = capper.Apply({job});
  ASSERT_EQ(notes.count(7), 1u);
  EXPECT_EQ(notes[7], "GPU power capped: GPU-aaaa-1111 at 210 W (70% of its default 300 W); GB at 350 g/kWh is above 300");
  EXPECT_EQ(LimitNow(0), 210.0);
  EXPECT_EQ(LimitNow(1), 300.0);  // not the job's
  EXPECT_TRUE(capper.Apply({job}).empty());  // nothing new: no request, no note
  job.gco2_per_kwh = 300;                    // at the threshold: not above
  notes = capper.Apply({job});
  EXPECT_EQ(notes[7], "GPU power at its default limit; GB at 300 g/kWh is at or under 300");
  EXPECT_EQ(LimitNow(0), 300.0);
  job.cap.limit_pct = 40;  // 120 W is under the device's 150 W minimum
  job.gco2_per_kwh = 420;
  notes = capper.Apply({job});
  EXPECT_NE(notes[7].find("at 150 W (40% of its default 300 W, clamped to its constraints 150-300 W)"),
            std::string::npos)
      << notes[7];
  EXPECT_EQ(LimitNow(0), 150.0);
  // The job ends (whatever the way): its GPU goes back at the next tick.
  EXPECT_TRUE(capper.Apply({}).empty());
  EXPECT_EQ(LimitNow(0), 300.0);
  EXPECT_TRUE(capper.idle());

  // Every GPU a job is given; with none named, all of them.
  job.gpus.clear();
  capper.Apply({job});
  EXPECT_EQ(LimitNow(0), 150.0);
  EXPECT_EQ(LimitNow(1), 150.0);
  // carbond is killed here; the next one restores what was stored.
  PowerCapper next(call);
  ASSERT_TRUE(next.RestoreAll().ok());
  EXPECT_EQ(LimitNow(0), 300.0);
  EXPECT_EQ(LimitNow(1), 300.0);
}

TEST_F(PowerCap, WithoutTheHelperTheReasonSaysUnavailable) {
  const std::string sock = dir_ / "no-such.sock";
  PowerCapper capper([&](const json& r) { return gpucap::Call(sock, r); });
  CapJob job;
  job.id = 3;
  job.pid = ::getpid();
  job.cap = {300, 70};
  job.zone = "GB";
  job.gco2_per_kwh = 350;
  auto notes = capper.Apply({job});
  EXPECT_EQ(notes[3], "GPU power cap unavailable: helper not running (connect " + sock +
                          ": No such file or directory)");
  EXPECT_EQ(capper.RestoreAll().code(), StatusCode::kUnavailable);
}

// The real carbond-gpucap on a socket: carbond's uid is served, others are not.
TEST_F(PowerCap, TheHelperOverItsSocketServesOnlyCarbondsUid) {
  if (::getuid() != 0) GTEST_SKIP() << "needs root: the refused client runs as nobody";
  ::chmod(dir_.path().c_str(), 0755);
  const std::string sock = dir_ / "gpucap.sock";
  pid_t helper = ::fork();
  if (helper == 0) {
    ::execl(GPUCAP_BIN, GPUCAP_BIN, "--socket", sock.c_str(), "--socket-mode", "0666", "--allow-uid", "0",
            "--state-file", (dir_ / "limits.json").c_str(), "--idle-exit", "0", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  StatusOr<json> limits = Unavailable("not started");
  for (int i = 0; i < 200 && !limits.ok(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    limits = gpucap::Call(sock, {{"op", "limits"}});
  }
  ASSERT_TRUE(limits.ok()) << limits.status().ToString();
  EXPECT_EQ((*limits)["gpus"].size(), 2u);
  pid_t client = ::fork();
  if (client == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(126);
    auto r = gpucap::Call(sock, {{"op", "restore"}, {"all", true}});
    const bool refused = !r.ok() && r.status().message() == "uid 65534 may not use carbond-gpucap; only carbond's uid 0 may";
    ::_exit(refused ? 0 : 1);
  }
  int st = 0;
  ::waitpid(client, &st, 0);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "the request from uid 65534 was not refused as expected";
  ::kill(helper, SIGTERM);
  ::waitpid(helper, nullptr, 0);
}

}  // namespace
}  // namespace carbon
