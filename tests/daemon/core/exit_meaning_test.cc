// What a worker's exit means (daemon/core/exit_meaning.h), row by row: every
// branch of the table, and the order in which the facts take precedence
// (a budget stop over a cancel's absence, a cancel over everything else, a
// run that must not be retried over a pause, a pause over an interrupt).
#include "daemon/core/exit_meaning.h"

#include <gtest/gtest.h>

#include <vector>

namespace carbon {
namespace {

using protocol::WorkerExit;

ExitInfo Exit(WorkerExit outcome, const std::string& description, const std::string& tail = "") {
  ExitInfo i;
  i.outcome = outcome;
  i.exit_status = protocol::ExitCode(outcome);
  i.description = description;
  i.stderr_tail = tail;
  return i;
}

struct Row {
  std::string name;
  ExitFacts facts;
  JobState to;
  std::string reason;     // the whole reason
  bool finished;          // a final state, with its time
  std::optional<std::string> error;
  bool clears_cancel = false;
};

ExitFacts Facts(ExitInfo info, int64_t attempts = 1) {
  ExitFacts f;
  f.info = std::move(info);
  f.attempts = attempts;
  f.max_attempts = 3;
  return f;
}

std::vector<Row> Table() {
  const ExitInfo ok = Exit(WorkerExit::kOk, "exited with status 0");
  const ExitInfo failed = Exit(WorkerExit::kFailed, "exited with status 1", "loss is nan");
  const ExitInfo interrupted = Exit(WorkerExit::kInterrupted, "exited with status 75");
  const ExitInfo oom = Exit(WorkerExit::kOutOfMemory, "killed for worker.memory_limit", "std::bad_alloc");
  const ExitInfo rejected = Exit(WorkerExit::kRejected, "exited with status 2", "data.path: no such file");
  ExitInfo vanished = Exit(WorkerExit::kFailed, "its Slurm job vanished");
  vanished.no_retry = true;
  ExitInfo vanished_quiet = vanished;
  vanished_quiet.stderr_tail = "";
  vanished.stderr_tail = "last words";
  const ExitFacts::Pause pause{"paused until 03:00 UTC: 300 g/kWh now", Timestamp(std::chrono::hours(500000))};

  std::vector<Row> rows;
  rows.push_back({"success", Facts(ok), JobState::kSucceeded, "worker finished on attempt 1", true, std::nullopt});
  rows.push_back({"success on the third attempt", Facts(ok, 3), JobState::kSucceeded, "worker finished on attempt 3",
                  true, std::nullopt});
  rows.push_back({"a failure is retried", Facts(failed), JobState::kQueued,
                  "attempt 1 of 3 failed (exited with status 1); will retry", false, "loss is nan"});
  rows.push_back({"the last attempt fails the job", Facts(failed, 3), JobState::kFailed,
                  "failed on the last attempt (3 of 3): exited with status 1", true, "loss is nan"});
  rows.push_back({"an interrupt resumes", Facts(interrupted, 2), JobState::kQueued,
                  "interrupted on attempt 2 (exited with status 75); resumes from its last checkpoint", false,
                  std::nullopt});
  {
    ExitFacts f = Facts(failed, 3);
    f.draining = true;  // a drain's stop is an interrupt, whatever the code, and costs no attempt
    rows.push_back({"a failure while draining resumes", f, JobState::kQueued,
                    "interrupted on attempt 3 (exited with status 1); resumes from its last checkpoint", false,
                    std::nullopt});
  }
  rows.push_back({"out of memory is not retried", Facts(oom), JobState::kFailed,
                  "out of memory on attempt 1, not retried (killed for worker.memory_limit): std::bad_alloc", true,
                  "std::bad_alloc"});
  rows.push_back({"out of memory without stderr", Facts(Exit(WorkerExit::kOutOfMemory, "killed by signal 9")),
                  JobState::kFailed, "out of memory on attempt 1, not retried (killed by signal 9)", true, ""});
  rows.push_back({"a rejected job is not retried", Facts(rejected), JobState::kFailed,
                  "worker rejected the job (exited with status 2): data.path: no such file", true,
                  "data.path: no such file"});
  rows.push_back({"no retry: the tail is the error", Facts(vanished), JobState::kFailed,
                  "its Slurm job vanished on attempt 1; not retried", true, "last words"});
  rows.push_back({"no retry: the description is the error", Facts(vanished_quiet), JobState::kFailed,
                  "its Slurm job vanished on attempt 1; not retried", true, "its Slurm job vanished"});
  {
    ExitFacts f = Facts(interrupted);
    f.pause = pause;
    rows.push_back({"a pause its plan asked for waits", f, JobState::kWaiting, pause.reason, false, std::nullopt});
  }
  {
    ExitFacts f = Facts(failed);
    f.pause = pause;  // asked to pause, but it failed before its checkpoint: a failure
    rows.push_back({"a failure while pausing is a failure", f, JobState::kQueued,
                    "attempt 1 of 3 failed (exited with status 1); will retry", false, "loss is nan"});
  }
  {
    ExitFacts f = Facts(ok);
    f.pause = pause;  // it finished before it could pause
    rows.push_back({"a success while pausing succeeds", f, JobState::kSucceeded, "worker finished on attempt 1", true,
                    std::nullopt});
  }
  {
    ExitFacts f = Facts(vanished);
    f.pause = pause;
    rows.push_back({"no retry beats a pause", f, JobState::kFailed,
                    "its Slurm job vanished on attempt 1; not retried", true, "last words"});
  }
  for (const ExitInfo& i : {ok, failed, interrupted, oom}) {
    ExitFacts f = Facts(i, 2);
    f.cancel_requested = true;
    f.pause = pause;
    rows.push_back({"a cancel ends it whatever the exit (" + i.description + ")", f, JobState::kCancelled,
                    "cancelled on request; worker " + i.description, true, std::nullopt, true});
  }
  {
    ExitFacts f = Facts(interrupted, 2);
    f.budget_stop = "predicted 1.2 kg over the budget 1 kg";
    rows.push_back({"a budget stop after its checkpoint", f, JobState::kStoppedBudget,
                    "predicted 1.2 kg over the budget 1 kg; stopped on attempt 2 (exited with status 75) after a "
                    "checkpoint",
                    true, std::nullopt});
  }
  {
    ExitFacts f = Facts(failed);
    f.budget_stop = "over budget";
    rows.push_back({"a budget stop that failed on the way", f, JobState::kStoppedBudget,
                    "over budget; stopped on attempt 1 (exited with status 1)", true, std::nullopt});
  }
  {
    ExitFacts f = Facts(ok);
    f.budget_stop = "over budget";  // it finished first: a success
    rows.push_back({"a success before the budget stop", f, JobState::kSucceeded, "worker finished on attempt 1", true,
                    std::nullopt});
  }
  {
    ExitFacts f = Facts(interrupted);
    f.budget_stop = "over budget";
    f.cancel_requested = true;  // the user's cancel wins over the budget
    rows.push_back({"a cancel beats a budget stop", f, JobState::kCancelled,
                    "cancelled on request; worker exited with status 75", true, std::nullopt, true});
  }
  return rows;
}

TEST(ExitMeaning, EveryRowOfTheTable) {
  const Timestamp now = Timestamp(std::chrono::hours(490000));
  for (const Row& r : Table()) {
    SCOPED_TRACE(r.name);
    const Transition t = ExitTransition(r.facts, now);
    EXPECT_EQ(t.from, JobState::kRunning);
    EXPECT_EQ(JobStateName(t.to), JobStateName(r.to));
    EXPECT_EQ(t.reason, r.reason);
    EXPECT_EQ(t.at, now);
    EXPECT_EQ(t.finished.has_value(), r.finished);
    if (r.finished) {
      EXPECT_EQ(*t.finished, now);
    }
    EXPECT_EQ(t.error, r.error);
    EXPECT_EQ(t.clear_cancel_request, r.clears_cancel);
    EXPECT_EQ(t.exit_status, r.facts.info.exit_status);
    EXPECT_FALSE(t.count_attempt);  // attempts count when a run starts, never when it ends
    if (r.to == JobState::kWaiting) {
      EXPECT_EQ(t.planned_start, r.facts.pause->planned_start);
    } else {
      EXPECT_FALSE(t.planned_start.has_value());
    }
  }
}

}  // namespace
}  // namespace carbon
