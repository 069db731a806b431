#include "common/config.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace carbon {
namespace {

TEST(Config, EmptyGivesDefaults) {
  auto c = ParseConfig("", "carbond.yaml");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->socket_path, "/run/carbond/carbond.sock");
  EXPECT_EQ(c->socket_mode, 0660u);
  EXPECT_EQ(c->DatabasePath(), "/var/lib/carbond/carbond.db");
  EXPECT_EQ(c->RunsDir(), "/var/lib/carbond/runs");
  EXPECT_EQ(c->max_concurrent_jobs, 1);
  EXPECT_EQ(c->worker_path, "carbon-worker");
}

TEST(Config, ShippedConfigIsValidAndMatchesDefaults) {
  auto c = LoadConfigFile(CARBON_SOURCE_DIR "/configs/carbond.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  Config d;
  EXPECT_EQ(c->socket_path, d.socket_path);
  EXPECT_EQ(c->socket_mode, d.socket_mode);
  EXPECT_EQ(c->state_dir, d.state_dir);
  EXPECT_EQ(c->worker_path, d.worker_path);
  EXPECT_EQ(c->max_concurrent_jobs, d.max_concurrent_jobs);
  EXPECT_EQ(c->max_attempts, d.max_attempts);
  EXPECT_EQ(c->cancel_grace, d.cancel_grace);
  EXPECT_EQ(c->tick, d.tick);
  EXPECT_EQ(c->max_body_bytes, d.max_body_bytes);
  EXPECT_EQ(c->max_header_bytes, d.max_header_bytes);
  EXPECT_EQ(c->read_timeout, d.read_timeout);
  EXPECT_EQ(c->clock.mode, d.clock.mode);
  EXPECT_EQ(c->log_level, d.log_level);
  const IntensityConfig& i = c->intensity;
  EXPECT_EQ(i.chain, d.intensity.chain);
  EXPECT_EQ(i.poll, d.intensity.poll);
  EXPECT_EQ(i.forecast_poll, d.intensity.forecast_poll);
  EXPECT_EQ(i.horizon, d.intensity.horizon);
  EXPECT_EQ(i.max_age, d.intensity.max_age);
  EXPECT_EQ(i.retention, d.intensity.retention);
  EXPECT_EQ(i.http.request_timeout, d.intensity.http.request_timeout);
  EXPECT_EQ(i.http.max_body_bytes, d.intensity.http.max_body_bytes);
  EXPECT_EQ(i.http.retries, d.intensity.http.retries);
  EXPECT_EQ(i.uk.base_url, d.intensity.uk.base_url);
  EXPECT_EQ(i.electricitymaps.base_url, d.intensity.electricitymaps.base_url);
  EXPECT_EQ(i.electricitymaps.token_env, d.intensity.electricitymaps.token_env);
  EXPECT_EQ(i.mock.mean, d.intensity.mock.mean);
  EXPECT_EQ(i.mock.amplitude, d.intensity.mock.amplitude);
  EXPECT_EQ(i.mock.weekend_delta, d.intensity.mock.weekend_delta);
  EXPECT_EQ(i.mock.noise, d.intensity.mock.noise);
  EXPECT_EQ(i.mock.forecast_error, d.intensity.mock.forecast_error);
  EXPECT_EQ(i.mock.step, d.intensity.mock.step);
  EXPECT_EQ(i.trace.loop, d.intensity.trace.loop);
  EXPECT_FALSE(i.static_value);
}

TEST(Config, IntensityErrorsNameTheFieldAndWhatIsAccepted) {
  auto chain = ParseConfig("intensity:\n  chain: [uk, wind]\n", "c.yaml");
  ASSERT_FALSE(chain.ok());
  EXPECT_NE(chain.status().message().find("c.yaml:2:15"), std::string::npos) << chain.status().message();
  EXPECT_NE(chain.status().message().find(
                "'wind' is not accepted; expected one of: uk, electricitymaps, mock, trace, static"),
            std::string::npos)
      << chain.status().message();
  auto trace = ParseConfig("intensity: {chain: [trace]}\n", "c.yaml");
  ASSERT_FALSE(trace.ok());
  EXPECT_NE(trace.status().message().find("intensity.trace.path"), std::string::npos);
  EXPECT_FALSE(ParseConfig("intensity: {chain: [static]}\n", "c").ok());
  EXPECT_FALSE(ParseConfig("intensity: {chain: []}\n", "c").ok());
  EXPECT_FALSE(ParseConfig("intensity: {uk: {base_url: 'ftp://x'}}\n", "c").ok());
  EXPECT_FALSE(ParseConfig("intensity: {uk: {region_id: 3, postcode: OX1}}\n", "c").ok());
  EXPECT_FALSE(ParseConfig("intensity: {uk: {region_id: 18}}\n", "c").ok());
  EXPECT_FALSE(ParseConfig("intensity: {mock: {mean: 50, amplitude: 60}}\n", "c").ok());
  auto off = ParseConfig("intensity: {mock: {utc_offset: '+25:00'}}\n", "c");
  ASSERT_FALSE(off.ok());
  EXPECT_NE(off.status().message().find("expected an offset such as"), std::string::npos);
  auto ok = ParseConfig(
      "scheduler: {default_zone: DE}\nintensity:\n  chain: [electricitymaps, static]\n  static: 380\n"
      "  mock: {utc_offset: '+01:00'}\n  http: {retries: 0}\n",
      "c");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->IntensityZones(), std::vector<std::string>{"DE"});
  EXPECT_DOUBLE_EQ(*ok->intensity.static_value, 380);
  EXPECT_EQ(ok->intensity.mock.utc_offset_minutes, 60);
  EXPECT_TRUE(ok->intensity.mock_utc_offset_set);
  EXPECT_FALSE(ParseConfig("", "c")->intensity.mock_utc_offset_set);
  EXPECT_EQ(ok->intensity.http.retries, 0);
}

