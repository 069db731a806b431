#include "daemon/core/intensity_grid.h"

#include <string_view>

namespace carbon {

GridView IntensityGrid::View(const std::string& zone) {
  GridView v;
  v.zone = zone;
  const ZoneIntensity* z = service_.Zone(zone);
  if (!z) {
    v.why_no_data = "zone " + zone + " is not polled; add it to intensity.zones";
    return v;
  }
  if (z->current) {
    v.current_gco2_per_kwh = z->current->point.gco2_per_kwh;
    v.current_source = z->current->source;
  } else {
    v.why_no_data = z->reason.empty() ? "no reading yet" : z->reason;
  }
  Timestamp now = clock_.Now();
  auto fc = store_.LatestForecast(zone, now);
  if (fc.ok() && *fc) {
    for (const IntensityPoint& p : (*fc)->points)
      if (p.end() > now) v.forecast.push_back(p);
    v.forecast_source = (*fc)->source;
    const std::string_view completed = kCompletedByHistory;
    const std::string& src = v.forecast_source;
    if (src.size() > completed.size() && src.compare(src.size() - completed.size(), completed.size(), completed) == 0)
      v.forecast_source = src.substr(0, src.size() - completed.size()) +
                          ", completed past its end by carbond's own forecaster from stored history";
  }
  if (v.forecast.empty() && v.why_no_data.empty())
    v.why_no_data = z->forecast_reason.empty() ? "no forecast stored" : z->forecast_reason;
  return v;
}

IntensitySeries IntensityGrid::Recorded(const std::string& zone, Timestamp from, Timestamp to) {
  // Readings start at their interval's start: look back one interval.
  auto rs = store_.Readings(zone, from - std::chrono::hours(2), to);
  IntensitySeries out;
  if (!rs.ok()) return out;
  for (const auto& r : *rs) out.push_back(r.point);
  Normalize(out);
  return out;
}

}  // namespace carbon
