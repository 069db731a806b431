#include "common/config.h"

#include <cctype>
#include <cstdio>

#include <arpa/inet.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/yaml_fields.h"

namespace carbon {
namespace {
template <typename T, typename U>
void Set(T& out, const std::optional<U>& v) {
  if (v) out = static_cast<T>(*v);
}

std::optional<int> ParseUtcOffset(const std::string& s) {
  // "+01:00", "-05:30", "Z", "+0100"
  if (s == "Z" || s == "z" || s == "0") return 0;
  if (s.size() < 3 || (s[0] != '+' && s[0] != '-')) return std::nullopt;
  std::string digits;
  for (size_t i = 1; i < s.size(); ++i)
    if (s[i] != ':') digits += s[i];
  if (digits.size() != 4 && digits.size() != 2) return std::nullopt;
  for (char ch : digits)
    if (ch < '0' || ch > '9') return std::nullopt;
  int h = std::stoi(digits.substr(0, 2));
  int m = digits.size() == 4 ? std::stoi(digits.substr(2)) : 0;
  if (h > 14 || m > 59) return std::nullopt;
  return (s[0] == '-' ? -1 : 1) * (h * 60 + m);
}

void ParseIntensity(YamlFields& y, YAML::Node n, IntensityConfig& c) {
  // `n` by value: the non-const operator[] gives an undefined node for an
  // absent key, where the const one gives an invalid node that throws.
  static const std::vector<std::string> kSources = {"uk", "electricitymaps", "mock", "trace", "static"};
  if (!y.Map(n, "intensity", {"chain", "zones", "poll", "forecast_poll", "horizon", "max_age",
                              "retention", "plausible", "http", "uk", "electricitymaps", "mock", "trace", "static"}))
    return;
  if (!n.IsDefined() || n.IsNull()) return;
  Set(c.chain, y.StringList(n, "intensity", "chain", kSources));
  if (c.chain.empty()) y.ErrorAt(n, "chain", "intensity.chain", "must name at least one source");
  Set(c.zones, y.StringList(n, "intensity", "zones"));
  Set(c.poll, y.DurationField(n, "intensity", "poll"));
  Set(c.forecast_poll, y.DurationField(n, "intensity", "forecast_poll"));
  Set(c.horizon, y.DurationField(n, "intensity", "horizon"));
  Set(c.max_age, y.DurationField(n, "intensity", "max_age"));
  Set(c.retention, y.DurationField(n, "intensity", "retention"));
  YAML::Node plausible = n["plausible"];
  if (y.Map(plausible, "intensity.plausible", {"min", "max"})) {
    Set(c.plausible.min, y.Double(plausible, "intensity.plausible", "min", 0, 100000));
    Set(c.plausible.max, y.Double(plausible, "intensity.plausible", "max", 0, 100000));
    char min_text[32];
    std::snprintf(min_text, sizeof min_text, "%g", c.plausible.min);  // "100", not "100.000000"
    if (c.plausible.max <= c.plausible.min)
      y.ErrorAt(plausible, "max", "intensity.plausible.max",
                "must be greater than intensity.plausible.min (" + std::string(min_text) + ")");
  }

  YAML::Node http = n["http"];
  if (y.Map(http, "intensity.http", {"connect_timeout", "request_timeout", "max_body_bytes",
                                     "retries", "backoff", "max_retry_after", "ca_file"})) {
    const std::string p = "intensity.http";
    Set(c.http.connect_timeout, y.DurationField(http, p, "connect_timeout"));
    Set(c.http.request_timeout, y.DurationField(http, p, "request_timeout"));
    Set(c.http.max_body_bytes, y.Int(http, p, "max_body_bytes", 1024, 256 << 20));
    Set(c.http.retries, y.Int(http, p, "retries", 0, 10));
    Set(c.http.backoff, y.DurationField(http, p, "backoff", /*allow_zero=*/true));
    Set(c.http.max_retry_after, y.DurationField(http, p, "max_retry_after", /*allow_zero=*/true));
    Set(c.http.ca_file, y.String(http, p, "ca_file"));
  }
  auto check_url = [&](const YAML::Node& m, const std::string& path, const std::string& url) {
    if (url.rfind("https://", 0) != 0 && url.rfind("http://", 0) != 0)
      y.ErrorAt(m, "base_url", path + ".base_url",
                "'" + url + "' is not accepted; expected an http:// or https:// URL");
  };
  YAML::Node uk = n["uk"];
  if (y.Map(uk, "intensity.uk", {"base_url", "region_id", "postcode"})) {
    Set(c.uk.base_url, y.String(uk, "intensity.uk", "base_url"));
    c.uk.region_id = y.Int(uk, "intensity.uk", "region_id", 1, 17);
    Set(c.uk.postcode, y.String(uk, "intensity.uk", "postcode"));
    check_url(uk, "intensity.uk", c.uk.base_url);
    if (c.uk.region_id && !c.uk.postcode.empty())
      y.ErrorAt(uk, "postcode", "intensity.uk.postcode", "set region_id or postcode, not both");
  }
  YAML::Node em = n["electricitymaps"];
  if (y.Map(em, "intensity.electricitymaps", {"base_url", "zone", "token_file", "token_env", "credential"})) {
    const std::string p = "intensity.electricitymaps";
    Set(c.electricitymaps.base_url, y.String(em, p, "base_url"));
    Set(c.electricitymaps.zone, y.String(em, p, "zone"));
    Set(c.electricitymaps.token_file, y.String(em, p, "token_file"));
    Set(c.electricitymaps.token_env, y.String(em, p, "token_env"));
    Set(c.electricitymaps.credential, y.String(em, p, "credential"));
    check_url(em, p, c.electricitymaps.base_url);
  }
  YAML::Node mock = n["mock"];
  if (y.Map(mock, "intensity.mock", {"mean", "amplitude", "weekend_delta", "noise", "forecast_error",
                                     "utc_offset", "seed", "step"})) {
    const std::string p = "intensity.mock";
    Set(c.mock.mean, y.Double(mock, p, "mean", 0, 5000));
    Set(c.mock.amplitude, y.Double(mock, p, "amplitude", 0, 5000));
    Set(c.mock.weekend_delta, y.Double(mock, p, "weekend_delta", -5000, 5000));
    Set(c.mock.noise, y.Double(mock, p, "noise", 0, 5000));
    Set(c.mock.forecast_error, y.Double(mock, p, "forecast_error", 0, 5000));
    Set(c.mock.seed, y.Int(mock, p, "seed", 0, INT64_MAX));
    Set(c.mock.step, y.DurationField(mock, p, "step"));
    if (auto off = y.String(mock, p, "utc_offset")) {
      if (auto m = ParseUtcOffset(*off))
        c.mock.utc_offset_minutes = *m, c.mock_utc_offset_set = true;
      else
        y.ErrorAt(mock, "utc_offset", p + ".utc_offset",
                  "'" + *off + "' is not accepted; expected an offset such as \"+01:00\", \"-05:00\" or \"Z\"");
    }
    if (c.mock.amplitude > c.mock.mean)
      y.ErrorAt(mock, "amplitude", p + ".amplitude", "must not exceed mean (intensity cannot go negative)");
  }
  YAML::Node trace = n["trace"];
  if (y.Map(trace, "intensity.trace", {"path", "time_column", "value_column", "forecast_error", "loop", "seed"})) {
    const std::string p = "intensity.trace";
    Set(c.trace.path, y.String(trace, p, "path"));
    Set(c.trace.time_column, y.String(trace, p, "time_column"));
    Set(c.trace.value_column, y.String(trace, p, "value_column"));
    Set(c.trace.forecast_error, y.Double(trace, p, "forecast_error", 0, 5000));
    Set(c.trace.loop, y.Bool(trace, p, "loop"));
    Set(c.trace.seed, y.Int(trace, p, "seed", 0, INT64_MAX));
  }
  YAML::Node st = n["static"];
  if (st.IsDefined() && st.IsScalar()) {
    c.static_value = y.Double(n, "intensity", "static", 0, 5000);
  } else if (y.Map(st, "intensity.static", {"value"})) {
    c.static_value = y.Double(st, "intensity.static", "value", 0, 5000);
  }
  for (const std::string& s : c.chain) {
    if (s == "trace" && c.trace.path.empty())
      y.ErrorAt(n, "chain", "intensity.trace.path", "the chain uses 'trace': set intensity.trace.path to a CSV file");
    if (s == "static" && !c.static_value)
      y.ErrorAt(n, "chain", "intensity.static.value", "the chain uses 'static': set intensity.static.value (gCO2/kWh)");
  }
}

bool ValidSiteName(const std::string& n) {
  if (n.empty() || n.size() > 64) return false;
  for (char ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_' && ch != '.') return false;
  return true;
}

void ParseSlurm(YamlFields& y, YAML::Node n, const std::string& p, SlurmSiteConfig& c) {
  if (!y.Map(n, p, {"conf", "partition", "run_root", "worker_path", "sbatch_args", "poll", "bin_dir",
                    "command_timeout"}))
    return;
  Set(c.conf, y.String(n, p, "conf"));
  Set(c.partition, y.String(n, p, "partition"));
  Set(c.run_root, y.String(n, p, "run_root", /*required=*/true));
  Set(c.worker_path, y.String(n, p, "worker_path"));
  Set(c.sbatch_args, y.StringList(n, p, "sbatch_args"));
  Set(c.poll, y.DurationField(n, p, "poll"));
  Set(c.bin_dir, y.String(n, p, "bin_dir"));
  Set(c.command_timeout, y.DurationField(n, p, "command_timeout"));
  auto absolute = [&](const std::string& key, const std::string& v, const char* example) {
    if (!v.empty() && v.front() != '/')
      y.ErrorAt(n, key, p + "." + key, "'" + v + "' is relative; expected an absolute path such as " + example);
  };
  absolute("conf", c.conf, "/etc/slurm/slurm.conf");
  absolute("run_root", c.run_root, "/shared/carbond/runs (on storage the compute nodes see)");
  absolute("worker_path", c.worker_path, "/usr/bin/carbon-worker (as installed on the compute nodes)");
  absolute("bin_dir", c.bin_dir, "/usr/bin");
  for (size_t i = 0; i < c.sbatch_args.size(); ++i)
    for (const char* owned : {"--hold", "--comment", "--export", "--chdir", "--output", "--parsable", "-J", "-o", "-D"})
      if (c.sbatch_args[i] == owned || c.sbatch_args[i].rfind(std::string(owned) + "=", 0) == 0)
        y.Error(n["sbatch_args"][i], p + ".sbatch_args[" + std::to_string(i) + "]",
                "'" + c.sbatch_args[i] + "' is set by carbond itself; accepted: other sbatch options such as "
                "--gres=gpu:1 or --time=1-00:00:00");
}

void ParseSites(YamlFields& y, YAML::Node n, int64_t local_slots, std::vector<SiteConfig>& sites) {
  if (!n.IsDefined() || n.IsNull()) return;
  if (!n.IsSequence()) {
    y.Error(n, "sites", "expected a list of sites, each with name, executor (local or slurm), zone and slots");
    return;
  }
  for (size_t i = 0; i < n.size(); ++i) {
    const std::string p = "sites[" + std::to_string(i) + "]";
    YAML::Node s = n[i];
    if (!s.IsMap()) {
      y.Error(s, p, "expected a site: a mapping with name, executor, zone and slots");
      continue;
    }
    if (!y.Map(s, p, {"name", "executor", "zone", "slots", "slurm"})) continue;
    SiteConfig c;
    Set(c.name, y.String(s, p, "name", /*required=*/true));
    if (!c.name.empty() && !ValidSiteName(c.name))
      y.ErrorAt(s, "name", p + ".name", "'" + c.name + "' is not accepted; use 1-64 letters, digits, '-', '_' or '.'");
    for (const SiteConfig& before : sites)
      if (!c.name.empty() && before.name == c.name)
        y.ErrorAt(s, "name", p + ".name", "site '" + c.name + "' is defined twice; site names must be unique");
    Set(c.executor, y.Enum(s, p, "executor", {"local", "slurm"}));
    Set(c.zone, y.String(s, p, "zone", /*required=*/true));  // the grid its jobs run on
    c.slots = c.executor == "local" ? local_slots : 1;
    Set(c.slots, y.Int(s, p, "slots", 0, 100'000));
    if (c.executor == "slurm") {
      if (!s["slurm"].IsDefined() || s["slurm"].IsNull())
        y.ErrorAt(s, "executor", p + ".slurm", "a slurm site needs a 'slurm' section with at least run_root");
      else
        ParseSlurm(y, s["slurm"], p + ".slurm", c.slurm);
    } else if (s["slurm"].IsDefined()) {
      y.ErrorAt(s, "slurm", p + ".slurm", "only a site with executor: slurm takes a 'slurm' section");
    }
    sites.push_back(std::move(c));
  }
}

}  // namespace

StatusOr<Config> ParseConfig(const std::string& text, const std::string& file) {
  Config c;
  YamlFields y(file);
  YAML::Node root = y.Parse(text);
  if (!y.ok()) return y.ToStatus();
  if (!root.IsDefined() || root.IsNull()) return c;
  if (!y.Map(root, "", {"socket", "state_dir", "database", "runs_dir", "worker", "scheduler",
                        "api", "intensity", "energy", "clock", "log", "sites"}))
    return y.ToStatus();

  YAML::Node sock = root["socket"];
  if (sock.IsDefined() && sock.IsScalar()) {
    Set(c.socket_path, y.String(root, "", "socket"));
  } else if (y.Map(sock, "socket", {"path", "mode"})) {
    Set(c.socket_path, y.String(sock, "socket", "path"));
    if (auto m = y.String(sock, "socket", "mode")) {
      char* end = nullptr;
      unsigned long v = std::strtoul(m->c_str(), &end, 8);
      if (m->empty() || *end != '\0' || v > 0777)
        y.ErrorAt(sock, "mode", "socket.mode",
                  "'" + *m + "' is not a file mode; expected octal digits such as \"0660\"");
      else
        c.socket_mode = static_cast<uint32_t>(v);
    }
  }
  Set(c.state_dir, y.String(root, "", "state_dir"));
  Set(c.database, y.String(root, "", "database"));
  Set(c.runs_dir, y.String(root, "", "runs_dir"));
  if (c.socket_path.empty()) y.ErrorAt(root, "socket", "socket.path", "must not be empty");
  if (c.state_dir.empty()) y.ErrorAt(root, "state_dir", "state_dir", "must not be empty");

  YAML::Node worker = root["worker"];
  if (y.Map(worker, "worker", {"path", "max_concurrent_jobs", "max_attempts", "cancel_grace", "data_roots",
                               "memory_limit", "events", "gpus", "gpu_cap_socket"})) {
    Set(c.worker_path, y.String(worker, "worker", "path"));
    Set(c.max_concurrent_jobs, y.Int(worker, "worker", "max_concurrent_jobs", 0, 256));
    Set(c.max_attempts, y.Int(worker, "worker", "max_attempts", 1, 100));
    Set(c.cancel_grace, y.DurationField(worker, "worker", "cancel_grace"));
    if (auto roots = y.StringList(worker, "worker", "data_roots")) {
      if (roots->empty()) y.ErrorAt(worker, "data_roots", "worker.data_roots", "list at least one directory");
      for (size_t i = 0; i < roots->size(); ++i)
        if ((*roots)[i].front() != '/')
          y.Error(worker["data_roots"][i], "worker.data_roots[" + std::to_string(i) + "]",
                  "'" + (*roots)[i] + "' is relative; expected an absolute directory such as /srv/datasets");
      c.data_roots = *roots;
    }
    Set(c.memory_limit, y.Bytes(worker, "worker", "memory_limit", 0, int64_t{1} << 50));
    if (c.memory_limit > 0 && c.memory_limit < (64 << 20))
      y.ErrorAt(worker, "memory_limit", "worker.memory_limit",
                "a worker needs at least 64MiB; 0 (the default) sets no limit");
    if (c.worker_path.empty()) y.ErrorAt(worker, "path", "worker.path", "must not be empty");
    Set(c.worker_events, y.Enum(worker, "worker", "events", {"socketpair", "file"}));
    if (auto gpus = y.StringList(worker, "worker", "gpus")) {
      for (size_t i = 0; i < gpus->size(); ++i) {
        const std::string& g = (*gpus)[i];
        const std::string at = "worker.gpus[" + std::to_string(i) + "]";
        const bool index = !g.empty() && g.find_first_not_of("0123456789") == std::string::npos && g.size() <= 3;
        const bool uuid = (g.rfind("GPU-", 0) == 0 || g.rfind("MIG-", 0) == 0) && g.size() > 4 &&
                          g.find_first_of(", ") == std::string::npos;
        if (!index && !uuid)
          y.Error(worker["gpus"][i], at,
                  "'" + g + "' is not a GPU; expected an NVML index (0, 1, ...) or a UUID (GPU-..., MIG-...) "
                  "as nvidia-smi -L prints them");
        for (size_t k = 0; k < i; ++k)
          if ((*gpus)[k] == g) y.Error(worker["gpus"][i], at, "'" + g + "' is listed twice");
      }
      c.gpus = *gpus;
    }
    Set(c.gpu_cap_socket, y.String(worker, "worker", "gpu_cap_socket"));
    if (c.gpu_cap_socket.empty() || c.gpu_cap_socket.front() != '/')
      y.ErrorAt(worker, "gpu_cap_socket", "worker.gpu_cap_socket",
                "'" + c.gpu_cap_socket + "' is not an absolute path; expected carbond-gpucap's socket, such as "
                "/run/carbond-gpucap.sock");
  }

  YAML::Node sched = root["scheduler"];
  if (y.Map(sched, "scheduler", {"tick", "default_zone", "default_max_wait", "default_expected_duration",
                                 "duration_margin", "site_switch_margin", "default_resume_overhead"})) {
    Set(c.tick, y.DurationField(sched, "scheduler", "tick"));
    Set(c.default_zone, y.String(sched, "scheduler", "default_zone"));
    Set(c.default_max_wait, y.DurationField(sched, "scheduler", "default_max_wait", /*allow_zero=*/true));
    Set(c.default_expected_duration, y.DurationField(sched, "scheduler", "default_expected_duration"));
    Set(c.duration_margin, y.Double(sched, "scheduler", "duration_margin", 1.0, 10.0));
    Set(c.site_switch_margin, y.Double(sched, "scheduler", "site_switch_margin", 0.0, 1.0));
    Set(c.default_resume_overhead,
        y.DurationField(sched, "scheduler", "default_resume_overhead", /*allow_zero=*/true));
  }

  YAML::Node api = root["api"];
  if (y.Map(api, "api", {"max_header_bytes", "max_body_bytes", "read_timeout", "max_connections", "tcp_listen"})) {
    Set(c.max_header_bytes, y.Int(api, "api", "max_header_bytes", 1024, 1 << 20));
    Set(c.max_body_bytes, y.Int(api, "api", "max_body_bytes", 1024, 64 << 20));
    Set(c.read_timeout, y.DurationField(api, "api", "read_timeout"));
    Set(c.max_connections, y.Int(api, "api", "max_connections", 1, 100'000));
    if (auto listen = y.String(api, "api", "tcp_listen")) {
      if (auto a = ParseListenAddress(*listen); !listen->empty() && !a.ok())
        y.ErrorAt(api, "tcp_listen", "api.tcp_listen", a.status().message());
      else
        c.tcp_listen = *listen;
    }
  }

  ParseIntensity(y, root["intensity"], c.intensity);
  ParseSites(y, root["sites"], c.max_concurrent_jobs, c.sites);

  YAML::Node energy = root["energy"];
  if (y.Map(energy, "energy", {"pue", "measure_power_secs", "tracking_mode"})) {
    Set(c.energy.pue, y.Double(energy, "energy", "pue", 1.0, 10.0));
    Set(c.energy.measure_power_secs, y.Double(energy, "energy", "measure_power_secs", 0.0, 3600.0));
    Set(c.energy.tracking_mode, y.Enum(energy, "energy", "tracking_mode", {"machine", "process"}));
  }

  YAML::Node clock = root["clock"];
  if (y.Map(clock, "clock", {"mode", "start", "speed", "skip_idle"})) {
    Set(c.clock.mode, y.Enum(clock, "clock", "mode", {"system", "virtual"}));
    c.clock.start = y.Time(clock, "clock", "start");
    Set(c.clock.speed, y.Double(clock, "clock", "speed", 0.0, 1e7, /*min_exclusive=*/true));
    Set(c.clock.skip_idle, y.Bool(clock, "clock", "skip_idle"));
    if (c.clock.mode == "system" && (c.clock.start || c.clock.speed != 1.0 || c.clock.skip_idle))
      y.Error(clock, "clock.mode",
              "clock.start, clock.speed and clock.skip_idle apply only to mode 'virtual'; set mode: virtual");
  }

  YAML::Node log = root["log"];
  if (y.Map(log, "log", {"level"})) {
    Set(c.log_level, y.Enum(log, "log", "level", {"trace", "debug", "info", "warn", "error"}));
  }

  RETURN_IF_ERROR(y.ToStatus());
  return c;
}

StatusOr<Config> LoadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidArgument("cannot open config file '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ParseConfig(ss.str(), path);
}

void ApplySystemdDirectories(Config& config) {
  const Config defaults;
  if (const char* rt = std::getenv("RUNTIME_DIRECTORY"); rt && *rt &&
                                                          config.socket_path == defaults.socket_path) {
    std::string dir(rt);
    dir = dir.substr(0, dir.find(':'));
    config.socket_path = dir + "/carbond.sock";
  }
  if (const char* st = std::getenv("STATE_DIRECTORY"); st && *st &&
                                                        config.state_dir == defaults.state_dir) {
    std::string dir(st);
    config.state_dir = dir.substr(0, dir.find(':'));
  }
}

StatusOr<std::pair<std::string, int>> ParseListenAddress(const std::string& text) {
  const std::string accepted = "expected HOST:PORT with HOST an IP address, e.g. 127.0.0.1:8080 or [::1]:8080";
  size_t colon = text.rfind(':');
  if (colon == std::string::npos) return InvalidArgument("'" + text + "': " + accepted);
  std::string host = text.substr(0, colon), port = text.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned char buf[sizeof(in6_addr)];
  if (::inet_pton(AF_INET, host.c_str(), buf) != 1 && ::inet_pton(AF_INET6, host.c_str(), buf) != 1)
    return InvalidArgument("'" + text + "': '" + host + "' is not an IP address; " + accepted);
  bool digits = !port.empty() && port.size() <= 5 &&
                std::all_of(port.begin(), port.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
  if (!digits || std::stoi(port) > 65535)
    return InvalidArgument("'" + text + "': port '" + port + "' is not a number in 0..65535; " + accepted);
  return std::make_pair(host, std::stoi(port));
}

}  // namespace carbon
