// carbonctl watch: follows carbond's event stream (GET /v1/events) and draws
// a live view of jobs on a terminal: state and reason, epoch progress with a
// bar, loss, accuracy, energy and CO2 so far, and the grid's intensity now.
// State changes and finished epochs are printed as lines that stay; on a
// terminal the live block under them is redrawn in place.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/job_record.h"
#include "proto-less-api/client.h"

namespace carbon::api {

// One epoch as a row under kEpochHeader (carbonctl status and watch).
std::string EpochLine(const EpochRecord& e);
extern const char* const kEpochHeader;

// What the view knows, fed by events; no I/O.
class WatchView {
 public:
  // Only this job's events when set.
  explicit WatchView(std::optional<int64_t> job) : job_(job) {}

  // Seeds a job and the epochs it already has (before following); returns
  // the lines to print.
  std::vector<std::string> Seed(const JobRecord& job, const std::vector<EpochRecord>& epochs);
  // Applies one event; returns the lines to print for good (state changes,
  // finished epochs), in order.
  std::vector<std::string> Apply(const ServerEvent& e);
  // The live block: one line per job that is not final, and the grid.
  std::vector<std::string> Live(int width) const;
  // The watched job reached a final state.
  std::optional<JobState> final_state() const;

 private:
  struct Job {
    JobRecord record;
    std::set<std::pair<int64_t, int64_t>> epochs_seen;  // (epoch, attempt)
    int64_t epochs_total = 0, last_epoch = 0;
    double kwh = 0, kg = 0;
    bool has_kg = false;
    double last_accuracy = -1, last_loss = -1;
    nlohmann::json progress;  // the newest progress event
  };
  std::vector<std::string> EpochLines(Job& j, const EpochRecord& e);

  std::optional<int64_t> job_;
  std::map<int64_t, Job> jobs_;
  std::map<std::string, nlohmann::json> grid_;  // zone -> newest reading
  bool header_printed_ = false;
};

struct WatchOptions {
  std::optional<int64_t> id;
  double timeout_s = 0;  // 0: no limit
  bool live = false;     // redraw in place (a terminal); else plain lines
};

// Follows until the job ends (with an id) or the timeout; returns carbonctl's
// exit code: 0 when the watched job succeeded (or, without an id, on timeout),
// 1 when it ended otherwise or the timeout came first, 3 when carbond cannot
// be reached. Reconnects when the stream breaks, resuming after the last event.
int RunWatch(Client& client, const WatchOptions& o, std::ostream& out, std::ostream& err);

}  // namespace carbon::api
