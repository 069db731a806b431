// Quantities for people to read: energy and CO2 in the unit that suits their
// size, with three significant figures, one style in every human output
// (carbonctl compare and status, the HTML/Markdown report, the dashboard,
// whose JavaScript has the same rules: daemon/http/dashboard/index.html,
// fmtEnergy and fmtCo2, checked against these in tests/integration/dashboard_test.cc).
// JSON and CSV keep their exact numbers in kWh and kg.
//
//   FormatEnergy(4.4e-6)  -> "4.40 mWh"     FormatCo2(1.268e-6) -> "1.27 mg"
//   FormatEnergy(0.0123)  -> "12.3 Wh"      FormatCo2(0.0446)   -> "44.6 g"
//   FormatEnergy(2.5)     -> "2.50 kWh"     FormatCo2(3.1)      -> "3.10 kg"
// Units: mWh, Wh, kWh; mg, g, kg (below 1 mWh or 1 mg: still mWh, mg, with
// three significant figures). Zero is "0 Wh" and "0 g"; a negative value
// (a difference) keeps its sign, and `sign` writes "+" for a positive one.
#pragma once

#include <string>

namespace carbon {

std::string FormatEnergy(double kwh, bool sign = false);
std::string FormatCo2(double kg, bool sign = false);
// The unit that suits a set of values up to `max` (an axis): its name and
// what one kWh (or kg) is in it. EnergyUnit(0.002) is {"Wh", 1000}.
struct Unit {
  const char* name;
  double per_base;
};
Unit EnergyUnit(double max_kwh);
Unit Co2Unit(double max_kg);
// Three significant figures, no exponent ("4.40", "44.0", "440", "4,400", "0.00123").
std::string ThreeSignificant(double v);

}  // namespace carbon
