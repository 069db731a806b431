// Interruptible jobs (carbon.interruptible): the run planned as segments
// over the cheapest forecast hours before the deadline, counting what each
// pause costs. Pure; the daemon's policy and the simulator (and its oracle,
// on the true trace) run the same planner.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/intensity.h"

namespace carbon {

struct Segment {
  Timestamp start;
  Timestamp end;
};

struct SegmentRequest {
  Timestamp now;
  Timestamp deadline;            // every segment ends by it
  Duration remaining{};          // work left (time at full speed)
  Duration min_segment = std::chrono::hours(1);
  // Time lost by each segment that resumes from a checkpoint (checkpoint at
  // the pause + restart), run at the segment's intensity; the first segment
  // of a job that never ran, and the continuation of a running one, have none.
  Duration overhead = std::chrono::minutes(2);
  bool never_started = true;
  // The job runs now, for `running_for` in its current segment: continuing
  // costs no overhead, and it may pause now only when `running_for` is at
  // least min_segment.
  bool running = false;
  Duration running_for{};
  // Only plans whose first segment starts now (a planned start that has come).
  bool start_now = false;
};

struct SegmentPlan {
  // Sorted, disjoint; the last ends when the work is done. Empty when the
  // work does not fit before the deadline.
  std::vector<Segment> segments;
  // The integral of the forecast intensity over the segments, in g/kWh x h
  // (emissions at a constant power of 1 kW), and the mean over their time.
  double cost = 0;
  double mean_gco2_per_kwh = 0;
  bool feasible() const { return !segments.empty(); }
  bool StartsAt(Timestamp t) const { return !segments.empty() && segments.front().start <= t; }
};

// The plan of least cost. Segments start and end on the forecast's step
// boundaries (the series' own spacing; `now` opens a partial first step);
// each lasts at least min_segment, except a last one that finishes the
// work sooner, and at most 24 of them (with min_segment, fewer) are planned.
// `forecast` must be sorted and cover [now, deadline) (ExtendDaily).
SegmentPlan PlanSegments(const IntensitySeries& forecast, const SegmentRequest& request);

// The integral of `series` over the segments, g/kWh x h.
double SegmentsCost(const IntensitySeries& series, const std::vector<Segment>& segments);

}  // namespace carbon
