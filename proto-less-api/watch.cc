#include "proto-less-api/watch.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <thread>

#include "common/time_util.h"
#include "proto-less-api/api.h"

namespace carbon::api {

using nlohmann::json;

const char* const kEpochHeader =
    "EPOCH ATTEMPT TRAIN_LOSS  TEST_LOSS  ACCURACY  SAMPLES/S   WALL_S PEAK_MEM_MB ADDED_MB ENERGY_WH  POWER_W   G_CO2";

std::string EpochLine(const EpochRecord& e) {
  char buf[300];
  char co2[32] = "-";
  if (e.kg_co2) std::snprintf(co2, sizeof co2, "%.4f", *e.kg_co2 * 1000);
  char added[32] = "-";
  if (e.memory_added_bytes)
    std::snprintf(added, sizeof added, "%.1f", static_cast<double>(*e.memory_added_bytes) / (1024.0 * 1024.0));
  std::snprintf(buf, sizeof buf, "%5lld %7lld %10.4f %10.4f %9.2f%% %10.0f %8.2f %11.1f %8s %9.4f %8.1f %7s",
                static_cast<long long>(e.epoch), static_cast<long long>(e.attempt), e.train_loss,
                e.test_loss, 100.0 * e.test_accuracy, e.samples_per_s, e.wall_s,
                static_cast<double>(e.peak_memory_bytes) / (1024.0 * 1024.0), added, e.energy_kwh * 1000,
                e.cpu_w + e.gpu_w + e.ram_w, co2);
  return buf;
}

namespace {

std::string Fit(std::string s, int width) {
  if (width > 4 && static_cast<int>(s.size()) > width) s = s.substr(0, static_cast<size_t>(width - 3)) + "...";
  return s;
}

std::string Bar(double frac, int cells) {
  frac = std::max(0.0, std::min(1.0, frac));
  int full = static_cast<int>(std::lround(frac * cells));
  return "[" + std::string(static_cast<size_t>(full), '#') + std::string(static_cast<size_t>(cells - full), '.') + "]";
}

}  // namespace

std::vector<std::string> WatchView::EpochLines(Job& j, const EpochRecord& e) {
  std::vector<std::string> out;
  if (!j.epochs_seen.insert({e.epoch, e.attempt}).second) return out;
  j.last_epoch = std::max(j.last_epoch, e.epoch);
  j.kwh += e.energy_kwh;
  if (e.kg_co2) {
    j.kg += *e.kg_co2;
    j.has_kg = true;
  }
  j.last_accuracy = e.test_accuracy;
  j.last_loss = e.train_loss;
  if (!job_) {
    out.push_back("job " + std::to_string(j.record.id) + " epoch " + std::to_string(e.epoch) + ":");
  } else if (!header_printed_) {
    out.push_back(kEpochHeader);
    header_printed_ = true;
  }
  out.push_back(EpochLine(e));
  return out;
}

std::vector<std::string> WatchView::Seed(const JobRecord& job, const std::vector<EpochRecord>& epochs) {
  Job& j = jobs_[job.id];
  j.record = job;
  std::vector<std::string> out;
  for (const auto& e : epochs)
    for (auto& l : EpochLines(j, e)) out.push_back(std::move(l));
  out.push_back("job " + std::to_string(job.id) + " " + JobStateName(job.state) + ": " + job.reason);
  return out;
}

std::vector<std::string> WatchView::Apply(const ServerEvent& e) {
  std::vector<std::string> out;
  json d = json::parse(e.data, nullptr, false);
  if (!d.is_object()) return out;
  if (e.type == "intensity") {
    grid_[d.value("zone", "?")] = d;
    return out;
  }
  int64_t id = e.type == "job" ? d.value("id", int64_t{0}) : d.value("job_id", int64_t{0});
  if (id == 0 || (job_ && id != *job_)) return out;
  Job& j = jobs_[id];
  if (e.type == "job") {
    auto r = JobFromJson(d);
    if (!r.ok()) return out;
    bool changed = j.record.id == 0 || r->state != j.record.state || r->reason != j.record.reason;
    if (r->state == JobState::kRunning && j.record.state != JobState::kRunning) j.progress = json();
    j.record = std::move(*r);
    if (changed)
      out.push_back("job " + std::to_string(id) + " " + JobStateName(j.record.state) + ": " + j.record.reason);
  } else if (e.type == "progress") {
    j.progress = d;
    j.epochs_total = d.value("epochs", j.epochs_total);
  } else if (e.type == "epoch") {
    auto ep = EpochFromJson(d);
    if (!ep.ok()) return out;
    ep->job_id = id;
    if (d.contains("epochs") && d["epochs"].is_number_integer()) j.epochs_total = d["epochs"].get<int64_t>();
    out = EpochLines(j, *ep);
  }
  return out;
}

std::vector<std::string> WatchView::Live(int width) const {
  std::vector<std::string> out;
  for (const auto& [id, j] : jobs_) {
    if (IsFinal(j.record.state)) continue;
    std::string head = "#" + std::to_string(id) + " " + j.record.name + "  " + JobStateName(j.record.state);
    if (j.record.state != JobState::kRunning) {
      out.push_back(Fit(head + ": " + j.record.reason, width));
      continue;
    }
    char buf[400];
    double frac = j.epochs_total > 0 ? static_cast<double>(j.last_epoch) / static_cast<double>(j.epochs_total) : 0;
    std::string where = "epoch " + std::to_string(j.last_epoch) + "/" +
                        (j.epochs_total > 0 ? std::to_string(j.epochs_total) : std::string("?"));
    double loss = j.last_loss;
    if (j.progress.is_object() && j.epochs_total > 0) {
      int64_t ep = j.progress.value("epoch", int64_t{0}), step = j.progress.value("step", int64_t{0}),
              steps = j.progress.value("steps", int64_t{1});
      if (ep > j.last_epoch) {
        frac = (static_cast<double>(ep - 1) + static_cast<double>(step) / static_cast<double>(std::max<int64_t>(steps, 1))) /
               static_cast<double>(j.epochs_total);
        where = "epoch " + std::to_string(ep) + "/" + std::to_string(j.epochs_total) + " step " + std::to_string(step) +
                "/" + std::to_string(steps);
        loss = j.progress.value("train_loss", loss);
      }
    }
    // "-" for what is not known yet.
    auto num = [](bool known, const char* fmt, double v) {
      char b[32] = "-";
      if (known) std::snprintf(b, sizeof b, fmt, v);
      return std::string(b);
    };
    std::snprintf(buf, sizeof buf, "  %s %3.0f%%  %s  loss %s  acc %s  %.4f Wh  %s g CO2", Bar(frac, 20).c_str(),
                  100 * frac, where.c_str(), num(loss >= 0, "%.4f", loss).c_str(),
                  num(j.last_accuracy >= 0, "%.2f%%", 100 * j.last_accuracy).c_str(), j.kwh * 1000,
                  num(j.has_kg, "%.3g", j.kg * 1000).c_str());
    out.push_back(Fit(head + buf, width));
  }
  for (const auto& [zone, r] : grid_) {
    char buf[200];
    std::snprintf(buf, sizeof buf, "grid %s: %.0f gCO2/kWh (%s%s), reading of %s", zone.c_str(),
                  r.value("gco2_per_kwh", 0.0), r.value("source", "?").c_str(),
                  r.value("fallback", false) ? ", fallback" : "", r.value("time", "?").c_str());
    out.push_back(Fit(buf, width));
  }
  return out;
}

std::optional<JobState> WatchView::final_state() const {
  if (!job_) return std::nullopt;
  auto it = jobs_.find(*job_);
  if (it == jobs_.end() || !IsFinal(it->second.record.state)) return std::nullopt;
  return it->second.record.state;
}

int RunWatch(Client& client, const WatchOptions& o, std::ostream& out, std::ostream& err) {
  constexpr int kOk = 0, kRefused = 1, kUnreachable = 3;
  auto fail = [&](const Status& st) {
    err << "carbonctl: " << (st.code() == StatusCode::kUnavailable ? "" : std::string(StatusCodeName(st.code())) + ": ")
        << st.message() << "\n";
    return st.code() == StatusCode::kUnavailable ? kUnreachable : kRefused;
  };
  const auto start = std::chrono::steady_clock::now();
  auto remaining = [&]() -> double {
    if (o.timeout_s <= 0) return 0;
    return o.timeout_s - std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  int width = 120;
  if (winsize ws{}; o.live && ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20) width = ws.ws_col - 1;

  WatchView view(o.id);
  size_t drawn = 0;
  auto draw = [&](const std::vector<std::string>& lines) {
    if (!o.live) {
      for (const auto& l : lines) out << l << "\n";
      out.flush();
      return;
    }
    std::string s;
    if (drawn > 0) s += "\x1b[" + std::to_string(drawn) + "F\x1b[J";  // back to the live block, clear it
    for (const auto& l : lines) s += l + "\n";
    auto live = view.Live(width);
    for (const auto& l : live) s += l + "\n";
    drawn = live.size();
    out << s;
    out.flush();
  };

  // The newest event id before reading the state, so nothing in between is missed.
  auto health = client.Health();
  if (!health.ok()) return fail(health.status());
  uint64_t last = (*health).value("last_event_id", json(0)).is_number() ? (*health)["last_event_id"].get<uint64_t>() : 0;
  if (o.id) {
    auto d = client.Get(*o.id);
    if (!d.ok()) return fail(d.status());
    draw(view.Seed(d->job, d->epochs));
  } else {
    auto jobs = client.List(std::nullopt, 1000);
    if (!jobs.ok()) return fail(jobs.status());
    std::vector<std::string> lines;
    for (const auto& j : *jobs)
      if (!IsFinal(j.state))
        for (auto& l : view.Seed(j, {})) lines.push_back(std::move(l));
    draw(lines);
  }
  if (auto now = client.Intensity(""); now.ok()) view.Apply(ServerEvent{"", "intensity", now->dump()});
  auto finish = [&](JobState s) { return s == JobState::kSucceeded ? kOk : kRefused; };
  if (auto f = view.final_state()) return finish(*f);

  std::string base = "/v1/events?types=job,progress,epoch,intensity";
  if (o.id) base += "&job=" + std::to_string(*o.id);
  bool timed_out = false;
  for (int broken = 0;;) {
    double left = remaining();
    if (o.timeout_s > 0 && left <= 0) {
      timed_out = true;
      break;
    }
    Status st = client.Follow(
        base + "&since=" + std::to_string(last),
        [&](const ServerEvent& e) {
          if (!e.id.empty()) last = std::stoull(e.id);
          broken = 0;
          auto lines = view.Apply(e);
          if (!lines.empty() || o.live) draw(lines);
          if (view.final_state()) return false;
          return !(o.timeout_s > 0 && remaining() <= 0);
        },
        o.timeout_s > 0 ? std::min(std::max(remaining(), 0.1), 20.0) : 0);
    if (view.final_state()) break;
    if (st.ok() || st.message().rfind("timed out", 0) == 0) continue;  // the deadline is checked above
    if (st.code() != StatusCode::kUnavailable) return fail(st);
    // The stream broke (carbond restarting?): reconnect for up to 30 s.
    if (++broken > 30) return fail(st);
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  if (auto f = view.final_state()) return finish(*f);
  if (timed_out && o.id) {
    err << "carbonctl: job " << *o.id << " still not finished after " << o.timeout_s << " s\n";
    return kRefused;
  }
  return kOk;
}

}  // namespace carbon::api
