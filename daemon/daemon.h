// Daemon: wires carbond together (store, executor, scheduler, API server,
// signals, timers, systemd notifications) and runs its one event loop.
#pragma once

#include <string>

#include "common/config.h"

namespace carbon {

// Runs carbond until SIGTERM/SIGINT; returns the process exit code.
// `config_path` is re-read on SIGHUP (empty: built-in defaults only).
int RunDaemon(Config config, const std::string& config_path);

extern const char* const kCarbondVersion;

}  // namespace carbon
