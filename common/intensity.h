// Grid carbon intensity: the point type every source produces, and pure
// helpers over series of points. No I/O here.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace carbon {

// One interval of grid carbon intensity: [time, time + period).
struct IntensityPoint {
  Timestamp time;
  Duration period = std::chrono::minutes(30);
  double gco2_per_kwh = 0;
  // True when the value is a source's estimate or forecast rather than a
  // measurement (UK `actual` null, Electricity Maps `isEstimated`).
  bool estimated = false;

  Timestamp end() const { return time + period; }
  bool Covers(Timestamp t) const { return time <= t && t < end(); }
};

using IntensitySeries = std::vector<IntensityPoint>;

// Sorts by time and drops later duplicates of the same time.
void Normalize(IntensitySeries& series);

// The point covering `t` in a sorted series, if any.
std::optional<IntensityPoint> PointAt(const IntensitySeries& series, Timestamp t);

// The lowest-mean window of `length` inside a sorted series, with that mean:
// BestStart over the whole series (see there for the candidates and ties).
// kIntervals: each point is the mean over [time, end()) (the UK API's and
//   Electricity Maps' meaning), MeanIntervals; a gap holds the previous value.
// kTrapezoid: points are samples at their times, integrated with the
//   trapezoid rule (the method of CATS, github.com/GreenScheduler/cats),
//   MeanInterpolated; the window must end by the last sample.
// Empty when no window of that length fits.
enum class WindowMethod { kIntervals, kTrapezoid };
struct Window {
  Timestamp start;
  Timestamp end;
  double mean_gco2_per_kwh = 0;
};
std::optional<Window> CleanestWindow(const IntensitySeries& series, Duration length,
                                     WindowMethod method = WindowMethod::kIntervals);

// CATS's integration: the points are samples at their times, joined by
// straight lines (the trapezoid rule), held flat before the first and after
// the last sample. The time-weighted mean of that curve over [from, to).
double MeanInterpolated(const IntensitySeries& series, Timestamp from, Timestamp to);

// carbond's integration: each point is the mean over its own interval
// [time, end()) (what the UK API and Electricity Maps publish), a step
// function; a gap holds the previous value, and times before the first or
// after the last point take the nearest one. The time-weighted mean over [from, to).
double MeanIntervals(const IntensitySeries& series, Timestamp from, Timestamp to);

// The start in [earliest, latest] that minimises the mean over
// [start, start + duration) (kIntervals: MeanIntervals, kTrapezoid:
// MeanInterpolated). Candidates: `earliest`, every point time between (and
// every point time minus the duration), and `latest`; the earliest of equal
// means wins. Empty when the series is empty or latest < earliest.
std::optional<Window> BestStart(const IntensitySeries& series, Timestamp earliest, Timestamp latest,
                                Duration duration, WindowMethod method = WindowMethod::kIntervals);

// The points of a sorted series that overlap [from, to), by binary search.
IntensitySeries SliceSorted(const IntensitySeries& series, Timestamp from, Timestamp to);

// Extends a sorted series to cover `until` by repeating the values of 24 h
// earlier (the grid's daily cycle), or the last value when the series is
// shorter than a day. Returns whether anything was added.
bool ExtendDaily(IntensitySeries& series, Timestamp until);

// The values a real grid can have: above `min` (exclusive: a grid never emits
// nothing; providers have served 0.0 through outages) and at most `max`
// (99999 is a unit or scaling error; the highest hourly value of the 28
// Electricity Maps zone-years in shared/data/intensity is 756.69 g/kWh,
// AU-NSW 2021). intensity.plausible in the config.
struct PlausibleRange {
  double min = 0;
  double max = 2500;
};

// OK when every point of `series` lies in the range (NaN and infinities do
// not); else INVALID_ARGUMENT naming the first bad value, its time, how many
// are bad, and the range ("every value is 0" for a flat-zero answer).
Status CheckPlausible(const IntensitySeries& series, const PlausibleRange& range);

}  // namespace carbon
