#include "daemon/core/exit_meaning.h"

namespace carbon {

using protocol::WorkerExit;

Transition ExitTransition(const ExitFacts& f, Timestamp now) {
  const ExitInfo& info = f.info;
  Transition t{JobState::kRunning, JobState::kFailed, "", now};
  t.exit_status = info.exit_status;
  const std::string n = std::to_string(f.attempts);
  auto final = [&](JobState to, std::string reason) {
    t.to = to;
    t.reason = std::move(reason);
    t.finished = now;
  };
  if (f.budget_stop && info.outcome != WorkerExit::kOk && !f.cancel_requested) {
    final(JobState::kStoppedBudget, *f.budget_stop + "; stopped on attempt " + n + " (" + info.description + ")" +
                                        (info.outcome == WorkerExit::kInterrupted ? " after a checkpoint" : ""));
  } else if (f.cancel_requested) {
    final(JobState::kCancelled, "cancelled on request; worker " + info.description);
    t.clear_cancel_request = true;
  } else if (info.no_retry) {
    final(JobState::kFailed, info.description + " on attempt " + n + "; not retried");
    t.error = info.stderr_tail.empty() ? info.description : info.stderr_tail;
  } else if (f.pause && info.outcome == WorkerExit::kInterrupted) {
    // Paused by its plan: it waits for its next segment, in the same attempt.
    t.to = JobState::kWaiting;
    t.reason = f.pause->reason;
    t.planned_start = f.pause->planned_start;
  } else if (info.outcome == WorkerExit::kOk) {
    final(JobState::kSucceeded, "worker finished on attempt " + n);
  } else if (info.outcome == WorkerExit::kInterrupted || f.draining) {
    t.to = JobState::kQueued;
    t.reason = "interrupted on attempt " + n + " (" + info.description + "); resumes from its last checkpoint";
  } else if (info.outcome == WorkerExit::kOutOfMemory) {
    final(JobState::kFailed, "out of memory on attempt " + n + ", not retried (" + info.description + ")" +
                                 (info.stderr_tail.empty() ? "" : ": " + info.stderr_tail));
    t.error = info.stderr_tail;
  } else if (info.outcome == WorkerExit::kRejected) {
    final(JobState::kFailed, "worker rejected the job (" + info.description + "): " + info.stderr_tail);
    t.error = info.stderr_tail;
  } else if (f.attempts < f.max_attempts) {
    t.to = JobState::kQueued;
    t.reason = "attempt " + n + " of " + std::to_string(f.max_attempts) + " failed (" + info.description +
               "); will retry";
    t.error = info.stderr_tail;
  } else {
    final(JobState::kFailed, "failed on the last attempt (" + n + " of " + std::to_string(f.max_attempts) +
                                 "): " + info.description);
    t.error = info.stderr_tail;
  }
  return t;
}

}  // namespace carbon
