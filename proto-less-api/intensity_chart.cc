#include "proto-less-api/intensity_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/time_util.h"
#include "proto-less-api/api.h"

namespace carbon::api {

using nlohmann::json;

namespace {

IntensitySeries Points(const json& forecast) {
  IntensitySeries out;
  if (!forecast.contains("points")) return out;
  for (const json& p : forecast["points"]) {
    auto pt = IntensityPointFromJson(p);
    if (pt.ok()) out.push_back(*pt);
  }
  Normalize(out);
  return out;
}

Timestamp NowOf(const json& j) {
  auto t = ParseTime(j.value("now", std::string()));
  return t.ok() ? *t : Timestamp{};
}

std::string HourMinute(Timestamp t) { return FormatTime(t).substr(11, 5); }
std::string Short(Timestamp t) { return FormatTime(t).substr(0, 16) + "Z"; }

}  // namespace

IntensitySeries HourlyForecast(const json& forecast, Timestamp now, int hours) {
  IntensitySeries pts = Points(forecast);
  IntensitySeries out;
  Timestamp start = std::chrono::floor<std::chrono::hours>(now);
  for (int h = 0; h < hours; ++h) {
    Timestamp a = start + std::chrono::hours(h), b = a + std::chrono::hours(1);
    double sum = 0, secs = 0;
    for (const IntensityPoint& p : pts) {
      Timestamp lo = std::max(a, p.time), hi = std::min(b, p.end());
      if (hi <= lo) continue;
      double s = std::chrono::duration<double>(hi - lo).count();
      sum += p.gco2_per_kwh * s;
      secs += s;
    }
    if (secs < 1799) {
      if (out.empty()) continue;  // the current hour may be partly past
      break;                      // the forecast ends here
    }
    out.push_back(IntensityPoint{a, std::chrono::hours(1), sum / secs, true});
  }
  return out;
}

json CleanestWindowJson(const json& forecast, Duration window) {
  IntensitySeries pts = Points(forecast);
  Timestamp now = NowOf(forecast);
  IntensitySeries ahead;
  for (const auto& p : pts)
    if (p.time >= now - p.period && p.end() > now) ahead.push_back(p);
  auto w = CleanestWindow(ahead, window);
  if (!w) return nullptr;
  return {{"start", FormatTime(w->start)},
          {"end", FormatTime(w->end)},
          {"mean_gco2_per_kwh", w->mean_gco2_per_kwh}};
}

std::string RenderIntensity(const json* current, const std::string& why_current, const json* forecast,
                            const std::string& why_forecast, Duration window) {
  std::string out;
  char line[512];
  if (current) {
    double age = current->value("age_s", 0.0);
    std::string age_text = age < 90 ? std::to_string(static_cast<int>(age)) + " s"
                                    : std::to_string(static_cast<int>(age / 60)) + " min";
    std::snprintf(line, sizeof line, "zone %s: %.0f gCO2/kWh for %s, from %s%s, fetched %s ago\n",
                  current->value("zone", "?").c_str(), current->value("gco2_per_kwh", 0.0),
                  current->value("time", "?").substr(0, 16).c_str(), current->value("source", "?").c_str(),
                  current->value("estimated", false) ? " (estimate)" : "", age_text.c_str());
    out += line;
    if (current->value("fallback", false))
      out += "  fallback: " + current->value("reason", std::string()) + "\n";
  } else {
    out += "current intensity: not available (" + why_current + ")\n";
  }
  if (!forecast) {
    out += "forecast: not available (" + why_forecast + ")\n";
    return out;
  }
  Timestamp now = NowOf(*forecast);
  IntensitySeries hourly = HourlyForecast(*forecast, now, 48);
  if (hourly.empty()) {
    out += "forecast: no points ahead of now\n";
    return out;
  }
  double lo = hourly[0].gco2_per_kwh, hi = lo;
  for (const auto& p : hourly) {
    lo = std::min(lo, p.gco2_per_kwh);
    hi = std::max(hi, p.gco2_per_kwh);
  }
  std::snprintf(line, sizeof line,
                "forecast from %s, issued %s: next %zu h, one column per hour, %.0f..%.0f gCO2/kWh\n",
                forecast->value("source", "?").c_str(), forecast->value("issued_at", "?").substr(0, 16).c_str(),
                hourly.size(), lo, hi);
  out += line;
  if (!forecast->value("reason", std::string()).empty())
    out += "  note: " + forecast->value("reason", std::string()) + "\n";
  static const char* kBars[] = {"\u2581", "\u2582", "\u2583", "\u2584", "\u2585", "\u2586", "\u2587", "\u2588"};
  std::string bars = "  ", marks = "  ", axis = "  ";
  // Whole hours, at least one: the chart's columns are hours.
  const Duration win = std::chrono::ceil<std::chrono::hours>(std::max<Duration>(window, std::chrono::hours(1)));
  auto w = CleanestWindow(hourly, win);
  for (size_t i = 0; i < hourly.size(); ++i) {
    const auto& p = hourly[i];
    int level = hi > lo ? static_cast<int>(std::lround((p.gco2_per_kwh - lo) / (hi - lo) * 7)) : 0;
    bars += kBars[std::clamp(level, 0, 7)];
    marks += w && p.time >= w->start && p.time < w->end ? "^" : " ";
    std::string hm = HourMinute(p.time);
    if (i % 6 == 0) {
      axis += hm.substr(0, 2);  // two columns wide: the next column adds nothing
    } else if (i % 6 > 1) {
      axis += " ";
    }
  }
  out += bars + "\n" + marks + "\n" + axis + "  (hour, UTC)\n";
  if (w) {
    std::snprintf(line, sizeof line, "  cleanest %s: %s .. %s, mean %.0f gCO2/kWh\n",
                  FormatDuration(std::chrono::duration_cast<Duration>(w->end - w->start)).c_str(), Short(w->start).c_str(), Short(w->end).c_str(),
                  w->mean_gco2_per_kwh);
    out += line;
  }
  return out;
}

}  // namespace carbon::api
