// API benchmark: starts carbond (releases paused, so only the API and the
// store are measured) on a temp dir, then measures over the unix socket:
//   - submit latency (POST /v1/jobs, each a durable SQLite commit), C clients
//   - GET /v1/jobs/{id} and GET /v1/jobs?limit=20 throughput, C clients
//   - carbond's RSS when idle (before and after the load)
// Each measurement runs --runs times; medians are printed.
//   build/bench/api_bench [--clients 4] [--submits 250] [--seconds 3] [--runs 3]
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_daemon.h"
#include "bench/bench_util.h"
#include "proto-less-api/client.h"

namespace {

using Clock = std::chrono::steady_clock;

using carbon::bench::Arg;
using carbon::bench::Median;
using carbon::bench::Percentile;

long RssKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  const int clients = Arg(argc, argv, "--clients", 4);
  const int submits = Arg(argc, argv, "--submits", 250);
  const int seconds = Arg(argc, argv, "--seconds", 3);
  const int runs = Arg(argc, argv, "--runs", 3);

  carbon::bench::BenchDaemon d = carbon::bench::StartCarbond(
      "bench", "worker: {path: /bin/true, max_concurrent_jobs: 0}\nlog: {level: warn}\n");
  const std::string sock = d.socket;
  const pid_t pid = d.pid;
  std::this_thread::sleep_for(std::chrono::seconds(1));
  long rss_idle_start = RssKb(pid);

  const std::string spec =
      "name: bench\nmodel: {arch: mlp}\ntrain: {epochs: 1, batch_size: 64}\n"
      "carbon: {policy: immediate}\n";
  std::vector<double> p50s, p99s, submit_rps, get_rps, list_rps;
  for (int run = 0; run < runs; ++run) {
    // Submit latency.
    std::vector<std::vector<double>> lat(static_cast<size_t>(clients));
    std::atomic<int> errors{0};
    auto t0 = Clock::now();
    std::vector<std::thread> ts;
    for (int c = 0; c < clients; ++c) {
      ts.emplace_back([&, c] {
        carbon::api::Client cl(sock);
        for (int i = 0; i < submits; ++i) {
          auto s = Clock::now();
          auto r = cl.Submit(spec, "bench.yaml");
          lat[static_cast<size_t>(c)].push_back(
              std::chrono::duration<double, std::milli>(Clock::now() - s).count());
          if (!r.ok()) ++errors;
        }
      });
    }
    for (auto& t : ts) t.join();
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    std::vector<double> all;
    for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
    p50s.push_back(Percentile(all, 0.50));
    p99s.push_back(Percentile(all, 0.99));
    submit_rps.push_back(static_cast<double>(all.size()) / secs);
    std::printf("run %d submit: %zu requests, %d errors, p50 %.2f ms, p99 %.2f ms, %.0f req/s\n",
                run + 1, all.size(), errors.load(), p50s.back(), p99s.back(), submit_rps.back());

    // Throughput of GET /v1/jobs/{id} and GET /v1/jobs?limit=20.
    for (int kind = 0; kind < 2; ++kind) {
      std::atomic<long> done{0}, bad{0};
      std::atomic<bool> stop{false};
      std::vector<std::thread> gs;
      auto g0 = Clock::now();
      for (int c = 0; c < clients; ++c) {
        gs.emplace_back([&, c] {
          carbon::api::Client cl(sock);
          long i = c;
          while (!stop.load(std::memory_order_relaxed)) {
            std::string target = kind == 0 ? "/v1/jobs/" + std::to_string(1 + (i++ % 100))
                                           : "/v1/jobs?limit=20";
            auto r = cl.Do("GET", target);
            if (r.ok() && r->status == 200) ++done;
            else ++bad;
          }
        });
      }
      std::this_thread::sleep_for(std::chrono::seconds(seconds));
      stop = true;
      for (auto& t : gs) t.join();
      double gsecs = std::chrono::duration<double>(Clock::now() - g0).count();
      double rps = static_cast<double>(done.load()) / gsecs;
      (kind == 0 ? get_rps : list_rps).push_back(rps);
      std::printf("run %d %s: %ld ok, %ld errors, %.0f req/s\n", run + 1,
                  kind == 0 ? "GET /v1/jobs/{id}" : "GET /v1/jobs?limit=20", done.load(), bad.load(), rps);
    }
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  long rss_idle_end = RssKb(pid);

  std::printf("\nmedians over %d runs, %d clients:\n", runs, clients);
  std::printf("  submit latency p50 %.2f ms, p99 %.2f ms (durable commit, synchronous=FULL); %.0f submits/s\n",
              Median(p50s), Median(p99s), Median(submit_rps));
  std::printf("  GET /v1/jobs/{id}: %.0f req/s\n", Median(get_rps));
  std::printf("  GET /v1/jobs?limit=20: %.0f req/s\n", Median(list_rps));
  std::printf("  carbond RSS idle: %.1f MB at start, %.1f MB after the load (%d jobs stored)\n",
              static_cast<double>(rss_idle_start) / 1024, static_cast<double>(rss_idle_end) / 1024,
              runs * clients * submits);
  d.Stop();
  std::string rm = "rm -rf '" + d.dir + "'";
  return std::system(rm.c_str()) == 0 ? 0 : 1;
}
