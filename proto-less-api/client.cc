#include "proto-less-api/client.h"

#include "common/percent_encode.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdlib>
#include <filesystem>

#include <unistd.h>

#include "common/paths.h"
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
  const std::string system = "/run/carbond/carbond.sock";
  // The system socket when it is there and this user may use it; else the
  // user's own carbond's (personal mode), where one runs.
  if (::access(system.c_str(), R_OK | W_OK) == 0) return system;
  if (::geteuid() != 0) {
    auto personal = carbon::PersonalPlacesFor(::geteuid(), [](const char* n) { return std::getenv(n); });
    std::error_code ec;
    if (personal.ok() && std::filesystem::exists(personal->socket, ec)) return personal->socket;
  }
  return system;
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

Status Client::Follow(const std::string& target, const std::function<bool(const ServerEvent&)>& on_event,
                      double idle_timeout_s) {
  asio::io_context io;
  asio::local::stream_protocol::socket sock(io);
  boost::system::error_code ec;
  sock.connect(asio::local::stream_protocol::endpoint(socket_path_), ec);
  if (ec) return Unavailable("cannot connect to carbond at " + socket_path_ + ": " + ec.message());
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "carbond");
  req.set(http::field::user_agent, "carbonctl");
  req.set(http::field::accept, "text/event-stream");
  http::write(sock, req, ec);
  if (ec) return Unavailable("carbond closed the connection: " + ec.message());
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(boost::none);
  // Asynchronous reads, so that the idle timeout holds (a blocking read would
  // wait for ever); every piece that arrives restarts it.
  auto run_until = [&](const bool& done) {
    io.restart();  // a context that ran out of work stays stopped until restarted
    while (!done) {
      size_t ran = idle_timeout_s > 0 ? io.run_one_for(std::chrono::milliseconds(static_cast<int64_t>(idle_timeout_s * 1000))) : io.run_one();
      if (ran == 0 && !done) {
        boost::system::error_code ignored;
        sock.close(ignored);
        io.restart();
        io.run();
        return false;
      }
    }
    return true;
  };
  const std::string idle = "timed out: no event from carbond for " + std::to_string(idle_timeout_s) + " s";
  bool header_done = false;
  http::async_read_header(sock, buf, parser, [&](beast::error_code e, size_t) {
    ec = e;
    header_done = true;
  });
  if (!run_until(header_done)) return Unavailable(idle);
  if (ec) return Unavailable("no response from carbond: " + ec.message());
  if (parser.get().result_int() != 200) {
    http::read(sock, buf, parser, ec);
    return StatusFromResponse(static_cast<int>(parser.get().result_int()), parser.get().body());
  }
  // Server-Sent Events: "field: value" lines, an empty line ends an event.
  std::string pending;
  ServerEvent ev;
  bool stop = false;
  auto on_chunk = [&](std::uint64_t, beast::string_view body, beast::error_code& cec) -> std::size_t {
    pending.append(body.data(), body.size());
    size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) {
        if (!ev.data.empty() || !ev.type.empty()) {
          if (ev.type.empty()) ev.type = "message";
          if (!ev.data.empty() && ev.data.back() == '\n') ev.data.pop_back();
          if (!on_event(ev)) {
            stop = true;
            cec = http::error::end_of_chunk;  // any error ends the read
            return body.size();
          }
        }
        ev = ServerEvent{ev.id, "", ""};
        continue;
      }
      if (line[0] == ':') continue;  // a comment (keep-alive)
      size_t colon = line.find(':');
      std::string field = line.substr(0, colon), value = colon == std::string::npos ? "" : line.substr(colon + 1);
      if (!value.empty() && value[0] == ' ') value.erase(0, 1);
      if (field == "data") ev.data += value + "\n";
      else if (field == "event") ev.type = value;
      else if (field == "id") ev.id = value;
    }
    return body.size();
  };
  parser.on_chunk_body(on_chunk);
  bool body_done = false;
  http::async_read(sock, buf, parser, [&](beast::error_code e, size_t) {
    ec = e;
    body_done = true;
  });
  if (!run_until(body_done)) return stop ? Status() : Unavailable(idle);
  if (stop) return Status();
  return Unavailable("the event stream from carbond ended" + (ec ? ": " + ec.message() : std::string()));
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

StatusOr<std::string> Client::Emissions(int64_t id, const std::string& format, const std::string& rows) {
  ASSIGN_OR_RETURN(HttpResult r, Do("GET", "/v1/jobs/" + std::to_string(id) + "/emissions?format=" +
                                               PercentEncode(format) + "&rows=" + PercentEncode(rows)));
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
  ASSIGN_OR_RETURN(JobPage page, ListPage(state, limit, 0));
  return std::move(page.jobs);
}

StatusOr<Client::JobPage> Client::ListPage(const std::optional<std::string>& state, int64_t limit, int64_t after) {
  std::string target = "/v1/jobs?limit=" + std::to_string(limit);
  if (state) target += "&state=" + PercentEncode(*state);
  if (after > 0) target += "&after=" + std::to_string(after);
  ASSIGN_OR_RETURN(json j, ParseOk(Do("GET", target)));
  JobPage out;
  if (!j.contains("jobs") || !j["jobs"].is_array()) return Internal("response has no 'jobs' list");
  for (const auto& e : j["jobs"]) {
    ASSIGN_OR_RETURN(JobRecord r, JobFromJson(e));
    out.jobs.push_back(std::move(r));
  }
  if (j.contains("counts") && j["counts"].is_object())
    for (const auto& [state_name, n] : j["counts"].items())
      if (n.is_number_integer()) out.counts[state_name] = n.get<int64_t>();
  if (j.contains("next_after") && j["next_after"].is_number_integer()) out.next_after = j["next_after"].get<int64_t>();
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
