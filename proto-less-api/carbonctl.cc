// carbonctl: the command-line client of carbond.
// Exit codes: 0 ok, 1 refused by the daemon, 2 usage or validation error,
// 3 daemon unreachable.
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <set>
#include <thread>

#include "common/intensity_formats.h"
#include "common/job_spec.h"
#include "common/simulator.h"
#include "common/time_util.h"
#include "proto-less-api/api.h"
#include "proto-less-api/client.h"
#include "proto-less-api/intensity_chart.h"
#include "common/units.h"
#include "proto-less-api/report.h"
#include "proto-less-api/watch.h"

namespace {

using carbon::JobRecord;
using carbon::Status;
using carbon::StatusCode;
using nlohmann::json;

constexpr int kOk = 0, kRefused = 1, kUsage = 2, kUnreachable = 3;

// What to do about a socket that refused us: EACCES means carbond runs and
// this user is not in its socket's group; anything else (no socket, nobody
// listening) means it is not running there.
std::string ConnectHint(const std::string& socket) {
  struct stat st {};
  if (::stat(socket.c_str(), &st) == 0 && ::access(socket.c_str(), R_OK | W_OK) != 0 && errno == EACCES) {
    std::string group = std::to_string(st.st_gid), user = std::to_string(::geteuid());
    if (const struct group* g = ::getgrgid(st.st_gid)) group = g->gr_name;
    if (const struct passwd* pw = ::getpwuid(::geteuid())) user = pw->pw_name;
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return "hint: carbond is running, but " + socket + " (mode " + mode + ", group " + group + ") is not open to " +
           user + ": only members of group " + group + " may use it. An administrator adds you with\n"
           "  sudo usermod -aG " + group + " " + user + "\n"
           "then log out and in again (or run `newgrp " + group + "`) so that the new group applies. "
           "Or run a carbond of your own: `carbond` with no --config (personal mode, README).\n";
  }
  return "hint: start the daemon (sudo systemctl start carbond, or run carbond --socket " + socket +
         "), or point --socket / CARBOND_SOCKET at it\n";
}

int Fail(const Status& st, const std::string& socket) {
  if (st.code() == StatusCode::kUnavailable && st.message().rfind("cannot connect", 0) == 0) {
    std::cerr << "carbonctl: " << st.message() << "\n" << ConnectHint(socket);
    return kUnreachable;
  }
  if (st.code() == StatusCode::kUnavailable) {
    std::cerr << "carbonctl: " << st.message() << "\n";
    return kUnreachable;
  }
  std::cerr << "carbonctl: " << carbon::StatusCodeName(st.code()) << ": " << st.message();
  if (!st.field().empty()) std::cerr << " [field " << st.field() << "]";
  std::cerr << "\n";
  return kRefused;
}

std::string Opt(const std::optional<carbon::Timestamp>& t) {
  return t ? carbon::FormatTime(*t) : "-";
}

std::string Short(std::string s, size_t n) {
  if (s.size() > n) s = s.substr(0, n - 3) + "...";
  return s;
}

void PrintTable(const std::vector<JobRecord>& jobs) {
  std::printf("%-6s %-24s %-10s %-10s %-4s %-24s %s\n", "ID", "NAME", "STATE", "POLICY", "TRY",
              "SUBMITTED", "REASON");
  for (const auto& j : jobs) {
    std::printf("%-6lld %-24s %-10s %-10s %-4lld %-24s %s\n", static_cast<long long>(j.id),
                Short(j.name, 24).c_str(), carbon::JobStateName(j.state), j.policy.c_str(),
                static_cast<long long>(j.attempts), carbon::FormatTime(j.submitted).c_str(),
                Short(j.reason, 70).c_str());
  }
}

using carbon::api::EpochLine;
using carbon::api::kEpochHeader;


// "  carbon:  ran at 135 gCO2/kWh (zone GB) vs 168 had it started at
// submission: 19.7% less CO2 (0.72 g CO2 saved)", and its note.
std::string SavingsLines(const json& savings) {
  char line[256];
  std::snprintf(line, sizeof line,
                "  carbon:        ran at %.0f gCO2/kWh (zone %s) vs %.0f had it started at submission: "
                "%.1f%% less CO2",
                savings.value("run_mean_gco2_per_kwh", 0.0), savings.value("zone", "?").c_str(),
                savings.value("counterfactual_mean_gco2_per_kwh", 0.0), savings.value("saving_pct", 0.0));
  std::string out = line;
  if (savings.value("baseline_zone", std::string()) != savings.value("zone", std::string())) {
    // Placed away from its first-listed site: the counterfactual is there.
    std::snprintf(line, sizeof line, " against starting at once in zone %s: %.1f%% by time, %.1f%% by place",
                  savings.value("baseline_zone", "?").c_str(), savings.value("time_saving_pct", 0.0),
                  savings.value("place_saving_pct", 0.0));
    out += line;
  }
  if (savings["saving_kg"].is_number())
    out += " (" + carbon::FormatCo2(savings["saving_kg"].get<double>()) + " CO2 saved)";
  out += "\n";
  if (!savings.value("note", std::string()).empty())
    out += "                 (" + savings.value("note", std::string()) + ")\n";
  return out;
}

void PrintJob(const carbon::api::JobDetail& d) {
  const JobRecord& j = d.job;
  const auto& events = d.events;
  std::cout << "job " << j.id << " '" << j.name << "'\n"
            << "  state:         " << carbon::JobStateName(j.state)
            << (j.cancel_requested ? " (cancel requested)" : "") << "\n"
            << "  reason:        " << j.reason << "\n"
            << "  policy:        " << j.policy << "\n"
            << "  owner uid:     " << j.owner_uid << "\n"
            << "  submitted:     " << carbon::FormatTime(j.submitted) << "\n"
            << "  not before:    " << Opt(j.not_before) << "\n"
            << "  deadline:      " << Opt(j.deadline) << "\n"
            << "  planned start: " << Opt(j.planned_start) << "\n"
            << "  started:       " << Opt(j.started) << "\n"
            << "  finished:      " << Opt(j.finished) << "\n"
            << "  attempts:      " << j.attempts << "\n"
            << "  exit status:   " << (j.exit_status ? std::to_string(*j.exit_status) : "-") << "\n"
            << "  run dir:       " << (j.run_dir.empty() ? "-" : j.run_dir) << "\n"
            << "  site:          " << (j.site.empty() ? "local" : j.site)
            << (j.slurm_job_id ? " (Slurm job " + std::to_string(*j.slurm_job_id) + ")" : std::string()) << "\n";
  if (!j.progress.empty()) std::cout << "  progress:      " << j.progress << "\n";
  if (d.savings.is_object()) std::cout << SavingsLines(d.savings);
  if (!j.error.empty()) std::cout << "  error:\n    " << j.error << "\n";
  if (!d.epochs.empty()) {
    const auto& last = d.epochs.back();
    std::cout << "  epochs (memory: " << last.memory_method << "; energy: cpu " << last.cpu_method << ", gpu "
              << last.gpu_method << ", ram " << last.ram_method << "; CO2 at zone " << last.zone << " intensity, "
              << (last.intensity_source.empty() ? "none" : last.intensity_source) << "):\n    " << kEpochHeader
              << "\n";
    for (const auto& e : d.epochs) std::cout << "    " << EpochLine(e) << "\n";
  }
  if (!events.empty()) {
    std::cout << "  history:\n";
    for (const auto& e : events)
      std::cout << "    " << carbon::FormatTime(e.at) << "  "
                << (e.from_state.empty() ? "-" : e.from_state) << " -> " << e.to_state << "  "
                << e.reason << "\n";
  }
}

// A simulate usage error: said on stderr, exit code 2.
int SimUsage(const std::string& msg) {
  std::cerr << "carbonctl simulate: " << msg << "\n";
  return kUsage;
}

// --forecast, --duration and --max-wait into `o`; the error names the flag.
Status ParseSimFlags(carbon::SimOptions& o, const std::string& forecast, const std::string& duration,
                     const std::string& max_wait) {
  RETURN_IF_ERROR(carbon::ParseForecastMode(forecast, o));
  auto d = carbon::ParseDuration(duration);
  if (!d.ok()) return Status(StatusCode::kInvalidArgument, "--duration: " + d.status().message());
  auto w = carbon::ParseDuration(max_wait, /*allow_zero=*/true);
  if (!w.ok()) return Status(StatusCode::kInvalidArgument, "--max-wait: " + w.status().message());
  o.duration = *d;
  o.max_wait = *w;
  return Status();
}

// The keys both simulate forms print: the run's settings and its summary.
json SimJson(const carbon::SimOptions& o, int64_t jobs, double immediate, double policy, double oracle,
             double saving_pct, double oracle_saving_pct, double share_of_oracle, double mean_delay_h,
             double max_delay_h, double seconds) {
  return {{"policy", o.policy},
          {"forecast", o.forecast == "noise" ? "noise:" + std::to_string(o.noise_sigma) : o.forecast},
          {"jobs", jobs},
          {"duration", carbon::FormatDuration(o.duration)},
          {"max_wait", carbon::FormatDuration(o.max_wait)},
          {"immediate_mean_gco2_per_kwh", immediate},
          {"policy_mean_gco2_per_kwh", policy},
          {"oracle_mean_gco2_per_kwh", oracle},
          {"saving_pct", saving_pct},
          {"oracle_saving_pct", oracle_saving_pct},
          {"share_of_oracle", share_of_oracle},
          {"mean_delay_h", mean_delay_h},
          {"max_delay_h", max_delay_h},
          {"seconds", seconds}};
}

// A trace file read and parsed; the error names the file.
carbon::StatusOr<carbon::IntensitySeries> LoadTrace(const std::string& path, const std::string& time_col,
                                                    const std::string& value_col) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(StatusCode::kInvalidArgument, "cannot open trace '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return carbon::ParseIntensityCsv(ss.str(), path, {time_col, value_col});
}

// The summary keys of one run over one trace.
json SimRow(const carbon::SimOptions& o, const carbon::SimSummary& s, double secs) {
  json j = SimJson(o, s.jobs, s.immediate_mean_g, s.policy_mean_g, s.oracle_mean_g, s.saving_pct, s.oracle_saving_pct,
                   s.share_of_oracle, s.mean_delay_h, s.max_delay_h, secs);
  if (o.interruptible) {
    j["interruptible"] = true;
    j["min_segment"] = carbon::FormatDuration(o.min_segment);
    j["resume_overhead"] = carbon::FormatDuration(o.resume_overhead);
    j["mean_segments"] = s.mean_segments;
  }
  return j;
}

// carbonctl simulate --each --trace A --trace B ...: every trace on its own,
// one JSON line (or table row) per trace, then the mean and the lowest share.
int SimulateEach(carbon::SimOptions o, const std::vector<std::string>& traces, const std::string& forecast,
                 const std::string& duration, const std::string& max_wait, const std::string& time_col,
                 const std::string& value_col, bool as_json) {
  if (Status st = ParseSimFlags(o, forecast, duration, max_wait); !st.ok()) return SimUsage(st.message());
  const auto t0 = std::chrono::steady_clock::now();
  double share_sum = 0, share_min = 0;
  std::string lowest;
  if (!as_json)
    std::printf("%-48s %8s %8s %8s %7s %7s\n", "TRACE", "SAVING", "ORACLE", "SHARE", "DELAY", "SECONDS");
  for (const std::string& path : traces) {
    auto trace = LoadTrace(path, time_col, value_col);
    if (!trace.ok()) return SimUsage(trace.status().message());
    const auto t1 = std::chrono::steady_clock::now();
    auto r = carbon::Simulate(*trace, o);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    if (!r.ok()) return SimUsage(path + ": " + r.status().message());
    const carbon::SimSummary& s = r->summary;
    share_sum += s.share_of_oracle;
    if (lowest.empty() || s.share_of_oracle < share_min) share_min = s.share_of_oracle, lowest = path;
    if (as_json) {
      json j = SimRow(o, s, secs);
      j["trace"] = path;
      std::cout << j.dump() << "\n";
    } else {
      std::printf("%-48s %7.1f%% %7.1f%% %7.1f%% %6.1fh %7.2f\n", path.c_str(), s.saving_pct, s.oracle_saving_pct,
                  100 * s.share_of_oracle, s.mean_delay_h, secs);
    }
  }
  const double all = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!as_json)
    std::printf("%zu traces in %.2f s: share of the oracle's saving mean %.1f%%, lowest %.1f%% (%s)\n", traces.size(),
                all, 100 * share_sum / static_cast<double>(traces.size()), 100 * share_min, lowest.c_str());
  return kOk;
}

