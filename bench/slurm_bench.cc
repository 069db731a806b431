// What a Slurm site costs carbond (issue 20), on a real cluster (SLURM_CONF
// in the environment; bench/slurm_bench.sh starts a throwaway one):
//   1. release-to-running latency: a held job is released (Start: scontrol
//      release) and carbond's squeue poll (every 50 ms here) sees it
//      RUNNING; --runs times, median, min and max;
//   2. the cost of tracking --jobs held jobs: one squeue call per poll for
//      all of them (its CPU, as a child, and its wall time) and carbond's
//      own parsing and matching of its output (ParseSqueue and the lookup
//      by comment, per poll), and carbond's whole CPU per poll measured over
//      --poll-seconds of polling once a second.
// Usage: slurm_bench [--runs 10] [--jobs 1000] [--poll-seconds 20] DIR
#include <sys/resource.h>
#include <sys/stat.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "bench/bench_util.h"
#include "daemon/exec/command_runner.h"
#include "daemon/exec/slurm/slurm_executor.h"
#include "daemon/exec/slurm/slurm_output.h"

namespace carbon {
namespace {

using Clock = std::chrono::steady_clock;

double CpuSeconds(int who) {
  rusage u{};
  ::getrusage(who, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Listener final : ExecutorListener {
  std::map<int64_t, std::string> notes;
  std::set<int64_t> ended;
  void OnWorkerEvent(int64_t, const protocol::Event&) override {}
  void OnWorkerExit(int64_t id, const ExitInfo&) override { ended.insert(id); }
  void OnSiteNote(int64_t id, const std::string& note) override { notes[id] = note; }
};

slurm::ExecutorOptions Options(const std::string& dir, Duration poll) {
  slurm::ExecutorOptions o;
  o.site = "bench";
  if (const char* conf = std::getenv("SLURM_CONF")) o.client.conf = conf;
  o.worker_path = dir + "/worker.sh";
  o.poll = poll;
  o.events_poll = std::chrono::milliseconds(200);
  o.cancel_grace = std::chrono::seconds(5);
  o.retry_min = std::chrono::milliseconds(200);
  return o;
}

JobRecord Record(int64_t id) {
  JobRecord j;
  j.id = id;
  j.name = "bench-" + std::to_string(id);
  j.spec_text = "name: " + j.name + "\n";
  return j;
}

template <class Pred>
bool RunUntil(boost::asio::io_context& io, Pred pred, std::chrono::seconds limit) {
  const auto end = Clock::now() + limit;
  while (!pred() && Clock::now() < end) io.run_one_for(std::chrono::milliseconds(10));
  return pred();
}

int Main(int argc, char** argv) {
  const int runs = bench::Arg(argc, argv, "--runs", 10);
  const int jobs = bench::Arg(argc, argv, "--jobs", 1000);
  const int poll_seconds = bench::Arg(argc, argv, "--poll-seconds", 20);
  const std::string dir = argv[argc - 1];
  if (argc < 2 || dir.empty() || dir[0] == '-') {
    std::fprintf(stderr, "usage: slurm_bench [--runs N] [--jobs N] [--poll-seconds N] DIR (SLURM_CONF set)\n");
    return 2;
  }
  std::ofstream(dir + "/worker.sh") << "#!/bin/sh\nsleep 30\n";
  ::chmod((dir + "/worker.sh").c_str(), 0755);
  int64_t next_id = 1;

  // 1. Release to running.
  std::vector<double> latency_ms;
  {
    boost::asio::io_context io;
    Listener l;
    slurm::Executor exec(io, Options(dir, std::chrono::milliseconds(50)));
    exec.SetListener(&l);
    for (int r = 0; r < runs; ++r) {
      const int64_t id = next_id++;
      const std::string run_dir = dir + "/" + std::to_string(id);
      ::mkdir(run_dir.c_str(), 0750);
      JobRecord job = Record(id);
      exec.Hold(job, run_dir);
      if (!RunUntil(io, [&] { return exec.Ready(job, nullptr); }, std::chrono::seconds(30))) {
        std::fprintf(stderr, "job %lld was never held\n", static_cast<long long>(id));
        return 1;
      }
      job.attempts = 1;
      const auto t0 = Clock::now();
      if (Status st = exec.Start(job, run_dir); !st.ok()) {
        std::fprintf(stderr, "release: %s\n", st.ToString().c_str());
        return 1;
      }
      if (!RunUntil(io, [&] { return l.notes[id].find(" RUNNING") != std::string::npos; }, std::chrono::seconds(30))) {
        std::fprintf(stderr, "job %lld never ran: %s\n", static_cast<long long>(id), l.notes[id].c_str());
        return 1;
      }
      latency_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      (void)exec.Stop(id, StopMode::kCancel);
      RunUntil(io, [&] { return l.ended.count(id) > 0; }, std::chrono::seconds(30));
    }
  }
  std::printf("release_to_running_ms runs=%d median=%.0f min=%.0f max=%.0f (squeue poll every 50 ms)\n", runs,
              bench::Median(latency_ms), *std::min_element(latency_ms.begin(), latency_ms.end()),
              *std::max_element(latency_ms.begin(), latency_ms.end()));

  // 2. Tracking `jobs` held jobs.
  boost::asio::io_context io;
  Listener l;
  slurm::Executor exec(io, Options(dir, std::chrono::seconds(1)));
  exec.SetListener(&l);
  std::vector<int64_t> ids;
  for (int i = 0; i < jobs; ++i) {
    ids.push_back(next_id++);
    ::mkdir((dir + "/" + std::to_string(ids.back())).c_str(), 0750);
  }
  const auto submit_start = Clock::now();
  size_t ready = 0;
  while (ready < ids.size() && Clock::now() - submit_start < std::chrono::minutes(10)) {
    for (int64_t id : ids) exec.Hold(Record(id), dir + "/" + std::to_string(id));  // as each tick does
    io.run_for(std::chrono::milliseconds(50));
    ready = 0;
    for (int64_t id : ids) ready += exec.Ready(Record(id), nullptr);
  }
  const double submit_s = std::chrono::duration<double>(Clock::now() - submit_start).count();
  std::printf("held %zu jobs in %.1f s (sbatch, 8 at a time)\n", ready, submit_s);
  if (ready < ids.size()) return 1;

  // The squeue call alone, as a child process: CPU and wall time.
  CommandRunner runner(io);
  std::vector<std::string> env = {"PATH=/usr/bin:/bin"};
  if (const char* conf = std::getenv("SLURM_CONF")) env.push_back(std::string("SLURM_CONF=") + conf);
  std::vector<double> squeue_wall_ms;
  std::string output;
  const double child0 = CpuSeconds(RUSAGE_CHILDREN);
  const int squeue_runs = 10;
  for (int i = 0; i < squeue_runs; ++i) {
    bool done = false;
    const auto t0 = Clock::now();
    (void)runner.Run({"/usr/bin/squeue", "-h", "-t", "all", "-o", slurm::kSqueueFormat}, env,
                     std::chrono::seconds(30), [&](CommandResult r) {
                       output = r.out;
                       done = true;
                     });
    RunUntil(io, [&] { return done; }, std::chrono::seconds(30));
    squeue_wall_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  const double squeue_cpu_ms = (CpuSeconds(RUSAGE_CHILDREN) - child0) * 1000 / squeue_runs;
  size_t lines = 0;
  for (char c : output) lines += c == '\n';
  std::printf("squeue over %zu rows: wall median %.1f ms, CPU %.1f ms per call (child)\n", lines,
              bench::Median(squeue_wall_ms), squeue_cpu_ms);

  // carbond's side of a poll: parse the output, look each tracked job up by comment.
  const int parse_runs = 200;
  const auto p0 = Clock::now();
  size_t matched = 0;
  for (int i = 0; i < parse_runs; ++i) {
    auto rows = slurm::ParseSqueue(output);
    std::unordered_map<std::string_view, const slurm::QueueRow*> by_comment;
    for (const auto& r : *rows) by_comment[r.comment] = &r;
    matched = 0;
    for (const auto& r : *rows) matched += by_comment.count(r.comment);
  }
  std::printf("parse and match %zu rows: %.3f ms per poll (mean of %d)\n", matched,
              std::chrono::duration<double, std::milli>(Clock::now() - p0).count() / parse_runs, parse_runs);

  // The whole poll loop, once a second, for poll_seconds.
  const double self0 = CpuSeconds(RUSAGE_SELF), kids0 = CpuSeconds(RUSAGE_CHILDREN);
  io.run_for(std::chrono::seconds(poll_seconds));
  const double self_ms = (CpuSeconds(RUSAGE_SELF) - self0) * 1000 / poll_seconds;
  const double kids_ms = (CpuSeconds(RUSAGE_CHILDREN) - kids0) * 1000 / poll_seconds;
  std::printf("tracking %zu held jobs, one squeue a second for %d s: carbond %.1f ms CPU per poll, squeue %.1f ms "
              "CPU per poll\n",
              exec.TrackedCount(), poll_seconds, self_ms, kids_ms);
  return 0;  // the held jobs go with the throwaway cluster (slurm_bench.sh stops it)
}

}  // namespace
}  // namespace carbon

int main(int argc, char** argv) { return carbon::Main(argc, argv); }
