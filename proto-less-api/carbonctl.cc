// carbonctl: the command-line client of carbond.
// Exit codes: 0 ok, 1 refused by the daemon, 2 usage or validation error,
// 3 daemon unreachable.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
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
#include "proto-less-api/report.h"
#include "proto-less-api/watch.h"

namespace {

using carbon::JobRecord;
using carbon::Status;
using carbon::StatusCode;
using nlohmann::json;

constexpr int kOk = 0, kRefused = 1, kUsage = 2, kUnreachable = 3;

int Fail(const Status& st, const std::string& socket) {
  if (st.code() == StatusCode::kUnavailable && st.message().rfind("cannot connect", 0) == 0) {
    std::cerr << "carbonctl: " << st.message() << "\n"
              << "hint: start the daemon (sudo systemctl start carbond, or run carbond "
                 "--socket " << socket << "), or point --socket / CARBOND_SOCKET at it\n";
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
  if (savings["saving_kg"].is_number()) {
    char kg[64];
    double v = savings["saving_kg"].get<double>();
    if (std::abs(v) >= 0.1)
      std::snprintf(kg, sizeof kg, " (%.3f kg CO2 saved)", v);
    else
      std::snprintf(kg, sizeof kg, " (%.4g g CO2 saved)", v * 1000);
    out += kg;
  }
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
            << "  run dir:       " << (j.run_dir.empty() ? "-" : j.run_dir) << "\n";
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

int Simulate(carbon::SimOptions o, const std::string& trace_path, const std::string& forecast,
             const std::string& duration, const std::string& max_wait, const std::string& time_col,
             const std::string& value_col, bool per_job, bool as_json) {
  auto usage = [](const Status& st) {
    std::cerr << "carbonctl simulate: " << st.message() << "\n";
    return kUsage;
  };
  if (Status st = carbon::ParseForecastMode(forecast, o); !st.ok()) return usage(st);
  auto d = carbon::ParseDuration(duration);
  if (!d.ok()) return usage(Status(StatusCode::kInvalidArgument, "--duration: " + d.status().message()));
  auto w = carbon::ParseDuration(max_wait, /*allow_zero=*/true);
  if (!w.ok()) return usage(Status(StatusCode::kInvalidArgument, "--max-wait: " + w.status().message()));
  o.duration = *d;
  o.max_wait = *w;
  std::ifstream in(trace_path, std::ios::binary);
  if (!in) return usage(Status(StatusCode::kInvalidArgument, "cannot open trace '" + trace_path + "'"));
  std::ostringstream ss;
  ss << in.rdbuf();
  auto trace = carbon::ParseIntensityCsv(ss.str(), trace_path, {time_col, value_col});
  if (!trace.ok()) return usage(trace.status());
  auto t0 = std::chrono::steady_clock::now();
  auto r = carbon::Simulate(*trace, o);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!r.ok()) return usage(r.status());
  const carbon::SimSummary& s = r->summary;
  if (as_json) {
    json j = {{"trace", trace_path},
              {"points", trace->size()},
              {"policy", o.policy},
              {"forecast", o.forecast == "noise" ? "noise:" + std::to_string(o.noise_sigma) : o.forecast},
              {"threshold", o.threshold},
              {"jobs", s.jobs},
              {"duration", carbon::FormatDuration(o.duration)},
              {"max_wait", carbon::FormatDuration(o.max_wait)},
              {"immediate_mean_gco2_per_kwh", s.immediate_mean_g},
              {"policy_mean_gco2_per_kwh", s.policy_mean_g},
              {"oracle_mean_gco2_per_kwh", s.oracle_mean_g},
              {"saving_pct", s.saving_pct},
              {"oracle_saving_pct", s.oracle_saving_pct},
              {"share_of_oracle", s.share_of_oracle},
              {"mean_delay_h", s.mean_delay_h},
              {"max_delay_h", s.max_delay_h},
              {"seconds", secs}};
    if (per_job) {
      json jobs = json::array();
      for (const auto& job : r->jobs)
        jobs.push_back({{"arrival", carbon::FormatTime(job.arrival)},
                        {"start", carbon::FormatTime(job.start)},
                        {"oracle_start", carbon::FormatTime(job.oracle_start)},
                        {"immediate_gco2_per_kwh", job.immediate_g},
                        {"policy_gco2_per_kwh", job.policy_g},
                        {"oracle_gco2_per_kwh", job.oracle_g}});
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

int main(int argc, char** argv) {
  CLI::App app{"carbonctl: submit and inspect carbon-aware training jobs"};
  app.require_subcommand(1);
  // Global flags also after the subcommand (`carbonctl list -o json`), as
  // kubectl and docker accept them: a subcommand passes what it does not
  // know to the app. Set before the subcommands, which inherit it.
  app.fallthrough();
  std::string socket = carbon::api::DefaultSocketPath();
  std::string output = "table";
  app.add_option("--socket", socket, "carbond's socket (env CARBOND_SOCKET)")->capture_default_str();
  app.add_option("-o,--output", output, "table or json (emissions: csv or json)")
      ->check(CLI::IsMember({"table", "json", "csv"}))
      ->capture_default_str();

  std::string file;
  bool with_baseline = false;
  auto* submit = app.add_subcommand("submit", "validate a job file and queue it");
  submit->add_option("FILE", file, "job file (YAML or JSON)")->required();
  submit->add_flag("--with-baseline", with_baseline,
                   "also queue its baseline twin (policy immediate, accumulation 1, fp32, same model, data, seed "
                   "and epochs), linked for 'carbonctl compare ID'");

  std::vector<int64_t> compare_ids;
  auto* compare = app.add_subcommand(
      "compare", "compare two runs (BASELINE CANDIDATE, or a CANDIDATE submitted --with-baseline): CO2, energy, "
                 "peak memory, accuracy, wall and wait time, intensity at submission and during training");
  compare->add_option("IDS", compare_ids, "[BASELINE_ID] CANDIDATE_ID")->required()->expected(1, 2);

  std::string state;
  int64_t limit = 100;
  auto* list = app.add_subcommand("list", "list jobs");
  list->add_option("--state", state, "only jobs in this state");
  list->add_option("--limit", limit, "at most this many jobs")->capture_default_str();

  int64_t id = 0;
  auto* status = app.add_subcommand("status", "show one job with its history");
  status->add_option("ID", id, "job id")->required();

  std::vector<int64_t> report_ids;
  std::string report_html, report_md;
  auto* report = app.add_subcommand(
      "report", "write a report (HTML with charts, or Markdown) on jobs: one (with its baseline twin, if any) or "
                "BASELINE CANDIDATE");
  report->add_option("IDS", report_ids, "job ids")->required()->expected(1, 8);
  report->add_option("--html", report_html, "write one self-contained HTML page here");
  report->add_option("--md", report_md, "write the tables as Markdown here");

  auto* emissions = app.add_subcommand(
      "emissions", "a job's energy and CO2 per epoch as CodeCarbon's emissions.csv (-o csv, default) or JSON");
  emissions->add_option("ID", id, "job id")->required();

  auto* cancel = app.add_subcommand("cancel", "cancel a queued, waiting or running job");
  cancel->add_option("ID", id, "job id")->required();

  double timeout_s = 3600;
  auto* wait = app.add_subcommand("wait", "follow a job until it ends; exit 0 if it succeeded");
  wait->add_option("ID", id, "job id")->required();
  wait->add_option("--timeout", timeout_s, "give up after this many seconds")->capture_default_str();

  auto* watch = app.add_subcommand(
      "watch", "follow jobs live from carbond's event stream: state changes, each epoch, and on a terminal a "
               "redrawn view (progress, loss, accuracy, energy and CO2 so far, grid intensity); with ID, until "
               "that job ends (exit 0 if it succeeded)");
  std::optional<int64_t> watch_id;
  double watch_timeout = 0;
  bool watch_live = false, watch_plain = false;
  watch->add_option("ID", watch_id, "job id (default: every job)");
  watch->add_option("--timeout", watch_timeout, "give up after this many seconds (0: never)")->capture_default_str();
  watch->add_flag("--live", watch_live, "redraw a live view even when the output is not a terminal");
  watch->add_flag("--plain", watch_plain, "print lines only, even on a terminal");

  auto* health = app.add_subcommand("health", "show carbond's health");

  carbon::SimOptions sim;
  std::string sim_trace, sim_forecast = "perfect", sim_duration = "4h", sim_max_wait = "24h";
  std::string sim_time_col, sim_value_col;
  bool sim_per_job = false;
  auto* simulate = app.add_subcommand(
      "simulate", "replay a recorded intensity trace through a release policy (no daemon needed)");
  simulate->add_option("--trace", sim_trace, "CSV trace (Electricity Maps yearly, Let's Wait Awhile, NESO, CATS)")
      ->required();
  simulate->add_option("--policy", sim.policy, "immediate | threshold | forecast")->capture_default_str();
  simulate->add_option("--jobs", sim.jobs, "jobs arriving evenly over the trace")->capture_default_str();
  simulate->add_option("--duration", sim_duration, "each job's run time")->capture_default_str();
  simulate->add_option("--max-wait", sim_max_wait, "how long a job may wait")->capture_default_str();
  simulate->add_option("--threshold", sim.threshold, "threshold policy: gCO2/kWh")->capture_default_str();
  simulate->add_option("--forecast", sim_forecast, "perfect | noise:SIGMA (e.g. noise:10%) | own")
      ->capture_default_str();
  simulate->add_option("--seed", sim.seed, "seed of arrivals and forecast noise")->capture_default_str();
  simulate->add_option("--time-column", sim_time_col, "CSV time column (default: by the header)");
  simulate->add_option("--value-column", sim_value_col, "CSV value column (default: by the header)");
  simulate->add_flag("--per-job", sim_per_job, "with -o json: every job, not only the summary");

  std::string zone;
  std::string window_text = "3h";
  auto* intensity = app.add_subcommand(
      "intensity", "show the grid's carbon intensity now, its source and age, and the next 48 h");
  intensity->add_option("--zone", zone, "grid zone (default: the daemon's first zone)");
  intensity->add_option("--window", window_text, "length of the cleanest window to mark")
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kUsage;
  }

  const bool as_json = output == "json";
  if (output == "csv" && !*emissions) {
    std::cerr << "carbonctl: -o csv applies to 'emissions' only; use -o table or -o json\n";
    return kUsage;
  }
  if (*simulate) return Simulate(sim, sim_trace, sim_forecast, sim_duration, sim_max_wait, sim_time_col,
                                 sim_value_col, sim_per_job, as_json);
  carbon::api::Client client(socket);

  if (*submit) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      std::cerr << "carbonctl: cannot open job file '" << file << "'\n";
      return kUsage;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    auto spec = carbon::ParseJobSpec(ss.str(), file);
    if (!spec.ok()) {
      std::cerr << "carbonctl: invalid job file:\n" << spec.status().message() << "\n";
      return kUsage;
    }
    auto job = client.Submit(ss.str(), file, with_baseline);
    if (!job.ok()) return Fail(job.status(), socket);
    if (with_baseline && job->baseline_id && !as_json)
      std::cerr << "carbonctl: job " << job->id << " queued with its baseline twin, job " << *job->baseline_id
                << "\n";
    if (as_json) std::cout << carbon::api::JobToJson(*job, false).dump(2) << "\n";
    else std::cout << job->id << "\n";
    return kOk;
  }
  if (*list) {
    std::optional<std::string> s;
    if (!state.empty()) s = state;
    auto jobs = client.List(s, limit);
    if (!jobs.ok()) return Fail(jobs.status(), socket);
    if (as_json) {
      json arr = json::array();
      for (const auto& j : *jobs) arr.push_back(carbon::api::JobToJson(j, false));
      std::cout << json{{"jobs", arr}}.dump(2) << "\n";
    } else {
      PrintTable(*jobs);
    }
    return kOk;
  }
  if (*report) {
    if (report_html.empty() && report_md.empty()) {
      std::cerr << "carbonctl: report needs --html FILE and/or --md FILE\n";
      return kUsage;
    }
    auto in = GatherReport(client, report_ids);
    if (!in.ok()) return Fail(in.status(), socket);
    for (auto [path, text] : {std::pair<std::string, std::string>{report_html, report_html.empty() ? "" : carbon::report::RenderHtml(*in)},
                              {report_md, report_md.empty() ? "" : carbon::report::RenderMarkdown(*in)}}) {
      if (path.empty()) continue;
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      if (!(out << text)) {
        std::cerr << "carbonctl: cannot write " << path << "\n";
        return kUsage;
      }
      std::cout << path << "\n";
    }
    return kOk;
  }
  if (*compare) {
    std::optional<int64_t> base;
    if (compare_ids.size() == 2) base = compare_ids[0];
    auto r = client.Compare(compare_ids.back(), base);
    if (!r.ok()) return Fail(r.status(), socket);
    if (as_json) {
      std::cout << r->dump(2) << "\n";
      return kOk;
    }
    auto b = carbon::api::RunSummaryFromJson((*r)["baseline"]);
    auto c = carbon::api::RunSummaryFromJson((*r)["candidate"]);
    if (!b.ok() || !c.ok()) return Fail(b.ok() ? c.status() : b.status(), socket);
    std::cout << carbon::FormatComparison(*b, *c, carbon::CompareRuns(*b, *c));
    if ((*r)["candidate_savings"].is_object()) std::cout << SavingsLines((*r)["candidate_savings"]);
    return kOk;
  }
  if (*emissions) {
    auto body = client.Emissions(id, as_json ? "json" : "csv");
    if (!body.ok()) return Fail(body.status(), socket);
    std::cout << *body;
    return kOk;
  }
  if (*status) {
    auto r = client.Get(id);
    if (!r.ok()) return Fail(r.status(), socket);
    if (as_json) {
      json j = carbon::api::JobToJson(r->job, true);
      json ev = json::array();
      for (const auto& e : r->events) ev.push_back(carbon::api::EventToJson(e));
      j["events"] = ev;
      json ep = json::array();
      for (const auto& e : r->epochs) ep.push_back(carbon::api::EpochToJson(e));
      j["epochs"] = ep;
      j["savings"] = r->savings;
      std::cout << j.dump(2) << "\n";
    } else {
      PrintJob(*r);
    }
    return kOk;
  }
  if (*cancel) {
    auto r = client.Cancel(id);
    if (!r.ok()) return Fail(r.status(), socket);
    if (as_json) std::cout << carbon::api::JobToJson(*r, false).dump(2) << "\n";
    else
      std::cout << "job " << r->id << ": " << carbon::JobStateName(r->state)
                << (r->cancel_requested ? " (stopping its worker)" : "") << "\n";
    return kOk;
  }
  if (*watch) {
    carbon::api::WatchOptions wo;
    wo.id = watch_id;
    wo.timeout_s = watch_timeout;
    wo.live = !watch_plain && (watch_live || ::isatty(STDOUT_FILENO));
    return carbon::api::RunWatch(client, wo, std::cout, std::cerr);
  }
  if (*wait) {
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
    std::string last;
    for (;;) {
      auto r = client.Get(id);
      if (!r.ok()) return Fail(r.status(), socket);
      const JobRecord& j = r->job;
      std::string line = std::string(carbon::JobStateName(j.state)) + ": " + j.reason;
      if (line != last && !as_json) std::cout << "job " << id << " " << line << std::endl;
      last = line;
      if (carbon::IsFinal(j.state)) {
        if (as_json) std::cout << carbon::api::JobToJson(j, false).dump(2) << "\n";
        return j.state == carbon::JobState::kSucceeded ? kOk : kRefused;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        std::cerr << "carbonctl: job " << id << " still " << carbon::JobStateName(j.state)
                  << " after " << timeout_s << " s\n";
        return kRefused;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  if (*intensity) {
    auto window = carbon::ParseDuration(window_text);
    if (!window.ok()) {
      std::cerr << "carbonctl: --window: " << window.status().message() << "\n";
      return kUsage;
    }
    auto cur = client.Intensity(zone);
    if (!cur.ok() && cur.status().message().rfind("cannot connect", 0) == 0) return Fail(cur.status(), socket);
    if (!cur.ok() && cur.status().code() != StatusCode::kUnavailable) return Fail(cur.status(), socket);
    auto fc = client.IntensityForecast(zone);
    if (as_json) {
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
                                                fc.ok() ? &*fc : nullptr,
                                                fc.ok() ? "" : fc.status().message(), *window);
    }
    return cur.ok() ? kOk : kRefused;
  }
  if (*health) {
    auto h = client.Health();
    if (!h.ok()) return Fail(h.status(), socket);
    std::cout << h->dump(2) << "\n";
    return kOk;
  }
  return kUsage;
}
