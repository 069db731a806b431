// CommandRunner: runs short commands (Slurm's sbatch, squeue, scontrol,
// scancel, sacct) on carbond's event loop without ever blocking it: each
// through Spawn (no shell, an exact environment, stdin from /dev/null), its
// stdout and stderr read as they come, killed with its process group after
// a timeout. All callbacks run on the io_context's thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace carbon {

struct CommandResult {
  int exit_code = -1;  // -1 when it did not exit (a signal, the timeout)
  int signal = 0;      // the signal that ended it, if any
  bool timed_out = false;
  std::string out, err;  // what it wrote, each cut at CommandRunner::kMaxOutput bytes
  bool ok() const { return exit_code == 0 && !timed_out; }
  // "exited with status 1: <stderr's last line>", "timed out after 2 s",
  // "killed by signal 9": for a job's reason or a log line.
  std::string Describe() const;
};

class CommandRunner {
 public:
  static constexpr size_t kMaxOutput = 4 << 20;
  using Done = std::function<void(CommandResult)>;

  explicit CommandRunner(boost::asio::io_context& io);
  ~CommandRunner();  // kills what still runs (its callbacks are not called)
  CommandRunner(const CommandRunner&) = delete;
  CommandRunner& operator=(const CommandRunner&) = delete;

  // Starts argv (argv[0] an absolute path) with exactly `env`; `done` is
  // called once, on the loop, when it has exited and its output is read.
  // An error means it did not start (and `done` is not called).
  Status Run(std::vector<std::string> argv, std::vector<std::string> env, std::chrono::milliseconds timeout,
             Done done);
  size_t running() const { return procs_.size(); }

 private:
  struct Proc;
  void WaitForSigchld();
  void Read(const std::shared_ptr<Proc>& p, bool err);
  void MaybeFinish(const std::shared_ptr<Proc>& p);

  boost::asio::io_context& io_;
  boost::asio::signal_set sigchld_;
  std::map<pid_t, std::shared_ptr<Proc>> procs_;
};

}  // namespace carbon
