// Clock: the only place that reads the time. Everything that needs "now"
// takes a Clock&, so tests drive time with FakeClock and demos with VirtualClock.
//
// Thread-safety: SystemClock and VirtualClock are safe from any thread;
// FakeClock is safe too (its time is guarded by a mutex).
#pragma once

#include <chrono>
#include <mutex>

namespace carbon {

using Timestamp = std::chrono::system_clock::time_point;
using Duration = std::chrono::milliseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time as the scheduler sees it (real, fake or virtual).
  virtual Timestamp Now() const = 0;
  // How long to really wait for `d` of this clock's time to pass (speed).
  virtual std::chrono::nanoseconds RealDuration(Duration d) const { return d; }
};

class SystemClock final : public Clock {
 public:
  Timestamp Now() const override;
};

// A clock a test moves by hand. Starts at `start` and never moves by itself.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(Timestamp start) : now_(start) {}
  Timestamp Now() const override;
  void Set(Timestamp t);
  void Advance(Duration d);

 private:
  mutable std::mutex mu_;
  Timestamp now_;
};

// Starts at `start` when constructed and runs `speed` times faster than real
// time (speed 60: one real second is one virtual minute). For demos and the
// simulator: waiting for 03:00 takes seconds. SkipTo jumps ahead (carbond's
// clock.skip_idle: while every job waits, time jumps to the next release).
class VirtualClock final : public Clock {
 public:
  VirtualClock(Timestamp start, double speed);
  Timestamp Now() const override;
  std::chrono::nanoseconds RealDuration(Duration d) const override;
  double speed() const { return speed_; }
  // Moves the clock forward to `t`; never backwards. Returns how far it moved.
  Duration SkipTo(Timestamp t);

 private:
  Timestamp start_;
  std::chrono::steady_clock::time_point real_start_;
  double speed_;
  mutable std::mutex mu_;
  Timestamp::duration skipped_{};
};

}  // namespace carbon
