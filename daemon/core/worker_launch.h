// WorkerLaunch: what every site does to start a job's worker and to read
// what it says, so that a local process (ProcessExecutor) and a Slurm batch
// job (slurm::Executor) start and hear it the same way, and a new kind of
// job (a command job) plugs in here once:
//   - the launch: job.yaml in the run directory, the worker's argv (its
//     files, the site's transport flags, the configured flags), and where
//     this attempt's events start in the append-only events.jsonl;
//   - the events: decoded lines delivered, a line that does not decode
//     skipped, a line of another protocol version refusing the worker;
//   - the end: a refused worker is kRejected, and every end carries the
//     tail of worker.log.
// The run directory itself is the executor's (PrepareRunDir, daemon/core/run_dir.h):
// a local site makes it just before the start, a Slurm site when it holds the job.
//
// No Asio: the executors own their timers and sockets.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/job_record.h"
#include "common/status.h"
#include "common/worker_protocol.h"
#include "daemon/core/executor.h"

namespace carbon {

// The worker every site starts: its path and the flags added after the job's
// own (energy settings; a reload changes them).
struct WorkerCommand {
  std::string path;
  std::vector<std::string> flags;
};

// One attempt's launch.
struct Launch {
  std::string run_dir;
  std::vector<std::string> argv;
  int64_t events_offset = 0;  // this attempt's events start here in events.jsonl
  std::string JobFile() const { return run_dir + "/job.yaml"; }
  std::string EventsFile() const { return run_dir + "/events.jsonl"; }
  std::string LogFile() const { return run_dir + "/worker.log"; }
};

// Writes <run_dir>/job.yaml (the job's spec as submitted; never through a
// symbolic link) and builds the argv of attempt `attempt`:
//   <path> --job-file F --run-dir D --job-id N --attempt A --grid-file G
//   <transport...> <flags...>
// UNAVAILABLE when the file cannot be written.
StatusOr<Launch> MakeLaunch(const JobRecord& job, const std::string& run_dir, int64_t attempt,
                            const WorkerCommand& worker, const std::vector<std::string>& transport);

// How long a site waits after asking a job's worker to stop before it kills
// it: `cancel_grace`, or for a command job (run) its run.stop_grace and 10 s
// more when that is longer (the supervisor kills the program's tree at
// stop_grace, then reports).
Duration KillAfter(const JobRecord& job, Duration cancel_grace);

// The flags a command job's worker gets besides the site's: --memory-limit
// (worker.memory_limit, which the supervisor applies to the whole tree) when
// `memory_limit` > 0. Empty for a built-in job.
std::vector<std::string> CommandFlags(const JobRecord& job, int64_t memory_limit);

// What one attempt's worker said, decoded line by line.
class WorkerEvents {
 public:
  explicit WorkerEvents(int64_t job_id) : job_id_(job_id) {}
  // A decoded line (or why it does not decode): an event goes to `deliver`;
  // one that does not decode is logged and skipped; one of another protocol
  // version refuses the worker, and nothing it says after is delivered.
  // True when this line refused it: the executor stops the worker now.
  bool Take(StatusOr<protocol::Event> event, std::string_view line,
            const std::function<void(const protocol::Event&)>& deliver);
  bool refused() const { return !refusal_.empty(); }
  const std::string& refusal() const { return refusal_; }

 private:
  int64_t job_id_;
  std::string refusal_;
};

// Completes an attempt's end as the listener gets it: a refused worker is
// kRejected ("refused by carbond: ...": not retried), and the
// last `tail_bytes` of its worker.log.
void FinishExit(ExitInfo& info, const WorkerEvents& events, const std::string& run_dir, size_t tail_bytes);

}  // namespace carbon
