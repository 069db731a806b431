// A test double of carbon-worker for carbond's integration tests. It speaks
// the same protocol (arguments, JSON-line events on --event-fd, exit codes)
// and behaves according to words in the job's name:
//   fail      -> started, then exit 1          reject   -> exit 2 (not retryable)
//   slow      -> runs until SIGTERM (exit 75) or 60 s
//   stubborn  -> ignores SIGTERM for 60 s      (anything else) -> one epoch, exit 0
//   env       -> also writes its environment to <run-dir>/env.txt
// Each run appends a line to <run-dir>/attempts so tests can count starts.
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include "common/job_spec.h"

extern char** environ;

namespace {
std::atomic<bool> g_stop{false};
extern "C" void OnTerm(int) { g_stop.store(true); }
int g_fd = -1;
void Send(const std::string& json) {
  std::string line = json + "\n";
  if (g_fd >= 0) (void)::send(g_fd, line.data(), line.size(), MSG_NOSIGNAL);
}
}  // namespace

int main(int argc, char** argv) {
  std::string job_file, run_dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--job-file") job_file = argv[i + 1];
    else if (a == "--run-dir") run_dir = argv[i + 1];
    else if (a == "--event-fd") g_fd = std::atoi(argv[i + 1]);
  }
  auto spec = carbon::LoadJobSpecFile(job_file);
  if (!spec.ok()) {
    std::fprintf(stderr, "fake-worker: %s\n", spec.status().message().c_str());
    return 2;
  }
  std::ofstream(run_dir + "/attempts", std::ios::app) << ::getpid() << "\n";
  const std::string& name = spec->name;
  if (name.find("env") != std::string::npos) {
    std::ofstream env(run_dir + "/env.txt");
    for (char** e = environ; *e; ++e) env << *e << "\n";
  }
  if (name.find("stubborn") != std::string::npos) {
    ::signal(SIGTERM, SIG_IGN);
  } else {
    ::signal(SIGTERM, OnTerm);
  }
  if (name.find("reject") != std::string::npos) {
    std::fprintf(stderr, "fake-worker: data.path does not exist\n");
    return 2;
  }
  Send(R"({"event":"started","device":"cpu"})");
  if (name.find("fail") != std::string::npos) {
    std::fprintf(stderr, "fake-worker: simulated crash\n");
    return 1;
  }
  if (name.find("slow") != std::string::npos || name.find("stubborn") != std::string::npos) {
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < end) {
      if (g_stop.load()) {
        Send(R"({"event":"interrupted"})");
        return 75;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  Send(R"({"event":"epoch","epoch":1,"epochs":1,"loss":0.5,"test_accuracy":0.8})");
  Send(R"({"event":"finished","test_accuracy":0.8})");
  return 0;
}
