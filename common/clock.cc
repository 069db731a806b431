#include "common/clock.h"

namespace carbon {

Timestamp SystemClock::Now() const { return std::chrono::system_clock::now(); }

Timestamp FakeClock::Now() const {
  std::lock_guard<std::mutex> lock(mu_);
  return now_;
}
void FakeClock::Set(Timestamp t) {
  std::lock_guard<std::mutex> lock(mu_);
  now_ = t;
}
void FakeClock::Advance(Duration d) {
  std::lock_guard<std::mutex> lock(mu_);
  now_ += d;
}

VirtualClock::VirtualClock(Timestamp start, double speed)
    : start_(start), real_start_(std::chrono::steady_clock::now()), speed_(speed) {}

Timestamp VirtualClock::Now() const {
  auto real_elapsed = std::chrono::steady_clock::now() - real_start_;
  auto virt = std::chrono::duration<double, std::nano>(real_elapsed) * speed_;
  std::lock_guard<std::mutex> lock(mu_);
  return start_ + std::chrono::duration_cast<Timestamp::duration>(virt) + skipped_;
}

Duration VirtualClock::SkipTo(Timestamp t) {
  const Timestamp now = Now();
  if (t <= now) return Duration(0);
  std::lock_guard<std::mutex> lock(mu_);
  skipped_ += t - now;
  return std::chrono::duration_cast<Duration>(t - now);
}

std::chrono::nanoseconds VirtualClock::RealDuration(Duration d) const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double, std::nano>(d) / speed_);
}

}  // namespace carbon
