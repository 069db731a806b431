// Starts carbond as a child process on a temp dir and socket, and runs
// carbonctl against it, for the integration tests.
#pragma once

#include <dirent.h>
#include <grp.h>

#include <filesystem>

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/fakes.h"

namespace carbon::fakes {

struct CmdResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs argv with its stdout and stderr captured (no shell); with `as_uid`
// (root only), as that user with group 0 kept, like a member of the
// socket's group.
inline CmdResult RunCommand(const std::vector<std::string>& args,
                            const std::vector<std::string>& env = {}, int as_uid = -1) {
  TempDir tmp;
  std::string out = tmp / "out", err = tmp / "err";
  pid_t pid = ::fork();
  if (pid == 0) {
    int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(o, 1);
    ::dup2(e, 2);
    if (as_uid >= 0) {
      gid_t group = 0;
      if (::setgroups(1, &group) != 0 || ::setgid(0) != 0 || ::setuid(static_cast<uid_t>(as_uid)) != 0) ::_exit(126);
    }
    for (const auto& kv : env) ::putenv(const_cast<char*>(kv.c_str()));
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  CmdResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::ifstream fo(out), fe(err);
  std::stringstream so, se;
  so << fo.rdbuf();
  se << fe.rdbuf();
  r.out = so.str();
  r.err = se.str();
  return r;
}

inline bool CanConnect(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// A job file `name`.yaml in `dir`: one epoch, released at once unless
// `extra` has its own carbon: section (the default policy, forecast, would
// wait for the mock's cleanest window).
inline std::string WriteJob(const TempDir& dir, const std::string& name, const std::string& extra = "") {
  std::string path = dir / (name + ".yaml");
  std::ofstream(path) << "name: " << name << "\ntrain:\n  epochs: 1\n"
                      << (extra.find("carbon:") == std::string::npos ? "carbon: {policy: immediate}\n" : "")
                      << extra;
  return path;
}

// The pid of the carbon-worker (or fake worker) running job `id` of the
// carbond whose state_dir this is (its --run-dir is <state_dir>/runs/<id>);
// -1 when none runs.
// The interruptible tests' grid: a half-hourly trace at `path` of 50 g/kWh
// until 00:30 on 2026-11-26, 500 until 02:00, 100 after; and the config of a
// carbond that replays it on a virtual clock from 23:50, 600 times faster
// (a job submitted at once runs, pauses at 00:30, 4 s later, and resumes at 02:00).
inline std::string PauseTraceConfig(const std::string& path) {
  std::ofstream t(path);
  t << "Time,Carbon Intensity\n2026-11-25 23:30:00,50\n";
  for (int i = 0; i < 24; ++i)
    t << "2026-11-26 " << (i / 2 < 10 ? "0" : "") << i / 2 << (i % 2 ? ":30" : ":00") << ":00,"
      << (i == 0 ? 50 : i >= 4 ? 100 : 500) << "\n";
  return "  max_attempts: 1\nenergy: {measure_power_secs: 1}\n"
         "intensity:\n  chain: [trace]\n  poll: 1m\n  trace: {path: " + path + ", loop: false}\n"
         "clock: {mode: virtual, start: 2026-11-25T23:50:00Z, speed: 600, skip_idle: true}\n";
}

inline pid_t WorkerPid(const std::string& state_dir, int64_t id) {
  // The full run directory: another test's job with the same id is not it.
  const std::string want = state_dir + "/runs/" + std::to_string(id) + '\0';
  DIR* proc = ::opendir("/proc");
  pid_t found = -1;
  while (dirent* e = proc ? ::readdir(proc) : nullptr) {
    std::ifstream in(std::string("/proc/") + e->d_name + "/cmdline", std::ios::binary);
    const std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmd.find("worker") != std::string::npos && cmd.find(want) != std::string::npos)
      found = std::atoi(e->d_name);
  }
  if (proc) ::closedir(proc);
  return found;
}

class DaemonProcess {
 public:
  // `extra_config` is appended to a config that sets the socket, state_dir
  // and worker inside `dir`.
  DaemonProcess(const TempDir& dir, std::string worker, std::string extra_config = "")
      : dir_(dir.path()), worker_(std::move(worker)) {
    socket_ = dir_ + "/carbond.sock";
    config_ = dir_ + "/carbond.yaml";
    WriteConfig(extra_config);
  }
  ~DaemonProcess() { Kill(SIGKILL); }

  void WriteConfig(const std::string& extra) {
    std::ofstream(config_) << "socket: " << socket_ << "\nstate_dir: " << dir_
                           << "/state\nworker:\n  path: " << worker_ << "\n" << extra;
  }

  // Starts carbond and waits until its socket answers.
  bool Start() {
    pid_ = ::fork();
    if (pid_ == 0) {
      int log = ::open((dir_ + "/carbond.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      ::dup2(log, 1);
      ::dup2(log, 2);
      for (const auto& kv : env) ::putenv(const_cast<char*>(kv.c_str()));
      ::execl(CARBOND_BIN, CARBOND_BIN, "--config", config_.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 200; ++i) {
      if (CanConnect(socket_)) return true;
      int st;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        exit_status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  void Signal(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  void Kill(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    Wait();
  }
  // Waits for carbond to exit; returns its exit status (or -1 on timeout).
  int Wait(std::chrono::seconds timeout = std::chrono::seconds(30)) {
    if (pid_ <= 0) return exit_status_;
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      int st;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        exit_status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return exit_status_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

  CmdResult Ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {CARBONCTL_BIN, "--socket", socket_});
    return RunCommand(args);
  }
  // carbonctl as another user (the test must run as root). It runs a copy
  // in the test's directory: the build tree may sit where other users
  // cannot reach (/root).
  CmdResult CtlAs(int uid, std::vector<std::string> args) {
    const std::string copy = dir_ + "/carbonctl";
    std::error_code ec;
    if (!std::filesystem::exists(copy, ec)) {
      std::filesystem::copy_file(CARBONCTL_BIN, copy, ec);
      ::chmod(copy.c_str(), 0755);
    }
    args.insert(args.begin(), {copy, "--socket", socket_});
    return RunCommand(args, {}, uid);
  }

  std::string Log() const {
    std::ifstream in(dir_ + "/carbond.log");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  // "NAME=value" entries added to carbond's environment at the next Start().
  std::vector<std::string> env;

  const std::string& socket() const { return socket_; }
  std::string state_dir() const { return dir_ + "/state"; }
  // The pid of this carbond's worker of job `id`; -1 when none runs.
  pid_t WorkerPid(int64_t id) const { return fakes::WorkerPid(state_dir(), id); }
  const std::string& config() const { return config_; }
  std::string db() const { return dir_ + "/state/carbond.db"; }
  std::string runs() const { return dir_ + "/state/runs"; }
  pid_t pid() const { return pid_; }

 private:
  std::string dir_, worker_, socket_, config_;
  pid_t pid_ = -1;
  int exit_status_ = -1;
};

// Polls the job until `pred` holds or 20 s pass.
template <typename Pred>
nlohmann::json WaitFor(DaemonProcess& d, int64_t id, Pred pred) {
  nlohmann::json j;
  for (int i = 0; i < 400; ++i) {
    auto r = d.Ctl({"-o", "json", "status", std::to_string(id)});
    if (r.exit_code == 0) {
      j = nlohmann::json::parse(r.out);
      if (pred(j)) return j;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "job " << id << " never reached the expected state; last: " << j.dump();
  return j;
}

inline auto StateIs(const std::string& s) {
  return [s](const nlohmann::json& j) { return j["state"] == s; };
}

inline int64_t Submit(DaemonProcess& d, const std::string& file) {
  auto r = d.Ctl({"submit", file});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? std::stoll(r.out) : -1;
}

}  // namespace carbon::fakes
