// The carbond API v1 contract in C++ (openapi.yaml beside this file is the
// source of truth): request/response types, their JSON, and the one mapping
// from Status codes to HTTP statuses. No Beast here: the server and the
// client adapters translate.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/compare.h"
#include "common/intensity.h"
#include "common/job_record.h"
#include "common/savings.h"
#include "common/status.h"

namespace carbon::api {

constexpr const char* kApiVersion = "v1";

// One HTTP request as the router sees it.
struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, "/v1/jobs?state=queued"
  std::string content_type;
  std::string body;
  uint32_t peer_uid = 0;  // from SO_PEERCRED (unix socket only)
  int32_t peer_pid = 0;
  // Came through the optional TCP listener: the peer is unknown, so only
  // read-only GET routes are served there.
  bool via_tcp = false;
  std::string last_event_id;  // the Last-Event-ID header (event stream reconnects)
};

// The open end of a streamed response (Server-Sent Events): what is written
// goes to the client as it comes. Loop thread only.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  // Queues bytes for the client; false once the connection is gone or it fell
  // too far behind (it is then closed).
  virtual bool Write(std::string data) = 0;
  virtual bool open() const = 0;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // Set for a streamed response: the server sends the headers (chunked, no
  // caching), then hands the open stream over; `body` is sent first.
  std::function<void(std::shared_ptr<StreamSink>)> stream;
};

// JSON text of a response or event. Text from users (paths, job files) may
// hold invalid UTF-8: it becomes U+FFFD instead of an exception.
std::string JsonText(const nlohmann::json& j);

// The one place error codes become HTTP statuses.
int HttpStatusFor(StatusCode code);
// {"error": {"code": "INVALID_ARGUMENT", "message": "...", "field": "train.epochs"}}
std::string ErrorBody(const Status& status);
Response ErrorResponse(const Status& status);
// Rebuilds a Status from an error response (client side). Unknown bodies give
// a status named after the HTTP code.
Status StatusFromResponse(int http_status, const std::string& body);

// Path without the query, and the query's parameters (percent-decoded).
struct Target {
  std::string path;
  std::map<std::string, std::string> query;
};
Target ParseTarget(const std::string& target);
// A whole number given as parameter `name` (query or header), in [min, max];
// otherwise INVALID_ARGUMENT naming the parameter and the accepted range.
StatusOr<int64_t> ParseIntParam(const std::string& name, const std::string& text, int64_t min, int64_t max);
// The query parameter `name` as above; empty when absent or empty.
StatusOr<std::optional<int64_t>> IntQuery(const Target& t, const std::string& name, int64_t min, int64_t max);

nlohmann::json JobToJson(const JobRecord& job, bool with_spec);
StatusOr<JobRecord> JobFromJson(const nlohmann::json& j);
nlohmann::json EventToJson(const JobEvent& e);
nlohmann::json EpochToJson(const EpochRecord& e);
StatusOr<EpochRecord> EpochFromJson(const nlohmann::json& j);
StatusOr<JobEvent> EventFromJson(const nlohmann::json& j);
// {"time", "period_s", "gco2_per_kwh", "estimated"}
nlohmann::json IntensityPointToJson(const IntensityPoint& p);
nlohmann::json SavingsToJson(const JobSavings& s);
StatusOr<IntensityPoint> IntensityPointFromJson(const nlohmann::json& j);
// GET /v1/compare: {"baseline": summary, "candidate": summary, "rows": [...]}.
nlohmann::json RunSummaryToJson(const RunSummary& s);
StatusOr<RunSummary> RunSummaryFromJson(const nlohmann::json& j);
nlohmann::json CompareRowsToJson(const std::vector<CompareRow>& rows);

}  // namespace carbon::api
