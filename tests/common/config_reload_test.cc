// Reload (common/config_reload.h): every key of configs/carbond.yaml, the
// commented ones included, is changed in turn; the change must be applied
// now or named as needing a restart, never dropped.
#include "common/config_reload.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "tests/support/files.h"

namespace carbon {
namespace {

const std::string kYaml = std::string(CARBON_SOURCE_DIR) + "/configs/carbond.yaml";

// carbond.yaml with its commented-out keys ("  # region_id: 13") uncommented.
std::string Uncommented() {
  std::ifstream in(kYaml);
  std::string out;
  static const std::regex commented(R"(^(\s*)# ([a-z_]+:( .*)?)$)");
  for (std::string line; std::getline(in, line);) out += std::regex_replace(line, commented, "$1$2") + "\n";
  return out;
}

void Leaves(const YAML::Node& n, const std::string& prefix, std::set<std::string>& out) {
  if (!n.IsMap()) {
    out.insert(prefix);
    return;
  }
  for (const auto& kv : n) Leaves(kv.second, (prefix.empty() ? "" : prefix + ".") + kv.first.as<std::string>(), out);
}

// A new value for every key (YAML), and what the base file must also say
// for it to be valid.
struct Change {
  std::string value;
  std::map<std::string, std::string> base = {};
};
const std::map<std::string, Change>& Changes() {
  static const std::map<std::string, Change> changes = {
      {"socket.path", {"/tmp/other.sock"}},
      {"socket.mode", {"\"0600\""}},
      {"state_dir", {"/srv/carbond"}},
      {"database", {"/srv/carbond.db"}},
      {"runs_dir", {"/srv/runs"}},
      {"worker.path", {"/usr/local/bin/carbon-worker"}},
      {"worker.max_concurrent_jobs", {"2"}},
      {"worker.max_attempts", {"5"}},
      {"worker.cancel_grace", {"1m"}},
      {"worker.data_roots", {"[/srv/datasets]"}},
      {"worker.memory_limit", {"8GiB"}},
      {"worker.events", {"file"}},
      {"worker.gpus", {"[0, GPU-8f2a]"}},
      {"worker.gpu_cap_socket", {"/run/other-gpucap.sock"}},
      {"scheduler.tick", {"2s"}},
      {"scheduler.default_zone", {"DE"}},
      {"scheduler.default_max_wait", {"12h"}},
      {"scheduler.default_expected_duration", {"2h"}},
      {"scheduler.duration_margin", {"1.5"}},
      {"scheduler.site_switch_margin", {"0.1"}},
      {"scheduler.default_resume_overhead", {"5m"}},
      {"api.max_header_bytes", {"16384"}},
      {"api.max_body_bytes", {"2097152"}},
      {"api.read_timeout", {"20s"}},
      {"api.max_connections", {"100"}},
      {"api.tcp_listen", {"127.0.0.1:9090"}},
      {"intensity.chain", {"[uk, mock]"}},
      {"intensity.zones", {"[DE]"}},
      {"intensity.poll", {"10m"}},
      {"intensity.forecast_poll", {"1h"}},
      {"intensity.horizon", {"24h"}},
      {"intensity.max_age", {"2h"}},
      {"intensity.retention", {"30d"}},
      {"intensity.plausible.min", {"1"}},
      {"intensity.plausible.max", {"2000"}},
      {"intensity.http.connect_timeout", {"3s"}},
      {"intensity.http.request_timeout", {"30s"}},
      {"intensity.http.max_body_bytes", {"1048576"}},
      {"intensity.http.retries", {"3"}},
      {"intensity.http.backoff", {"2s"}},
      {"intensity.http.max_retry_after", {"5m"}},
      {"intensity.http.ca_file", {"/etc/ssl/other.pem"}},
      {"intensity.uk.base_url", {"http://127.0.0.1:8000"}},
      {"intensity.uk.region_id", {"13"}},
      {"intensity.uk.postcode", {"OX1"}},
      {"intensity.electricitymaps.base_url", {"http://127.0.0.1:8001"}},
      {"intensity.electricitymaps.zone", {"FR"}},
      {"intensity.electricitymaps.token_file", {"/etc/carbond/token"}},
      {"intensity.electricitymaps.token_env", {"EM_TOKEN"}},
      {"intensity.electricitymaps.credential", {"em-token"}},
      {"intensity.mock.mean", {"300"}},
      {"intensity.mock.amplitude", {"50"}},
      {"intensity.mock.weekend_delta", {"-10"}},
      {"intensity.mock.noise", {"5"}},
      {"intensity.mock.forecast_error", {"10"}},
      {"intensity.mock.utc_offset", {"\"+01:00\""}},
      {"intensity.mock.seed", {"2"}},
      {"intensity.mock.step", {"1h"}},
      {"intensity.trace.path", {"/srv/trace.csv"}},
      {"intensity.trace.time_column", {"t"}},
      {"intensity.trace.value_column", {"v"}},
      {"intensity.trace.forecast_error", {"5"}},
      {"intensity.trace.loop", {"false"}},
      {"intensity.trace.seed", {"2"}},
      {"intensity.static.value", {"300"}},
      {"energy.pue", {"1.2"}},
      {"energy.measure_power_secs", {"5"}},
      {"energy.tracking_mode", {"process"}},
      {"clock.mode", {"virtual"}},
      {"clock.start", {"2026-11-26T15:00:00Z", {{"clock.mode", "virtual"}}}},
      {"clock.speed", {"60", {{"clock.mode", "virtual"}}}},
      {"clock.skip_idle", {"true", {{"clock.mode", "virtual"}}}},
      {"log.level", {"debug"}},
      {"sites", {"[{name: cluster, executor: slurm, zone: DE, slots: 4, slurm: {run_root: /srv/runs}}]"}},
  };
  return changes;
}

void SetPath(YAML::Node root, const std::string& path, const std::string& value) {
  std::vector<std::string> parts;
  std::stringstream ss(path);
  for (std::string p; std::getline(ss, p, '.');) parts.push_back(p);
  YAML::Node n = root;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    if (!n[parts[i]] || !n[parts[i]].IsMap()) n[parts[i]] = YAML::Node(YAML::NodeType::Map);
    n.reset(n[parts[i]]);
  }
  n[parts.back()] = YAML::Load(value);
}

Config Parse(const YAML::Node& root, const std::string& what) {
  auto c = ParseConfig(YAML::Dump(root), what);
  EXPECT_TRUE(c.ok()) << what << ": " << c.status().ToString();
  return c.ok() ? *c : Config{};
}

TEST(Reload, EveryKeyOfTheShippedConfigIsKnown) {
  std::set<std::string> documented;
  Leaves(YAML::Load(Uncommented()), "", documented);
  std::set<std::string> known;
  for (const ReloadKey& k : ReloadKeys()) known.insert(k.key);
  EXPECT_EQ(documented, known);
  // docs/reload.md names each key with its rule.
  const std::string doc = fakes::ReadAll(std::string(CARBON_SOURCE_DIR) + "/docs/reload.md");
  for (const ReloadKey& k : ReloadKeys())
    EXPECT_NE(doc.find("| `" + k.key + "` | " + (k.applies_now ? "now" : "restart")), std::string::npos) << k.key;
}

TEST(Reload, EveryKeyChangedInTurnIsAppliedOrNamedForARestart) {
  for (const ReloadKey& k : ReloadKeys()) {
    SCOPED_TRACE(k.key);
    auto c = Changes().find(k.key);
    ASSERT_NE(c, Changes().end()) << "no test value for " << k.key;
    YAML::Node base = YAML::LoadFile(kYaml);
    for (const auto& [path, value] : c->second.base) SetPath(base, path, value);
    const Config running = Parse(base, "running");
    YAML::Node changed = YAML::Clone(base);
    SetPath(changed, k.key, c->second.value);
    const Config fresh = Parse(changed, "fresh");
    const ReloadPlan plan = PlanReload(running, fresh);
    ASSERT_EQ(plan.applied.size() + plan.needs_restart.size(), 1u) << "a change to one key is one change";
    const bool now = k.key == "scheduler.default_zone" ? false : k.applies_now;  // the polled zone: see below
    const ConfigChange& ch = now ? plan.applied.at(0) : plan.needs_restart.at(0);
    EXPECT_EQ(ch.key, k.key);
    EXPECT_NE(ch.from, ch.to);
    if (now) {
      // The new value is in the config the daemon now runs with.
      const ReloadPlan again = PlanReload(plan.config, fresh);
      EXPECT_TRUE(again.applied.empty() && again.needs_restart.empty());
    } else {
      EXPECT_FALSE(ch.why.empty());
      EXPECT_TRUE(PlanReload(plan.config, running).applied.empty());  // the running value kept
      EXPECT_EQ(PlanReload(plan.config, fresh).needs_restart.size(), 1u);  // still pending
    }
  }
}

TEST(Reload, TheDefaultZoneAppliesNowWhenItIsNotThePolledZone) {
  Config running;
  running.intensity.zones = {"GB", "DE"};
  Config fresh = running;
  fresh.default_zone = "DE";
  ReloadPlan plan = PlanReload(running, fresh);
  ASSERT_EQ(plan.applied.size(), 1u);
  EXPECT_EQ(plan.config.default_zone, "DE");
  running.intensity.zones.clear();
  fresh.intensity.zones.clear();
  plan = PlanReload(running, fresh);
  ASSERT_EQ(plan.needs_restart.size(), 1u);
  EXPECT_NE(plan.needs_restart[0].why.find("zone polled"), std::string::npos);
  EXPECT_EQ(plan.config.default_zone, "GB");
}

TEST(Reload, ManyChangesAtOnceAreEachNamed) {
  Config running, fresh;
  fresh.max_concurrent_jobs = 4;
  fresh.socket_path = "/tmp/x.sock";
  fresh.energy.pue = 1.5;
  ReloadPlan plan = PlanReload(running, fresh);
  ASSERT_EQ(plan.applied.size(), 2u);
  ASSERT_EQ(plan.needs_restart.size(), 1u);
  EXPECT_EQ(DescribeChange(plan.applied[0]), "worker.max_concurrent_jobs 1 -> 4");
  EXPECT_EQ(DescribeChange(plan.applied[1]), "energy.pue 1 -> 1.5");
  EXPECT_EQ(DescribeChange(plan.needs_restart[0]),
            "socket.path /run/carbond/carbond.sock -> /tmp/x.sock (the API's unix socket is bound at start-up)");
  EXPECT_EQ(plan.config.socket_path, running.socket_path);
  EXPECT_EQ(plan.config.max_concurrent_jobs, 4);
  EXPECT_TRUE(PlanReload(running, running).applied.empty());
}

}  // namespace
}  // namespace carbon
