#include "daemon/core/intensity_service.h"

#include <cctype>

#include <spdlog/spdlog.h>

#include "common/forecaster.h"
#include "common/time_util.h"

namespace carbon {
namespace {
std::string LowerCodeName(StatusCode code) {
  std::string s = StatusCodeName(code);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
}  // namespace


std::string JoinReasons(const std::vector<std::string>& reasons) {
  std::string out;
  for (const auto& r : reasons) out += (out.empty() ? "" : "; ") + r;
  return out;
}

IntensityService::IntensityService(std::vector<std::unique_ptr<IntensitySource>> chain,
                                   IntensityStore& store, Clock& clock,
                                   IntensityServiceOptions options)
    : chain_(std::move(chain)),
      store_(store),
      clock_(clock),
      options_(std::move(options)),
      alive_(std::make_shared<IntensityService*>(this)) {
  for (const auto& z : options_.zones) zones_[z].view.zone = z;
}

std::vector<std::string> IntensityService::chain_names() const {
  std::vector<std::string> out;
  for (const auto& s : chain_) out.push_back(s->name());
  return out;
}

const ZoneIntensity* IntensityService::Zone(const std::string& zone) const {
  auto it = zones_.find(zone);
  return it == zones_.end() ? nullptr : &it->second.view;
}

bool IntensityService::in_flight(const std::string& zone) const {
  auto it = zones_.find(zone);
  return it != zones_.end() && (it->second.current_in_flight || it->second.forecast_in_flight);
}

void IntensityService::PollCurrent() {
  for (auto& [zone, st] : zones_) {
    if (st.current_in_flight) {
      spdlog::debug("intensity {}: previous poll still in flight; skipped", zone);
      continue;
    }
    st.current_in_flight = true;
    TryCurrent(zone, 0, {});
  }
}

void IntensityService::PollForecast() {
  for (auto& [zone, st] : zones_) {
    if (st.forecast_in_flight) continue;
    st.forecast_in_flight = true;
    TryForecast(zone, 0, {});
  }
}

void IntensityService::Prune() {
  auto n = store_.Prune(clock_.Now() - options_.retention);
  if (!n.ok())
    spdlog::warn("intensity: pruning failed: {}", n.status().message());
  else if (*n > 0)
    spdlog::info("intensity: pruned {} rows older than {}", *n, FormatDuration(options_.retention));
}

void IntensityService::Accept(const std::string& zone, const std::string& source,
                              const IntensityPoint& p, const std::vector<std::string>& reasons,
                              bool fallback, const std::string& note) {
  State& st = zones_[zone];
  Timestamp now = clock_.Now();
  StoredReading r{zone, source, p, now, std::nullopt};
  std::string why = JoinReasons(reasons);
  if (!note.empty()) why += (why.empty() ? "" : "; ") + note;
  if (fallback) r.fallback = why;
  if (Status s = store_.AddReadings({r}); !s.ok())
    spdlog::error("intensity {}: cannot store a reading: {}", zone, s.message());
  bool changed = st.view.source != source || st.view.fallback != fallback;
  st.view.current = r;
  st.view.source = source;
  st.view.fallback = fallback;
  st.view.reason = fallback ? why : "";
  st.view.polled_at = now;
  if (changed) {
    if (fallback)
      spdlog::warn("intensity {}: using {} ({})", zone, source, why);
    else
      spdlog::info("intensity {}: using {}", zone, source);
  }
}

void IntensityService::TryCurrent(const std::string& zone, size_t index,
                                  std::vector<std::string> reasons) {
  if (index >= chain_.size()) {
    State& st = zones_[zone];
    st.current_in_flight = false;
    st.view.polled_at = clock_.Now();
    st.view.source = "";
    st.view.fallback = true;
    st.view.reason = "every source failed: " + JoinReasons(reasons);
    spdlog::error("intensity {}: {}", zone, st.view.reason);
    if (on_update) on_update(st.view);
    return;
  }
  IntensitySource& src = *chain_[index];
  std::weak_ptr<IntensityService*> weak = alive_;
  src.Current(zone, clock_.Now(), [weak, zone, index, reasons, name = src.name()](
                                      StatusOr<IntensitySeries> result) mutable {
    auto self_ptr = weak.lock();
    if (!self_ptr) return;
    IntensityService& self = **self_ptr;
    Timestamp now = self.clock_.Now();
    std::string failure;
    if (!result.ok()) {
      failure = name + ": " + result.status().message();
      self.CountError(name, LowerCodeName(result.status().code()));
    } else {
      // The newest point that has started.
      const IntensityPoint* best = nullptr;
      for (const IntensityPoint& p : *result)
        if (p.time <= now && (!best || p.time > best->time)) best = &p;
      if (!best) {
        failure = name + ": no data for now";
        self.CountError(name, "no_data");
      } else if (now - best->end() > self.options_.max_age) {
        self.CountError(name, "stale");
        failure = name + ": stale (newest point " + FormatTime(best->time) + " is older than " +
                  FormatDuration(self.options_.max_age) + ")";
      } else if (Status plausible = CheckPlausible({*best}, self.options_.plausible); !plausible.ok()) {
        self.CountError(name, "implausible");
        failure = name + ": " + plausible.message();
      } else {
        self.Accept(zone, name, *best, reasons, index > 0, "");
        self.zones_[zone].current_in_flight = false;
        if (self.on_update) self.on_update(self.zones_[zone].view);
        return;
      }
    }
    spdlog::debug("intensity {}: {}", zone, failure);
    reasons.push_back(failure);
    if (self.UseStoredForecast(zone, reasons)) return;
    self.TryCurrent(zone, index + 1, std::move(reasons));
  });
}

bool IntensityService::UseStoredForecast(const std::string& zone,
                                         const std::vector<std::string>& reasons) {
  Timestamp now = clock_.Now();
  auto fc = store_.ForecastCovering(zone, now);
  if (!fc.ok() || !*fc) return false;
  auto p = PointAt((*fc)->points, now);
  if (!p) return false;
  p->estimated = true;
  Accept(zone, (*fc)->source, *p, reasons, true,
         "using the stored forecast issued by " + (*fc)->source + " at " +
             FormatTime((*fc)->issued_at));
  zones_[zone].current_in_flight = false;
  if (on_update) on_update(zones_[zone].view);
  return true;
}

std::optional<IntensitySeries> IntensityService::OwnForecast(const std::string& zone, Timestamp now) {
  // carbond's forecaster (common/forecaster.h) over the last 35 days of readings.
  auto readings = store_.Readings(zone, now - std::chrono::hours(24 * 35), now + Duration(1));
  if (!readings.ok() || readings->empty()) return std::nullopt;
  IntensitySeries past;
  for (const auto& r : *readings) past.push_back(r.point);
  Normalize(past);
  ForecasterOptions o;
  o.step = past.back().period;
  IntensitySeries out = ForecastFromHistory(past, now, options_.horizon, o);
  if (out.empty()) return std::nullopt;
  return out;
}

void IntensityService::TryForecast(const std::string& zone, size_t index,
                                   std::vector<std::string> reasons) {
  State& st = zones_[zone];
  if (index >= chain_.size()) {
    // The fallback after the chain: carbond's own forecast from history.
    Timestamp now = clock_.Now();
    if (auto own = OwnForecast(zone, now)) {
      reasons.push_back("using carbond's own forecast from stored history");
      StoreForecast(zone, "history", now, std::move(*own), JoinReasons(reasons));
      return;
    }
    st.forecast_in_flight = false;
    st.view.forecast_polled_at = clock_.Now();
    st.view.forecast_reason = "no source gave a forecast: " + JoinReasons(reasons);
    spdlog::warn("intensity {}: {}", zone, st.view.forecast_reason);
    if (on_update) on_update(st.view);
    return;
  }
  IntensitySource& src = *chain_[index];
  std::weak_ptr<IntensityService*> weak = alive_;
  src.Forecast(zone, clock_.Now(), options_.horizon,
               [weak, zone, index, reasons, name = src.name()](StatusOr<IntensitySeries> result) mutable {
    auto self_ptr = weak.lock();
    if (!self_ptr) return;
    IntensityService& self = **self_ptr;
    Timestamp now = self.clock_.Now();
    std::string source = name;
    std::string note;
    if (!result.ok() && (result.status().code() == StatusCode::kPermissionDenied ||
                         result.status().code() == StatusCode::kNotFound)) {
      // A plan without forecast access: carbond forecasts from history.
      reasons.push_back(name + " has no forecast access (" + result.status().message() + ")");
      self.CountError(name, LowerCodeName(result.status().code()));
      if (auto own = self.OwnForecast(self.zones_[zone].view.zone, now)) {
        result = std::move(*own);
        source = "history";
        note = "using carbond's own forecast from stored history (seasonal profile, level and persistence)";
      }
    } else if (!result.ok()) {
      reasons.push_back(name + ": " + result.status().message());
      self.CountError(name, LowerCodeName(result.status().code()));
    } else {
      // Keep only what lies ahead.
      IntensitySeries ahead;
      for (const auto& p : *result)
        if (p.end() > now) ahead.push_back(p);
      Status plausible = CheckPlausible(ahead, self.options_.plausible);
      if (ahead.empty()) {
        reasons.push_back(name + ": the forecast holds no future points");
        self.CountError(name, "empty_forecast");
        result = Unavailable("empty");
      } else if (!plausible.ok()) {
        reasons.push_back(name + ": forecast " + plausible.message());
        self.CountError(name, "implausible");
        result = plausible;
      } else {
        std::string completed = self.CompleteForecast(zone, name, now, ahead);
        if (!completed.empty()) {
          source = name + kCompletedByHistory;
          note = completed;
        }
        result = std::move(ahead);
      }
    }
    if (!result.ok()) return self.TryForecast(zone, index + 1, std::move(reasons));
    std::string why = JoinReasons(reasons);
    if (!note.empty()) why += (why.empty() ? "" : "; ") + note;
    self.StoreForecast(zone, source, now, std::move(*result), why);
  });
}

void IntensityService::StoreForecast(const std::string& zone, const std::string& source, Timestamp now,
                                     IntensitySeries points, const std::string& why) {
  State& s = zones_[zone];
  auto stored = store_.AddForecast(StoredForecast{zone, source, now, std::move(points)});
  if (!stored.ok()) spdlog::error("intensity {}: cannot store a forecast: {}", zone, stored.status().message());
  if (s.view.forecast_source != source || s.view.forecast_reason != why) {
    if (why.empty())
      spdlog::info("intensity {}: forecast from {}", zone, source);
    else
      spdlog::warn("intensity {}: forecast from {} ({})", zone, source, why);
  }
  s.view.forecast_source = source;
  s.view.forecast_reason = why;
  if (stored.ok() && *stored) s.view.forecast_issued_at = now;
  s.view.forecast_polled_at = now;
  s.forecast_in_flight = false;
  if (on_update) on_update(s.view);
}

std::string IntensityService::CompleteForecast(const std::string& zone, const std::string& source, Timestamp now,
                                               IntensitySeries& forecast) {
  Normalize(forecast);
  const Timestamp until = now + options_.horizon;
  const Timestamp ends = forecast.back().end();
  if (until - ends < std::chrono::hours(1)) return "";  // a step short is not a gap
  auto own = OwnForecast(zone, now);
  if (!own) return "";
  size_t added = 0;
  for (const IntensityPoint& p : *own) {
    if (p.time < ends || p.time >= until) continue;
    forecast.push_back(p);
    ++added;
  }
  if (added == 0) return "";
  return source + "'s forecast ends at " + FormatTime(ends) + "; completed to " + FormatTime(forecast.back().end()) +
         " by carbond's own forecaster from stored history";
}

}  // namespace carbon
