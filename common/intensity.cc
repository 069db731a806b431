#include "common/intensity.h"

#include <algorithm>

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

IntensitySeries Slice(const IntensitySeries& series, Timestamp from, Timestamp to) {
  IntensitySeries out;
  for (const IntensityPoint& p : series)
    if (p.end() > from && p.time < to) out.push_back(p);
  return out;
}

namespace {

std::optional<Window> CleanestTrapezoid(const IntensitySeries& series, Duration length) {
  std::optional<Window> best;
  for (size_t i = 0; i < series.size(); ++i) {
    Timestamp end = series[i].time + length;
    double area = 0;
    size_t j = i;
    for (; j + 1 < series.size() && series[j + 1].time <= end; ++j)
      area += 0.5 * (series[j].gco2_per_kwh + series[j + 1].gco2_per_kwh) *
              std::chrono::duration<double>(series[j + 1].time - series[j].time).count();
    if (series[j].time != end) break;  // the window does not end on a sample
    double mean = area / std::chrono::duration<double>(length).count();
    if (!best || mean < best->mean_gco2_per_kwh - 1e-9) best = Window{series[i].time, end, mean};
  }
  return best;
}

}  // namespace

std::optional<Window> CleanestWindow(const IntensitySeries& series, Duration length,
                                     WindowMethod method) {
  std::optional<Window> best;
  if (series.empty() || length <= Duration::zero()) return best;
  if (method == WindowMethod::kTrapezoid) return CleanestTrapezoid(series, length);
  // Windows start at point boundaries; the weighted sum over [start, start+length).
  for (size_t i = 0; i < series.size(); ++i) {
    Timestamp start = series[i].time;
    Timestamp end = start + length;
    if (end > series.back().end()) break;
    double sum = 0;
    double covered = 0;
    for (size_t j = i; j < series.size() && series[j].time < end; ++j) {
      Timestamp a = std::max(series[j].time, start);
      Timestamp b = std::min(series[j].end(), end);
      double secs = std::chrono::duration<double>(b - a).count();
      sum += series[j].gco2_per_kwh * secs;
      covered += secs;
    }
    double want = std::chrono::duration<double>(length).count();
    if (covered + 1e-6 < want) continue;  // a gap inside the window
    double mean = sum / covered;
    if (!best || mean < best->mean_gco2_per_kwh - 1e-9) best = Window{start, end, mean};
  }
  return best;
}

}  // namespace carbon
