#include "daemon/exec/slurm/slurm_output.h"

#include <cctype>
#include <charconv>
#include <ctime>

namespace carbon::slurm {
namespace {

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t i = s.find(sep, start);
    out.push_back(s.substr(start, i == std::string_view::npos ? std::string_view::npos : i - start));
    if (i == std::string_view::npos) return out;
    start = i + 1;
  }
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::optional<int64_t> Id(std::string_view s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v <= 0) return std::nullopt;
  return v;
}

// "2026-11-28T06:34:54" in the machine's local time (Slurm prints local
// times without a zone); "Unknown", "None" and anything else: absent.
std::optional<Timestamp> LocalTime(std::string_view s) {
  std::tm tm{};
  const std::string text(s);
  const char* end = ::strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end || *end != '\0') return std::nullopt;
  tm.tm_isdst = -1;
  const std::time_t t = std::mktime(&tm);
  if (t == -1) return std::nullopt;
  return std::chrono::time_point_cast<Timestamp::duration>(std::chrono::system_clock::from_time_t(t));
}

// Lines of `out`, without empty ones.
std::vector<std::string_view> Lines(std::string_view out) {
  std::vector<std::string_view> lines;
  for (std::string_view line : Split(out, '\n'))
    if (!Trim(line).empty()) lines.push_back(line);
  return lines;
}

}  // namespace

StatusOr<int64_t> ParseSbatch(std::string_view out) {
  std::string_view s = Trim(out);
  s = s.substr(0, s.find(';'));
  if (auto id = Id(s)) return *id;
  return InvalidArgument("sbatch --parsable printed '" + std::string(Trim(out).substr(0, 200)) +
                         "', not a job id (\"ID\" or \"ID;CLUSTER\")");
}

StatusOr<std::vector<QueueRow>> ParseSqueue(std::string_view out) {
  std::vector<QueueRow> rows;
  for (std::string_view line : Lines(out)) {
    // The comment is last and may itself hold '|': split on the first four.
    std::vector<std::string_view> f;
    std::string_view rest = line;
    for (int i = 0; i < 4; ++i) {
      size_t bar = rest.find('|');
      if (bar == std::string_view::npos) break;
      f.push_back(rest.substr(0, bar));
      rest.remove_prefix(bar + 1);
    }
    f.push_back(rest);
    if (f.size() != 5)
      return InvalidArgument("squeue line '" + std::string(line.substr(0, 200)) + "' is not '" + kSqueueFormat +
                             "' (id|state|reason|name|comment)");
    // Array jobs ("123_4", "123_[5-9]") and heterogeneous ones ("123+0") are
    // someone else's: carbond submits neither.
    auto id = Id(Trim(f[0]));
    if (!id) continue;
    rows.push_back({*id, std::string(Trim(f[1])), std::string(Trim(f[2])), std::string(f[3]),
                    std::string(Trim(f[4]))});
  }
  return rows;
}

StatusOr<std::vector<AcctRow>> ParseSacct(std::string_view out) {
  std::vector<AcctRow> rows;
  for (std::string_view line : Lines(out)) {
    std::vector<std::string_view> f = Split(line, '|');
    if (f.size() < 7)
      return InvalidArgument("sacct line '" + std::string(line.substr(0, 200)) + "' does not have the 7 fields " +
                             kSacctFields);
    if (f[0].find('.') != std::string_view::npos) continue;  // a step: 2.batch, 2.extern, 2.0
    auto id = Id(f[0]);
    if (!id) return InvalidArgument("sacct line '" + std::string(line.substr(0, 200)) + "': '" + std::string(f[0]) +
                                    "' is not a job id");
    AcctRow r;
    r.id = *id;
    r.name = std::string(f[1]);
    r.state = std::string(f[2].substr(0, f[2].find(' ')));
    const size_t colon = f[3].find(':');
    int c = 0, s = 0;
    if (colon == std::string_view::npos ||
        std::from_chars(f[3].data(), f[3].data() + colon, c).ec != std::errc() ||
        std::from_chars(f[3].data() + colon + 1, f[3].data() + f[3].size(), s).ec != std::errc())
      return InvalidArgument("sacct line '" + std::string(line.substr(0, 200)) + "': exit code '" + std::string(f[3]) +
                             "' is not CODE:SIGNAL");
    r.exit_code = c;
    r.signal = s;
    r.start = LocalTime(f[4]);
    r.end = LocalTime(f[5]);
    // The comment is last and may hold '|'.
    std::string comment(f[6]);
    for (size_t i = 7; i < f.size(); ++i) comment += "|" + std::string(f[i]);
    r.comment = comment;
    rows.push_back(std::move(r));
  }
  return rows;
}

