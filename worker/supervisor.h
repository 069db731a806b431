// The command job's supervisor: carbon-worker's mode for a job with `run`
// (docs/job-spec.md, "Command jobs"). It starts the program, keeps its whole
// process tree together, meters it with the worker's meters, turns the
// program's reports into the worker protocol's events and stops it the way
// training frameworks expect. No Torch here.
//
//  - The tree. The program leads its own session and process group; the
//    supervisor is its child subreaper (PR_SET_CHILD_SUBREAPER), so a
//    double-forked grandchild stays in the tree and is waited for here.
//    Where the system allows it, the program also runs in a cgroup of its
//    own (worker/job_cgroup.h), killed with the tree. The program gets
//    PR_SET_PDEATHSIG SIGKILL: it does not outlive a killed supervisor.
//  - Its environment: the worker's, then run.env, then CARBOND_JOB_ID,
//    CARBOND_RUN_DIR, CARBOND_ATTEMPT, CARBOND_CHECKPOINT_DIR
//    (<run_dir>/checkpoints, kept across attempts and pauses), CARBOND_EVENTS
//    (<run_dir>/program-events.jsonl), CARBOND_STOP_SIGNAL, CARBOND_RESUME=1
//    when an earlier segment or attempt started, and PYTHONPATH with the
//    `carbond` module's folder first where one is installed.
//  - Its output (stdout and stderr) goes to <run_dir>/output.log, kept under
//    `log_limit_bytes` by moving a full log to output.log.1.
//  - Rows. An `epoch` line the program appends to CARBOND_EVENTS becomes an
//    epoch event with the energy metered since the previous row (one meter
//    for the whole tree, however many ranks). After report_every without
//    one, an interval row. Rows are numbered from 1 over the whole job (the
//    program's epoch number where it is higher), kept in
//    <run_dir>/command-state.json. `checkpoint` and `progress` lines are
//    passed on; other events are carbond's own and are ignored. Of the
//    checkpoint files the program reports inside CARBOND_CHECKPOINT_DIR, the
//    newest checkpoint.keep stay and older ones are removed.
//  - Stopping. On SIGTERM or SIGINT (carbond's stop) the supervisor sends
//    run.stop_signal to the program's top process, and after run.stop_grace
//    SIGKILL to every process of the tree. Whatever the program's exit code
//    then, the supervisor exits kInterrupted (carbond decides what the stop
//    was: a pause, a drain, a cancel, a budget stop). The energy since the
//    last row is carried (<run_dir>/carried-energy.json) into the next row.
//  - Otherwise the program's exit decides: 0 succeeded (a last row for the
//    energy since the last row: always for a program that reported no epoch,
//    where it is 1 s or more after a reported one), 75 run again from its checkpoint (kInterrupted),
//    anything else or a signal a failed attempt (kFailed, the last lines of
//    its output in stderr for the reason). When the top process ends, what is
//    left of the tree is killed: nothing of the job outlives it.
//  - One supervisor at a time per run directory (a lock, supervisor.lock):
//    a new attempt waits for the previous one's supervisor, which may still
//    be stopping its program after carbond went away.
//  - A program that is not found in the job's PATH fails the job at once,
//    not retried (kRejected). A tree whose resident memory exceeds
//    memory_limit is killed, and the job fails, not retried (kOutOfMemory).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "common/job_spec.h"
#include "worker/energy_meters.h"
#include "worker/event_channel.h"

namespace carbon::worker {

struct SupervisorOptions {
  std::string run_dir;
  int64_t job_id = 0, attempt = 1;
  energy::MeterOptions meter;  // its tracker's process mode meters the whole tree
  // The folder that holds the `carbond` Python module (empty: none).
  std::string python_module_dir;
  int64_t log_limit_bytes = 64ll << 20;  // per file; output.log and output.log.1
  // worker.memory_limit: the tree's resident memory (checked each second)
  // above this kills the tree and fails the job, not retried. 0: no limit.
  int64_t memory_limit = 0;
  std::chrono::milliseconds poll{100};
};

// Runs spec.run to its end; returns the worker's exit code
// (protocol::WorkerExit). `stop` is set by the worker's SIGTERM/SIGINT handler.
int RunCommand(const JobSpec& spec, const SupervisorOptions& options, EventChannel& events,
               const std::atomic<bool>& stop);

// argv[0] resolved as execvp would in `path` (a PATH value): as given when it
// holds a '/', else the first executable file of that name in its folders.
// NOT_FOUND names the PATH searched.
StatusOr<std::string> ResolveProgram(const std::string& program, const std::string& path);

}  // namespace carbon::worker
