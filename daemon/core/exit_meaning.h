// What a worker's exit means for its job: a pure function from what carbond
// knows when a run ends (how the worker exited, the job's attempts, a cancel
// or budget stop it asked for, a pause its plan asked for, a drain) to the
// job's next state, reason and error. The scheduler stores what it returns;
// tests/daemon/core/exit_meaning_test.cc holds the whole table.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/job_record.h"
#include "daemon/core/executor.h"
#include "daemon/core/job_store.h"

namespace carbon {

struct ExitFacts {
  ExitInfo info;                           // how the run ended, as the executor saw it
  int64_t attempts = 1;                    // the job's attempts, this run included
  int64_t max_attempts = 3;                // scheduler.max_attempts
  bool cancel_requested = false;           // carbonctl cancel
  bool draining = false;                   // carbond is stopping
  std::optional<std::string> budget_stop;  // carbond stopped it for its budget: why
  // Its plan paused it (an interruptible job between segments): the
  // decision's reason and the next segment's start.
  struct Pause {
    std::string reason;
    std::optional<Timestamp> planned_start;
  };
  std::optional<Pause> pause;
};

// running -> the next state: succeeded, queued (retried or resumed),
// waiting (paused by its plan), cancelled, stopped_budget or failed.
Transition ExitTransition(const ExitFacts& facts, Timestamp now);

}  // namespace carbon