int Simulate(carbon::SimOptions o, const std::string& trace_path, const std::string& forecast,
             const std::string& duration, const std::string& max_wait, const std::string& time_col,
             const std::string& value_col, bool per_job, bool as_json) {
  if (Status st = ParseSimFlags(o, forecast, duration, max_wait); !st.ok()) return SimUsage(st.message());
  auto trace = LoadTrace(trace_path, time_col, value_col);
  if (!trace.ok()) return SimUsage(trace.status().message());
  auto t0 = std::chrono::steady_clock::now();
  auto r = carbon::Simulate(*trace, o);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!r.ok()) return SimUsage(r.status().message());
  const carbon::SimSummary& s = r->summary;
  if (as_json) {
    json j = SimRow(o, s, secs);
    j["trace"] = trace_path;
    j["points"] = trace->size();
    j["threshold"] = o.threshold;
    if (per_job) {
      json jobs = json::array();
      for (const auto& job : r->jobs)
        jobs.push_back({{"arrival", carbon::FormatTime(job.arrival)},
                        {"start", carbon::FormatTime(job.start)},
                        {"oracle_start", carbon::FormatTime(job.oracle_start)},
                        {"immediate_gco2_per_kwh", job.immediate_g},
                        {"policy_gco2_per_kwh", job.policy_g},
                        {"oracle_gco2_per_kwh", job.oracle_g},
                        {"end", carbon::FormatTime(job.end)},
                        {"segments", job.segments}});
      j["per_job"] = jobs;
    }
    std::cout << j.dump(2) << "\n";
    return kOk;
  }
  std::printf("trace %s: %zu points, %s .. %s\n", trace_path.c_str(), trace->size(),
              carbon::FormatTime(trace->front().time).c_str(), carbon::FormatTime(trace->back().end()).c_str());
  std::printf("policy %s", o.policy.c_str());
  if (o.policy == "threshold") std::printf(" (%.0f g/kWh)", o.threshold);
  if (o.policy == "forecast")
    std::printf(" (forecast %s)", o.forecast == "noise" ? ("noise " + std::to_string(o.noise_sigma * 100).substr(0, 4) + "%").c_str()
                                                        : o.forecast.c_str());
  std::printf(", %lld jobs of %s, max wait %s\n", static_cast<long long>(s.jobs),
              carbon::FormatDuration(o.duration).c_str(), carbon::FormatDuration(o.max_wait).c_str());
  if (o.interruptible)
    std::printf("interruptible: min segment %s, resume overhead %s; %.2f segments per job\n",
                carbon::FormatDuration(o.min_segment).c_str(), carbon::FormatDuration(o.resume_overhead).c_str(),
                s.mean_segments);
  std::printf("mean intensity during the jobs: immediate %.1f, %s %.1f, oracle %.1f gCO2/kWh\n", s.immediate_mean_g,
              o.policy.c_str(), s.policy_mean_g, s.oracle_mean_g);
  std::printf("saving vs immediate: %.1f%% (oracle %.1f%%), %.1f%% of the oracle's saving\n", s.saving_pct,
              s.oracle_saving_pct, 100 * s.share_of_oracle);
  std::printf("delay: mean %.1f h, max %.1f h; simulated in %.2f s\n", s.mean_delay_h, s.max_delay_h, secs);
  return kOk;
}

}  // namespace


