// The daemon's configuration (configs/carbond.yaml documents every key and
// default). LoadConfig validates everything before anything is applied, so a
// SIGHUP with a bad file changes nothing.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>

#include <vector>

#include "common/clock.h"
#include "common/intensity.h"
#include "common/mock_intensity.h"
#include "common/status.h"

namespace carbon {

struct ClockConfig {
  std::string mode = "system";      // system | virtual
  std::optional<Timestamp> start;   // virtual: start time (default: now)
  double speed = 1.0;               // virtual: virtual seconds per real second
  bool skip_idle = false;           // virtual: while no job runs, jump to the next planned release
};

// HTTP client settings shared by the network intensity sources.
struct HttpClientConfig {
  Duration connect_timeout = std::chrono::seconds(5);
  Duration request_timeout = std::chrono::seconds(15);  // one attempt, connect to last byte
  int64_t max_body_bytes = 4 << 20;
  int64_t retries = 2;                                  // further attempts after a failure
  Duration backoff = std::chrono::seconds(1);           // doubled per retry, with jitter
  Duration max_retry_after = std::chrono::minutes(2);   // a longer Retry-After fails over instead
  std::string ca_file;                                  // default: the system CA store
};

struct UkSourceConfig {
  std::string base_url = "https://api.carbonintensity.org.uk";
  std::optional<int64_t> region_id;  // 1..17; with neither this nor postcode: national
  std::string postcode;              // outward code, e.g. "OX1"
};

struct ElectricityMapsConfig {
  std::string base_url = "https://api.electricitymap.org/v3";
  std::string zone;                              // default: the carbond zone
  std::string token_file;                        // first choice
  std::string token_env = "ELECTRICITYMAPS_TOKEN";
  std::string credential = "electricitymaps-token";  // $CREDENTIALS_DIRECTORY/<name>
};

struct TraceSourceConfig {
  std::string path;
  std::string time_column;   // default: by the header
  std::string value_column;
  double forecast_error = 0;  // gCO2/kWh sd at 24 h lead; 0 = the trace's exact future
  bool loop = true;           // times outside the trace map into it by whole periods
  uint64_t seed = 1;
};

struct IntensityConfig {
  std::vector<std::string> chain = {"mock"};  // tried in order
  std::vector<std::string> zones;             // default: [scheduler.default_zone]
  Duration poll = std::chrono::minutes(5);
  Duration forecast_poll = std::chrono::minutes(30);
  Duration horizon = std::chrono::hours(48);
  Duration max_age = std::chrono::hours(1);   // an older reading is stale
  Duration retention = std::chrono::hours(24 * 90);
  PlausibleRange plausible;                   // answers outside it are failed fetches
  HttpClientConfig http;
  UkSourceConfig uk;
  ElectricityMapsConfig electricitymaps;
  MockIntensityParams mock;
  bool mock_utc_offset_set = false;  // else each zone's standard offset (StandardUtcOffsetMinutes)
  TraceSourceConfig trace;
  std::optional<double> static_value;  // gCO2/kWh of the `static` source
};

// Energy measurement in the worker (CodeCarbon's tracker settings).
struct EnergyConfig {
  double pue = 1.0;                 // every energy figure is multiplied by it
  double measure_power_secs = 15;   // samples within an epoch (0: only at epoch ends)
  std::string tracking_mode = "machine";  // machine | process (CodeCarbon's tracking_mode)
};

// A Slurm site's settings (README "Running on a Slurm cluster").
struct SlurmSiteConfig {
  std::string conf;       // SLURM_CONF for sbatch/squeue/scontrol/scancel/sacct; empty: Slurm's default
  std::string partition;  // empty: the cluster's default
  std::string run_root;   // on storage the compute nodes see; each job runs in <run_root>/<job id>
  std::string worker_path = "/usr/bin/carbon-worker";  // as installed on the compute nodes
  std::vector<std::string> sbatch_args;                // the site's extra sbatch flags
  Duration poll = std::chrono::seconds(5);             // one squeue per poll for all of carbond's jobs
  std::string bin_dir = "/usr/bin";                    // where Slurm's commands are
  Duration command_timeout = std::chrono::seconds(30);
};

// A place where released jobs run, with its grid zone and its slots
// (carbond never has more than `slots` of its jobs released there). Each
// local site is its own pool of local workers (worker.* settings).
struct SiteConfig {
  std::string name;
  std::string executor = "local";  // local | slurm
  std::string zone;                // required in carbond.yaml; the default site's is scheduler.default_zone
  int64_t slots = 1;                // default: worker.max_concurrent_jobs for a local site, 1 for Slurm
  SlurmSiteConfig slurm;
};

// The default site's name: the local worker when carbond.yaml has no sites.
inline constexpr const char* kDefaultSiteName = "local";

struct Config {
  std::string socket_path = "/run/carbond/carbond.sock";
  uint32_t socket_mode = 0660;
  std::string state_dir = "/var/lib/carbond";
  std::string database;  // default: <state_dir>/carbond.db
  std::string runs_dir;  // default: <state_dir>/runs

