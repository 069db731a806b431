// SlurmClient: Slurm's commands, run asynchronously on carbond's event loop
// (CommandRunner: no shell, a timeout, stderr kept), and their output parsed
// (slurm_output.h). Each answer comes through a callback on the loop.
// Errors say why in a form a job's reason can carry:
//   UNAVAILABLE  the controller could not be reached or the command timed
//                out: keep everything and retry later;
//   NOT_FOUND    squeue does not know the job (purged, or never existed);
//   FAILED_PRECONDITION  anything else Slurm refused, with its stderr.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "daemon/exec/command_runner.h"
#include "daemon/exec/slurm/slurm_output.h"

namespace carbon::slurm {

struct ClientOptions {
  std::string conf;                 // SLURM_CONF for every command; empty: Slurm's default
  std::string bin_dir = "/usr/bin";  // where sbatch, squeue, scontrol, scancel and sacct are
  std::chrono::milliseconds timeout{30000};
  std::vector<std::string> env;     // more "NAME=value" for the commands (PATH is set)
};

// One batch job to submit.
struct Submission {
  std::string name;         // -J
  std::string comment;      // --comment (JobComment)
  std::string chdir;        // --chdir
  std::string output;       // -o
  std::string export_file;  // --export-file: the job's exact environment (NUL-separated NAME=value)
  std::string partition;    // -p, if any
  std::vector<std::string> extra_args;  // the site's sbatch_args
  std::string script;       // the batch script's path
  bool hold = true;         // --hold: Slurm keeps it pending until Release
};

class Client {
 public:
  Client(CommandRunner& runner, ClientOptions options);

  void Submit(const Submission& s, std::function<void(StatusOr<int64_t>)> done);
  void Release(int64_t id, std::function<void(Status)> done);
  // scancel; with `signal` ("TERM"), only that signal is sent, to the batch
  // script and its children (--full), and the job goes on until it exits. scancel of an unknown id exits 0: not an error here either.
  void Cancel(int64_t id, std::optional<std::string> signal, std::function<void(Status)> done);
  // Every job Slurm still shows (-t all), one call however many are tracked.
  void Queue(std::function<void(StatusOr<std::vector<QueueRow>>)> done);
  // What accounting recorded of `ids`; `jobcomp`: sacct -c (the jobcomp
  // file, for sites without slurmdbd).
  void Accounting(const std::vector<int64_t>& ids, bool jobcomp,
                  std::function<void(StatusOr<std::vector<AcctRow>>)> done);

  // The argv each call runs (for tests and logs).
  std::vector<std::string> SubmitArgv(const Submission& s) const;

 private:
  // Runs `tool` with `args`; `done` gets the result, or the error as above.
  void Run(const std::string& tool, std::vector<std::string> args,
           std::function<void(StatusOr<CommandResult>)> done);
  CommandRunner& runner_;
  ClientOptions options_;
};

}  // namespace carbon::slurm
