// carbond: the carbon-aware training scheduler daemon. Only wiring lives here.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <spdlog/spdlog.h>

#include "common/config.h"
#include "common/paths.h"
#include "daemon/daemon.h"

int main(int argc, char** argv) {
  CLI::App app{"carbond: carbon-aware scheduler for ML training"};
  std::string config_path;
  std::string socket, state_dir, worker;
  bool check = false, version = false;
  app.add_option("-c,--config", config_path,
                 "configuration file (default: /etc/carbond/carbond.yaml when it exists; for an unprivileged user, "
                 "personal mode: $XDG_CONFIG_HOME/carbond/carbond.yaml when it exists, the socket in "
                 "$XDG_RUNTIME_DIR, the state in $XDG_STATE_HOME/carbond)");
  app.add_option("--socket", socket, "override socket.path");
  app.add_option("--state-dir", state_dir, "override state_dir");
  app.add_option("--worker", worker, "override worker.path");
  app.add_flag("--check-config", check, "validate the configuration and exit");
  app.add_flag("--version", version, "print the version and exit");
  CLI11_PARSE(app, argc, argv);
  if (version) {
    std::cout << "carbond " << carbon::kCarbondVersion << "\n";
    return 0;
  }
  // Personal mode: an unprivileged user's own carbond, started without
  // --config, keeps its socket, state and config in the user's places.
  std::optional<carbon::PersonalPlaces> personal;
  if (config_path.empty() && ::geteuid() != 0 && !std::getenv("RUNTIME_DIRECTORY")) {
    auto places = carbon::PersonalPlacesFor(::geteuid(), [](const char* n) { return std::getenv(n); });
    if (!places.ok()) {
      std::cerr << "carbond: " << places.status().message() << "\n";
      return 2;
    }
    personal = *places;
    if (std::filesystem::exists(personal->config)) config_path = personal->config;
  } else if (config_path.empty() && std::filesystem::exists("/etc/carbond/carbond.yaml")) {
    config_path = "/etc/carbond/carbond.yaml";
  }
  carbon::Config config;
  if (!config_path.empty()) {
    auto loaded = carbon::LoadConfigFile(config_path);
    if (!loaded.ok()) {
      std::cerr << "carbond: invalid configuration:\n" << loaded.status().message() << "\n";
      return 2;
    }
    config = *loaded;
  }
  carbon::ApplySystemdDirectories(config);
  if (personal) {
    const carbon::Config defaults;
    if (config.socket_path == defaults.socket_path) config.socket_path = personal->socket;
    if (config.socket_mode == defaults.socket_mode) config.socket_mode = 0600;  // the user's alone
    if (config.state_dir == defaults.state_dir) {
      config.state_dir = personal->state_dir;
      std::error_code ec;
      std::filesystem::create_directories(config.state_dir, ec);
      if (ec) {
        std::cerr << "carbond: personal mode: cannot make " << config.state_dir << ": " << ec.message() << "\n";
        return 2;
      }
    }
    std::cerr << "carbond: personal mode (uid " << ::geteuid() << ", no --config): socket " << config.socket_path
              << ", state " << config.state_dir << ", config "
              << (config_path.empty() ? "built-in defaults (" + personal->config + " absent)" : config_path) << "\n";
  }
  if (!socket.empty()) config.socket_path = socket;
  if (!state_dir.empty()) config.state_dir = state_dir;
  if (!worker.empty()) config.worker_path = worker;
  if (check) {
    std::cout << "configuration OK" << (config_path.empty() ? " (built-in defaults)" : "") << "\n";
    return 0;
  }
  return carbon::RunDaemon(config, config_path);
}