  std::string worker_path = "carbon-worker";  // a bare name is looked up beside carbond, then in PATH
  int64_t max_concurrent_jobs = 1;
  int64_t max_attempts = 3;
  Duration cancel_grace = std::chrono::seconds(30);
  // Directories a job's data.path must lie in (symlinks resolved): workers
  // run as carbond's user, not as the submitter. Empty: /usr/share/datasets
  // and <state_dir>/datasets.
  std::vector<std::string> data_roots;
  int64_t memory_limit = 0;  // bytes of data memory per worker (RLIMIT_DATA); 0: none
  // How workers send their events (docs/protocol.md): "socketpair" (fd 3) or
  // "file" (<run_dir>/events.jsonl, which carbond follows).
  std::string worker_events = "socketpair";
  // GPUs carbond hands to local jobs (NVML indices or UUIDs), each job its
  // train.gpus of them through CUDA_VISIBLE_DEVICES; empty: none handed out,
  // workers see every GPU.
  std::vector<std::string> gpus;
  // carbond-gpucap's socket (jobs' carbon.gpu_power_cap): the root helper
  // that sets GPU power limits for carbond (systemd/carbond-gpucap.socket).
  std::string gpu_cap_socket = "/run/carbond-gpucap.sock";
  Duration tick = std::chrono::seconds(1);
  std::string default_zone = "GB";
  Duration default_max_wait = std::chrono::hours(24);           // jobs that set no max_wait
  Duration default_expected_duration = std::chrono::hours(1);   // neither spec nor history
  double duration_margin = 1.2;                                  // on learned and default durations
  double site_switch_margin = 0.05;  // a job over several sites moves only to a site this much cleaner
  // What a pause of an interruptible job costs (checkpoint + restart) until
  // the job's own pauses were measured.
  Duration default_resume_overhead = std::chrono::minutes(2);

  int64_t max_header_bytes = 8 * 1024;
  int64_t max_body_bytes = 1024 * 1024;
  Duration read_timeout = std::chrono::seconds(10);
  int64_t max_connections = 256;
  // api.tcp_listen: "127.0.0.1:8080" serves the dashboard, /metrics and the
  // read-only GET routes over TCP; empty (default): unix socket only.
  std::string tcp_listen;

  // Empty: one site, "local", the local worker with worker.max_concurrent_jobs
  // slots in scheduler.default_zone. The first site is the default for jobs
  // that name none (carbon.sites).
  std::vector<SiteConfig> sites;

  IntensityConfig intensity;
  EnergyConfig energy;
  ClockConfig clock;
  std::string log_level = "info";  // trace | debug | info | warn | error

  std::string DatabasePath() const { return database.empty() ? state_dir + "/carbond.db" : database; }
  // The zones polled: intensity.zones, else the default zone; and every site's zone.
  std::vector<std::string> IntensityZones() const {
    std::vector<std::string> z = intensity.zones.empty() ? std::vector<std::string>{default_zone} : intensity.zones;
    for (const SiteConfig& s : sites)
      if (!s.zone.empty() && std::find(z.begin(), z.end(), s.zone) == z.end()) z.push_back(s.zone);
    return z;
  }
  // The sites in effect: those configured, or the default local site.
  std::vector<SiteConfig> Sites() const {
    if (!sites.empty()) return sites;
    SiteConfig local;
    local.name = kDefaultSiteName;
    local.zone = default_zone;
    local.slots = max_concurrent_jobs;
    return {local};
  }
  std::vector<std::string> DataRoots() const {
    return data_roots.empty() ? std::vector<std::string>{"/usr/share/datasets", state_dir + "/datasets"}
                              : data_roots;
  }
  std::string RunsDir() const { return runs_dir.empty() ? state_dir + "/runs" : runs_dir; }
};

// Parses config text; `file` names it in errors. Empty text gives the defaults.
StatusOr<Config> ParseConfig(const std::string& text, const std::string& file);
StatusOr<Config> LoadConfigFile(const std::string& path);

// Applies systemd's $RUNTIME_DIRECTORY and $STATE_DIRECTORY where the config
// left the defaults, so the unit need not repeat the paths.
void ApplySystemdDirectories(Config& config);

// "HOST:PORT" with HOST an IPv4 or IPv6 address ("[::1]:8080"), PORT 0..65535;
// the error says what is accepted.
StatusOr<std::pair<std::string, int>> ParseListenAddress(const std::string& text);

}  // namespace carbon
