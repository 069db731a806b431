#include "common/config.h"

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
}  // namespace

StatusOr<Config> ParseConfig(const std::string& text, const std::string& file) {
  Config c;
  YamlFields y(file);
  YAML::Node root = y.Parse(text);
  if (!y.ok()) return y.ToStatus();
  if (!root.IsDefined() || root.IsNull()) return c;
  if (!y.Map(root, "", {"socket", "state_dir", "database", "runs_dir", "worker", "scheduler",
                        "api", "clock", "log"}))
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
  if (y.Map(worker, "worker", {"path", "max_concurrent_jobs", "max_attempts", "cancel_grace"})) {
    Set(c.worker_path, y.String(worker, "worker", "path"));
    Set(c.max_concurrent_jobs, y.Int(worker, "worker", "max_concurrent_jobs", 0, 256));
    Set(c.max_attempts, y.Int(worker, "worker", "max_attempts", 1, 100));
    Set(c.cancel_grace, y.DurationField(worker, "worker", "cancel_grace"));
    if (c.worker_path.empty()) y.ErrorAt(worker, "path", "worker.path", "must not be empty");
  }

  YAML::Node sched = root["scheduler"];
  if (y.Map(sched, "scheduler", {"tick", "default_zone"})) {
    Set(c.tick, y.DurationField(sched, "scheduler", "tick"));
    Set(c.default_zone, y.String(sched, "scheduler", "default_zone"));
  }

  YAML::Node api = root["api"];
  if (y.Map(api, "api", {"max_header_bytes", "max_body_bytes", "read_timeout", "max_connections"})) {
    Set(c.max_header_bytes, y.Int(api, "api", "max_header_bytes", 1024, 1 << 20));
    Set(c.max_body_bytes, y.Int(api, "api", "max_body_bytes", 1024, 64 << 20));
    Set(c.read_timeout, y.DurationField(api, "api", "read_timeout"));
    Set(c.max_connections, y.Int(api, "api", "max_connections", 1, 100'000));
  }

  YAML::Node clock = root["clock"];
  if (y.Map(clock, "clock", {"mode", "start", "speed"})) {
    Set(c.clock.mode, y.Enum(clock, "clock", "mode", {"system", "virtual"}));
    c.clock.start = y.Time(clock, "clock", "start");
    Set(c.clock.speed, y.Double(clock, "clock", "speed", 0.0, 1e7, /*min_exclusive=*/true));
    if (c.clock.mode == "system" && (c.clock.start || c.clock.speed != 1.0))
      y.Error(clock, "clock.mode",
              "clock.start and clock.speed apply only to mode 'virtual'; set mode: virtual");
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

}  // namespace carbon
