// carbon-worker: trains one job. Started by carbond (fork+exec) with the job
// file, its run directory and an event fd; or standalone for a quick baseline:
//   carbon-worker --job-file job.yaml --run-dir /tmp/run
// Standalone, it leaves CodeCarbon's emissions.csv and emissions.json in the
// run directory as carbond would, charged at --gco2-per-kwh or --country.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cerrno>
#include <string>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <variant>
#include <vector>

#include "common/clock.h"
#include "common/emissions_csv.h"
#include "common/energy_model.h"
#include "common/job_spec.h"
#include "common/worker_protocol.h"
#include "worker/energy_meters.h"
#include "worker/event_channel.h"
#include "worker/supervisor.h"
#include "worker/trainer.h"

namespace {
std::atomic<bool> g_stop{false};
extern "C" void OnTerm(int) { g_stop.store(true); }
}  // namespace

// One of CodeCarbon's tables: installed beside the binary, or the source
// tree's next to a build.
std::string DefaultCodecarbonFile(const std::string& name) {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  auto dir = exe.parent_path();
  for (auto candidate : {dir / "../share/carbond/codecarbon" / name, dir / "../../configs/codecarbon" / name,
                         dir / "../configs/codecarbon" / name})
    if (std::filesystem::exists(candidate, ec)) return candidate.lexically_normal().string();
  return "";
}

// The folder holding the `carbond` Python module for command jobs: an
// installed tree's, or the source tree's beside a build; empty: none found.
std::string DefaultPythonModuleDir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  auto dir = exe.parent_path();
  for (auto candidate : {dir / "../lib/python3/dist-packages", dir / "../../worker/python", dir / "../worker/python"})
    if (std::filesystem::exists(candidate / "carbond" / "__init__.py", ec))
      return candidate.lexically_normal().string();
  return "";
}

// The intensity used while carbond has sent none (or always, standalone): a
// fixed value, else CodeCarbon's figure for the country, else its world
// average (475 g/kWh). Sets *country_name to the country's name in CodeCarbon's table.
carbon::StatusOr<carbon::energy::GridReading> FallbackIntensity(std::optional<double> fixed,
                                                                const std::string& country,
                                                                std::string* country_name) {
  carbon::energy::GridReading r;
  const std::string mix = DefaultCodecarbonFile("global_energy_mix.json");
  const std::string per_source = DefaultCodecarbonFile("carbon_intensity_per_source.json");
  auto mix_text = carbon::energy::ReadFile(mix), per_source_text = carbon::energy::ReadFile(per_source);
  std::optional<carbon::energy::CountryIntensities> table;
  if (mix_text && per_source_text) {
    auto parsed = carbon::energy::CountryIntensities::Parse(*mix_text, *per_source_text);
    if (!parsed.ok()) return parsed.status();
    table = std::move(parsed).value();
  }
  // The country is named in the rows whenever it is given, at a fixed intensity too.
  if (!country.empty()) {
    if (!table)
      return carbon::NotFound("CodeCarbon's global_energy_mix.json and carbon_intensity_per_source.json are not "
                              "installed beside carbon-worker (share/carbond/codecarbon); pass --gco2-per-kwh "
                              "without --country");
    if (!table->CountryName(country))
      return carbon::InvalidArgument("--country '" + country + "' is not in CodeCarbon's global_energy_mix.json; "
                                     "use an ISO 3166 alpha-3 code such as GBR, DEU, FRA, USA");
    *country_name = *table->CountryName(country);
  }
  if (fixed) {
    r.gco2_per_kwh = *fixed;
    r.source = "fixed";
    return r;
  }
  if (!table) {
    r.gco2_per_kwh = 475;  // CodeCarbon's world average, its own fallback
    r.source = "codecarbon:world";
    return r;
  }
  r.gco2_per_kwh = country.empty() ? table->world_average_g() : table->GramsPerKwh(country);
  r.source = country.empty() ? "codecarbon:world" : "codecarbon:" + country;
  r.zone = country;
  return r;
}

// A run with no carbond: the worker itself keeps the epochs and rewrites
// emissions.csv and emissions.json after each (and emissions-total.* at the
// end), as carbond does for its jobs (daemon/core/scheduler.h).
class StandaloneEmissions {
 public:
  StandaloneEmissions(std::string run_dir, carbon::JobRecord job, int64_t attempt, std::string country,
                      std::string country_name)
      : run_dir_(std::move(run_dir)), job_(std::move(job)), attempt_(attempt), country_(std::move(country)),
        country_name_(std::move(country_name)) {}