TEST(Config, EnergySettingsAndTheirLimits) {
  auto ok = ParseConfig("energy: {pue: 1.4, measure_power_secs: 5}\n", "c.yaml");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_DOUBLE_EQ(ok->energy.pue, 1.4);
  EXPECT_DOUBLE_EQ(ok->energy.measure_power_secs, 5);
  EXPECT_DOUBLE_EQ(ParseConfig("", "c")->energy.pue, 1.0);
  EXPECT_DOUBLE_EQ(ParseConfig("", "c")->energy.measure_power_secs, 15);
  auto low = ParseConfig("energy:\n  pue: 0.5\n", "c.yaml");
  ASSERT_FALSE(low.ok());
  EXPECT_NE(low.status().message().find("energy.pue"), std::string::npos) << low.status().message();
  EXPECT_NE(low.status().message().find("c.yaml:2:8"), std::string::npos) << low.status().message();
  EXPECT_FALSE(ParseConfig("energy: {measure_power_sec: 5}\n", "c.yaml").ok());
}

TEST(Config, TrackingModeAndWorkerGpus) {
  auto ok = ParseConfig("energy: {tracking_mode: process}\nworker: {gpus: [0, 1, GPU-8f2a77c1, MIG-1a2b]}\n", "c.yaml");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->energy.tracking_mode, "process");
  EXPECT_EQ(ok->gpus, (std::vector<std::string>{"0", "1", "GPU-8f2a77c1", "MIG-1a2b"}));
  EXPECT_EQ(ParseConfig("", "c")->energy.tracking_mode, "machine");
  EXPECT_TRUE(ParseConfig("", "c")->gpus.empty());
  auto mode = ParseConfig("energy:\n  tracking_mode: gpu\n", "c.yaml");
  ASSERT_FALSE(mode.ok());
  EXPECT_NE(mode.status().message().find("energy.tracking_mode"), std::string::npos) << mode.status().message();
  EXPECT_NE(mode.status().message().find("process"), std::string::npos) << mode.status().message();
  auto bad = ParseConfig("worker:\n  gpus: [0, gpu1, 0]\n", "c.yaml");
  ASSERT_FALSE(bad.ok());
  const std::string m = bad.status().message();
  EXPECT_NE(m.find("'worker.gpus[1]': 'gpu1' is not a GPU; expected an NVML index"), std::string::npos) << m;
  EXPECT_NE(m.find("at c.yaml:2:13"), std::string::npos) << m;
  EXPECT_NE(m.find("'worker.gpus[2]': '0' is listed twice at c.yaml:2:19"), std::string::npos) << m;
  EXPECT_FALSE(ParseConfig("worker: {gpus: [\"GPU-a,GPU-b\"]}\n", "c.yaml").ok());
  EXPECT_EQ(ParseConfig("", "c")->gpu_cap_socket, "/run/carbond-gpucap.sock");
  auto rel = ParseConfig("worker:\n  gpu_cap_socket: gpucap.sock\n", "c.yaml");
  ASSERT_FALSE(rel.ok());
  EXPECT_NE(rel.status().message().find("'worker.gpu_cap_socket': 'gpucap.sock' is not an absolute path"),
            std::string::npos)
      << rel.status().message();
}

