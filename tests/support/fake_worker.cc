// A test double of carbon-worker for carbond's integration tests. It speaks
// the same protocol (common/worker_protocol.h: its encoder, on --event-fd or
// --events-file; its exit codes) and behaves according to words in the job's
// name:
//   fail      -> started, then exit 1          reject   -> exit 2 (not retryable)
//   slow      -> runs until SIGTERM (exit 75) or 60 s
//   stubborn  -> ignores SIGTERM for 60 s      (anything else) -> one epoch, exit 0
//   env       -> also writes its environment to <run-dir>/env.txt
//   replay    -> sends the lines of $CARBON_FAKE_REPLAY as they are (a
//                recorded stream), 50 ms apart, and exits 0
//   oldproto  -> speaks protocol version 0 (no "v"): carbond must refuse it
// Each run appends a line to <run-dir>/attempts so tests can count starts,
// after carbond's start gate (--go-fd) opened, as the real worker waits.
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fcntl.h>

#include <fstream>
#include <string>
#include <thread>

#include "common/job_spec.h"
#include "common/worker_protocol.h"

extern char** environ;

namespace {
std::atomic<bool> g_stop{false};
extern "C" void OnTerm(int) { g_stop.store(true); }
int g_fd = -1;
bool g_socket = false;
void SendLine(const std::string& line) {
  if (g_fd < 0) return;
  if (g_socket) (void)::send(g_fd, line.data(), line.size(), MSG_NOSIGNAL);
  else (void)::write(g_fd, line.data(), line.size());
}
void Send(const carbon::protocol::Event& e) { SendLine(carbon::protocol::Encode(e)); }
}  // namespace

int main(int argc, char** argv) {
  std::string job_file, run_dir;
  int go_fd = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--job-file") job_file = argv[i + 1];
    else if (a == "--run-dir") run_dir = argv[i + 1];
    else if (a == "--event-fd") g_fd = std::atoi(argv[i + 1]), g_socket = true;
    else if (a == "--go-fd") go_fd = std::atoi(argv[i + 1]);
    else if (a == "--events-file") g_fd = ::open(argv[i + 1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  }
  if (go_fd >= 0) {
    char go = 0;
    if (::read(go_fd, &go, 1) != 1) return 1;  // carbond went away
    ::close(go_fd);
  }
  auto spec = carbon::LoadJobSpecFile(job_file);
  if (!spec.ok()) {
    std::fprintf(stderr, "fake-worker: %s\n", spec.status().message().c_str());
    return carbon::protocol::ExitCode(carbon::protocol::WorkerExit::kRejected);
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
    return carbon::protocol::ExitCode(carbon::protocol::WorkerExit::kRejected);
  }
  if (name.find("replay") != std::string::npos) {
    const char* path = std::getenv("CARBON_FAKE_REPLAY");
    std::ifstream in(path ? path : "");
    for (std::string line; std::getline(in, line);) {
      SendLine(line + "\n");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return 0;
  }
  if (name.find("oldproto") != std::string::npos) {
    SendLine(R"({"event":"started","device":"cpu"})" "\n");
    for (int i = 0; i < 3000 && !g_stop.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return 1;
  }
  carbon::protocol::Started started;
  started.device = "cpu";
  started.epochs = 1;
  Send(started);
  if (name.find("fail") != std::string::npos) {
    std::fprintf(stderr, "fake-worker: simulated crash\n");
    return 1;
  }
  if (name.find("slow") != std::string::npos || name.find("stubborn") != std::string::npos) {
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < end) {
      if (g_stop.load()) {
        Send(carbon::protocol::Interrupted{1, 0, false});
        return carbon::protocol::ExitCode(carbon::protocol::WorkerExit::kInterrupted);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  carbon::protocol::Epoch epoch;
  epoch.record.epoch = 1;
  epoch.epochs = 1;
  epoch.record.train_loss = 0.5;
  epoch.record.test_accuracy = 0.8;
  Send(epoch);
  Send(carbon::protocol::Finished{0.8, 0.5, 0.8, 1});
  return 0;
}
