#include "common/units.h"

#include <cmath>
#include <cstdio>
#include <utility>

namespace carbon {
namespace {

// Rounds to three significant figures (in a way that 9.996 becomes 10.0).
double Round3(double v) {
  if (v == 0 || !std::isfinite(v)) return v;
  const int exp10 = static_cast<int>(std::floor(std::log10(std::fabs(v))));
  const double scale = std::pow(10.0, 2 - exp10);
  return std::round(v * scale) / scale;
}

// `base` in the smallest unit, rounded and moved up while it reaches 1000
// of a unit (units[i + 1] is 1000 of units[i]): the value and the unit's index.
std::pair<double, int> InUnit(double base) {
  double v = Round3(base);
  int u = 0;
  while (u < 2 && std::fabs(v) >= 1000) {
    v = Round3(v / 1000);
    ++u;
  }
  return {v, u};
}

std::string Scaled(double base, const char* const units[3], bool sign) {
  if (!std::isfinite(base)) return "-";
  const char* plus = sign && base > 0 ? "+" : "";
  if (base == 0) return std::string("0 ") + units[1];
  const auto [v, u] = InUnit(base);
  return plus + ThreeSignificant(v) + " " + units[u];
}

}  // namespace

std::string ThreeSignificant(double v) {
  if (!std::isfinite(v)) return "-";
  if (v == 0) return "0";
  v = Round3(v);
  const int exp10 = static_cast<int>(std::floor(std::log10(std::fabs(v))));
  const int decimals = exp10 >= 2 ? 0 : 2 - exp10;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  if (exp10 >= 3) {  // thousands separators in the integer part
    const size_t start = s[0] == '-' ? 1 : 0;
    for (int i = static_cast<int>(s.size()) - 3; i > static_cast<int>(start); i -= 3) s.insert(i, ",");
  }
  return s;
}

namespace {
Unit Pick(double max_base_in_smallest, const char* const units[3]) {
  const int u = InUnit(std::fabs(max_base_in_smallest)).second;
  return Unit{units[u], 1e6 / std::pow(1000.0, u)};
}
}  // namespace

Unit EnergyUnit(double max_kwh) {
  static const char* const kUnits[3] = {"mWh", "Wh", "kWh"};
  return Pick(max_kwh * 1e6, kUnits);
}

Unit Co2Unit(double max_kg) {
  static const char* const kUnits[3] = {"mg", "g", "kg"};
  return Pick(max_kg * 1e6, kUnits);
}

std::string FormatEnergy(double kwh, bool sign) {
  static const char* const kUnits[3] = {"mWh", "Wh", "kWh"};
  return Scaled(kwh * 1e6, kUnits, sign);  // kWh -> mWh
}

std::string FormatCo2(double kg, bool sign) {
  static const char* const kUnits[3] = {"mg", "g", "kg"};
  return Scaled(kg * 1e6, kUnits, sign);  // kg -> mg
}

}  // namespace carbon
