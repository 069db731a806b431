#include "common/intensity.h"

#include "common/time_util.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

namespace carbon {

void Normalize(IntensitySeries& series) {
  std::stable_sort(series.begin(), series.end(),
                   [](const IntensityPoint& a, const IntensityPoint& b) { return a.time < b.time; });
  series.erase(std::unique(series.begin(), series.end(),
                           [](const IntensityPoint& a, const IntensityPoint& b) {
                             return a.time == b.time;
                           }),
               series.end());
}

std::optional<IntensityPoint> PointAt(const IntensitySeries& series, Timestamp t) {
  auto it = std::upper_bound(series.begin(), series.end(), t,
                             [](Timestamp v, const IntensityPoint& p) { return v < p.time; });
  if (it == series.begin()) return std::nullopt;
  --it;
  if (!it->Covers(t)) return std::nullopt;
  return *it;
}

namespace {

double Seconds(Timestamp::duration d) { return std::chrono::duration<double>(d).count(); }

// The interpolated curve's value at t (i: the first sample after t).
double ValueAt(const IntensitySeries& s, Timestamp t, size_t i) {
  if (i == 0) return s.front().gco2_per_kwh;
  if (i >= s.size()) return s.back().gco2_per_kwh;
  const IntensityPoint& a = s[i - 1];
  const IntensityPoint& b = s[i];
  double f = Seconds(t - a.time) / Seconds(b.time - a.time);
  return a.gco2_per_kwh + f * (b.gco2_per_kwh - a.gco2_per_kwh);
}

}  // namespace

double MeanInterpolated(const IntensitySeries& s, Timestamp from, Timestamp to) {
  if (s.empty() || to <= from) return s.empty() ? 0 : ValueAt(s, from, 0);
  auto first_after = [&](Timestamp t) {
    return static_cast<size_t>(std::upper_bound(s.begin(), s.end(), t,
                                                [](Timestamp v, const IntensityPoint& p) { return v < p.time; }) -
                               s.begin());
  };
  size_t i = first_after(from);
  Timestamp t = from;
  double v = ValueAt(s, from, i);
  double area = 0;
  while (i < s.size() && s[i].time < to) {
    area += 0.5 * (v + s[i].gco2_per_kwh) * Seconds(s[i].time - t);
    t = s[i].time;
    v = s[i].gco2_per_kwh;
    ++i;
  }
  double v_end = ValueAt(s, to, i);
  area += 0.5 * (v + v_end) * Seconds(to - t);
  return area / Seconds(to - from);
}

double MeanIntervals(const IntensitySeries& s, Timestamp from, Timestamp to) {
  if (s.empty()) return 0;
  if (to <= from) {
    auto p = PointAt(s, from);
    return p ? p->gco2_per_kwh : s.front().gco2_per_kwh;
  }
  // The first point that ends after `from`.
  size_t i = static_cast<size_t>(std::upper_bound(s.begin(), s.end(), from,
                                                  [](Timestamp v, const IntensityPoint& p) { return v < p.time; }) -
                                 s.begin());
  if (i > 0) --i;
  double area = 0;
  Timestamp t = from;
  while (t < to) {
    // Point i holds from its time to the next point's (gaps hold; before the
    // first point, the first one's value).
    double v = s[i].gco2_per_kwh;
    Timestamp seg_end = i + 1 < s.size() ? std::min(to, s[i + 1].time) : to;
    if (seg_end <= t) {
      ++i;
      continue;
    }
    area += v * Seconds(seg_end - t);
    t = seg_end;
    if (i + 1 < s.size() && t >= s[i + 1].time) ++i;
  }
  return area / Seconds(to - from);
}

IntensitySeries SliceSorted(const IntensitySeries& s, Timestamp from, Timestamp to) {
  auto lo = std::upper_bound(s.begin(), s.end(), from, [](Timestamp v, const IntensityPoint& p) { return v < p.time; });
  if (lo != s.begin() && std::prev(lo)->end() > from) --lo;
  auto hi = std::lower_bound(lo, s.end(), to, [](const IntensityPoint& p, Timestamp v) { return p.time < v; });
  return IntensitySeries(lo, hi);
}

namespace {

// MeanIntervals over many windows of one series: the step function's
// integral up to each point, once; then each mean is two lookups, each
// amortised O(1) through a cursor while the times it is asked for grow.
class StepIntegral {
 public:
  explicit StepIntegral(const IntensitySeries& s) : s_(s), area_(s.size(), 0.0) {
    for (size_t i = 1; i < s.size(); ++i)
      area_[i] = area_[i - 1] + s[i - 1].gco2_per_kwh * Seconds(s[i].time - s[i - 1].time);
  }
  // Where the last lookup through it ended: the point at or before its time.
  struct Cursor {
    size_t i = 0;
  };
  // The mean over [from, to), to > from: MeanIntervals.
  double Mean(Timestamp from, Timestamp to, Cursor& a, Cursor& b) const {
    return (At(to, b) - At(from, a)) / Seconds(to - from);
  }