// Gathers a report's data over the API: each job with its epochs, the
// intensity recorded from its submission to its end, the forecast it was
// planned on, and, for a pair, the comparison.
carbon::StatusOr<carbon::report::Input> GatherReport(carbon::api::Client& client, std::vector<int64_t> ids) {
  using carbon::StatusOr;
  carbon::report::Input in;
  std::optional<int64_t> baseline, candidate;
  if (ids.size() == 2) {
    baseline = ids[0];
    candidate = ids[1];
  }
  std::string default_zone;
  for (size_t i = 0; i < ids.size(); ++i) {
    auto d = client.Get(ids[i]);
    if (!d.ok()) return d.status();
    if (ids.size() == 1 && d->job.baseline_id) {  // the linked twin joins the report, first
      baseline = *d->job.baseline_id;
      candidate = ids[0];
      ids.insert(ids.begin(), *d->job.baseline_id);
      --i;
      continue;
    }
    carbon::report::Run run;
    run.detail = std::move(*d);
    const carbon::JobRecord& j = run.detail.job;
    if (auto spec = carbon::ParseJobSpec(j.spec_text, "job " + std::to_string(j.id)); spec.ok())
      run.zone = spec->carbon.zone;
    if (run.zone.empty()) {
      if (default_zone.empty()) {
        auto now = client.Intensity("");
        if (now.ok()) default_zone = now->value("zone", "");
      }
      run.zone = default_zone;
    }
    const carbon::Timestamp end = j.finished.value_or(j.started.value_or(j.submitted)) + std::chrono::hours(1);
    if (auto h = client.IntensityHistory(run.zone, j.submitted - std::chrono::hours(1), end); h.ok())
      for (const auto& p : (*h)["readings"])
        if (auto pt = carbon::api::IntensityPointFromJson(p); pt.ok()) run.readings.push_back(*pt);
    if (auto f = client.IntensityForecast(run.zone, j.submitted); f.ok()) {
      run.forecast_source = f->value("source", "");
      for (const auto& p : (*f)["points"])
        if (auto pt = carbon::api::IntensityPointFromJson(p); pt.ok()) run.forecast.push_back(*pt);
      // Up to the end of the run (or a day), not the whole horizon.
      const carbon::Timestamp until = std::max(end, j.submitted + std::chrono::hours(24));
      run.forecast.erase(std::remove_if(run.forecast.begin(), run.forecast.end(),
                                        [&](const carbon::IntensityPoint& p) { return p.time > until; }),
                         run.forecast.end());
    }
    in.runs.push_back(std::move(run));
  }
  if (candidate) {
    auto c = client.Compare(*candidate, baseline);
    if (!c.ok()) return c.status();
    auto b = carbon::api::RunSummaryFromJson((*c)["baseline"]);
    auto k = carbon::api::RunSummaryFromJson((*c)["candidate"]);
    if (!b.ok()) return b.status();
    if (!k.ok()) return k.status();
    in.comparison = std::make_pair(*b, *k);
    in.candidate_savings = (*c)["candidate_savings"];
  }
  in.generated_at = std::chrono::system_clock::now();
  return in;
}

