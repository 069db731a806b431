// Energy and CO2 for people (common/units.h, issue 39): the unit that suits
// the size, three significant figures, one style.
#include "common/units.h"

#include <gtest/gtest.h>

#include "common/compare.h"

namespace carbon {
namespace {

TEST(Units, EnergyTakesTheUnitThatSuitsItsSizeWithThreeSignificantFigures) {
  EXPECT_EQ(FormatEnergy(4.40e-6), "4.40 mWh");  // the dashboard's "4.40e-6 kWh"
  EXPECT_EQ(FormatEnergy(4.4e-7), "0.440 mWh");
  EXPECT_EQ(FormatEnergy(1.23456e-9), "0.00123 mWh");
  EXPECT_EQ(FormatEnergy(0.0123), "12.3 Wh");
  EXPECT_EQ(FormatEnergy(0.001), "1.00 Wh");
  EXPECT_EQ(FormatEnergy(0.9996), "1.00 kWh");  // rounds up into the next unit
  EXPECT_EQ(FormatEnergy(0.0009996), "1.00 Wh");
  EXPECT_EQ(FormatEnergy(2.5), "2.50 kWh");
  EXPECT_EQ(FormatEnergy(123.456), "123 kWh");
  EXPECT_EQ(FormatEnergy(12345.6), "12,300 kWh");
  EXPECT_EQ(FormatEnergy(0), "0 Wh");
  EXPECT_EQ(FormatEnergy(-1.008e-6), "-1.01 mWh");
  EXPECT_EQ(FormatEnergy(1.008e-6, /*sign=*/true), "+1.01 mWh");
}

TEST(Units, Co2TakesTheUnitThatSuitsItsSize) {
  EXPECT_EQ(FormatCo2(1.268e-6), "1.27 mg");
  EXPECT_EQ(FormatCo2(0.0446), "44.6 g");
  EXPECT_EQ(FormatCo2(3.1), "3.10 kg");
  EXPECT_EQ(FormatCo2(1500), "1,500 kg");
  EXPECT_EQ(FormatCo2(0), "0 g");
  EXPECT_EQ(FormatCo2(-1.743e-7, true), "-0.174 mg");
  EXPECT_EQ(ThreeSignificant(9.996), "10.0");
  EXPECT_EQ(ThreeSignificant(-4400), "-4,400");
  EXPECT_EQ(ThreeSignificant(0.0001234), "0.000123");
}

TEST(Units, AnAxisTakesTheUnitThatSuitsItsLargestValue) {
  EXPECT_STREQ(EnergyUnit(0.002).name, "Wh");
  EXPECT_DOUBLE_EQ(EnergyUnit(0.002).per_base, 1000);
  EXPECT_STREQ(EnergyUnit(1.97e-6).name, "mWh");
  EXPECT_DOUBLE_EQ(EnergyUnit(1.97e-6).per_base, 1e6);
  EXPECT_STREQ(EnergyUnit(0).name, "mWh");
  EXPECT_STREQ(Co2Unit(5).name, "kg");
  EXPECT_DOUBLE_EQ(Co2Unit(5).per_base, 1);
  EXPECT_STREQ(Co2Unit(0.9996).name, "kg");  // rounds to 1.00 kg, as FormatCo2 writes it
}

TEST(Units, CompareShowsEnergyAndCo2InTheirUnitsAndKeepsTheOthers) {
  EXPECT_EQ(FormatCompareValue(1.442e-6, "kg"), "1.44 mg");
  EXPECT_EQ(FormatCompareValue(-1.008e-6, "kWh", true), "-1.01 mWh");
  EXPECT_EQ(FormatCompareValue(429.5, "MB"), "429.5");
  EXPECT_EQ(FormatCompareValue(std::nullopt, "kg"), "-");
}

}  // namespace
}  // namespace carbon
