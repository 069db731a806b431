#include "daemon/core/worker_launch.h"

#include <algorithm>

#include "common/job_spec.h"

#include <sys/stat.h>

#include <spdlog/spdlog.h>

#include "common/paths.h"

namespace carbon {

StatusOr<Launch> MakeLaunch(const JobRecord& job, const std::string& run_dir, int64_t attempt,
                            const WorkerCommand& worker, const std::vector<std::string>& transport) {
  Launch l;
  l.run_dir = run_dir;
  // A temporary file renamed over it: a symbolic link planted as job.yaml is
  // replaced, never followed.
  RETURN_IF_ERROR(WriteFileAtomically(l.JobFile(), job.spec_text));
  l.argv = {worker.path,  "--job-file", l.JobFile(),          "--run-dir", run_dir,
            "--job-id",   std::to_string(job.id),            "--attempt", std::to_string(attempt),
            "--grid-file", run_dir + "/grid.json"};
  l.argv.insert(l.argv.end(), transport.begin(), transport.end());
  l.argv.insert(l.argv.end(), worker.flags.begin(), worker.flags.end());
  // The file is append-only over attempts: this attempt's events start at its end.
  struct stat st {};
  l.events_offset = ::stat(l.EventsFile().c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
  return l;
}

bool WorkerEvents::Take(StatusOr<protocol::Event> event, std::string_view line,
                        const std::function<void(const protocol::Event&)>& deliver) {
  if (refused()) return false;
  if (event.ok()) {
    deliver(*event);
    return false;
  }
  if (event.status().code() != StatusCode::kFailedPrecondition) {
    spdlog::warn("job {}: ignoring a worker event that does not decode: {}", job_id_, event.status().message());
    return false;
  }
  // Another protocol version: nothing it says can be trusted to mean what
  // this carbond reads; the job fails with the reason (not retried).
  refusal_ = event.status().message();
  spdlog::error("job {}: refusing its worker: {} (line: {})", job_id_, refusal_, std::string(line.substr(0, 200)));
  return true;
}

void FinishExit(ExitInfo& info, const WorkerEvents& events, const std::string& run_dir, size_t tail_bytes) {
  if (events.refused()) {
    info.outcome = protocol::WorkerExit::kRejected;
    info.no_retry = false;
    info.description = "refused by carbond: " + events.refusal();
  }
  info.stderr_tail = TailOfFile(run_dir + "/worker.log", tail_bytes);
}

Duration KillAfter(const JobRecord& job, Duration cancel_grace) {
  auto spec = ParseJobSpec(job.spec_text, "job " + std::to_string(job.id));
  if (!spec.ok() || !spec->run) return cancel_grace;
  return std::max(cancel_grace, Duration(spec->run->stop_grace + std::chrono::seconds(10)));
}

std::vector<std::string> CommandFlags(const JobRecord& job, int64_t memory_limit) {
  auto spec = ParseJobSpec(job.spec_text, "job " + std::to_string(job.id));
  if (!spec.ok() || !spec->run || memory_limit <= 0) return {};
  return {"--memory-limit", std::to_string(memory_limit)};
}

}  // namespace carbon
