// Client: the reference client of the carbond API v1 over its unix socket
// (HTTP/1.1 + JSON, keep-alive). Synchronous; one Client per thread.
// A daemon that cannot be reached gives UNAVAILABLE; a refusal gives the
// daemon's error as a Status (code, message, field).
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/job_record.h"
#include "common/status.h"

namespace carbon::api {

struct HttpResult {
  int status = 0;
  std::string body;
};

// One job with its history and its epochs (GET /v1/jobs/{id}).
struct JobDetail {
  JobRecord job;
  std::vector<JobEvent> events;
  std::vector<EpochRecord> epochs;
  nlohmann::json savings;  // null until the job succeeded with recorded intensity
};

// One Server-Sent Event (GET /v1/events).
struct ServerEvent {
  std::string id;
  std::string type;  // "message" when the server named none
  std::string data;
};

class Client {
 public:
  explicit Client(std::string socket_path);
  ~Client();

  // One request; reconnects once if a kept-alive connection was closed.
  StatusOr<HttpResult> Do(const std::string& method, const std::string& target,
                          const std::string& body = {},
                          const std::string& content_type = "application/json");

  // with_baseline: also its baseline twin, linked (the job is returned).
  StatusOr<JobRecord> Submit(const std::string& spec_text, const std::string& filename, bool with_baseline = false);
  StatusOr<std::vector<JobRecord>> List(const std::optional<std::string>& state, int64_t limit);
  // One page of GET /v1/jobs: ids greater than `after`, at most `limit`.
  struct JobPage {
    std::vector<JobRecord> jobs;
    std::map<std::string, int64_t> counts;  // every job, by state
    std::optional<int64_t> next_after;      // the page was full: the next one starts after this id
  };
  StatusOr<JobPage> ListPage(const std::optional<std::string>& state, int64_t limit, int64_t after);
  StatusOr<JobDetail> Get(int64_t id);
  // GET /v1/jobs/{id}/emissions: CodeCarbon's emissions.csv or its JSON, as sent.
  // `rows`: "epochs" (one per epoch) or "total" (the finished run as one row).
  StatusOr<std::string> Emissions(int64_t id, const std::string& format, const std::string& rows = "epochs");
  StatusOr<JobRecord> Cancel(int64_t id);
  StatusOr<nlohmann::json> Health();
  // GET /v1/compare (baseline absent: the candidate's linked twin).
  StatusOr<nlohmann::json> Compare(int64_t candidate, std::optional<int64_t> baseline);
  // GET /v1/intensity, /v1/intensity/forecast (zone empty: the daemon's first zone).
  StatusOr<nlohmann::json> Intensity(const std::string& zone);
  // at: the forecast newest at that time (default: now).
  StatusOr<nlohmann::json> IntensityForecast(const std::string& zone, std::optional<Timestamp> at = std::nullopt);
  // GET /v1/intensity/history: the readings recorded in [from, to).
  StatusOr<nlohmann::json> IntensityHistory(const std::string& zone, Timestamp from, Timestamp to);

  // Opens `target` as an event stream on a connection of its own and calls
  // `on_event` for each event until it returns false (OK), the stream ends
  // or breaks (UNAVAILABLE), or nothing, not even a keep-alive, arrives for
  // `idle_timeout_s` (UNAVAILABLE, "timed out: ..."; 0: wait for ever). A refusal gives
  // the daemon's error.
  Status Follow(const std::string& target, const std::function<bool(const ServerEvent&)>& on_event,
                double idle_timeout_s = 0);

  const std::string& socket_path() const { return socket_path_; }

 private:
  struct Conn;
  StatusOr<HttpResult> DoOnce(const std::string& method, const std::string& target,
                              const std::string& body, const std::string& content_type);
  std::string socket_path_;
  std::unique_ptr<Conn> conn_;
};

// $CARBOND_SOCKET when set; else "/run/carbond/carbond.sock" when it is there
// and this user may use it; else, for an unprivileged user whose own carbond
// runs (personal mode, common/paths.h), its socket; else the system path.
std::string DefaultSocketPath();

}  // namespace carbon::api
