// A deterministic, realistic model of a grid's carbon intensity, the embedded
// default source (no network). The daily shape has its trough at 03:00 and
// its peak at 18:00 in the zone's local time (a fixed UTC offset), weekends
// run lower, and seeded noise makes it look recorded. Values depend only on
// the parameters and the time asked for, never on the order of calls.
#pragma once

#include <cstdint>
#include <string>

#include "common/intensity.h"

namespace carbon {

// A standard normal deviate that depends only on `key` (a stateless hash):
// seeded noise that is the same whatever order values are asked for in.
double SeededGaussian(uint64_t key);
uint64_t HashMix(uint64_t x);

struct MockIntensityParams {
  double mean = 220;          // gCO2/kWh, the daily mean on a weekday
  double amplitude = 90;      // trough = mean - amplitude, peak = mean + amplitude
  double weekend_delta = -25; // added on Saturdays and Sundays
  double noise = 12;          // standard deviation of the slow noise
  double forecast_error = 15; // standard deviation of a 24 h-ahead forecast's error
  int utc_offset_minutes = 0; // the zone's local time (no daylight saving)
  uint64_t seed = 1;
  Duration step = std::chrono::minutes(30);
};

// The standard-time UTC offset of a grid zone, in minutes, for the zones whose
// traces ship with the project and their neighbours (GB 0, DE +60, US-CAL-CISO
// -480, AU-NSW +600, ...); 0 for a zone not in the table.
int StandardUtcOffsetMinutes(const std::string& zone);

class MockIntensityModel {
 public:
  explicit MockIntensityModel(MockIntensityParams params) : p_(params) {}

  // The "measured" value for the step that contains t.
  IntensityPoint At(Timestamp t) const;
  // The forecast issued at `issued` for the step that contains `target`: the
  // measured value plus an error that grows with the lead time
  // (forecast_error * sqrt(lead / 24 h)), the same for the same pair.
  IntensityPoint ForecastAt(Timestamp issued, Timestamp target) const;
  // Steps covering [from, to).
  IntensitySeries Range(Timestamp from, Timestamp to) const;
  IntensitySeries Forecast(Timestamp issued, Duration horizon) const;

  // The noiseless daily shape in [-1, 1] at a local hour of day in [0, 24):
  // -1 at 03:00, +1 at 18:00, rising for 15 h and falling for 9 h.
  static double DailyShape(double local_hour);

  const MockIntensityParams& params() const { return p_; }

 private:
  Timestamp StepStart(Timestamp t) const;
  double Base(Timestamp step_start) const;
  MockIntensityParams p_;
};

}  // namespace carbon