TEST(Config, SkipIdleNeedsTheVirtualClock) {
  auto ok = ParseConfig("clock: {mode: virtual, start: 2026-11-26T17:00:00Z, skip_idle: true}\n", "c.yaml");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_TRUE(ok->clock.skip_idle);
  auto bad = ParseConfig("clock: {skip_idle: true}\n", "c.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("clock.skip_idle apply only to mode 'virtual'"), std::string::npos)
      << bad.status().message();
}

TEST(Config, ErrorsNameFileLineAndSuggest) {
  auto c = ParseConfig("worker:\n  max_concurent_jobs: 2\n", "carbond.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("unknown key 'max_concurent_jobs' at carbond.yaml:2:3 in "
                                      "worker; did you mean 'max_concurrent_jobs'?"),
            std::string::npos)
      << c.status().message();
}

TEST(Config, ValuesAreChecked) {
  EXPECT_FALSE(ParseConfig("socket: {mode: '0999'}\n", "c").ok());
  EXPECT_FALSE(ParseConfig("worker: {cancel_grace: never}\n", "c").ok());
  EXPECT_FALSE(ParseConfig("log: {level: loud}\n", "c").ok());
  EXPECT_FALSE(ParseConfig("clock: {speed: 60}\n", "c").ok());  // speed needs mode virtual
  auto v = ParseConfig("clock: {mode: virtual, start: 2026-11-26T15:00:00Z, speed: 60}\n", "c");
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_DOUBLE_EQ(v->clock.speed, 60);
  auto s = ParseConfig("socket: /tmp/x.sock\n", "c");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->socket_path, "/tmp/x.sock");
}

TEST(Config, DataRootsAndMemoryLimit) {
  Config d;
  d.state_dir = "/var/lib/carbond";
  EXPECT_EQ(d.DataRoots(), (std::vector<std::string>{"/usr/share/datasets", "/var/lib/carbond/datasets"}));
  EXPECT_EQ(d.memory_limit, 0);
  auto c = ParseConfig("worker:\n  data_roots: [/srv/data]\n  memory_limit: 1.5GiB\n", "c.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->DataRoots(), std::vector<std::string>{"/srv/data"});
  EXPECT_EQ(c->memory_limit, int64_t{3} << 29);
  EXPECT_EQ(ParseConfig("worker: {memory_limit: 4G}\n", "c")->memory_limit, int64_t{4} << 30);
  EXPECT_EQ(ParseConfig("worker: {memory_limit: 800MB}\n", "c")->memory_limit, 800'000'000);
  struct Bad {
    std::string text, expect;
  };
  for (const Bad& b : {Bad{"worker:\n  data_roots: [/srv, data]\n",
                           "'worker.data_roots[1]': 'data' is relative; expected an absolute directory such as "
                           "/srv/datasets at c.yaml:2:22"},
                       Bad{"worker:\n  data_roots: []\n", "list at least one directory"},
                       Bad{"worker:\n  memory_limit: lots\n", "'lots' is not a size; expected a size such as 512MiB"},
                       Bad{"worker:\n  memory_limit: 4 parsecs\n", "unknown unit 'parsecs'"},
                       Bad{"worker:\n  memory_limit: 1MiB\n", "a worker needs at least 64MiB"},
                       Bad{"worker:\n  memory_limit: 99999999T\n", "too large"}}) {
    auto r = ParseConfig(b.text, "c.yaml");
    ASSERT_FALSE(r.ok()) << b.text;
    EXPECT_NE(r.status().message().find(b.expect), std::string::npos) << r.status().message();
  }
}

TEST(Config, PlausibleIntensityRange) {
  Config d;
  EXPECT_EQ(d.intensity.plausible.min, 0);
  EXPECT_EQ(d.intensity.plausible.max, 2500);
  auto c = ParseConfig("intensity:\n  plausible: {min: 1, max: 1500}\n", "c.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->intensity.plausible.min, 1);
  EXPECT_EQ(c->intensity.plausible.max, 1500);
  auto bad = ParseConfig("intensity:\n  plausible:\n    min: 100\n    max: 50\n", "c.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("intensity.plausible.max"), std::string::npos) << bad.status().message();
  EXPECT_NE(bad.status().message().find("c.yaml:4:"), std::string::npos) << bad.status().message();
  auto typo = ParseConfig("intensity:\n  plausible: {maximum: 5}\n", "c.yaml");
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find("maximum"), std::string::npos) << typo.status().message();
}

TEST(Config, SystemdDirectoriesReplaceDefaultsOnly) {
  ::setenv("RUNTIME_DIRECTORY", "/run/carbond", 1);
  ::setenv("STATE_DIRECTORY", "/var/lib/carbond-x", 1);
  Config c;
  ApplySystemdDirectories(c);
  EXPECT_EQ(c.socket_path, "/run/carbond/carbond.sock");
  EXPECT_EQ(c.state_dir, "/var/lib/carbond-x");
  Config custom;
  custom.state_dir = "/srv/carbond";
  ApplySystemdDirectories(custom);
  EXPECT_EQ(custom.state_dir, "/srv/carbond");
  ::unsetenv("RUNTIME_DIRECTORY");
  ::unsetenv("STATE_DIRECTORY");
}


TEST(Config, SitesDefaultToTheLocalWorkerAndAreParsed) {
  auto none = ParseConfig("worker: {max_concurrent_jobs: 3}\nscheduler: {default_zone: FR}\n", "c");
  ASSERT_TRUE(none.ok());
  ASSERT_EQ(none->Sites().size(), 1u);
  EXPECT_EQ(none->Sites()[0].name, "local");
  EXPECT_EQ(none->Sites()[0].executor, "local");
  EXPECT_EQ(none->Sites()[0].zone, "FR");
  EXPECT_EQ(none->Sites()[0].slots, 3);
  auto c = ParseConfig(R"(worker: {max_concurrent_jobs: 2}
sites:
  - name: box
    executor: local
    zone: GB
  - name: cluster
    executor: slurm
    zone: DE
    slots: 8
    slurm:
      conf: /etc/slurm/slurm.conf
      partition: gpu
      run_root: /shared/carbond/runs
      worker_path: /opt/carbond/bin/carbon-worker
      sbatch_args: ["--gres=gpu:1", "--time=1-00:00:00"]
      poll: 10s
)",
                       "c");
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->Sites().size(), 2u);
  EXPECT_EQ(c->sites[0].slots, 2);  // a local site's default: worker.max_concurrent_jobs
  const SiteConfig& s = c->sites[1];
  EXPECT_EQ(s.executor, "slurm");
  EXPECT_EQ(s.slots, 8);
  EXPECT_EQ(s.slurm.partition, "gpu");
  EXPECT_EQ(s.slurm.run_root, "/shared/carbond/runs");
  EXPECT_EQ(s.slurm.worker_path, "/opt/carbond/bin/carbon-worker");
  EXPECT_EQ(s.slurm.sbatch_args, (std::vector<std::string>{"--gres=gpu:1", "--time=1-00:00:00"}));
  EXPECT_EQ(s.slurm.poll, std::chrono::seconds(10));
  // Every site's zone is polled.
  EXPECT_EQ(c->IntensityZones(), (std::vector<std::string>{"GB", "DE"}));
}

