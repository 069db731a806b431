#include "daemon/gpucap/power_cap.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>

namespace carbon {
namespace {

using json = nlohmann::json;

std::string W(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}

}  // namespace

Status PowerCapper::RestoreAll() {
  auto r = call_({{"op", "restore"}, {"all", true}});
  if (!r.ok()) return r.status();
  for (const json& g : r->value("restored", json::array()))
    spdlog::info("GPU {}: power limit restored to {} W (stored before carbond stopped)", g.value("uuid", "?"),
                 g.value("limit_w", 0.0));
  return Status();
}

std::string PowerCapper::Set(const CapJob& job, bool cap, State& s) {
  const std::string why = job.zone + " at " + W(*job.gco2_per_kwh) + " g/kWh is " +
                          (cap ? "above " : "at or under ") + W(job.cap.above_gco2_per_kwh);
  json names = json::array();
  for (const std::string& g : job.gpus) names.push_back(g);
  auto limits = call_({{"op", "limits"}, {"gpus", names}});
  if (!limits.ok()) return "GPU power cap unavailable: " + limits.status().message();
  std::vector<std::string> uuids, parts;
  for (const json& g : (*limits)["gpus"]) {
    const std::string uuid = g.value("uuid", "");
    uuids.push_back(uuid);
    if (!cap) continue;
    const double def = g.value("default_w", 0.0), lo = g.value("min_w", 0.0), hi = g.value("max_w", def);
    const double want = def * job.cap.limit_pct / 100.0;
    const double target = std::clamp(want, lo, hi);
    auto set = call_({{"op", "set"}, {"pid", job.pid}, {"gpu", uuid}, {"limit_w", target}});
    if (!set.ok()) return "GPU power cap unavailable: " + set.status().message();
    parts.push_back(uuid + " at " + W(target) + " W (" + W(job.cap.limit_pct) + "% of its default " + W(def) + " W" +
                    (target != want ? ", clamped to its constraints " + W(lo) + "-" + W(hi) + " W" : "") + ")");
  }
  s.uuids = uuids;
  if (cap) {
    s.capped = true;
    std::string text;
    for (const std::string& p : parts) text += (text.empty() ? "" : ", ") + p;
    return "GPU power capped: " + text + "; " + why;
  }
  json list = json::array();
  for (const std::string& u : uuids) list.push_back(u);
  auto r = call_({{"op", "restore"}, {"gpus", list}});
  if (!r.ok()) return "GPU power cap unavailable: " + r.status().message();
  s.capped = false;
  return "GPU power at its default limit; " + why;
}

std::map<int64_t, std::string> PowerCapper::Apply(const std::vector<CapJob>& running) {
  std::map<int64_t, std::string> notes;
  // Jobs that ended (succeeded, cancelled, crashed): their GPUs go back.
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    const bool still = std::any_of(running.begin(), running.end(), [&](const CapJob& j) { return j.id == it->first; });
    if (still) {
      ++it;
      continue;
    }
    if (it->second.capped.value_or(false)) pending_.insert(pending_.end(), it->second.uuids.begin(), it->second.uuids.end());
    it = jobs_.erase(it);
  }
  if (!pending_.empty()) {
    json list = json::array();
    for (const std::string& u : pending_) list.push_back(u);
    auto r = call_({{"op", "restore"}, {"gpus", list}});
    if (r.ok()) {
      for (const json& g : r->value("restored", json::array()))
        spdlog::info("GPU {}: power limit restored to {} W (its job ended)", g.value("uuid", "?"), g.value("limit_w", 0.0));
      pending_.clear();
      pending_warned_ = false;
    } else if (!pending_warned_) {  // once, not at every tick it is tried again
      spdlog::warn("cannot restore the power limit of GPUs whose job ended (trying again at every tick): {}",
                   r.status().message());
      pending_warned_ = true;
    }
  }
  for (const CapJob& job : running) {
    State& s = jobs_[job.id];
    std::string note;
    if (!job.gco2_per_kwh) {
      note = "GPU power cap waits for a current intensity of " + job.zone;
    } else {
      const bool cap = *job.gco2_per_kwh > job.cap.above_gco2_per_kwh;
      if (s.capped == cap) continue;  // applied already
      note = Set(job, cap, s);
    }
    if (note != s.note) {
      s.note = note;
      notes[job.id] = note;
      spdlog::info("job {}: {}", job.id, note);
    }
  }
  return notes;
}

}  // namespace carbon
