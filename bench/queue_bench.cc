// The queue at scale (issue "100,000 jobs in the queue"): carbond on a
// database with N waiting jobs (forecast policy, 3 zones, 2 local sites with
// no free slot, so every job waits), measured as a process:
//   - start-up: exec to the API answering (READY follows the socket), and
//     the first pass that decides every stored job (carbond's own log line);
//   - idle: carbond's CPU time (utime + stime) over --idle seconds once that
//     pass is over, as a share of one core;
//   - RSS (VmRSS) then;
//   - a new forecast: the mock's next forecast (intensity.forecast_poll 20s)
//     wakes every zone's jobs; the run of slices that re-plans them, as
//     carbond logs it, and the latency of submit and status requests sent
//     throughout (p50/p99 over the requests inside that run).
// The N jobs are three submitted through the API, copied with SQL (the
// jobs table only: a waiting job needs no history to be decided).
//   build/bench/queue_bench [--jobs 100000] [--idle 10] [--clients 2] [--zones 3|1] [--startup-only 1]
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_daemon.h"
#include "bench/bench_util.h"
#include "proto-less-api/client.h"

namespace {

using carbon::bench::Arg;
using carbon::bench::Percentile;
using SysClock = std::chrono::system_clock;

double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; rest >> field; ++i) {
    if (i == 14) utime = std::stod(field);
    if (i == 15) {
      stime = std::stod(field);
      break;
    }
  }
  return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double RssMb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// carbond's "decided N waiting jobs in K slices, X ms ..." lines, in order.
struct Run {
  long jobs = 0, slices = 0;
  double ms = 0, busy_ms = 0;
  SysClock::time_point end;
};
std::vector<Run> Runs(const std::string& log) {
  std::vector<Run> out;
  static const std::regex re(
      R"(\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})\].*decided (\d+) waiting jobs in (\d+) slices, (\d+) ms from the first to the last \((\d+) ms deciding\))");
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (!std::regex_search(line, m, re)) continue;
    Run r;
    std::tm tm{};
    strptime(m[1].str().c_str(), "%Y-%m-%d %H:%M:%S", &tm);
    r.end = SysClock::from_time_t(::timelocal(&tm)) + std::chrono::milliseconds(std::stoi(m[1].str().substr(20)));
    r.jobs = std::stol(m[2]);
    r.slices = std::stol(m[3]);
    r.ms = std::stod(m[4]);
    r.busy_ms = std::stod(m[5]);
    out.push_back(r);
  }
  return out;
}

bool Exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) == SQLITE_OK) return true;
  std::fprintf(stderr, "sqlite: %s\n", err ? err : "?");
  sqlite3_free(err);
  return false;
}

// Copies job `from` `copies` times, each submitted earlier than the one
// before by a different number of minutes (up to 10,000: under its 7-day
// max_wait), so every copy has a window of its own to plan.
bool Copy(sqlite3* db, int from, long copies) {
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA table_info(jobs)", -1, &st, nullptr);
  std::string cols;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const std::string name = reinterpret_cast<const char*>(sqlite3_column_text(st, 1));
    if (name != "id") cols += (cols.empty() ? "" : ", ") + name;
  }
  sqlite3_finalize(st);
  const std::string submitted = std::regex_replace(
      cols, std::regex("\\bsubmitted_at\\b"),
      "strftime('%Y-%m-%dT%H:%M:%fZ', submitted_at, '-' || ((k * 7919) % 10000) || ' minutes')");
  return Exec(db, "WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < " +
                      std::to_string(copies) + ") INSERT INTO jobs (" + cols + ") SELECT " + submitted +
                      " FROM jobs, n WHERE jobs.id = " + std::to_string(from));
}

const char* kConfig =
    "worker: {path: /bin/true, max_concurrent_jobs: 0}\n"
    "intensity: {chain: [mock], zones: [GB, FR, DE], forecast_poll: 20s, poll: 5m}\n"
    "sites:\n"
    "  - {name: box, executor: local, zone: GB, slots: 0}\n"
    "  - {name: edge, executor: local, zone: FR, slots: 0}\n"
    "log: {level: info}\n";

}  // namespace

