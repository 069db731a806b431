// Test doubles for the scheduler core (namespace carbon::fakes).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "daemon/core/executor.h"

namespace carbon::fakes {

// An Executor that starts nothing: it records what it was asked and lets the
// test end a job's "worker" when it likes.
class FakeExecutor final : public Executor {
 public:
  void SetListener(ExecutorListener* l) override { listener_ = l; }
  Status Start(const JobRecord& job, const std::string& run_dir) override {
    if (fail_next_start) {
      fail_next_start = false;
      if (on_failed_start) on_failed_start();
      return Unavailable("cannot execute worker '/nope': No such file or directory");
    }
    running_.insert(job.id);
    started.push_back(job.id);
    run_dirs[job.id] = run_dir;
    return Status();
  }
  Status Stop(int64_t job_id, StopMode mode) override {
    if (!running_.count(job_id)) return NotFound("no worker");
    stops.emplace_back(job_id, mode);
    return Status();
  }
  bool IsRunning(int64_t id) const override { return running_.count(id) > 0; }
  size_t RunningCount() const override { return running_.size(); }

  // Ends a job's worker as if its process had exited.
  void Exit(int64_t id, int64_t exit_status, bool interrupted = false) {
    running_.erase(id);
    ExitInfo info;
    info.exit_status = exit_status;
    info.outcome = interrupted ? protocol::WorkerExit::kInterrupted : protocol::WorkerExitFromCode(exit_status);
    info.description = "exited with status " + std::to_string(exit_status);
    info.stderr_tail = exit_status ? "boom" : "";
    listener_->OnWorkerExit(id, info);
  }
  void Event(int64_t id, const protocol::Event& event) { listener_->OnWorkerEvent(id, event); }

  std::vector<int64_t> started;
  std::vector<std::pair<int64_t, StopMode>> stops;
  std::map<int64_t, std::string> run_dirs;
  bool fail_next_start = false;
  std::function<void()> on_failed_start;  // runs as a start fails

 private:
  ExecutorListener* listener_ = nullptr;
  std::set<int64_t> running_;
};

// A worker event as a worker sends it: `json` (an event object without the
// protocol version) through the protocol's decoder, as every executor does.
// Aborts on a line that does not decode: a mistake in the test.
inline protocol::Event WorkerEvent(std::string json) {
  json.insert(1, "\"v\":1,");
  auto e = protocol::Decode(json);
  if (!e.ok()) {
    std::fprintf(stderr, "WorkerEvent(%s): %s\n", json.c_str(), e.status().ToString().c_str());
    std::abort();
  }
  return *e;
}

// A fresh temporary directory, removed with its contents at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "carbond-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace carbon::fakes