// The global flags, and what every subcommand needs from them.
struct Context {
  std::string socket = carbon::api::DefaultSocketPath();
  std::string output = "table";
  bool as_json() const { return output == "json"; }
  carbon::api::Client client() const { return carbon::api::Client(socket); }
  int Fail(const Status& st) const { return ::Fail(st, socket); }
};

// A subcommand: its CLI11 app (flags bound) and what it runs once parsed.
struct Subcommand {
  CLI::App* app;
  std::function<int()> run;
};

Subcommand Submit(CLI::App& app, const Context& ctx) {
  struct Args {
    std::string file;
    bool with_baseline = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("submit", "validate a job file and queue it");
  cmd->add_option("FILE", a->file, "job file (YAML or JSON)")->required();
  cmd->add_flag("--with-baseline", a->with_baseline,
                "also queue its baseline twin (policy immediate, accumulation 1, fp32, same model, data, seed "
                "and epochs), linked for 'carbonctl compare ID'");
  return {cmd, [a, &ctx] {
            std::ifstream in(a->file, std::ios::binary);
            if (!in) {
              std::cerr << "carbonctl: cannot open job file '" << a->file << "'\n";
              return kUsage;
            }
            std::ostringstream ss;
            ss << in.rdbuf();
            auto spec = carbon::ParseJobSpec(ss.str(), a->file);
            if (!spec.ok()) {
              std::cerr << "carbonctl: invalid job file:\n" << spec.status().message() << "\n";
              return kUsage;
            }
            auto job = ctx.client().Submit(ss.str(), a->file, a->with_baseline);
            if (!job.ok()) return ctx.Fail(job.status());
            if (a->with_baseline && job->baseline_id && !ctx.as_json())
              std::cerr << "carbonctl: job " << job->id << " queued with its baseline twin, job "
                        << *job->baseline_id << "\n";
            if (ctx.as_json()) std::cout << carbon::api::JobToJson(*job, false).dump(2) << "\n";
            else std::cout << job->id << "\n";
            return kOk;
          }};
}

Subcommand List(CLI::App& app, const Context& ctx) {
  struct Args {
    std::string state;
    int64_t limit = 100;
    int64_t after = 0;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("list", "list jobs, oldest first, one page at a time");
  cmd->add_option("--state", a->state, "only jobs in this state");
  cmd->add_option("--limit", a->limit, "at most this many jobs (1-10000)")->capture_default_str();
  cmd->add_option("--after", a->after, "only jobs with a greater id (the next page: the id the last one ended at)");
  return {cmd, [a, &ctx] {
            std::optional<std::string> s;
            if (!a->state.empty()) s = a->state;
            auto page = ctx.client().ListPage(s, a->limit, a->after);
            if (!page.ok()) return ctx.Fail(page.status());
            if (ctx.as_json()) {
              json arr = json::array();
              for (const auto& j : page->jobs) arr.push_back(carbon::api::JobToJson(j, false));
              json counts = json::object();
              for (const auto& [state, n] : page->counts) counts[state] = n;
              std::cout << json{{"jobs", arr},
                                {"counts", counts},
                                {"next_after", page->next_after ? json(*page->next_after) : json(nullptr)}}
                               .dump(2)
                        << "\n";
              return kOk;
            }
            // How many there are in each state first: a queue of 100,000 is
            // read in pages, never printed whole unless asked.
            int64_t all = 0;
            std::string counts;
            for (const char* state : {"queued", "waiting", "running", "succeeded", "failed", "cancelled",
                                      "stopped_budget"})
              if (auto it = page->counts.find(state); it != page->counts.end() && it->second > 0) {
                counts += (counts.empty() ? "" : ", ") + std::to_string(it->second) + " " + state;
                all += it->second;
              }
            std::printf("%lld jobs%s%s\n", static_cast<long long>(all), counts.empty() ? "" : ": ", counts.c_str());
            PrintTable(page->jobs);
            if (page->next_after)
              std::printf("more: carbonctl list%s%s --limit %lld --after %lld\n", s ? " --state " : "",
                          s ? s->c_str() : "", static_cast<long long>(a->limit),
                          static_cast<long long>(*page->next_after));
            return kOk;
          }};
}

Subcommand StatusCmd(CLI::App& app, const Context& ctx) {
  auto id = std::make_shared<int64_t>(0);
  auto* cmd = app.add_subcommand("status", "show one job with its history");
  cmd->add_option("ID", *id, "job id")->required();
  return {cmd, [id, &ctx] {
            auto r = ctx.client().Get(*id);
            if (!r.ok()) return ctx.Fail(r.status());
            if (!ctx.as_json()) {
              PrintJob(*r);
              return kOk;
            }
            json j = carbon::api::JobToJson(r->job, true);
            json ev = json::array();
            for (const auto& e : r->events) ev.push_back(carbon::api::EventToJson(e));
            j["events"] = ev;
            json ep = json::array();
            for (const auto& e : r->epochs) ep.push_back(carbon::api::EpochToJson(e));
            j["epochs"] = ep;
            j["savings"] = r->savings;
            std::cout << j.dump(2) << "\n";
            return kOk;
          }};
}

Subcommand Compare(CLI::App& app, const Context& ctx) {
  auto ids = std::make_shared<std::vector<int64_t>>();
  auto* cmd = app.add_subcommand(
      "compare", "compare two runs (BASELINE CANDIDATE, or a CANDIDATE submitted --with-baseline): CO2, energy, "
                 "peak memory, accuracy, wall and wait time, intensity at submission and during training");
  cmd->add_option("IDS", *ids, "[BASELINE_ID] CANDIDATE_ID")->required()->expected(1, 2);
  return {cmd, [ids, &ctx] {
            std::optional<int64_t> base;
            if (ids->size() == 2) base = (*ids)[0];
            auto r = ctx.client().Compare(ids->back(), base);
            if (!r.ok()) return ctx.Fail(r.status());
            if (ctx.as_json()) {
              std::cout << r->dump(2) << "\n";
              return kOk;
            }
            auto b = carbon::api::RunSummaryFromJson((*r)["baseline"]);
            auto c = carbon::api::RunSummaryFromJson((*r)["candidate"]);
            if (!b.ok() || !c.ok()) return ctx.Fail(b.ok() ? c.status() : b.status());
            std::cout << carbon::FormatComparison(*b, *c, carbon::CompareRuns(*b, *c));
            if ((*r)["candidate_savings"].is_object()) std::cout << SavingsLines((*r)["candidate_savings"]);
            return kOk;
          }};
}

Subcommand Report(CLI::App& app, const Context& ctx) {
  struct Args {
    std::vector<int64_t> ids;
    std::string html, md;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "report", "write a report (HTML with charts, or Markdown) on jobs: one (with its baseline twin, if any) or "
                "BASELINE CANDIDATE");
  cmd->add_option("IDS", a->ids, "job ids")->required()->expected(1, 8);
  cmd->add_option("--html", a->html, "write one self-contained HTML page here");
  cmd->add_option("--md", a->md, "write the tables as Markdown here");
  return {cmd, [a, &ctx] {
            if (a->html.empty() && a->md.empty()) {
              std::cerr << "carbonctl: report needs --html FILE and/or --md FILE\n";
              return kUsage;
            }
            auto client = ctx.client();
            auto in = GatherReport(client, a->ids);
            if (!in.ok()) return ctx.Fail(in.status());
            for (const auto& [path, render] :
                 {std::pair<std::string, std::string (*)(const carbon::report::Input&)>{a->html, carbon::report::RenderHtml},
                  {a->md, carbon::report::RenderMarkdown}}) {
              if (path.empty()) continue;
              std::ofstream out(path, std::ios::binary | std::ios::trunc);
              if (!(out << render(*in))) {
                std::cerr << "carbonctl: cannot write " << path << "\n";
                return kUsage;
              }
              std::cout << path << "\n";
            }
            return kOk;
          }};
}

Subcommand Emissions(CLI::App& app, const Context& ctx) {
  struct Args {
    int64_t id = 0;
    bool total = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "emissions", "a job's energy and CO2 per epoch as CodeCarbon's emissions.csv (-o csv, default) or JSON");
  cmd->add_option("ID", a->id, "job id")->required();
  cmd->add_flag("--total", a->total, "the finished run as one row (the run directory's emissions-total.csv)");
  return {cmd, [a, &ctx] {
            auto body = ctx.client().Emissions(a->id, ctx.as_json() ? "json" : "csv", a->total ? "total" : "epochs");
            if (!body.ok()) return ctx.Fail(body.status());
            std::cout << *body;
            return kOk;
          }};
}

Subcommand Cancel(CLI::App& app, const Context& ctx) {
  auto id = std::make_shared<int64_t>(0);
  auto* cmd = app.add_subcommand("cancel", "cancel a queued, waiting or running job");
  cmd->add_option("ID", *id, "job id")->required();
  return {cmd, [id, &ctx] {
            auto r = ctx.client().Cancel(*id);
            if (!r.ok()) return ctx.Fail(r.status());
            if (ctx.as_json())
              std::cout << carbon::api::JobToJson(*r, false).dump(2) << "\n";
            else
              std::cout << "job " << r->id << ": " << carbon::JobStateName(r->state)
                        << (r->cancel_requested ? " (stopping its worker)" : "") << "\n";
            return kOk;
          }};
}

Subcommand Wait(CLI::App& app, const Context& ctx) {
  struct Args {
    int64_t id = 0;
    double timeout_s = 3600;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("wait", "follow a job until it ends; exit 0 if it succeeded");
  cmd->add_option("ID", a->id, "job id")->required();
  cmd->add_option("--timeout", a->timeout_s, "give up after this many seconds")->capture_default_str();
  return {cmd, [a, &ctx] {
            auto client = ctx.client();
            auto deadline =
                std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int64_t>(a->timeout_s * 1000));
            std::string last;
            for (;;) {
              auto r = client.Get(a->id);
              if (!r.ok()) return ctx.Fail(r.status());
              const JobRecord& j = r->job;
              std::string line = std::string(carbon::JobStateName(j.state)) + ": " + j.reason;
              if (line != last && !ctx.as_json()) std::cout << "job " << a->id << " " << line << std::endl;
              last = line;
              if (carbon::IsFinal(j.state)) {
                if (ctx.as_json()) std::cout << carbon::api::JobToJson(j, false).dump(2) << "\n";
                return j.state == carbon::JobState::kSucceeded ? kOk : kRefused;
              }
              if (std::chrono::steady_clock::now() > deadline) {
                std::cerr << "carbonctl: job " << a->id << " still " << carbon::JobStateName(j.state) << " after "
                          << a->timeout_s << " s\n";
                return kRefused;
              }
              std::this_thread::sleep_for(std::chrono::milliseconds(200));
            }
          }};
}

Subcommand Watch(CLI::App& app, const Context& ctx) {
  struct Args {
    std::optional<int64_t> id;
    double timeout = 0;
    bool live = false, plain = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "watch", "follow jobs live from carbond's event stream: state changes, each epoch, and on a terminal a "
               "redrawn view (progress, loss, accuracy, energy and CO2 so far, grid intensity); with ID, until "
               "that job ends (exit 0 if it succeeded)");
  cmd->add_option("ID", a->id, "job id (default: every job)");
  cmd->add_option("--timeout", a->timeout, "give up after this many seconds (0: never)")->capture_default_str();
  cmd->add_flag("--live", a->live, "redraw a live view even when the output is not a terminal");
  cmd->add_flag("--plain", a->plain, "print lines only, even on a terminal");
  return {cmd, [a, &ctx] {
            carbon::api::WatchOptions wo;
            wo.id = a->id;
            wo.timeout_s = a->timeout;
            wo.live = !a->plain && (a->live || ::isatty(STDOUT_FILENO));
            auto client = ctx.client();
            return carbon::api::RunWatch(client, wo, std::cout, std::cerr);
          }};
}

Subcommand Health(CLI::App& app, const Context& ctx) {
  auto* cmd = app.add_subcommand("health", "show carbond's health (and its last reload: what applied, what "
                                           "needs a restart)");
  return {cmd, [&ctx] {
            auto h = ctx.client().Health();
            if (!h.ok()) return ctx.Fail(h.status());
            std::cout << h->dump(2) << "\n";
            return kOk;
          }};
}

// carbonctl simulate --trace ZONE=FILE --trace ZONE=FILE ...: placement over zones.
int SimulateZones(carbon::SimOptions o, const std::vector<std::string>& traces, const std::string& forecast,
                  const std::string& duration, const std::string& max_wait, const std::string& time_col,
                  const std::string& value_col, bool as_json) {
  if (Status st = ParseSimFlags(o, forecast, duration, max_wait); !st.ok()) return SimUsage(st.message());
  if (o.slots_per_site < 0) return SimUsage("--slots-per-site must be 0 (no limit) or more");
  std::vector<carbon::SimZone> zones;
  for (const std::string& t : traces) {
    const size_t eq = t.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == t.size())
      return SimUsage("--trace '" + t + "': with several traces each is ZONE=FILE, e.g. --trace GB=gb-2023.csv");
    carbon::SimZone z;
    z.zone = t.substr(0, eq);
    for (const auto& other : zones)
      if (other.zone == z.zone) return SimUsage("--trace: zone " + z.zone + " is given twice");
    auto trace = LoadTrace(t.substr(eq + 1), time_col, value_col);
    if (!trace.ok()) return SimUsage(trace.status().message() + " (zone " + z.zone + ")");
    z.trace = std::move(*trace);
    zones.push_back(std::move(z));
  }
  auto t0 = std::chrono::steady_clock::now();
  auto r = carbon::SimulateSites(zones, o);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!r.ok()) return SimUsage(r.status().message());
  const carbon::SimSitesSummary& s = *r;
  json share = json::object();
  for (const auto& [zone, f] : s.zone_share) share[zone] = f;
  json names = json::array();
  for (const auto& z : zones) names.push_back(z.zone);
  if (as_json) {
    json j = SimJson(o, s.jobs, s.immediate_mean_g, s.policy_mean_g, s.oracle_mean_g, s.saving_pct,
                     s.oracle_saving_pct, s.share_of_oracle, s.mean_delay_h, s.max_delay_h, secs);
    j["zones"] = names;
    j["slots_per_site"] = o.slots_per_site;
    j["time_only_saving_pct"] = s.time_only_saving_pct;
    j["best_fixed_zone"] = s.best_fixed_zone;
    j["best_fixed_zone_saving_pct"] = s.best_fixed_zone_saving_pct;
    j["zone_share"] = share;
    std::cout << j.dump(2)
              << "\n";
    return kOk;
  }
  std::string list;
  for (const auto& z : zones) list += (list.empty() ? "" : ", ") + z.zone;
  std::printf("zones %s; policy %s (forecast %s), %lld jobs of %s, max wait %s, %s\n", list.c_str(), o.policy.c_str(),
              o.forecast.c_str(), static_cast<long long>(s.jobs), carbon::FormatDuration(o.duration).c_str(),
              carbon::FormatDuration(o.max_wait).c_str(),
              o.slots_per_site > 0 ? (std::to_string(o.slots_per_site) + " slots per zone").c_str() : "no slot limit");
  std::printf("saving vs at once in %s: %.1f%% (time only %.1f%%, best fixed zone %s %.1f%%, oracle %.1f%%), "
              "%.1f%% of the space-time oracle's saving\n",
              zones[0].zone.c_str(), s.saving_pct, s.time_only_saving_pct, s.best_fixed_zone.c_str(),
              s.best_fixed_zone_saving_pct, s.oracle_saving_pct, 100 * s.share_of_oracle);
  std::string shares;
  for (const auto& [zone, f] : s.zone_share) shares += (shares.empty() ? "" : ", ") + zone + " " + std::to_string(std::lround(100 * f)) + "%";
  std::printf("placed: %s; delay mean %.1f h, max %.1f h; simulated in %.2f s\n", shares.c_str(), s.mean_delay_h,
              s.max_delay_h, secs);
  return kOk;
}

