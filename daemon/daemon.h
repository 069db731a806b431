// carbond's daemon: a Daemon (daemon.cc) builds its parts in order (the
// state directory's lock, the store, the executor and scheduler, the
// intensity service, the API server), wires them, runs its loops (tick,
// event-stream heartbeat, intensity polls and pruning, systemd's watchdog,
// each a Periodic timer) and handles SIGHUP (reload, common/config_reload.h)
// and SIGTERM/SIGINT (drain) on its one event loop.
#pragma once

#include <string>

#include "common/config.h"

namespace carbon {

// Runs carbond until SIGTERM/SIGINT; returns the process exit code.
// `config_path` is re-read on SIGHUP (empty: built-in defaults only).
int RunDaemon(Config config, const std::string& config_path);

extern const char* const kCarbondVersion;

}  // namespace carbon
