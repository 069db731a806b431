#include "common/config_reload.h"

#include <cstdio>
#include <functional>

#include "common/time_util.h"

namespace carbon {
namespace {

std::string Show(const std::string& s) { return s.empty() ? "\"\"" : s; }
std::string Show(int64_t v) { return std::to_string(v); }
std::string Show(uint64_t v) { return std::to_string(v); }
std::string Show(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}
std::string Show(bool v) { return v ? "true" : "false"; }
std::string Show(Duration d) { return FormatDuration(d); }
std::string Show(const std::vector<std::string>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
  return s + "]";
}
template <class T>
std::string Show(const std::optional<T>& v) {
  return v ? Show(*v) : "(default)";
}
std::string Show(const std::optional<Timestamp>& t) { return t ? FormatTime(*t) : "(default)"; }
std::string ShowMode(uint32_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", mode);
  return buf;
}

const char* const kSocket = "the API's unix socket is bound at start-up";
const char* const kState = "the state directory is locked and the database opened at start-up";
const char* const kTcp = "the TCP listener is bound at start-up";
const char* const kSources = "the intensity sources and the zones they poll are built at start-up";
const char* const kClock = "the scheduler's clock is made at start-up";
const char* const kSites = "the sites and their executors are built at start-up";

std::string ShowSites(const Config& c) {
  std::string out = "[";
  for (const SiteConfig& s : c.sites) {
    out += (out.size() > 1 ? ", " : "") + s.name + " (" + s.executor + ", zone " + Show(s.zone) + ", " +
           std::to_string(s.slots) + " slots";
    if (s.executor == "slurm")
      out += ", conf " + Show(s.slurm.conf) + ", partition " + Show(s.slurm.partition) + ", run_root " +
             s.slurm.run_root + ", worker " + s.slurm.worker_path + ", sbatch_args " + Show(s.slurm.sbatch_args) +
             ", poll " + Show(s.slurm.poll) + ", bin_dir " + s.slurm.bin_dir + ", timeout " +
             Show(s.slurm.command_timeout);
    out += ")";
  }
  return out + "]";
}

struct Entry {
  const char* key;
  const char* restart_why;  // nullptr: applies now
  std::function<std::string(const Config&)> show;
  std::function<void(Config& to, const Config& from)> copy;
  // For a key that applies now only sometimes: why this change needs a
  // restart, or nullptr.
  std::function<const char*(const Config& running, const Config& fresh)> restart_when = nullptr;
};

// One entry per key of carbond.yaml: its name, whether it needs a restart,
// how its value reads, and how it is taken from the new config.
#define CARBON_KEY(name, why, member) \
  Entry { name, why, [](const Config& c) { return Show(c.member); }, [](Config& t, const Config& f) { t.member = f.member; } }

const std::vector<Entry>& Entries() {
  static const std::vector<Entry> entries = {
      CARBON_KEY("socket.path", kSocket, socket_path),
      Entry{"socket.mode", kSocket, [](const Config& c) { return ShowMode(c.socket_mode); },
            [](Config& t, const Config& f) { t.socket_mode = f.socket_mode; }},
      CARBON_KEY("state_dir", kState, state_dir),
      CARBON_KEY("database", kState, database),
      CARBON_KEY("runs_dir", kState, runs_dir),
      CARBON_KEY("worker.path", nullptr, worker_path),
      CARBON_KEY("worker.max_concurrent_jobs", nullptr, max_concurrent_jobs),
      CARBON_KEY("worker.max_attempts", nullptr, max_attempts),
      CARBON_KEY("worker.cancel_grace", nullptr, cancel_grace),
      CARBON_KEY("worker.data_roots", nullptr, data_roots),
      CARBON_KEY("worker.memory_limit", nullptr, memory_limit),
      CARBON_KEY("worker.events", nullptr, worker_events),
      CARBON_KEY("worker.gpus", nullptr, gpus),
      CARBON_KEY("worker.gpu_cap_socket", nullptr, gpu_cap_socket),
      CARBON_KEY("scheduler.tick", nullptr, tick),
      // With intensity.zones unset, the zone polled is scheduler.default_zone:
      // a new default zone is then a new polled zone, which needs a restart.
      Entry{"scheduler.default_zone", nullptr, [](const Config& c) { return Show(c.default_zone); },
            [](Config& t, const Config& f) { t.default_zone = f.default_zone; },
            [](const Config& running, const Config& fresh) -> const char* {
              return running.IntensityZones() != fresh.IntensityZones()
                         ? "with intensity.zones unset it is the zone polled, and the zones polled are fixed "
                           "at start-up"
                         : nullptr;
            }},
      CARBON_KEY("scheduler.default_max_wait", nullptr, default_max_wait),
      CARBON_KEY("scheduler.default_expected_duration", nullptr, default_expected_duration),
      CARBON_KEY("scheduler.duration_margin", nullptr, duration_margin),
      CARBON_KEY("scheduler.site_switch_margin", nullptr, site_switch_margin),
      CARBON_KEY("scheduler.default_resume_overhead", nullptr, default_resume_overhead),
      CARBON_KEY("api.max_header_bytes", nullptr, max_header_bytes),
      CARBON_KEY("api.max_body_bytes", nullptr, max_body_bytes),
      CARBON_KEY("api.read_timeout", nullptr, read_timeout),
      CARBON_KEY("api.max_connections", nullptr, max_connections),
      CARBON_KEY("api.tcp_listen", kTcp, tcp_listen),
      CARBON_KEY("intensity.chain", kSources, intensity.chain),
      CARBON_KEY("intensity.zones", kSources, intensity.zones),
      CARBON_KEY("intensity.poll", nullptr, intensity.poll),
      CARBON_KEY("intensity.forecast_poll", nullptr, intensity.forecast_poll),
      CARBON_KEY("intensity.horizon", nullptr, intensity.horizon),
      CARBON_KEY("intensity.max_age", nullptr, intensity.max_age),
      CARBON_KEY("intensity.retention", nullptr, intensity.retention),
      CARBON_KEY("intensity.plausible.min", nullptr, intensity.plausible.min),
      CARBON_KEY("intensity.plausible.max", nullptr, intensity.plausible.max),
      CARBON_KEY("intensity.http.connect_timeout", kSources, intensity.http.connect_timeout),
      CARBON_KEY("intensity.http.request_timeout", kSources, intensity.http.request_timeout),
      CARBON_KEY("intensity.http.max_body_bytes", kSources, intensity.http.max_body_bytes),
      CARBON_KEY("intensity.http.retries", kSources, intensity.http.retries),
      CARBON_KEY("intensity.http.backoff", kSources, intensity.http.backoff),
      CARBON_KEY("intensity.http.max_retry_after", kSources, intensity.http.max_retry_after),
      CARBON_KEY("intensity.http.ca_file", kSources, intensity.http.ca_file),
      CARBON_KEY("intensity.uk.base_url", kSources, intensity.uk.base_url),
      CARBON_KEY("intensity.uk.region_id", kSources, intensity.uk.region_id),
      CARBON_KEY("intensity.uk.postcode", kSources, intensity.uk.postcode),
      CARBON_KEY("intensity.electricitymaps.base_url", kSources, intensity.electricitymaps.base_url),
      CARBON_KEY("intensity.electricitymaps.zone", kSources, intensity.electricitymaps.zone),
      CARBON_KEY("intensity.electricitymaps.token_file", kSources, intensity.electricitymaps.token_file),
      CARBON_KEY("intensity.electricitymaps.token_env", kSources, intensity.electricitymaps.token_env),
      CARBON_KEY("intensity.electricitymaps.credential", kSources, intensity.electricitymaps.credential),
      CARBON_KEY("intensity.mock.mean", kSources, intensity.mock.mean),
      CARBON_KEY("intensity.mock.amplitude", kSources, intensity.mock.amplitude),
      CARBON_KEY("intensity.mock.weekend_delta", kSources, intensity.mock.weekend_delta),
      CARBON_KEY("intensity.mock.noise", kSources, intensity.mock.noise),
      CARBON_KEY("intensity.mock.forecast_error", kSources, intensity.mock.forecast_error),
      Entry{"intensity.mock.utc_offset", kSources,
            [](const Config& c) {
              return c.intensity.mock_utc_offset_set ? Show(int64_t{c.intensity.mock.utc_offset_minutes}) + " min"
                                                     : std::string("(each zone's standard time)");
            },
            [](Config& t, const Config& f) {
              t.intensity.mock.utc_offset_minutes = f.intensity.mock.utc_offset_minutes;
              t.intensity.mock_utc_offset_set = f.intensity.mock_utc_offset_set;
            }},
      CARBON_KEY("intensity.mock.seed", kSources, intensity.mock.seed),
      CARBON_KEY("intensity.mock.step", kSources, intensity.mock.step),
      CARBON_KEY("intensity.trace.path", kSources, intensity.trace.path),
      CARBON_KEY("intensity.trace.time_column", kSources, intensity.trace.time_column),
      CARBON_KEY("intensity.trace.value_column", kSources, intensity.trace.value_column),
      CARBON_KEY("intensity.trace.forecast_error", kSources, intensity.trace.forecast_error),
      CARBON_KEY("intensity.trace.loop", kSources, intensity.trace.loop),
      CARBON_KEY("intensity.trace.seed", kSources, intensity.trace.seed),
      CARBON_KEY("intensity.static.value", kSources, intensity.static_value),
      CARBON_KEY("energy.pue", nullptr, energy.pue),
      CARBON_KEY("energy.measure_power_secs", nullptr, energy.measure_power_secs),
      CARBON_KEY("energy.tracking_mode", nullptr, energy.tracking_mode),
      CARBON_KEY("clock.mode", kClock, clock.mode),
      CARBON_KEY("clock.start", kClock, clock.start),
      CARBON_KEY("clock.speed", kClock, clock.speed),
      CARBON_KEY("clock.skip_idle", kClock, clock.skip_idle),
      CARBON_KEY("log.level", nullptr, log_level),
      Entry{"sites", kSites, ShowSites, [](Config& t, const Config& f) { t.sites = f.sites; }},
  };
  return entries;
}
#undef CARBON_KEY

}  // namespace

ReloadPlan PlanReload(const Config& running, const Config& fresh) {
  ReloadPlan plan;
  plan.config = running;
  for (const Entry& e : Entries()) {
    const std::string from = e.show(running), to = e.show(fresh);
    if (from == to) continue;
    const char* why = e.restart_why;
    if (!why && e.restart_when) why = e.restart_when(running, fresh);
    if (why) {
      plan.needs_restart.push_back({e.key, from, to, why});
    } else {
      e.copy(plan.config, fresh);
      plan.applied.push_back({e.key, from, to, ""});
    }
  }
  return plan;
}

std::vector<ReloadKey> ReloadKeys() {
  std::vector<ReloadKey> keys;
  for (const Entry& e : Entries()) keys.push_back({e.key, e.restart_why == nullptr});
  return keys;
}

std::string DescribeChange(const ConfigChange& c) {
  return c.key + " " + c.from + " -> " + c.to + (c.why.empty() ? "" : " (" + c.why + ")");
}

}  // namespace carbon
