// What a SIGHUP does with a new configuration, as one pure function: every
// key of configs/carbond.yaml is either applied to the running daemon at once
// or needs a restart, and PlanReload says which for each key that changed.
// carbond logs both lists and shows them in GET /v1/health (carbonctl
// health); docs/reload.md lists the rules.
#pragma once

#include <string>
#include <vector>

#include "common/config.h"

namespace carbon {

struct ConfigChange {
  std::string key;   // as in carbond.yaml: "worker.max_concurrent_jobs"
  std::string from;  // the running value, as text ("(default)" for an unset optional)
  std::string to;    // the new value
  std::string why;   // for a restart: what holds the old value ("the listening socket")
};

struct ReloadPlan {
  Config config;                            // the running config with every applicable change made
  std::vector<ConfigChange> applied;        // take effect now
  std::vector<ConfigChange> needs_restart;  // keep their running value until carbond restarts
};

// `running` is the configuration carbond runs with, `fresh` the file just
// read (validated). Pure: no file, clock or process state is looked at.
ReloadPlan PlanReload(const Config& running, const Config& fresh);

// Every key PlanReload knows, in carbond.yaml's order, and whether a change
// to it applies at once. A key of carbond.yaml missing here is a bug that
// tests/common/config_reload_test.cc catches.
struct ReloadKey {
  std::string key;
  bool applies_now;
};
std::vector<ReloadKey> ReloadKeys();

// The last SIGHUP, as GET /v1/health shows it.
struct ReloadOutcome {
  Timestamp at{};
  std::string file;
  std::string error;  // the file was not applied (invalid, or its worker.path does not resolve)
  std::vector<ConfigChange> applied, needs_restart;
};

// "worker.max_concurrent_jobs 1 -> 2" for a log line or health.
std::string DescribeChange(const ConfigChange& c);

}  // namespace carbon
