#include "common/job_record.h"

namespace carbon {

const char* JobStateName(JobState s) {
  switch (s) {
    case JobState::kQueued: return "queued";
    case JobState::kWaiting: return "waiting";
    case JobState::kRunning: return "running";
    case JobState::kSucceeded: return "succeeded";
    case JobState::kFailed: return "failed";
    case JobState::kCancelled: return "cancelled";
    case JobState::kStoppedBudget: return "stopped_budget";
  }
  return "unknown";
}

bool ParseJobState(const std::string& name, JobState* out) {
  for (JobState s : kAllJobStates) {
    if (name == JobStateName(s)) {
      *out = s;
      return true;
    }
  }
  return false;
}

}  // namespace carbon
