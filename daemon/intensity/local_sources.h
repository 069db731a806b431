// The sources that need no network: `mock` (the diurnal model, the embedded
// default), `trace` (a recorded CSV replayed on the clock) and `static` (one
// fixed value). They answer synchronously and work for any zone.
#pragma once

#include <memory>
#include <string>

#include "common/config.h"
#include "common/intensity_formats.h"
#include "common/mock_intensity.h"
#include "daemon/core/intensity_source.h"

namespace carbon {

// With `offset_from_zone`, each zone's model runs on that zone's standard
// local time (StandardUtcOffsetMinutes), so the 03:00 trough is local.
class MockSource final : public IntensitySource {
 public:
  explicit MockSource(MockIntensityParams params, bool offset_from_zone = false)
      : params_(params), offset_from_zone_(offset_from_zone) {}
  std::string name() const override { return "mock"; }
  void Current(const std::string& zone, Timestamp now, Callback done) override;
  void Forecast(const std::string& zone, Timestamp now, Duration horizon, Callback done) override;
  void History(const std::string& zone, Timestamp from, Timestamp to, Callback done) override;

 private:
  MockIntensityModel Model(const std::string& zone) const;
  MockIntensityParams params_;
  bool offset_from_zone_;
};

class StaticSource final : public IntensitySource {
 public:
  explicit StaticSource(double gco2_per_kwh) : value_(gco2_per_kwh) {}
  std::string name() const override { return "static"; }
  void Current(const std::string& zone, Timestamp now, Callback done) override;
  void Forecast(const std::string& zone, Timestamp now, Duration horizon, Callback done) override;
  void History(const std::string& zone, Timestamp from, Timestamp to, Callback done) override;

 private:
  IntensitySeries Steps(Timestamp from, Timestamp to) const;
  double value_;
};

// Replays a recorded series. With `loop`, a time outside the recording maps
// into it by whole recording lengths, so a year's trace serves any year; the
// points come back at the asked-for times. The forecast is the recording's
// future, exact or with seeded error (forecast_error at 24 h lead).
class TraceSource final : public IntensitySource {
 public:
  // Reads and parses the CSV file at config.path.
  static StatusOr<std::unique_ptr<TraceSource>> Load(const TraceSourceConfig& config);
  TraceSource(IntensitySeries series, TraceSourceConfig config);

  std::string name() const override { return "trace"; }
  void Current(const std::string& zone, Timestamp now, Callback done) override;
  void Forecast(const std::string& zone, Timestamp now, Duration horizon, Callback done) override;
  void History(const std::string& zone, Timestamp from, Timestamp to, Callback done) override;

  const IntensitySeries& series() const { return series_; }

 private:
  // The recorded points overlapping [from, to), shifted to those times.
  StatusOr<IntensitySeries> Range(Timestamp from, Timestamp to) const;
  IntensitySeries series_;
  TraceSourceConfig config_;
};

}  // namespace carbon
