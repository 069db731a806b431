// The daemon's configuration (configs/carbond.yaml documents every key and
// default). LoadConfig validates everything before anything is applied, so a
// SIGHUP with a bad file changes nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/status.h"

namespace carbon {

struct ClockConfig {
  std::string mode = "system";      // system | virtual
  std::optional<Timestamp> start;   // virtual: start time (default: now)
  double speed = 1.0;               // virtual: virtual seconds per real second
};

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
  Duration tick = std::chrono::seconds(1);
  std::string default_zone = "GB";

  int64_t max_header_bytes = 8 * 1024;
  int64_t max_body_bytes = 1024 * 1024;
  Duration read_timeout = std::chrono::seconds(10);
  int64_t max_connections = 256;

  ClockConfig clock;
  std::string log_level = "info";  // trace | debug | info | warn | error

  std::string DatabasePath() const { return database.empty() ? state_dir + "/carbond.db" : database; }
  std::string RunsDir() const { return runs_dir.empty() ? state_dir + "/runs" : runs_dir; }
};

// Parses config text; `file` names it in errors. Empty text gives the defaults.
StatusOr<Config> ParseConfig(const std::string& text, const std::string& file);
StatusOr<Config> LoadConfigFile(const std::string& path);

// Applies systemd's $RUNTIME_DIRECTORY and $STATE_DIRECTORY where the config
// left the defaults, so the unit need not repeat the paths.
void ApplySystemdDirectories(Config& config);

}  // namespace carbon
