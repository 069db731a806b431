#include "daemon/intensity/local_sources.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "common/time_util.h"

namespace carbon {

MockIntensityModel MockSource::Model(const std::string& zone) const {
  MockIntensityParams p = params_;
  if (offset_from_zone_) p.utc_offset_minutes = StandardUtcOffsetMinutes(zone);
  return MockIntensityModel(p);
}
void MockSource::Current(const std::string& zone, Timestamp now, Callback done) {
  done(IntensitySeries{Model(zone).At(now)});
}
void MockSource::Forecast(const std::string& zone, Timestamp now, Duration horizon, Callback done) {
  done(Model(zone).Forecast(now, horizon));
}
void MockSource::History(const std::string& zone, Timestamp from, Timestamp to, Callback done) {
  done(Model(zone).Range(from, to));
}

IntensitySeries StaticSource::Steps(Timestamp from, Timestamp to) const {
  IntensitySeries out;
  auto hour = std::chrono::floor<std::chrono::hours>(from);
  for (Timestamp t = hour; t < to; t += std::chrono::hours(1))
    out.push_back(IntensityPoint{t, std::chrono::hours(1), value_, true});
  return out;
}
void StaticSource::Current(const std::string&, Timestamp now, Callback done) {
  done(Steps(now, now + Duration(1)));
}
void StaticSource::Forecast(const std::string&, Timestamp now, Duration horizon, Callback done) {
  done(Steps(now, now + horizon));
}
void StaticSource::History(const std::string&, Timestamp from, Timestamp to, Callback done) {
  done(Steps(from, to));
}

StatusOr<std::unique_ptr<TraceSource>> TraceSource::Load(const TraceSourceConfig& config) {
  std::ifstream in(config.path, std::ios::binary);
  if (!in)
    return InvalidArgument("intensity.trace.path: cannot open '" + config.path + "'",
                           "intensity.trace.path");
  std::ostringstream ss;
  ss << in.rdbuf();
  CsvTraceOptions o{config.time_column, config.value_column};
  ASSIGN_OR_RETURN(IntensitySeries s, ParseIntensityCsv(ss.str(), config.path, o));
  return std::make_unique<TraceSource>(std::move(s), config);
}

TraceSource::TraceSource(IntensitySeries series, TraceSourceConfig config)
    : series_(std::move(series)), config_(std::move(config)) {}

StatusOr<IntensitySeries> TraceSource::Range(Timestamp from, Timestamp to) const {
  if (series_.empty()) return Unavailable("trace: empty");
  const Timestamp first = series_.front().time;
  const Timestamp last = series_.back().end();
  const auto span = last - first;
  auto shift_of = [&](Timestamp t) -> Timestamp::duration {
    if (!config_.loop || (t >= first && t < last)) return {};
    auto k = static_cast<int64_t>(std::floor(std::chrono::duration<double>(t - first).count() /
                                              std::chrono::duration<double>(span).count()));
    return span * k;
  };
  if (!config_.loop && (to <= first || from >= last))
    return Unavailable("trace " + config_.path + " covers " + FormatTime(first) + " .. " +
                       FormatTime(last) + " only (set intensity.trace.loop: true to replay it)");
  IntensitySeries out;
  Timestamp t = from;
  auto shift = shift_of(t);
  // Walk the recording from the point covering `from`, wrapping with `loop`.
  auto it = std::upper_bound(series_.begin(), series_.end(), t - shift,
                             [](Timestamp v, const IntensityPoint& p) { return v < p.time; });
  if (it != series_.begin() && std::prev(it)->end() > t - shift) --it;
  while (true) {
    if (it == series_.end()) {
      if (!config_.loop) break;
      it = series_.begin();
      shift += span;
    }
    IntensityPoint p = *it;
    p.time += shift;
    if (p.time >= to) break;
    out.push_back(p);
    ++it;
    if (out.size() > 10'000'000) break;  // a guard, far beyond any horizon
  }
  return out;
}

void TraceSource::Current(const std::string&, Timestamp now, Callback done) {
  auto r = Range(now - std::chrono::hours(6), now + Duration(1));
  if (!r.ok()) return done(r.status());
  IntensitySeries s;
  for (const IntensityPoint& p : *r)
    if (p.time <= now) s.push_back(p);
  if (s.empty()) return done(Unavailable("trace " + config_.path + ": no recorded point near " + FormatTime(now)));
  done(IntensitySeries{s.back()});
}

void TraceSource::Forecast(const std::string&, Timestamp now, Duration horizon, Callback done) {
  auto r = Range(now, now + horizon);
  if (!r.ok()) return done(r.status());
  const int64_t issued = std::chrono::duration_cast<std::chrono::minutes>(now.time_since_epoch()).count();
  for (IntensityPoint& p : *r) {
    p.estimated = true;
    if (config_.forecast_error > 0) {
      double lead_h = std::max(0.0, std::chrono::duration<double>(p.time - now).count() / 3600.0);
      uint64_t key = HashMix(config_.seed) ^ HashMix(static_cast<uint64_t>(issued)) ^
                     static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                               p.time.time_since_epoch()).count());
      p.gco2_per_kwh = std::max(0.0, p.gco2_per_kwh + config_.forecast_error *
                                                          std::sqrt(lead_h / 24.0) * SeededGaussian(key));
    }
  }
  done(std::move(*r));
}

void TraceSource::History(const std::string&, Timestamp from, Timestamp to, Callback done) {
  auto r = Range(from, to);
  if (!r.ok()) return done(r.status());
  IntensitySeries s;
  for (const IntensityPoint& p : *r)
    if (p.time >= from) s.push_back(p);
  done(std::move(s));
}

}  // namespace carbon
