// Slurm's command output, parsed (pure: no process is run here). carbond
// drives Slurm through its stable command-line forms: `sbatch --parsable`,
// `squeue -h -t all -o '%i|%T|%r|%j|%k'` and `sacct -n -P -o ...`, whose
// formats have been stable for years (JSON output changes every release).
// tests/fixtures/slurm/ holds what Slurm 22.05 printed for each.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace carbon::slurm {

// The squeue format carbond asks for, and the sacct fields.
constexpr const char* kSqueueFormat = "%i|%T|%r|%j|%k";
constexpr const char* kSacctFields = "jobid,jobname,state,exitcode,start,end,comment";

// `sbatch --parsable`: "ID" or "ID;CLUSTER".
StatusOr<int64_t> ParseSbatch(std::string_view out);

// One job as squeue shows it.
struct QueueRow {
  int64_t id = 0;
  std::string state;    // PENDING, RUNNING, COMPLETED, FAILED, ... (%T)
  std::string reason;   // JobHeldUser, Resources, None, NonZeroExitCode, ... (%r)
  std::string name;     // %j
  std::string comment;  // %k: carbond's "carbond:<job id>:<token>"
};
// Every line of `squeue -h -t all -o kSqueueFormat`; a line that does not
// have the five fields is an error naming the line. Array and
// heterogeneous jobs ("123_4", "123+0"), which carbond never submits, are
// left out. A name with '|' pushes the rest into the comment, which then is
// not carbond's.
StatusOr<std::vector<QueueRow>> ParseSqueue(std::string_view out);

// One job as sacct records it (job steps such as "2.batch" are skipped).
struct AcctRow {
  int64_t id = 0;
  std::string name;
  std::string state;  // the first word: "CANCELLED by 0" is CANCELLED
  int exit_code = 0, signal = 0;
  std::optional<Timestamp> start, end;  // Slurm's local time; absent when "Unknown" or "None"
  std::string comment;  // empty under jobcomp/filetxt, which does not record it
};
StatusOr<std::vector<AcctRow>> ParseSacct(std::string_view out);

// Why a Slurm command failed, from its stderr: the controller could not be
// reached (retry later, keep everything), the job id is unknown to squeue
// (purged or never existed: ask sacct), or anything else.
enum class Failure { kControllerDown, kInvalidJobId, kOther };
Failure ClassifyFailure(std::string_view err);

// What a Slurm job state means for carbond's job.
enum class Phase {
  kHeld,         // PENDING and held: carbond's own hold
  kPending,      // waiting for resources, priority, a node
  kRunning,      // RUNNING, COMPLETING, CONFIGURING, ...
  kSucceeded,    // COMPLETED
  kFailed,       // FAILED, BOOT_FAIL, DEADLINE, SPECIAL_EXIT
  kCancelled,    // CANCELLED (by carbond or by someone else)
  kRequeue,      // PREEMPTED, NODE_FAIL, REQUEUED: resume from its checkpoint
  kTimeout,      // TIMEOUT: resumes if attempts remain
  kOutOfMemory,  // OUT_OF_MEMORY: not retried
  kUnknown,      // a state this carbond does not know
};
Phase PhaseOf(std::string_view state, std::string_view reason);
const char* PhaseName(Phase p);
bool IsFinal(Phase p);

// The --comment carbond gives a job, "carbond:<job id>:<token>", and back.
// Tokens are letters and digits only (no spaces or '=': scontrol's
// key=value output must stay parseable).
std::string JobComment(int64_t job_id, std::string_view token);
struct CommentId {
  int64_t job_id = 0;
  std::string token;
};
std::optional<CommentId> ParseJobComment(std::string_view comment);

}  // namespace carbon::slurm