  void operator()(const carbon::protocol::Event& event) {
    const carbon::Timestamp now = carbon::SystemClock().Now();
    if (const auto* ep = std::get_if<carbon::protocol::Epoch>(&event)) {
      carbon::EpochRecord e = ep->record;
      e.job_id = job_.id;
      e.attempt = attempt_;
      e.at = now;
      epochs_.push_back(std::move(e));
      Write(/*with_total=*/false);
    } else if (std::holds_alternative<carbon::protocol::Finished>(event)) {
      job_.finished = now;
      Write(/*with_total=*/true);
    }
  }

 private:
  void Write(bool with_total) {
    std::vector<carbon::EmissionsRecord> rows = carbon::EmissionsRows(job_, epochs_);
    std::optional<carbon::EmissionsRecord> total;
    if (with_total && !epochs_.empty()) total = carbon::EmissionsTotal(job_, epochs_);
    // CodeCarbon's offline mode names the country it charged at; with none
    // given, what its dashboard reads (carbon::kNoCountry).
    auto place = [this](carbon::EmissionsRecord& r) {
      r.country_iso_code = country_.empty() ? carbon::kNoCountry.iso3 : country_;
      r.country_name = country_.empty() ? carbon::kNoCountry.name : country_name_;
      r.region.clear();  // a country, never below one
    };
    for (auto& r : rows) place(r);
    if (total) place(*total);
    if (carbon::Status st = carbon::WriteEmissionsFiles(run_dir_, rows, total ? &*total : nullptr); !st.ok())
      std::fprintf(stderr, "carbon-worker: %s\n", st.message().c_str());
  }
  std::string run_dir_;
  carbon::JobRecord job_;
  int64_t attempt_;
  std::string country_, country_name_;
  std::vector<carbon::EpochRecord> epochs_;
};