 private:
  // The integral from the first point's time to t (before it, the first
  // value holds; after the last point, the last one).
  double At(Timestamp t, Cursor& c) const {
    if (s_[c.i].time > t && c.i > 0) {  // went back: search
      auto it =
          std::upper_bound(s_.begin(), s_.end(), t, [](Timestamp v, const IntensityPoint& p) { return v < p.time; });
      c.i = it == s_.begin() ? 0 : static_cast<size_t>(it - s_.begin()) - 1;
    }
    while (c.i + 1 < s_.size() && s_[c.i + 1].time <= t) ++c.i;
    return area_[c.i] + s_[c.i].gco2_per_kwh * Seconds(t - s_[c.i].time);
  }
  const IntensitySeries& s_;
  std::vector<double> area_;
};

}  // namespace

std::optional<Window> BestStart(const IntensitySeries& s, Timestamp earliest, Timestamp latest,
                                Duration duration, WindowMethod method) {
  if (s.empty() || latest < earliest) return std::nullopt;
  std::optional<Window> best;
  std::optional<StepIntegral> steps;
  if (method == WindowMethod::kIntervals && duration > Duration::zero()) steps.emplace(s);
  // Two runs of candidates, each in time order (windows that start at a
  // point, windows that end at one): a pair of cursors for each.
  StepIntegral::Cursor at_point[2], to_point[2], edge[2];
  auto consider = [&](Timestamp start, StepIntegral::Cursor* c) {
    double m = method == WindowMethod::kTrapezoid ? MeanInterpolated(s, start, start + duration)
               : steps                            ? steps->Mean(start, start + duration, c[0], c[1])
                                                  : MeanIntervals(s, start, start + duration);
    if (!best || m < best->mean_gco2_per_kwh - 1e-9 ||
        (std::abs(m - best->mean_gco2_per_kwh) <= 1e-9 && start < best->start))
      best = Window{start, start + duration, m};
  };
  consider(earliest, edge);
  for (const IntensityPoint& p : s) {
    if (p.time > earliest && p.time < latest) consider(p.time, at_point);
    if (method == WindowMethod::kIntervals) {
      Timestamp aligned_end = p.time - duration;  // the window ends where a point starts
      if (aligned_end > earliest && aligned_end < latest) consider(aligned_end, to_point);
    }
  }
  if (latest > earliest) consider(latest, edge);
  return best;
}

std::optional<Window> CleanestWindow(const IntensitySeries& series, Duration length, WindowMethod method) {
  if (series.empty() || length <= Duration::zero()) return std::nullopt;
  // The last start whose window still ends inside the series: on its last
  // sample (trapezoid) or at the end of its last interval.
  Timestamp last = (method == WindowMethod::kTrapezoid ? series.back().time : series.back().end()) - length;
  return BestStart(series, series.front().time, last, length, method);
}

bool ExtendDaily(IntensitySeries& s, Timestamp until) {
  if (s.empty() || s.back().end() >= until) return false;
  const auto day = std::chrono::hours(24);
  bool daily = s.back().end() - s.front().time >= day;
  while (s.back().end() < until) {
    IntensityPoint next = s.back();
    next.time = s.back().end();
    next.estimated = true;
    if (daily) {
      if (auto p = PointAt(s, next.time - day)) {
        next.gco2_per_kwh = p->gco2_per_kwh;
        next.period = p->period;
      }
    }
    if (next.period <= Duration::zero()) next.period = std::chrono::minutes(30);
    s.push_back(next);
  }
  return true;
}

Status CheckPlausible(const IntensitySeries& series, const PlausibleRange& range) {
  const IntensityPoint* first = nullptr;
  size_t bad = 0, zeros = 0;
  for (const IntensityPoint& p : series) {
    const double v = p.gco2_per_kwh;
    if (v == 0) ++zeros;
    if (std::isfinite(v) && v > range.min && v <= range.max) continue;
    if (!first) first = &p;
    ++bad;
  }
  if (!first) return Status();
  auto num = [](double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%g", v);
    return std::string(b);
  };
  const std::string accepted = "; accepted: above " + num(range.min) + " and at most " + num(range.max) +
                               " g/kWh (intensity.plausible)";
  if (zeros == series.size())
    return InvalidArgument("implausible: every value is 0 g/kWh (" + std::to_string(series.size()) +
                           (series.size() == 1 ? " point" : " points") + ")" + accepted);
  return InvalidArgument("implausible: " + num(first->gco2_per_kwh) + " g/kWh at " + FormatTime(first->time) +
                         (bad > 1 ? " and " + std::to_string(bad - 1) + " more of " + std::to_string(series.size()) +
                                        " points"
                                  : "") +
                         accepted);
}

}  // namespace carbon
