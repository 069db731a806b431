// carbon-worker: trains one job. Started by carbond (fork+exec) with the job
// file, its run directory and an event fd; or standalone for a quick baseline:
//   carbon-worker --job-file job.yaml --run-dir /tmp/run
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <filesystem>

#include "common/job_spec.h"
#include "worker/event_channel.h"
#include "worker/trainer.h"

namespace {
std::atomic<bool> g_stop{false};
extern "C" void OnTerm(int) { g_stop.store(true); }
}  // namespace

// The TDP table installed beside the binary, or the source tree's next to a build.
std::string DefaultCpuPowerCsv() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  auto dir = exe.parent_path();
  for (auto candidate : {dir / "../share/carbond/codecarbon/cpu_power.csv", dir / "../../configs/codecarbon/cpu_power.csv",
                         dir / "../configs/codecarbon/cpu_power.csv"})
    if (std::filesystem::exists(candidate, ec)) return candidate.lexically_normal().string();
  return "";
}

int main(int argc, char** argv) {
  CLI::App app{"carbon-worker: trains one carbond job"};
  std::string job_file, run_dir;
  int64_t job_id = 0, attempt = 1;
  int event_fd = -1;
  app.add_option("--job,--job-file", job_file, "the job spec (YAML or JSON)")->required();
  app.add_option("--run-dir", run_dir, "where checkpoints and logs go")->required();
  app.add_option("--job-id", job_id, "carbond's job id (for logs)");
  app.add_option("--attempt", attempt, "attempt number (for logs)");
  app.add_option("--event-fd", event_fd, "fd for JSON-line events (default: stdout)");
  std::string cpu_power_csv;
  app.add_option("--cpu-power-csv", cpu_power_csv,
                 "CodeCarbon's CPU TDP table (default: <prefix>/share/carbond/codecarbon/cpu_power.csv, "
                 "or configs/codecarbon/ of the source tree beside a build)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : carbon::worker::kExitRejected;
  }
  struct sigaction sa {};
  sa.sa_handler = OnTerm;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  carbon::worker::EventChannel events(event_fd);
  auto spec = carbon::LoadJobSpecFile(job_file);
  if (!spec.ok()) {
    std::fprintf(stderr, "carbon-worker: invalid job file:\n%s\n", spec.status().message().c_str());
    events.Send("failed", {{"message", spec.status().message()}, {"retryable", false}});
    return carbon::worker::kExitRejected;
  }
  std::error_code ec;
  std::filesystem::create_directories(run_dir, ec);
  std::fprintf(stderr, "carbon-worker: job %lld '%s' attempt %lld\n", static_cast<long long>(job_id),
               spec->name.c_str(), static_cast<long long>(attempt));
  try {
    carbon::worker::TrainOptions options;
    options.progress_bar = event_fd < 0 && ::isatty(2);
    options.cpu_power_csv = cpu_power_csv.empty() ? DefaultCpuPowerCsv() : cpu_power_csv;
    return carbon::worker::RunTraining(*spec, run_dir, events, g_stop, options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "carbon-worker: training failed: %s\n", e.what());
    events.Send("failed", {{"message", e.what()}, {"retryable", true}});
    return carbon::worker::kExitFailed;
  }
}
