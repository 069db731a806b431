#include "common/time_util.h"

#include <cctype>
#include <cstdio>
#include <ctime>

namespace carbon {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
long long DaysFromCivil(long long y, unsigned m, unsigned d) {
  y -= m <= 2;
  const long long era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<long long>(doe) - 719468;
}

bool ReadInt(std::string_view s, size_t& pos, int digits, int& out) {
  if (pos + static_cast<size_t>(digits) > s.size()) return false;
  int v = 0;
  for (int i = 0; i < digits; ++i) {
    char c = s[pos + static_cast<size_t>(i)];
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    v = v * 10 + (c - '0');
  }
  pos += static_cast<size_t>(digits);
  out = v;
  return true;
}

bool Expect(std::string_view s, size_t& pos, char c) {
  if (pos < s.size() && s[pos] == c) {
    ++pos;
    return true;
  }
  return false;
}

}  // namespace

std::string FormatTime(Timestamp t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  long long secs = ms / 1000;
  long long rem = ms % 1000;
  if (rem < 0) {
    rem += 1000;
    secs -= 1;
  }
  std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, rem);
  return buf;
}

StatusOr<Timestamp> ParseTime(std::string_view s) {
  auto bad = [&](const char* why) {
    return InvalidArgument("'" + std::string(s) + "' is not a date-time (" + why +
                           "); expected RFC 3339 like 2026-11-27T03:00:00Z or "
                           "2026-11-27T04:00:00+01:00");
  };
  size_t pos = 0;
  int year, month, day, hour, minute, second = 0;
  if (!ReadInt(s, pos, 4, year) || !Expect(s, pos, '-') || !ReadInt(s, pos, 2, month) ||
      !Expect(s, pos, '-') || !ReadInt(s, pos, 2, day))
    return bad("bad date");
  if (!(Expect(s, pos, 'T') || Expect(s, pos, 't') || Expect(s, pos, ' ')))
    return bad("missing 'T' between date and time");
  if (!ReadInt(s, pos, 2, hour) || !Expect(s, pos, ':') || !ReadInt(s, pos, 2, minute))
    return bad("bad time of day");
  long long nanos = 0;
  if (Expect(s, pos, ':')) {
    if (!ReadInt(s, pos, 2, second)) return bad("bad seconds");
    if (Expect(s, pos, '.')) {
      int digits = 0;
      while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
        if (digits < 9) nanos = nanos * 10 + (s[pos] - '0');
        ++digits;
        ++pos;
      }
      if (digits == 0) return bad("empty fraction of a second");
      for (int i = digits; i < 9; ++i) nanos *= 10;
    }
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60)
    return bad("field out of range");
  // Times carbond deals in; also keeps every sum with a duration (at most
  // kMaxDurationYears) inside the clock's range.
  if (year < 1970 || year > 2100) return bad("year outside 1970-2100");
  static const int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (day > kDays[month - 1] || (month == 2 && day == 29 && !leap)) return bad("no such day");
  int offset_min = 0;
  if (Expect(s, pos, 'Z') || Expect(s, pos, 'z')) {
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int sign = s[pos] == '-' ? -1 : 1;
    ++pos;
    int oh, om = 0;
    if (!ReadInt(s, pos, 2, oh)) return bad("bad UTC offset");
    if (Expect(s, pos, ':')) {
      if (!ReadInt(s, pos, 2, om)) return bad("bad UTC offset");
    } else if (pos < s.size()) {
      if (!ReadInt(s, pos, 2, om)) return bad("bad UTC offset");
    }
    if (oh > 23 || om > 59) return bad("UTC offset out of range");
    offset_min = sign * (oh * 60 + om);
  } else {
    return bad("missing UTC offset such as 'Z' or '+01:00'");
  }
  if (pos != s.size()) return bad("trailing characters");
  long long days = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  long long secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_min * 60LL;
  auto d = std::chrono::seconds(secs) + std::chrono::nanoseconds(nanos);
  return Timestamp(std::chrono::duration_cast<Timestamp::duration>(d));
}

StatusOr<Duration> ParseDuration(std::string_view s, bool allow_zero) {
  auto bad = [&](const char* why) {
    return InvalidArgument("'" + std::string(s) + "' is not a duration (" + why +
                           "); expected a number with a unit: ms, s, m, h, d, e.g. 90s, 30m, "
                           "6h, 1h30m");
  };
  if (s.empty()) return bad("empty");
  long long total_ms = 0;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t start = pos;
    long long n = 0;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
      n = n * 10 + (s[pos] - '0');
      if (n > 1'000'000'000LL) return bad("too large");
      ++pos;
    }
    if (pos == start) return bad("expected a digit");
    std::string unit;
    while (pos < s.size() && std::isalpha(static_cast<unsigned char>(s[pos]))) unit += s[pos++];
    long long mult;
    if (unit.empty()) {
      if (start != 0 || pos != s.size()) return bad("missing unit");
      mult = 1000;
    } else {
      if (unit == "ms") mult = 1;
      else if (unit == "s") mult = 1000;
      else if (unit == "m" || unit == "min") mult = 60'000;
      else if (unit == "h") mult = 3'600'000;
      else if (unit == "d") mult = 86'400'000;
      else return bad("unknown unit");
    }
    total_ms += n * mult;
    if (total_ms > kMaxDurationYears * 366LL * 86'400'000LL) return bad("longer than 100 years");
  }
  if (total_ms == 0 && !allow_zero) return bad("must be greater than zero");
  return Duration(total_ms);
}

std::string FormatDuration(Duration d) {
  long long ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  long long days = ms / 86'400'000;
  ms %= 86'400'000;
  long long h = ms / 3'600'000;
  ms %= 3'600'000;
  long long m = ms / 60'000;
  ms %= 60'000;
  long long sec = ms / 1000;
  ms %= 1000;
  if (days) out += std::to_string(days) + "d";
  if (h) out += std::to_string(h) + "h";
  if (m) out += std::to_string(m) + "m";
  if (sec) out += std::to_string(sec) + "s";
  if (ms) out += std::to_string(ms) + "ms";
  return out;
}

}  // namespace carbon
