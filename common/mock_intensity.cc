#include "common/mock_intensity.h"

#include <algorithm>
#include <cmath>

namespace carbon {
namespace {

constexpr double kPi = 3.14159265358979323846;

// SplitMix64: a stateless hash, so a value depends only on its inputs.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A standard normal deviate from a hash (Box-Muller on two uniforms).
double Gaussian(uint64_t key) {
  uint64_t a = Mix(key);
  uint64_t b = Mix(a ^ 0x5851f42d4c957f2dULL);
  double u1 = (static_cast<double>(a >> 11) + 0.5) / 9007199254740992.0;
  double u2 = static_cast<double>(b >> 11) / 9007199254740992.0;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2 * kPi * u2);
}

}  // namespace

double SeededGaussian(uint64_t key) { return Gaussian(key); }
uint64_t HashMix(uint64_t x) { return Mix(x); }

namespace {

int64_t Seconds(Timestamp t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

}  // namespace

int StandardUtcOffsetMinutes(const std::string& zone) {
  struct Entry {
    const char* prefix;
    int minutes;
  };
  // Longest prefixes first.
  static const Entry kTable[] = {
      {"US-CAL", -480}, {"US-NW", -480},  {"US-SW", -420},  {"US-TEX", -360}, {"US-MIDW", -360},
      {"US-CENT", -360}, {"US-MIDA", -300}, {"US-NE", -300}, {"US-NY", -300},  {"US-SE", -300},
      {"US-FLA", -300}, {"US-CAR", -300},  {"CA-ON", -300},  {"CA-QC", -300},  {"CA-BC", -480},
      {"CA-AB", -420},  {"AU-NSW", 600},   {"AU-VIC", 600},  {"AU-QLD", 600},  {"AU-SA", 570},
      {"AU-WA", 480},   {"GB", 0},         {"IE", 0},        {"PT", 0},        {"IS", 0},
      {"DE", 60},       {"FR", 60},        {"NL", 60},       {"BE", 60},       {"LU", 60},
      {"ES", 60},       {"IT", 60},        {"AT", 60},       {"CH", 60},       {"DK", 60},
      {"NO", 60},       {"SE", 60},        {"PL", 60},       {"CZ", 60},       {"FI", 120},
      {"GR", 120},      {"RO", 120},       {"BG", 120},      {"IN", 330},      {"JP", 540},
      {"KR", 540},      {"SG", 480},       {"ZA", 120},      {"BR-S", -180},   {"CL", -240},
  };
  for (const Entry& e : kTable)
    if (zone.rfind(e.prefix, 0) == 0) return e.minutes;
  return 0;
}

double MockIntensityModel::DailyShape(double h) {
  // Rising from the 03:00 trough to the 18:00 peak (15 h), falling back over 9 h.
  // Half cosine (smooth shoulders), half triangle (a distinct peak and trough,
  // as real evening peaks are).
  double x = std::fmod(h - 3.0 + 24.0, 24.0);
  if (x <= 15.0) return 0.5 * -std::cos(kPi * x / 15.0) + 0.5 * (2.0 * x / 15.0 - 1.0);
  double y = (x - 15.0) / 9.0;
  return 0.5 * std::cos(kPi * y) + 0.5 * (1.0 - 2.0 * y);
}

Timestamp MockIntensityModel::StepStart(Timestamp t) const {
  int64_t step_ms = std::max<int64_t>(1000, p_.step.count());
  int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  return Timestamp(std::chrono::milliseconds(FloorDiv(ms, step_ms) * step_ms));
}

double MockIntensityModel::Base(Timestamp step_start) const {
  // The shape at the step's start, in local time (a step is labelled by its
  // start, as the APIs do).
  int64_t mid = Seconds(step_start) + p_.utc_offset_minutes * 60LL;
  int64_t day = FloorDiv(mid, 86400);
  double hour = static_cast<double>(mid - day * 86400) / 3600.0;
  int weekday = static_cast<int>(((day % 7) + 7 + 3) % 7);  // 1970-01-01 was a Thursday; 0 = Monday
  double v = p_.mean + p_.amplitude * DailyShape(hour);
  if (weekday >= 5) v += p_.weekend_delta;
  // Slow noise: hourly Gaussian knots, linearly interpolated, so neighbouring
  // steps are correlated as in a real grid.
  int64_t knot = FloorDiv(mid, 3600);
  double frac = static_cast<double>(mid - knot * 3600) / 3600.0;
  double n0 = Gaussian(p_.seed * 0x100000001b3ULL ^ static_cast<uint64_t>(knot));
  double n1 = Gaussian(p_.seed * 0x100000001b3ULL ^ static_cast<uint64_t>(knot + 1));
  v += p_.noise * (n0 * (1 - frac) + n1 * frac);
  return std::max(0.0, v);
}

IntensityPoint MockIntensityModel::At(Timestamp t) const {
  IntensityPoint p;
  p.time = StepStart(t);
  p.period = p_.step;
  p.gco2_per_kwh = Base(p.time);
  return p;
}

IntensityPoint MockIntensityModel::ForecastAt(Timestamp issued, Timestamp target) const {
  IntensityPoint p = At(target);
  double lead_h = std::max(0.0, std::chrono::duration<double>(p.time - issued).count() / 3600.0);
  uint64_t key = Mix(p_.seed ^ 0xf02eca57ULL) ^ Mix(static_cast<uint64_t>(Seconds(StepStart(issued)))) ^
                 static_cast<uint64_t>(Seconds(p.time));
  p.gco2_per_kwh = std::max(0.0, p.gco2_per_kwh + p_.forecast_error * std::sqrt(lead_h / 24.0) * Gaussian(key));
  p.estimated = true;
  return p;
}

IntensitySeries MockIntensityModel::Range(Timestamp from, Timestamp to) const {
  IntensitySeries out;
  for (Timestamp t = StepStart(from); t < to; t += p_.step) out.push_back(At(t));
  return out;
}

IntensitySeries MockIntensityModel::Forecast(Timestamp issued, Duration horizon) const {
  IntensitySeries out;
  for (Timestamp t = StepStart(issued); t < issued + horizon; t += p_.step) out.push_back(ForecastAt(issued, t));
  return out;
}

}  // namespace carbon