TEST(Config, BadSitesNameTheFieldLineAndWhatIsAccepted) {
  struct Case {
    std::string yaml, field, text;
  };
  const std::vector<Case> cases = {
      {"sites: {name: a}\n", "sites", "expected a list of sites"},
      {"sites:\n  - name: a\n    zone: GB\n    executor: pbs\n", "sites[0].executor", "c:4:15"},
      {"sites:\n  - name: a\n    zone: GB\n    executor: slurm\n", "sites[0].slurm", "needs a 'slurm' section"},
      {"sites:\n  - name: a\n    zone: GB\n    executor: slurm\n    slurm: {partition: gpu}\n",
       "sites[0].slurm.run_root", "required"},
      {"sites:\n  - name: a\n    zone: GB\n    executor: slurm\n    slurm: {run_root: runs}\n",
       "sites[0].slurm.run_root", "'runs' is relative"},
      {"sites:\n  - {name: a, zone: GB}\n  - {name: a, zone: DE}\n", "sites[1].name", "defined twice"},
      {"sites:\n  - {name: 'a b', zone: GB}\n", "sites[0].name", "letters, digits"},
      {"sites:\n  - {name: a, zone: GB, slurm: {run_root: /r}}\n", "sites[0].slurm", "only a site with executor: slurm"},
      {"sites:\n  - name: a\n    zone: GB\n    executor: slurm\n    slurm:\n      run_root: /r\n      sbatch_args: [--hold]\n",
       "sites[0].slurm.sbatch_args[0]", "set by carbond itself"},
      {"sites:\n  - {name: a, zone: GB, slots: -1}\n", "sites[0].slots", "c:2:"},
      {"sites:\n  - {name: a, executor: local}\n", "sites[0].zone", "required"},
      {"sites:\n  - {name: a, zone: GB, colour: red}\n", "sites[0].colour", "unknown key 'colour'"},
  };
  for (const Case& k : cases) {
    auto c = ParseConfig(k.yaml, "c");
    ASSERT_FALSE(c.ok()) << k.yaml;
    EXPECT_EQ(c.status().field(), k.field) << k.yaml << c.status().message();
    EXPECT_NE(c.status().message().find(k.text), std::string::npos) << k.yaml << c.status().message();
  }
}

}  // namespace
}  // namespace carbon
