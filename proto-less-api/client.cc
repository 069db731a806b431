#include "proto-less-api/client.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdlib>

#include "common/time_util.h"
#include "proto-less-api/api.h"

namespace carbon::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using nlohmann::json;

struct Client::Conn {
  asio::io_context io;
  asio::local::stream_protocol::socket sock{io};
  beast::flat_buffer buf;
  bool connected = false;
};

std::string DefaultSocketPath() {
  if (const char* s = std::getenv("CARBOND_SOCKET"); s && *s) return s;
  return "/run/carbond/carbond.sock";
}

Client::Client(std::string socket_path)
    : socket_path_(std::move(socket_path)), conn_(std::make_unique<Conn>()) {}
Client::~Client() = default;

StatusOr<HttpResult> Client::DoOnce(const std::string& method, const std::string& target,
                                    const std::string& body, const std::string& content_type) {
  boost::system::error_code ec;
  if (!conn_->connected) {
    conn_->sock = asio::local::stream_protocol::socket(conn_->io);
    conn_->sock.connect(asio::local::stream_protocol::endpoint(socket_path_), ec);
    if (ec)
      return Unavailable("cannot connect to carbond at " + socket_path_ + ": " + ec.message());
    conn_->connected = true;
    conn_->buf.clear();
  }
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, "carbond");
  req.set(http::field::user_agent, "carbonctl");
  req.keep_alive(true);
  if (!body.empty() || method == "POST") {
    req.set(http::field::content_type, content_type);
    req.body() = body;
  }
  req.prepare_payload();
  http::write(conn_->sock, req, ec);
  if (ec) {
    conn_->connected = false;
    return Unavailable("carbond closed the connection: " + ec.message());
  }
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  http::read(conn_->sock, conn_->buf, parser, ec);
  if (ec) {
    conn_->connected = false;
    return Unavailable("no response from carbond: " + ec.message());
  }
  auto& res = parser.get();
  if (!res.keep_alive()) {
    conn_->sock.close(ec);
    conn_->connected = false;
  }
  return HttpResult{static_cast<int>(res.result_int()), std::move(res.body())};
}

StatusOr<HttpResult> Client::Do(const std::string& method, const std::string& target,
                                const std::string& body, const std::string& content_type) {
  bool reused = conn_->connected;
  auto r = DoOnce(method, target, body, content_type);
  if (!r.ok() && reused && r.status().code() == StatusCode::kUnavailable)
    r = DoOnce(method, target, body, content_type);
  return r;
}

namespace {
StatusOr<json> ParseOk(const StatusOr<HttpResult>& r) {
  if (!r.ok()) return r.status();
  if (r->status < 200 || r->status >= 300) return StatusFromResponse(r->status, r->body);
  auto j = json::parse(r->body, nullptr, false);
  if (j.is_discarded()) return Internal("carbond sent a body that is not JSON");
  return j;
}

}  // namespace

StatusOr<std::string> Client::Emissions(int64_t id, const std::string& format) {
  ASSIGN_OR_RETURN(HttpResult r, Do("GET", "/v1/jobs/" + std::to_string(id) + "/emissions?format=" + PercentEncode(format)));
  if (r.status < 200 || r.status >= 300) return StatusFromResponse(r.status, r.body);
  return r.body;
}

StatusOr<JobRecord> Client::Submit(const std::string& spec_text, const std::string& filename, bool with_baseline) {
  ASSIGN_OR_RETURN(json j, ParseOk(Do("POST",
                                      "/v1/jobs?filename=" + PercentEncode(filename, /*keep_slash=*/true) +
                                          (with_baseline ? "&with_baseline=true" : ""),
                                      spec_text, "application/yaml")));
  return JobFromJson(j);
}

StatusOr<std::vector<JobRecord>> Client::List(const std::optional<std::string>& state,
                                              int64_t limit) {
  std::string target = "/v1/jobs?limit=" + std::to_string(limit);
  if (state) target += "&state=" + PercentEncode(*state);
  ASSIGN_OR_RETURN(json j, ParseOk(Do("GET", target)));
  std::vector<JobRecord> out;
  if (!j.contains("jobs") || !j["jobs"].is_array()) return Internal("response has no 'jobs' list");
  for (const auto& e : j["jobs"]) {
    ASSIGN_OR_RETURN(JobRecord r, JobFromJson(e));
    out.push_back(std::move(r));
  }
  return out;
}

StatusOr<JobDetail> Client::Get(int64_t id) {
  ASSIGN_OR_RETURN(json j, ParseOk(Do("GET", "/v1/jobs/" + std::to_string(id))));
  JobDetail d;
  ASSIGN_OR_RETURN(d.job, JobFromJson(j));
  if (j.contains("events") && j["events"].is_array()) {
    for (const auto& e : j["events"]) {
      ASSIGN_OR_RETURN(JobEvent ev, EventFromJson(e));
      d.events.push_back(std::move(ev));
    }
  }
  if (j.contains("epochs") && j["epochs"].is_array()) {
    for (const auto& e : j["epochs"]) {
      ASSIGN_OR_RETURN(EpochRecord ep, EpochFromJson(e));
      d.epochs.push_back(std::move(ep));
    }
  }
  if (j.contains("savings")) d.savings = j["savings"];
  return d;
}

StatusOr<JobRecord> Client::Cancel(int64_t id) {
  ASSIGN_OR_RETURN(json j, ParseOk(Do("POST", "/v1/jobs/" + std::to_string(id) + "/cancel")));
  return JobFromJson(j);
}

StatusOr<json> Client::Health() { return ParseOk(Do("GET", "/v1/health")); }

StatusOr<json> Client::Compare(int64_t candidate, std::optional<int64_t> baseline) {
  std::string target = "/v1/compare?candidate=" + std::to_string(candidate);
  if (baseline) target += "&baseline=" + std::to_string(*baseline);
  return ParseOk(Do("GET", target));
}

namespace {
std::string ZoneQuery(const std::string& zone) { return zone.empty() ? "" : "?zone=" + PercentEncode(zone); }
}  // namespace

StatusOr<json> Client::Intensity(const std::string& zone) {
  return ParseOk(Do("GET", "/v1/intensity" + ZoneQuery(zone)));
}

StatusOr<json> Client::IntensityForecast(const std::string& zone, std::optional<Timestamp> at) {
  std::string q = ZoneQuery(zone);
  if (at) q += (q.empty() ? "?at=" : "&at=") + PercentEncode(FormatTime(*at));
  return ParseOk(Do("GET", "/v1/intensity/forecast" + q));
}

StatusOr<json> Client::IntensityHistory(const std::string& zone, Timestamp from, Timestamp to) {
  std::string q = ZoneQuery(zone);
  q += (q.empty() ? "?from=" : "&from=") + PercentEncode(FormatTime(from)) + "&to=" + PercentEncode(FormatTime(to));
  return ParseOk(Do("GET", "/v1/intensity/history" + q));
}

}  // namespace carbon::api