Subcommand SimulateCmd(CLI::App& app, const Context& ctx) {
  struct Args {
    carbon::SimOptions sim;
    std::vector<std::string> traces;
    std::string forecast = "perfect", duration = "4h", max_wait = "24h", time_col, value_col;
    std::string min_segment = "1h", resume_overhead = "2m";
    bool per_job = false, each = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("simulate",
                                 "replay a recorded intensity trace through a release policy (no daemon needed)");
  cmd->add_option("--trace", a->traces,
                  "CSV trace (Electricity Maps yearly, Let's Wait Awhile, NESO, CATS); ZONE=FILE, repeated, places "
                  "each job over several zones (the first is its first-listed site)")
      ->required();
  cmd->add_option("--slots-per-site", a->sim.slots_per_site, "several zones: jobs running at once per zone (0: no limit)")
      ->capture_default_str();
  cmd->add_option("--policy", a->sim.policy, "immediate | threshold | forecast")->capture_default_str();
  cmd->add_option("--jobs", a->sim.jobs, "jobs arriving evenly over the trace")->capture_default_str();
  cmd->add_option("--duration", a->duration, "each job's run time")->capture_default_str();
  cmd->add_option("--max-wait", a->max_wait, "how long a job may wait")->capture_default_str();
  cmd->add_option("--threshold", a->sim.threshold, "threshold policy: gCO2/kWh")->capture_default_str();
  cmd->add_option("--forecast", a->forecast, "perfect | noise:SIGMA (e.g. noise:10%) | own")->capture_default_str();
  cmd->add_option("--seed", a->sim.seed, "seed of arrivals and forecast noise")->capture_default_str();
  cmd->add_option("--time-column", a->time_col, "CSV time column (default: by the header)");
  cmd->add_option("--value-column", a->value_col, "CSV value column (default: by the header)");
  cmd->add_flag("--per-job", a->per_job, "with -o json: every job, not only the summary");
  cmd->add_flag("--each", a->each,
                "several --trace FILE: simulate each on its own (one JSON line or row per trace, then the mean "
                "and lowest share of the oracle)");
  cmd->add_flag("--interruptible", a->sim.interruptible,
                "jobs pause through dirty hours: planned as segments before their deadline (one trace; policy "
                "forecast), against the interruptible oracle");
  cmd->add_option("--min-segment", a->min_segment, "--interruptible: the shortest segment")->capture_default_str();
  cmd->add_option("--resume-overhead", a->resume_overhead,
                  "--interruptible: run time lost at each resume (checkpoint + restart)")
      ->capture_default_str();
  return {cmd, [a, &ctx] {
            auto seg = carbon::ParseDuration(a->min_segment);
            if (!seg.ok()) return SimUsage("--min-segment: " + seg.status().message());
            auto over = carbon::ParseDuration(a->resume_overhead, /*allow_zero=*/true);
            if (!over.ok()) return SimUsage("--resume-overhead: " + over.status().message());
            a->sim.min_segment = *seg;
            a->sim.resume_overhead = *over;
            if (a->each)
              return SimulateEach(a->sim, a->traces, a->forecast, a->duration, a->max_wait, a->time_col, a->value_col,
                                  ctx.as_json());
            if (a->traces.size() == 1 && a->traces[0].find('=') == std::string::npos)
              return Simulate(a->sim, a->traces[0], a->forecast, a->duration, a->max_wait, a->time_col, a->value_col,
                              a->per_job, ctx.as_json());
            return SimulateZones(a->sim, a->traces, a->forecast, a->duration, a->max_wait, a->time_col, a->value_col,
                                 ctx.as_json());
          }};
}

// carbonctl intensity with several zones: one line per zone (its reading,
// source and the cleanest `window` of its forecast) and the sites in it.
int IntensityZones(carbon::api::Client& client, const json& health, const std::vector<std::string>& zones,
                   carbon::Duration window, bool as_json) {
  json out = json::array();
  for (const std::string& z : zones) {
    json row = {{"zone", z}};
    const json& zj = health["intensity"]["zones"][z];
    row["gco2_per_kwh"] = zj.value("gco2_per_kwh", json(nullptr));
    row["source"] = zj.value("source", json(nullptr));
    json sites = json::array();
    if (health.contains("sites"))
      for (const auto& site : health["sites"])
        if (site.value("zone", "") == z) sites.push_back(site.value("name", ""));
    row["sites"] = sites;
    auto fc = client.IntensityForecast(z);
    row["cleanest_window"] = fc.ok() ? carbon::api::CleanestWindowJson(*fc, window) : json(nullptr);
    out.push_back(row);
  }
  if (as_json) {
    std::cout << json{{"zones", out}}.dump(2) << "\n";
    return kOk;
  }
  std::printf("%-14s %9s  %-16s %-28s %s\n", "ZONE", "G/KWH NOW", "SOURCE",
              ("CLEANEST " + carbon::FormatDuration(window) + " (UTC), MEAN").c_str(), "SITES");
  for (const json& r : out) {
    std::string now = r["gco2_per_kwh"].is_number() ? std::to_string(std::lround(r["gco2_per_kwh"].get<double>())) : "-";
    std::string win = "-";
    if (r["cleanest_window"].is_object()) {
      const json& w = r["cleanest_window"];
      win = w["start"].get<std::string>().substr(5, 11) + "-" + w["end"].get<std::string>().substr(11, 5) + ", " +
            std::to_string(std::lround(w["mean_gco2_per_kwh"].get<double>()));
    }
    std::string sites;
    for (const auto& n : r["sites"]) sites += (sites.empty() ? "" : ", ") + n.get<std::string>();
    std::printf("%-14s %9s  %-16s %-28s %s\n", r["zone"].get<std::string>().c_str(), now.c_str(),
                r["source"].is_string() ? r["source"].get<std::string>().c_str() : "-", win.c_str(),
                sites.empty() ? "-" : sites.c_str());
  }
  std::cout << "(carbonctl intensity --zone ZONE for one zone's chart)\n";
  return kOk;
}

Subcommand IntensityCmd(CLI::App& app, const Context& ctx) {
  struct Args {
    std::string zone, window = "3h";
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("intensity",
                                 "show the grid's carbon intensity now, its source and age, and the next 48 h");
  cmd->add_option("--zone", a->zone, "grid zone (default: every zone carbond polls, side by side, or its only one)");
  cmd->add_option("--window", a->window, "length of the cleanest window to mark")->capture_default_str();
  return {cmd, [a, &ctx] {
            auto window = carbon::ParseDuration(a->window);
            if (!window.ok()) {
              std::cerr << "carbonctl: --window: " << window.status().message() << "\n";
              return kUsage;
            }
            auto client = ctx.client();
            if (a->zone.empty()) {
              // Several zones polled (sites in different grids): side by side.
              auto h = client.Health();
              if (!h.ok()) return ctx.Fail(h.status());
              std::vector<std::string> zones;
              if (h->contains("intensity") && (*h)["intensity"]["zones"].is_object())
                for (const auto& [z, v] : (*h)["intensity"]["zones"].items()) zones.push_back(z);
              if (zones.size() > 1) return IntensityZones(client, *h, zones, *window, ctx.as_json());
            }
            auto cur = client.Intensity(a->zone);
            if (!cur.ok() && cur.status().message().rfind("cannot connect", 0) == 0) return ctx.Fail(cur.status());
            if (!cur.ok() && cur.status().code() != StatusCode::kUnavailable) return ctx.Fail(cur.status());
            auto fc = client.IntensityForecast(a->zone);
            if (ctx.as_json()) {
              json out;
              out["current"] = cur.ok() ? *cur : json(nullptr);
              if (!cur.ok()) out["current_error"] = cur.status().message();
              out["forecast"] = fc.ok() ? *fc : json(nullptr);
              if (!fc.ok()) out["forecast_error"] = fc.status().message();
              out["cleanest_window"] = fc.ok() ? carbon::api::CleanestWindowJson(*fc, *window) : json(nullptr);
              std::cout << out.dump(2) << "\n";
            } else {
              std::cout << carbon::api::RenderIntensity(cur.ok() ? &*cur : nullptr,
                                                        cur.ok() ? "" : cur.status().message(),
                                                        fc.ok() ? &*fc : nullptr, fc.ok() ? "" : fc.status().message(),
                                                        *window);
            }
            return cur.ok() ? kOk : kRefused;
          }};
}

int main(int argc, char** argv) {
  CLI::App app{"carbonctl: submit and inspect carbon-aware training jobs"};
  app.require_subcommand(1);
  // Global flags also after the subcommand (`carbonctl list -o json`), as
  // kubectl and docker accept them: a subcommand passes what it does not
  // know to the app. Set before the subcommands, which inherit it.
  app.fallthrough();
  Context ctx;
  app.add_option("--socket", ctx.socket, "carbond's socket (env CARBOND_SOCKET)")->capture_default_str();
  app.add_option("-o,--output", ctx.output, "table or json (emissions: csv or json)")
      ->check(CLI::IsMember({"table", "json", "csv"}))
      ->capture_default_str();
  const std::vector<Subcommand> commands = {
      Submit(app, ctx),    Compare(app, ctx), List(app, ctx),   StatusCmd(app, ctx),
      Report(app, ctx),    Emissions(app, ctx), Cancel(app, ctx), Wait(app, ctx),
      Watch(app, ctx),     Health(app, ctx),  SimulateCmd(app, ctx), IntensityCmd(app, ctx)};
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kUsage;
  }
  for (const Subcommand& c : commands) {
    if (!c.app->parsed()) continue;
    if (ctx.output == "csv" && c.app->get_name() != "emissions") {
      std::cerr << "carbonctl: -o csv applies to 'emissions' only; use -o table or -o json\n";
      return kUsage;
    }
    return c.run();
  }
  return kUsage;
}
