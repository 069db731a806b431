#include "common/time_util.h"

#include <gtest/gtest.h>

namespace carbon {
namespace {

TEST(TimeUtil, ParsesRfc3339Forms) {
  auto a = ParseTime("2026-11-27T03:00:00Z");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(FormatTime(*a), "2026-11-27T03:00:00.000Z");
  // The UK Carbon Intensity API writes times without seconds.
  auto b = ParseTime("2023-03-15T03:30Z");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(FormatTime(*b), "2023-03-15T03:30:00.000Z");
  auto c = ParseTime("2026-11-27T04:00:00.250+01:00");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(FormatTime(*c), "2026-11-27T03:00:00.250Z");
  auto d = ParseTime("2024-02-29 12:00:00-0530");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(FormatTime(*d), "2024-02-29T17:30:00.000Z");
}

TEST(TimeUtil, RejectsAmbiguousOrInvalidTimes) {
  EXPECT_FALSE(ParseTime("2026-11-27T03:00:00").ok());  // no offset
  EXPECT_FALSE(ParseTime("2023-02-29T00:00Z").ok());     // not a leap year
  EXPECT_FALSE(ParseTime("2026-13-01T00:00Z").ok());
  EXPECT_FALSE(ParseTime("tomorrow").ok());
  auto st = ParseTime("2026-11-27T03:00:00").status();
  EXPECT_NE(st.message().find("missing UTC offset"), std::string::npos) << st.message();
  // Years the clock cannot hold overflowed the conversion to nanoseconds
  // (found by fuzz_job_spec): refused with the range.
  for (const char* far : {"4052-12-01T10:00:00Z", "0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z"}) {
    auto r = ParseTime(far);
    ASSERT_FALSE(r.ok()) << far;
    EXPECT_NE(r.status().message().find("year outside 1970-2100"), std::string::npos) << r.status().message();
  }
  EXPECT_TRUE(ParseTime("2100-12-31T23:59:59Z").ok());
}

TEST(TimeUtil, FormatAndParseRoundTrip) {
  auto t = ParseTime("1999-12-31T23:59:59.999Z");
  ASSERT_TRUE(t.ok());
  auto back = ParseTime(FormatTime(*t));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*t, *back);
}

TEST(TimeUtil, ParsesDurations) {
  EXPECT_EQ(ParseDuration("90s")->count(), 90'000);
  EXPECT_EQ(ParseDuration("30m")->count(), 1'800'000);
  EXPECT_EQ(ParseDuration("1h30m")->count(), 5'400'000);
  EXPECT_EQ(ParseDuration("2d")->count(), 172'800'000);
  EXPECT_EQ(ParseDuration("1500ms")->count(), 1500);
  EXPECT_EQ(ParseDuration("45")->count(), 45'000);
  EXPECT_FALSE(ParseDuration("0s").ok());
  EXPECT_TRUE(ParseDuration("0s", true).ok());
  EXPECT_FALSE(ParseDuration("5 hours").ok());
  EXPECT_FALSE(ParseDuration("-5m").ok());
  EXPECT_FALSE(ParseDuration("10x").ok());
  // Sums that would overflow time arithmetic are refused.
  EXPECT_TRUE(ParseDuration("36500d").ok());
  auto huge = ParseDuration("999999999d999999999d999999999d");
  ASSERT_FALSE(huge.ok());
  EXPECT_NE(huge.status().message().find("longer than 100 years"), std::string::npos) << huge.status().message();
  EXPECT_EQ(FormatDuration(std::chrono::minutes(90)), "1h30m");
  EXPECT_EQ(FormatDuration(Duration(0)), "0s");
}

TEST(Clock, FakeClockMovesOnlyByHand) {
  auto start = *ParseTime("2026-01-01T00:00:00Z");
  FakeClock c(start);
  EXPECT_EQ(c.Now(), start);
  c.Advance(std::chrono::hours(3));
  EXPECT_EQ(FormatTime(c.Now()), "2026-01-01T03:00:00.000Z");
}

TEST(Clock, VirtualClockRunsFasterThanRealTime) {
  auto start = *ParseTime("2026-01-01T00:00:00Z");
  VirtualClock c(start, 3600.0);  // one real second is one virtual hour
  EXPECT_GE(c.Now(), start);
  EXPECT_EQ(c.RealDuration(std::chrono::hours(1)), std::chrono::seconds(1));
}

TEST(Clock, VirtualClockSkipsAheadNeverBack) {
  auto start = *ParseTime("2026-11-26T17:00:00Z");
  VirtualClock c(start, 1.0);
  auto target = *ParseTime("2026-11-27T03:00:00Z");
  EXPECT_GT(c.SkipTo(target), std::chrono::hours(9));
  EXPECT_GE(c.Now(), target);
  EXPECT_LT(c.Now(), target + std::chrono::seconds(5));  // then real time again
  EXPECT_EQ(c.SkipTo(start), Duration(0));
  EXPECT_GE(c.Now(), target);
}

}  // namespace
}  // namespace carbon