// carbond's start gate: one byte on `fd` opens it. A stop asked meanwhile
// (SIGTERM) opens it too: the trainer then stops before its first step.
// False when carbond closed it without a byte (it went away).
bool WaitForGo(int fd) {
  char go = 0;
  ssize_t n;
  do {
    n = ::read(fd, &go, 1);
  } while (n < 0 && errno == EINTR && !g_stop.load());
  ::close(fd);
  return n == 1 || g_stop.load();
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
  std::string events_file;
  int go_fd = -1;
  app.add_option("--go-fd", go_fd,
                 "a pipe from carbond: wait for its byte before loading or training anything (carbond sets the "
                 "job's GPU power cap first)");
  app.add_option("--event-fd", event_fd, "socket for the worker protocol's events (docs/protocol.md; default: stdout)");
  app.add_option("--events-file", events_file,
                 "append the events to this file instead (for a runner that follows the file, not the fd)");
  std::string cpu_power_csv, grid_file, country;
  std::optional<double> gco2_per_kwh;
  double pue = 1.0, measure_power_secs = 15;
  std::string tracking_mode = "machine";
  bool no_energy = false;
  app.add_option("--cpu-power-csv", cpu_power_csv,
                 "CodeCarbon's CPU TDP table (default: <prefix>/share/carbond/codecarbon/cpu_power.csv, "
                 "or configs/codecarbon/ of the source tree beside a build)");
  app.add_option("--pue", pue, "power usage effectiveness: every energy figure is multiplied by it")
      ->check(CLI::Range(1.0, 10.0));
  app.add_option("--measure-power-secs", measure_power_secs,
                 "seconds between energy samples within an epoch (0: only at epoch ends)")
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--tracking-mode", tracking_mode,
                 "CodeCarbon's tracking_mode: machine (the whole machine's energy) or process (this worker's "
                 "share: its CPU time over all busy CPU time, its resident memory over MemTotal, GPUs only "
                 "when it trains on one)")
      ->check(CLI::IsMember({"machine", "process"}));
  app.add_option("--grid-file", grid_file, "carbond's live intensity for this run (rewritten when it changes)");
  app.add_option("--gco2-per-kwh", gco2_per_kwh, "a fixed grid intensity (standalone runs)")
      ->check(CLI::Range(0.0, 5000.0));
  app.add_option("--country", country,
                 "ISO 3166 alpha-3 code: CodeCarbon's intensity for the country (standalone runs; "
                 "default: CodeCarbon's world average, 475 g/kWh)");
  std::vector<std::string> data_roots;
  app.add_option("--data-root", data_roots,
                 "a directory data files must lie in, symlinks resolved (repeatable; carbond passes "
                 "worker.data_roots; default: no check)");
  int64_t memory_limit = 0;
  app.add_option("--memory-limit", memory_limit,
                 "a command job: kill its processes and fail it when their resident memory exceeds this many "
                 "bytes (carbond passes worker.memory_limit; a built-in job is watched by carbond itself)")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--no-energy-tracking", no_energy, "measure no energy (the overhead benchmark's baseline)");
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

  if (go_fd >= 0 && !WaitForGo(go_fd)) {
    std::fprintf(stderr, "carbon-worker: carbond closed the start gate without opening it; not training\n");
    return carbon::worker::kExitFailed;
  }
  std::error_code ec;
  std::filesystem::create_directories(run_dir, ec);
  carbon::worker::EventChannel events(event_fd, events_file);
  const bool standalone = event_fd < 0 && events_file.empty() && grid_file.empty();
  auto spec = carbon::LoadJobSpecFile(job_file);
  if (!spec.ok()) {
    std::fprintf(stderr, "carbon-worker: invalid job file:\n%s\n", spec.status().message().c_str());
    events.Send(carbon::protocol::Failed{spec.status().message(), /*retryable=*/false});
    return carbon::worker::kExitRejected;
  }
  std::fprintf(stderr, "carbon-worker: job %lld '%s' attempt %lld\n", static_cast<long long>(job_id),
               spec->name.c_str(), static_cast<long long>(attempt));
  std::string country_name;
  try {
    carbon::worker::TrainOptions options;
    options.progress_bar = event_fd < 0 && ::isatty(2);
    options.meter.enabled = !no_energy;
    options.data_roots = data_roots;
    options.meter.tracker.cpu_power_csv = cpu_power_csv.empty() ? DefaultCodecarbonFile("cpu_power.csv") : cpu_power_csv;
    options.meter.tracker.pue = pue;
    options.meter.measure_power_secs = measure_power_secs;
    options.meter.tracker.tracking_mode =
        tracking_mode == "process" ? carbon::energy::TrackingMode::kProcess : carbon::energy::TrackingMode::kMachine;
    options.meter.grid_file = grid_file;
    // Under carbond the grid file is the source; a fixed value or country
    // given with it covers the time before carbond's first reading.
    if (!no_energy && (grid_file.empty() || gco2_per_kwh || !country.empty())) {
      auto fallback = FallbackIntensity(gco2_per_kwh, country, &country_name);
      if (!fallback.ok()) {
        std::fprintf(stderr, "carbon-worker: %s\n", fallback.status().message().c_str());
        events.Send(carbon::protocol::Failed{fallback.status().message(), /*retryable=*/false});
        return carbon::worker::kExitRejected;
      }
      options.meter.fallback = *fallback;
    }
    if (standalone && !no_energy) {
      carbon::JobRecord job;
      job.id = job_id;
      job.name = spec->name;
      events.observer = StandaloneEmissions(run_dir, job, attempt, country, country_name);
    }
    if (spec->run) {  // a command job: the supervisor runs the program (worker/supervisor.h)
      carbon::worker::SupervisorOptions command;
      command.run_dir = std::filesystem::absolute(run_dir, ec).lexically_normal().string();
      command.job_id = job_id;
      command.attempt = attempt;
      command.meter = options.meter;
      command.python_module_dir = DefaultPythonModuleDir();
      command.memory_limit = memory_limit;
      return carbon::worker::RunCommand(*spec, command, events, g_stop);
    }
    return carbon::worker::RunTraining(*spec, run_dir, events, g_stop, options);
  } catch (const std::exception& e) {
    if (auto oom = carbon::worker::OutOfMemoryMessage(e)) {
      std::fprintf(stderr, "carbon-worker: %s\n", oom->c_str());
      events.Send(carbon::protocol::Failed{*oom, /*retryable=*/false});
      return carbon::worker::kExitOutOfMemory;
    }
    std::fprintf(stderr, "carbon-worker: training failed: %s\n", e.what());
    events.Send(carbon::protocol::Failed{e.what(), /*retryable=*/true});
    return carbon::worker::kExitFailed;
  }
}
