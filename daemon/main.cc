// carbond: the carbon-aware training scheduler daemon. Only wiring lives here.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <spdlog/spdlog.h>

#include "common/config.h"
#include "daemon/daemon.h"

int main(int argc, char** argv) {
  CLI::App app{"carbond: carbon-aware scheduler for ML training"};
  std::string config_path;
  std::string socket, state_dir, worker;
  bool check = false, version = false;
  app.add_option("-c,--config", config_path,
                 "configuration file (default /etc/carbond/carbond.yaml when it exists)");
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
  if (config_path.empty() && std::filesystem::exists("/etc/carbond/carbond.yaml"))
    config_path = "/etc/carbond/carbond.yaml";
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
  if (!socket.empty()) config.socket_path = socket;
  if (!state_dir.empty()) config.state_dir = state_dir;
  if (!worker.empty()) config.worker_path = worker;
  if (check) {
    std::cout << "configuration OK" << (config_path.empty() ? " (built-in defaults)" : "") << "\n";
    return 0;
  }
  return carbon::RunDaemon(config, config_path);
}
