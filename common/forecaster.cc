#include "common/forecaster.h"

#include <algorithm>
#include <cmath>

namespace carbon {
namespace {

Timestamp Floor(Timestamp t, Duration step) {
  int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  int64_t s = std::max<int64_t>(1, step.count());
  int64_t f = ms / s * s - ((ms % s) < 0 ? s : 0);
  return Timestamp(std::chrono::milliseconds(f));
}

// The value covering t in the history, only if t is not after `now`.
std::optional<double> Known(const IntensitySeries& h, Timestamp t, Timestamp now) {
  if (t > now) return std::nullopt;
  auto p = PointAt(h, t);
  if (!p) return std::nullopt;
  return p->gco2_per_kwh;
}

std::optional<double> Profile(const IntensitySeries& h, Timestamp t, Timestamp now, const ForecasterOptions& o) {
  const auto day = std::chrono::hours(24), week = std::chrono::hours(24 * 7);
  double ws = 0, ds = 0;
  int wn = 0, dn = 0;
  for (int k = 1; k <= o.weeks + 2 && wn < o.weeks; ++k)
    if (auto v = Known(h, t - week * k, now)) ws += *v, ++wn;
  for (int k = 1; k <= o.days + 2 && dn < o.days; ++k)
    if (auto v = Known(h, t - day * k, now)) ds += *v, ++dn;
  if (wn && dn) return 0.5 * ws / wn + 0.5 * ds / dn;
  if (dn) return ds / dn;
  if (wn) return ws / wn;
  return std::nullopt;
}

}  // namespace

IntensitySeries ForecastFromHistory(const IntensitySeries& h, Timestamp now, Duration horizon,
                                    const ForecasterOptions& o) {
  IntensitySeries out;
  auto last_it = std::upper_bound(h.begin(), h.end(), now, [](Timestamp v, const IntensityPoint& p) { return v < p.time; });
  if (last_it == h.begin()) return out;
  const IntensityPoint& last = *std::prev(last_it);
  // Level: the 24 h up to the latest value against the profile of those
  // hours (so the forecast is the same from anywhere in the latest step).
  double actual = 0, profile = 0;
  int n = 0;
  for (Timestamp t = Floor(last.time, o.step) - std::chrono::hours(24) + o.step; t <= last.time; t += o.step) {
    auto a = Known(h, t, now);
    auto p = Profile(h, t, now, o);
    if (a && p) actual += *a, profile += *p, ++n;
  }
  const double level = n ? (actual - profile) / n : 0;
  // The latest value's deviation from the profile: the day's level (which
  // fades slowly) and the rest (which fades fast).
  const double last_dev = last.gco2_per_kwh - Profile(h, last.time, now, o).value_or(last.gco2_per_kwh);
  const double level_s = std::chrono::duration<double>(o.level_decay).count();
  const double decay_s = std::chrono::duration<double>(o.persistence_decay).count();
  for (Timestamp t = Floor(now, o.step); t < now + horizon; t += o.step) {
    double lead = std::max(0.0, std::chrono::duration<double>(t - last.time).count());
    auto p = Profile(h, t, now, o);
    double v = p ? *p + level * std::exp(-lead / level_s) + (last_dev - level) * std::exp(-lead / decay_s)
                 : last.gco2_per_kwh;
    out.push_back(IntensityPoint{t, o.step, std::max(0.0, v), true});
  }
  return out;
}

IntensitySeries SeasonalNaiveForecast(const IntensitySeries& h, Timestamp now, Duration horizon, Duration step) {
  IntensitySeries out;
  const auto day = std::chrono::hours(24);
  for (Timestamp t = Floor(now, step); t < now + horizon; t += step) {
    std::optional<double> v;
    for (int k = 1; k <= 3 && !v; ++k) v = Known(h, t - day * k, now);
    if (v) out.push_back(IntensityPoint{t, step, *v, true});
  }
  return out;
}

}  // namespace carbon
