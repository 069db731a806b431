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
  }
  return "unknown";
}

bool ParseJobState(const std::string& name, JobState* out) {
  for (JobState s : {JobState::kQueued, JobState::kWaiting, JobState::kRunning,
                     JobState::kSucceeded, JobState::kFailed, JobState::kCancelled}) {
    if (name == JobStateName(s)) {
      *out = s;
      return true;
    }
  }
  return false;
}

}  // namespace carbon