Failure ClassifyFailure(std::string_view err) {
  if (err.find("Unable to contact slurm controller") != std::string_view::npos ||
      err.find("Socket timed out on send/recv") != std::string_view::npos ||
      err.find("Slurm backup controller in standby mode") != std::string_view::npos)
    return Failure::kControllerDown;
  if (err.find("Invalid job id specified") != std::string_view::npos) return Failure::kInvalidJobId;
  return Failure::kOther;
}

Phase PhaseOf(std::string_view state, std::string_view reason) {
  state = state.substr(0, state.find(' '));
  if (state == "PENDING" || state == "REQUEUE_HOLD" || state == "RESV_DEL_HOLD") {
    if (reason == "JobHeldUser" || reason == "JobHeldAdmin" || state != "PENDING") return Phase::kHeld;
    return Phase::kPending;
  }
  if (state == "RUNNING" || state == "COMPLETING" || state == "CONFIGURING" || state == "SUSPENDED" ||
      state == "STOPPED" || state == "SIGNALING" || state == "STAGE_OUT" || state == "RESIZING")
    return Phase::kRunning;
  if (state == "COMPLETED") return Phase::kSucceeded;
  if (state == "FAILED" || state == "BOOT_FAIL" || state == "DEADLINE" || state == "SPECIAL_EXIT")
    return Phase::kFailed;
  if (state == "CANCELLED" || state == "REVOKED") return Phase::kCancelled;
  if (state == "PREEMPTED" || state == "NODE_FAIL" || state == "REQUEUED" || state == "REQUEUE_FED")
    return Phase::kRequeue;
  if (state == "TIMEOUT") return Phase::kTimeout;
  if (state == "OUT_OF_MEMORY") return Phase::kOutOfMemory;
  return Phase::kUnknown;
}

const char* PhaseName(Phase p) {
  switch (p) {
    case Phase::kHeld: return "held";
    case Phase::kPending: return "pending";
    case Phase::kRunning: return "running";
    case Phase::kSucceeded: return "succeeded";
    case Phase::kFailed: return "failed";
    case Phase::kCancelled: return "cancelled";
    case Phase::kRequeue: return "requeue";
    case Phase::kTimeout: return "timeout";
    case Phase::kOutOfMemory: return "out_of_memory";
    case Phase::kUnknown: return "unknown";
  }
  return "unknown";
}

bool IsFinal(Phase p) {
  return p != Phase::kHeld && p != Phase::kPending && p != Phase::kRunning && p != Phase::kUnknown;
}

std::string JobComment(int64_t job_id, std::string_view token) {
  return "carbond:" + std::to_string(job_id) + ":" + std::string(token);
}

std::optional<CommentId> ParseJobComment(std::string_view comment) {
  constexpr std::string_view kPrefix = "carbond:";
  if (comment.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  comment.remove_prefix(kPrefix.size());
  const size_t colon = comment.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto id = Id(comment.substr(0, colon));
  std::string_view token = comment.substr(colon + 1);
  if (!id || token.empty()) return std::nullopt;
  for (char c : token)
    if (!std::isalnum(static_cast<unsigned char>(c))) return std::nullopt;
  return CommentId{*id, std::string(token)};
}

}  // namespace carbon::slurm
