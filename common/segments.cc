#include "common/segments.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace carbon {
namespace {

constexpr int kMaxSegments = 24;
// Segments within a second of min_segment are long enough (times and
// durations differ in precision).
constexpr Duration kSlack = std::chrono::seconds(1);

template <typename D>
double Hours(D d) {
  return std::chrono::duration<double>(d).count() / 3600.0;
}

}  // namespace

double SegmentsCost(const IntensitySeries& series, const std::vector<Segment>& segments) {
  double sum = 0;
  for (const Segment& s : segments)
    if (s.end > s.start) sum += MeanIntervals(series, s.start, s.end) * Hours(s.end - s.start);
  return sum;
}

// A dynamic programme over the forecast's steps: slot 0 is [now, the next
// step boundary), slot k >= 1 a whole step. The state after a slot is
// (slot 0 used, whole slots used, segments begun, and paused or the whole
// slots the current segment still needs to last min_segment); using a slot
// costs its integral, and the slot in which the work (plus the overhead of
// the segments begun) is done costs only its used part and ends the plan.
SegmentPlan PlanSegments(const IntensitySeries& forecast, const SegmentRequest& rq) {
  SegmentPlan plan;
  if (forecast.empty() || rq.deadline <= rq.now) return plan;
  if (rq.remaining <= Duration::zero()) return plan;
  const Duration step = forecast.size() > 1
                            ? std::chrono::duration_cast<Duration>(forecast[1].time - forecast[0].time)
                            : std::chrono::duration_cast<Duration>(forecast[0].period);
  if (step <= Duration::zero()) return plan;
  // Step boundaries after now, on the forecast's grid.
  const Timestamp anchor = forecast.front().time;
  Timestamp b1 = anchor + ((rq.now - anchor) / step) * step;
  while (b1 <= rq.now) b1 += step;
  // Slot k is [starts[k], ends[k]); lengths[k] its length at Duration's precision.
  std::vector<Timestamp> starts = {rq.now}, ends = {std::min(b1, rq.deadline)};
  std::vector<Duration> lengths = {std::chrono::duration_cast<Duration>(ends[0] - rq.now)};
  for (Timestamp b = b1; b + step <= rq.deadline; b += step) {
    starts.push_back(b);
    ends.push_back(b + step);
    lengths.push_back(step);
  }
  const size_t slots = starts.size();
  std::vector<double> cost(slots);
  for (size_t k = 0; k < slots; ++k)
    cost[k] = MeanIntervals(forecast, starts[k], ends[k]) * Hours(ends[k] - starts[k]);

  const auto ceil_div = [](Duration a, Duration b) {
    return static_cast<int>((a.count() + b.count() - 1) / b.count());
  };
  const int m = std::max(1, ceil_div(rq.min_segment, step));
  const int R = std::max(1, std::min<int>(kMaxSegments, static_cast<int>(slots)));
  const int J = ceil_div(rq.remaining + rq.overhead * R, step) + 1;
  const int S = m + 2;  // s: 0 paused, else 1 + the whole slots the segment still needs (0..m)
  auto index = [&](int u0, int j, int seg, int s) { return ((u0 * (J + 1) + j) * (R + 1) + seg) * S + s; };
  const size_t states = static_cast<size_t>(2 * (J + 1) * (R + 1) * S);
  constexpr double kInf = std::numeric_limits<double>::infinity();
  // The work a state still owes: remaining plus the overhead of its segments.
  auto owed = [&](int u0, int seg) {
    const int free = (rq.never_started || (rq.running && u0)) ? 1 : 0;
    return rq.remaining + rq.overhead * std::max(0, seg - free);
  };
  auto before = [&](int u0, int j) { return (u0 ? lengths[0] : Duration::zero()) + step * j; };

  struct Done {
    double cost = kInf;
    size_t slot = 0;
    int32_t from = -1;  // the state before that slot (-1: done within slot 0)
    Duration used{};    // of that slot
  } done;

  std::vector<double> cur(states, kInf), next(states, kInf);
  // prev[k][state]: the state after slot k-1, with bit 30 set when slot k was used.
  static thread_local std::vector<int32_t> prev;
  prev.assign(slots * states, -1);
  constexpr int32_t kUsed = 1 << 30;

  // Slot 0.
  if (!rq.start_now && !(rq.running && rq.running_for + kSlack < rq.min_segment)) cur[index(0, 0, 0, 0)] = 0;
  {
    // The segment so far (this slot, and the run before it) counts towards min_segment.
    const Duration so_far = lengths[0] + (rq.running ? rq.running_for : Duration::zero());
    const int s0 = 1 + (so_far + kSlack >= rq.min_segment ? 0 : ceil_div(rq.min_segment - so_far, step));
    const Duration w = owed(1, 1);
    if (w <= lengths[0]) {
      done = {cost[0] * Hours(w) / std::max(Hours(lengths[0]), 1e-12), 0, -1, w};
    } else if (lengths[0] > Duration::zero()) {
      cur[index(1, 0, 1, s0)] = cost[0];
    } else {
      cur[index(0, 0, 0, 0)] = 0;  // slot 0 is under a millisecond long: nothing to use in it
    }
  }
  for (size_t k = 1; k < slots; ++k) {
    std::fill(next.begin(), next.end(), kInf);
    int32_t* pk = &prev[k * states];
    for (int u0 = 0; u0 < 2; ++u0)
      for (int j = 0; j <= J; ++j)
        for (int seg = 0; seg <= R; ++seg)
          for (int s = 0; s < S; ++s) {
            const int from = index(u0, j, seg, s);
            const double v = cur[static_cast<size_t>(from)];
            if (v == kInf) continue;
            if (s <= 1) {  // skip slot k (pause, or stay paused)
              const int to = index(u0, j, seg, 0);
              if (v < next[static_cast<size_t>(to)]) next[static_cast<size_t>(to)] = v, pk[to] = from;
            }
            const int seg2 = s == 0 ? seg + 1 : seg;
            if (seg2 > R) continue;
            const Duration left = owed(u0, seg2) - before(u0, j);
            if (left <= step) {  // the work ends in slot k
              const double c = v + cost[k] * Hours(left) / Hours(step);
              if (c < done.cost) done = {c, k, from, left};
              continue;
            }
            if (j + 1 > J) continue;
            const int to = index(u0, j + 1, seg2, s == 0 ? m : std::max(1, s - 1));
            if (v + cost[k] < next[static_cast<size_t>(to)]) next[static_cast<size_t>(to)] = v + cost[k], pk[to] = from | kUsed;
          }
    cur.swap(next);
  }
  if (done.cost == kInf) return plan;

  // Back from the slot where the work ends: which slots were used.
  std::vector<char> used(slots, 0);
  used[done.slot] = 1;
  int32_t state = done.from;
  for (size_t k = done.slot; k-- > 1 && state >= 0;) {
    const int32_t p = prev[k * states + static_cast<size_t>(state)];
    used[k] = (p & kUsed) ? 1 : 0;
    state = p & ~kUsed;
  }
  if (done.slot == 0 || (state >= 0 && state / (S * (R + 1) * (J + 1)) == 1)) used[0] = 1;
  for (size_t k = 0; k <= done.slot; ++k) {
    if (!used[k]) continue;
    const Timestamp end = k == done.slot && done.used < lengths[k] ? starts[k] + done.used : ends[k];
    if (!plan.segments.empty() && plan.segments.back().end == starts[k])
      plan.segments.back().end = end;
    else
      plan.segments.push_back({starts[k], end});
  }
  plan.cost = done.cost;
  Duration total{};
  for (const Segment& s : plan.segments) total += std::chrono::duration_cast<Duration>(s.end - s.start);
  plan.mean_gco2_per_kwh = total > Duration::zero() ? plan.cost / Hours(total) : 0;
  return plan;
}

}  // namespace carbon
