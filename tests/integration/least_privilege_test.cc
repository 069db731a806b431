// What a job or a response can reach: a job names no path carbond writes to
// (run directories come from ids), its data must lie in worker.data_roots,
// and the Electricity Maps token reaches neither a log, a response, a file
// in the state directory nor a worker. carbond is a real process, the
// upstream a local server (tests/support/fake_upstream.h) replaying a real
// Electricity Maps body, the worker the test double.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "proto-less-api/client.h"
#include "tests/support/daemon_process.h"
#include "tests/support/fake_upstream.h"
#include "tests/support/files.h"

namespace carbon {
namespace {

namespace fs = std::filesystem;
using fakes::DaemonProcess;
using fakes::StateIs;
using fakes::Submit;
using fakes::TempDir;
using fakes::WaitFor;
using fakes::WriteJob;
using nlohmann::json;
using namespace std::chrono_literals;

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every regular file under `root` that contains `needle`.
std::vector<std::string> FilesContaining(const fs::path& root, const std::string& needle) {
  std::vector<std::string> hits;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file() && Slurp(e.path()).find(needle) != std::string::npos) hits.push_back(e.path());
  return hits;
}

TEST(LeastPrivilege, DataPathOutsideTheRootsIsRefusedAtSubmitWithTheField) {
  TempDir dir;
  DaemonProcess d(dir, FAKE_WORKER_BIN);
  ASSERT_TRUE(d.Start()) << d.Log();
  fs::create_directories(dir / "state/datasets");
  fs::create_directory_symlink("/etc", dir / "state/datasets/link");
  struct Case {
    std::string path, expect;
  };
  for (const Case& c : {Case{"/etc", "'/etc' is outside the directories carbond's workers may read"},
                        Case{"/usr/share/datasets/../../../etc", "resolves to '/etc'"},
                        Case{dir / "state/datasets/link/ssl", "resolves to '/etc/ssl'"},
                        Case{"datasets/fashion-mnist", "is relative; give an absolute path"}}) {
    SCOPED_TRACE(c.path);
    std::string job = dir / "job.yaml";
    std::ofstream(job) << "name: escape\ncarbon: {policy: immediate}\ndata:\n  path: " << c.path << "\n";
    auto r = d.Ctl({"submit", job});
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.err.find("'data.path': "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("job.yaml:4:9"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << r.err;
    if (c.path[0] == '/') {
      EXPECT_NE(r.err.find("worker.data_roots: /usr/share/datasets, " + (dir / "state/datasets")),
                std::string::npos)
          << r.err;
    }
  }
  EXPECT_EQ(json::parse(d.Ctl({"-o", "json", "list"}).out)["jobs"].size(), 0u);
  // Inside a root (the state directory's datasets/): accepted.
  fs::create_directories(dir / "state/datasets/fm");
  EXPECT_GT(Submit(d, WriteJob(dir, "inside", "data: {path: " + (dir / "state/datasets/fm") + "}\n")), 0);
}

TEST(LeastPrivilege, DataPathTurnedIntoASymlinkBeforeReleaseFailsTheJobUnstarted) {
  TempDir dir;
  // Releases paused (no slots) until the reload below.
  DaemonProcess d(dir, FAKE_WORKER_BIN, "  max_concurrent_jobs: 0\n");
  ASSERT_TRUE(d.Start()) << d.Log();
  const fs::path data = dir / "state/datasets/fm";
  fs::create_directories(data);
  int64_t id = Submit(d, WriteJob(dir, "swapped", "data: {path: " + data.string() + "}\n"));
  ASSERT_GT(id, 0);
  fs::remove(data);
  fs::create_directory_symlink("/etc", data);
  d.WriteConfig("  max_concurrent_jobs: 1\n");
  d.Signal(SIGHUP);
  json j = WaitFor(d, id, StateIs("failed"));
  EXPECT_EQ(j["attempts"], 0) << j.dump();
  EXPECT_NE(j["reason"].get<std::string>().find("not started: data.path '" + data.string() + "' resolves to '/etc'"),
            std::string::npos)
      << j.dump();
  EXPECT_FALSE(fs::exists(d.runs() + "/" + std::to_string(id) + "/attempts")) << "the worker ran";
}

TEST(LeastPrivilege, RunDirectoriesComeFromIdsAndStaleOnesAreMovedAside) {
  TempDir dir;
  DaemonProcess d(dir, FAKE_WORKER_BIN);
  // Left from an earlier database whose job 1 had a checkpoint.
  fs::create_directories(d.runs() + "/1");
  std::ofstream(d.runs() + "/1/checkpoint-3-0.pt") << "another job's weights";
  // A run directory planted as a link to somewhere else.
  fs::create_directories(dir / "elsewhere");
  fs::create_directory_symlink(dir / "elsewhere", d.runs() + "/2");
  ASSERT_TRUE(d.Start()) << d.Log();

  // A name that looks like a path never becomes one.
  int64_t first = Submit(d, WriteJob(dir, ".."));
  ASSERT_EQ(first, 1);
  json j = WaitFor(d, first, StateIs("succeeded"));
  EXPECT_EQ(j["name"], "..");
  EXPECT_EQ(j["run_dir"], d.runs() + "/1");
  EXPECT_FALSE(fs::exists(d.runs() + "/1/checkpoint-3-0.pt"));
  bool moved = false;
  for (const auto& e : fs::directory_iterator(d.runs()))
    if (e.path().filename().string().rfind("1.stale-", 0) == 0)
      moved = fs::exists(e.path() / "checkpoint-3-0.pt");
  EXPECT_TRUE(moved) << "the stale checkpoint was not kept aside";
  EXPECT_NE(d.Log().find("held files from before this job"), std::string::npos) << d.Log();

  int64_t second = Submit(d, WriteJob(dir, "planted"));
  ASSERT_EQ(second, 2);
  j = WaitFor(d, second, StateIs("failed"));
  EXPECT_NE(j["reason"].get<std::string>().find("is a symbolic link"), std::string::npos) << j.dump();
  EXPECT_TRUE(fs::is_empty(dir / "elsewhere")) << "carbond wrote through the link";

  // Names with a separator are refused before anything is stored.
  std::string bad = dir / "bad.yaml";
  std::ofstream(bad) << "name: ../../etc/x\n";
  auto r = d.Ctl({"submit", bad});
  EXPECT_EQ(r.exit_code, 2) << r.err;  // carbonctl validates before it sends
  EXPECT_NE(r.err.find("'name': '../../etc/x' is not accepted"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("bad.yaml:1:7"), std::string::npos) << r.err;
  api::Client c(d.socket());
  auto raw = c.Do("POST", "/v1/jobs", "name: ../../etc/x\n", "application/yaml");
  ASSERT_TRUE(raw.ok()) << raw.status().ToString();
  EXPECT_EQ(raw->status, 400) << raw->body;
  EXPECT_EQ(json::parse(d.Ctl({"-o", "json", "list"}).out)["jobs"].size(), 2u);
  // Everything carbond wrote is inside its state directory: the run
  // directories are <runs>/<id> (and the one moved aside).
  for (const auto& e : fs::directory_iterator(d.runs())) {
    const std::string n = e.path().filename();
    EXPECT_TRUE(n == "1" || n == "2" || n.rfind("1.stale-", 0) == 0) << n;
  }
}

TEST(LeastPrivilege, TheTokenReachesTheUpstreamOnlyNeverALogAResponseAFileOrAWorker) {
  const std::string token = "tok-7f3a9c-SECRET";
  TempDir dir;
  fakes::FakeUpstream upstream(dir.path());
  const std::string latest = Slurp(CARBON_SOURCE_DIR "/tests/fixtures/electricitymaps/latest_DE_2024-03-01_green-elephpant.json");
  ASSERT_FALSE(latest.empty());
  std::atomic<bool> echo{false};
  auto reply = [](int status, std::string body) {
    fakes::UpstreamReply r;
    r.status = status;
    r.body = std::move(body);
    return r;
  };
  upstream.set_handler([&, reply](const fakes::UpstreamRequest& req) {
    auto it = req.headers.find("auth-token");
    if (echo) {
      // The worst upstream: an error whose body echoes the request's headers.
      return reply(503, "{\"message\":\"bad auth-token: " + (it == req.headers.end() ? "" : it->second) + "\"}");
    }
    if (it == req.headers.end() || it->second != token) return reply(401, "{\"message\":\"no token\"}");
    if (req.target.find("/latest") != std::string::npos) return reply(200, latest);
    return reply(404, "{}");
  });
  DaemonProcess d(dir, FAKE_WORKER_BIN,
                  // The recorded reading is from 2024-03-01T23:00Z: carbond's clock starts then.
                  "log: {level: debug}\nclock: {mode: virtual, start: '2024-03-01T23:10:00Z', speed: 1}\n"
                  "intensity:\n  chain: [electricitymaps, mock]\n  poll: 1s\n"
                  "  electricitymaps: {base_url: '" + upstream.http_url() + "'}\n"
                  "  http: {request_timeout: 2s, retries: 1}\n");
  d.env = {"ELECTRICITYMAPS_TOKEN=" + token, "CREDENTIALS_DIRECTORY=" + (dir / "creds")};
  ASSERT_TRUE(d.Start()) << d.Log();
  api::Client c(d.socket());
  json h;
  for (int i = 0; i < 100; ++i) {
    h = json::parse(c.Do("GET", "/v1/health")->body);
    if (h["intensity"]["zones"]["GB"]["source"] == "electricitymaps") break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(h["intensity"]["zones"]["GB"]["source"], "electricitymaps") << h.dump() << d.Log();
  EXPECT_NE(d.Log().find("electricitymaps token from environment variable ELECTRICITYMAPS_TOKEN"), std::string::npos);

  // A job runs: its worker's environment holds neither the token nor the
  // credentials directory.
  int64_t id = Submit(d, WriteJob(dir, "env-check"));
  WaitFor(d, id, StateIs("succeeded"));
  const std::string env = Slurp(d.runs() + "/" + std::to_string(id) + "/env.txt");
  ASSERT_FALSE(env.empty());
  EXPECT_EQ(env.find(token), std::string::npos) << env;
  EXPECT_EQ(env.find("ELECTRICITYMAPS_TOKEN"), std::string::npos);
  EXPECT_EQ(env.find("CREDENTIALS_DIRECTORY"), std::string::npos);

  // Now the upstream echoes the token in its error body; carbond's errors
  // quote the body with the token cut out.
  echo = true;
  std::string reason;
  for (int i = 0; i < 100 && reason.find("HTTP 503") == std::string::npos; ++i) {
    std::this_thread::sleep_for(100ms);
    h = json::parse(c.Do("GET", "/v1/health")->body);
    reason = h["intensity"]["zones"]["GB"].value("reason", "");
  }
  EXPECT_NE(reason.find("bad auth-token: [auth-token]"), std::string::npos) << h.dump();

  // Every answer carbond gives, its log and every file it wrote.
  for (const char* target : {"/v1/health", "/v1/jobs", "/v1/jobs/1", "/v1/intensity", "/v1/intensity/forecast",
                             "/v1/intensity/history", "/v1/totals", "/metrics", "/"}) {
    auto r = c.Do("GET", target);
    ASSERT_TRUE(r.ok()) << target;
    EXPECT_EQ(r->body.find(token), std::string::npos) << target << ": " << r->body;
  }
  auto cli = d.Ctl({"-o", "json", "intensity"});
  EXPECT_EQ((cli.out + cli.err).find(token), std::string::npos);
  d.Kill(SIGTERM);
  EXPECT_EQ(d.Log().find(token), std::string::npos) << "the token is in carbond's log";
  EXPECT_NE(d.Log().find("bad auth-token: [auth-token]\"}); retry 1 of 1"), std::string::npos)
      << "the retry of the echoed error was not logged at debug";
  EXPECT_EQ(FilesContaining(dir / "state", token), std::vector<std::string>{});
  EXPECT_GE(upstream.request_count(), 2u);
}

}  // namespace
}  // namespace carbon
