// Text forms of times and durations used in job files, the API and SQLite.
#pragma once

#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"

namespace carbon {

// "2026-11-26T18:42:05.123Z" (UTC, millisecond precision). Sorts as text.
std::string FormatTime(Timestamp t);

// Accepts RFC 3339 / ISO 8601 date-times: "2026-11-27T03:00:00Z",
// "2026-11-27T03:00Z", "2026-11-27T03:00:00.5+01:00", "2026-11-27 03:00:00Z".
// A missing offset is an error (times must be unambiguous).
StatusOr<Timestamp> ParseTime(std::string_view text);

// Accepts "90s", "30m", "6h", "2d", "1h30m", "1500ms" and a bare number of
// seconds ("45"). Must be > 0 unless allow_zero.
// ParseDuration refuses anything longer (so time arithmetic cannot overflow).
constexpr long long kMaxDurationYears = 100;
StatusOr<Duration> ParseDuration(std::string_view text, bool allow_zero = false);

// "1h30m", "45s", "2d3h", "0s".
std::string FormatDuration(Duration d);

}  // namespace carbon