int main(int argc, char** argv) {
  const long jobs = Arg(argc, argv, "--jobs", 100000);
  const int idle_s = Arg(argc, argv, "--idle", 10);
  const int clients = Arg(argc, argv, "--clients", 2);
  // The jobs' zones: 3 (GB, FR, DE) or 1 (GB only: a forecast for one zone
  // re-plans that zone's jobs, nothing else).
  const int zones = Arg(argc, argv, "--zones", 3) == 1 ? 1 : 3;
  // One job per zone: GB (site box), FR (site edge), DE (its own zone at box).
  auto d = carbon::bench::StartCarbond("queue", kConfig);
  {
    carbon::api::Client c(d.socket);
    const char* specs[] = {"name: gb\ncarbon: {policy: forecast, max_wait: 7d}\n",
                           "name: fr\ncarbon: {policy: forecast, max_wait: 7d, sites: [edge]}\n",
                           "name: de\ncarbon: {policy: forecast, max_wait: 7d, zone: DE}\n"};
    for (int z = 0; z < zones; ++z)
      if (auto r = c.Submit(specs[z], "bench.yaml"); !r.ok()) {
        std::fprintf(stderr, "submit: %s\n%s", r.status().ToString().c_str(), ReadAll(d.dir + "/carbond.log").c_str());
        return 1;
      }
  }
  d.Stop();
  sqlite3* db = nullptr;
  if (sqlite3_open((d.dir + "/state/carbond.db").c_str(), &db) != SQLITE_OK) return 1;
  Exec(db, "BEGIN");
  for (int from = 1; from <= zones; ++from)
    if (!Copy(db, from, (jobs - zones) / zones + (from <= (jobs - zones) % zones ? 1 : 0))) return 1;
  Exec(db, "COMMIT");
  sqlite3_close(db);

  // Start-up on that database.
  std::ofstream(d.dir + "/carbond.log", std::ios::trunc).close();
  const auto t0 = std::chrono::steady_clock::now();
  carbon::bench::Launch(d);
  carbon::api::Client probe(d.socket);
  while (!probe.Health().ok()) {
    if (std::chrono::steady_clock::now() - t0 > std::chrono::seconds(120)) {
      std::fprintf(stderr, "carbond did not answer within 120 s\n%s", ReadAll(d.dir + "/carbond.log").c_str());
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const double ready_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (Arg(argc, argv, "--startup-only", 0)) {  // READY, then carbond's RSS 60 s into its first pass
    std::this_thread::sleep_for(std::chrono::seconds(60));
    std::printf("jobs %ld: ready %.2f s; RSS %.0f MB after 60 s\n", jobs, ready_s, RssMb(d.pid));
    d.Stop();
    std::error_code ec;
    std::filesystem::remove_all(d.dir, ec);
    return 0;
  }
  // The first pass over every stored job.
  std::vector<Run> runs;
  while ((runs = Runs(ReadAll(d.dir + "/carbond.log"))).empty()) {
    if (std::chrono::steady_clock::now() - t0 > std::chrono::seconds(600)) {
      std::fprintf(stderr, "no first pass within 600 s\n");
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const Run first = runs.front();
  // Idle: right after a forecast's run, so none falls inside the window.
  const size_t before = runs.size();
  while (Runs(ReadAll(d.dir + "/carbond.log")).size() == before) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const double cpu0 = CpuSeconds(d.pid);
  const auto w0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(idle_s));
  const double idle_pct =
      100.0 * (CpuSeconds(d.pid) - cpu0) / std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
  const double rss = RssMb(d.pid);

  // Requests throughout the next forecast's run.
  std::mutex mu;
  std::vector<std::pair<SysClock::time_point, double>> submit_ms, status_ms;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int k = 0; k < clients; ++k) {
    threads.emplace_back([&, k] {
      carbon::api::Client c(d.socket);
      int n = 0;
      while (!stop) {
        const auto s = std::chrono::steady_clock::now();
        const bool submit = (n++ + k) % 2 == 0;
        bool ok = submit ? c.Submit("name: late\ncarbon: {policy: forecast, max_wait: 7d}\n", "bench.yaml").ok()
                         : c.Get(1 + (n * 7919) % jobs).ok();
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count();
        if (!ok) std::fprintf(stderr, "a %s request failed\n", submit ? "submit" : "status");
        std::lock_guard<std::mutex> l(mu);
        (submit ? submit_ms : status_ms).push_back({SysClock::now(), ms});
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
  }
  const size_t seen = Runs(ReadAll(d.dir + "/carbond.log")).size();
  while ((runs = Runs(ReadAll(d.dir + "/carbond.log"))).size() == seen)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  stop = true;
  for (auto& t : threads) t.join();
  const Run replan = runs.back();
  const auto from = replan.end - std::chrono::milliseconds(static_cast<long>(replan.ms)),
             to = replan.end + std::chrono::milliseconds(1);
  auto inside = [&](const std::vector<std::pair<SysClock::time_point, double>>& v) {
    std::vector<double> out;
    for (const auto& [at, ms] : v)
      if (at >= from && at <= to) out.push_back(ms);
    return out;
  };
  const auto sub = inside(submit_ms), sta = inside(status_ms);
  // The same requests before the run began: the peer, with nothing to re-plan.
  auto before_run = [&](const std::vector<std::pair<SysClock::time_point, double>>& v) {
    std::vector<double> out;
    for (const auto& [at, ms] : v)
      if (at < from) out.push_back(ms);
    return out;
  };
  const auto sub0 = before_run(submit_ms), sta0 = before_run(status_ms);
  d.Stop();
  std::printf("jobs %ld: ready %.2f s; first pass %ld jobs in %.1f s (%.1f s deciding); idle CPU %.2f%% of a core "
              "over %d s; RSS %.0f MB; new forecast: %ld jobs (%d zone%s) re-planned in %.2f s (%.2f s deciding, %ld "
              "slices); during it submit p50 %.1f ms p99 %.1f ms (n=%zu), status p50 %.1f ms p99 %.1f ms (n=%zu); before it "
              "submit p50 %.1f ms p99 %.1f ms (n=%zu), status p50 %.1f ms p99 %.1f ms (n=%zu)\n",
              jobs, ready_s, first.jobs, first.ms / 1000, first.busy_ms / 1000, idle_pct, idle_s, rss, replan.jobs, zones,
              zones == 1 ? "" : "s",
              replan.ms / 1000, replan.busy_ms / 1000, replan.slices, Percentile(sub, 0.5), Percentile(sub, 0.99),
              sub.size(), Percentile(sta, 0.5), Percentile(sta, 0.99), sta.size(), Percentile(sub0, 0.5),
              Percentile(sub0, 0.99), sub0.size(), Percentile(sta0, 0.5), Percentile(sta0, 0.99), sta0.size());
  std::error_code ec;
  if (!std::getenv("KEEP")) std::filesystem::remove_all(d.dir, ec);  // KEEP=1: kept, with carbond.log
  return 0;
}
