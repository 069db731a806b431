// Starts carbond for a benchmark on a fresh temp dir (its socket there, its
// log in carbond.log) and waits until the API answers. For targets that
// define CARBOND_BIN and link carbon_client.
#pragma once

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <string>
#include <thread>

#include "proto-less-api/client.h"

namespace carbon::bench {

struct BenchDaemon {
  std::string dir, socket;
  pid_t pid = -1;
  void Stop(int sig = SIGTERM) {
    if (pid <= 0) return;
    ::kill(pid, sig);
    ::waitpid(pid, nullptr, 0);
    pid = -1;
  }
};

// Starts carbond on the daemon's carbond.yaml, its output appended to
// carbond.log; does not wait for it.
inline void Launch(BenchDaemon& d) {
  const std::string cfg = d.dir + "/carbond.yaml";
  d.pid = ::fork();
  if (d.pid == 0) {
    int log = ::open((d.dir + "/carbond.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    ::dup2(log, 1);
    ::dup2(log, 2);
    ::execl(CARBOND_BIN, CARBOND_BIN, "--config", cfg.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
}

// `config` follows the socket and state_dir lines of carbond.yaml.
inline BenchDaemon StartCarbond(const std::string& name, const std::string& config) {
  std::string tmpl = "/tmp/carbond-" + name + "-XXXXXX";
  BenchDaemon d;
  d.dir = ::mkdtemp(tmpl.data());
  d.socket = d.dir + "/carbond.sock";
  const std::string cfg = d.dir + "/carbond.yaml";
  std::ofstream(cfg) << "socket: " << d.socket << "\nstate_dir: " << d.dir << "/state\n" << config;
  Launch(d);
  carbon::api::Client probe(d.socket);
  auto start = std::chrono::steady_clock::now();
  while (!probe.Health().ok() && std::chrono::steady_clock::now() - start < std::chrono::seconds(5))
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return d;
}

}  // namespace carbon::bench
