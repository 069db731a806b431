// carbonctl: the command-line client of carbond.
// Exit codes: 0 ok, 1 refused by the daemon, 2 usage or validation error,
// 3 daemon unreachable.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <set>
#include <thread>

#include "common/job_spec.h"
#include "common/time_util.h"
#include "proto-less-api/api.h"
#include "proto-less-api/client.h"
#include "proto-less-api/intensity_chart.h"

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

std::string EpochLine(const carbon::EpochRecord& e) {
  char buf[200];
  std::snprintf(buf, sizeof buf, "%5lld %7lld %10.4f %10.4f %9.2f%% %10.0f %8.2f %10.1f",
                static_cast<long long>(e.epoch), static_cast<long long>(e.attempt), e.train_loss,
                e.test_loss, 100.0 * e.test_accuracy, e.samples_per_s, e.wall_s,
                static_cast<double>(e.peak_memory_bytes) / (1024.0 * 1024.0));
  return buf;
}
constexpr const char* kEpochHeader =
    "EPOCH ATTEMPT TRAIN_LOSS  TEST_LOSS  ACCURACY  SAMPLES/S   WALL_S PEAK_MEM_MB";

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
  if (!j.error.empty()) std::cout << "  error:\n    " << j.error << "\n";
  if (!d.epochs.empty()) {
    std::cout << "  epochs (memory: " << d.epochs.back().memory_method << "):\n    " << kEpochHeader
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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"carbonctl: submit and inspect carbon-aware training jobs"};
  app.require_subcommand(1);
  std::string socket = carbon::api::DefaultSocketPath();
  std::string output = "table";
  app.add_option("--socket", socket, "carbond's socket (env CARBOND_SOCKET)")->capture_default_str();
  app.add_option("-o,--output", output, "table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();

  std::string file;
  auto* submit = app.add_subcommand("submit", "validate a job file and queue it");
  submit->add_option("FILE", file, "job file (YAML or JSON)")->required();

  std::string state;
  int64_t limit = 100;
  auto* list = app.add_subcommand("list", "list jobs");
  list->add_option("--state", state, "only jobs in this state");
  list->add_option("--limit", limit, "at most this many jobs")->capture_default_str();

  int64_t id = 0;
  auto* status = app.add_subcommand("status", "show one job with its history");
  status->add_option("ID", id, "job id")->required();

  auto* cancel = app.add_subcommand("cancel", "cancel a queued, waiting or running job");
  cancel->add_option("ID", id, "job id")->required();

  double timeout_s = 3600;
  auto* wait = app.add_subcommand("wait", "follow a job until it ends; exit 0 if it succeeded");
  wait->add_option("ID", id, "job id")->required();
  wait->add_option("--timeout", timeout_s, "give up after this many seconds")->capture_default_str();

  auto* watch = app.add_subcommand(
      "watch", "follow a job live: state changes and each epoch; exit 0 if it succeeded");
  watch->add_option("ID", id, "job id")->required();
  watch->add_option("--timeout", timeout_s, "give up after this many seconds")->capture_default_str();

  auto* health = app.add_subcommand("health", "show carbond's health");

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

  carbon::api::Client client(socket);
  const bool as_json = output == "json";

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
    auto job = client.Submit(ss.str(), file);
    if (!job.ok()) return Fail(job.status(), socket);
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
  const bool watching = static_cast<bool>(*watch);
  if (*wait || watching) {
    std::set<std::pair<int64_t, int64_t>> shown;  // (epoch, attempt) printed
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
    std::string last;
    for (;;) {
      auto r = client.Get(id);
      if (!r.ok()) return Fail(r.status(), socket);
      const JobRecord& j = r->job;
      if (watching && !as_json) {
        for (const auto& e : r->epochs) {
          if (!shown.insert({e.epoch, e.attempt}).second) continue;
          if (shown.size() == 1) std::cout << kEpochHeader << std::endl;
          std::cout << EpochLine(e) << std::endl;
        }
      }
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
