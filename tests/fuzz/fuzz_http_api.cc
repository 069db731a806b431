// libFuzzer target: an HTTP request as carbond reads it (Boost.Beast's parser
// with carbond's header and body limits) and, when it parses, the API router
// over a real SQLite store and the scheduler (the worker is a test double, and
// no tick runs, so nothing is started). The input's length picks the peer:
// the unix socket as root, as uid 1000, or the TCP listener.
#include <stdlib.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/policy.h"
#include "daemon/http/api_router.h"
#include "daemon/http/event_hub.h"
#include "daemon/http/http_framing.h"
#include "daemon/http/http_server.h"
#include "daemon/core/scheduler.h"
#include "daemon/store/sqlite_job_store.h"
#include "tests/support/fakes.h"

namespace {

namespace http = boost::beast::http;

struct World {
  World() {
    char tmpl[] = "/dev/shm/carbond-fuzz-XXXXXX";
    char* dir = ::mkdtemp(tmpl);
    std::string base = dir ? dir : "/tmp";
    carbon::sql::OpenOptions o;
    o.synchronous_full = false;
    auto opened = carbon::SqliteJobStore::Open(base + "/fuzz.db", o);
    if (!opened.ok()) __builtin_trap();
    store = std::move(*opened);
    carbon::SchedulerOptions so(1, 3, base + "/runs");
    scheduler = std::make_unique<carbon::Scheduler>(*store, executor, policies, clock, so);
    executor.SetListener(scheduler.get());
    router = std::make_unique<carbon::ApiRouter>(*scheduler, *store, carbon::RouterInfo{"fuzz", base + "/fuzz.db"});
    router->set_events(&events);
  }
  carbon::fakes::FakeExecutor executor;
  carbon::PolicyRegistry policies;
  carbon::VirtualClock clock{carbon::Timestamp(std::chrono::hours(24 * 20000)), 1.0};
  std::unique_ptr<carbon::SqliteJobStore> store;
  std::unique_ptr<carbon::Scheduler> scheduler;
  carbon::EventHub events;
  std::unique_ptr<carbon::ApiRouter> router;
};

class NullSink : public carbon::api::StreamSink {
 public:
  bool Write(std::string) override { return true; }
  bool open() const override { return false; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World* world = new World();
  if (size == 0) return 0;
  const carbon::HttpServerOptions limits;
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
  parser.body_limit(limits.max_body_bytes);
  parser.eager(true);
  boost::beast::error_code ec;
  size_t used = 0;
  while (!ec && !parser.is_done() && used < size) {
    size_t n = parser.put(boost::asio::buffer(data + used, size - used), ec);
    if (n == 0 && !ec) break;
    used += n;
  }
  if (ec == http::error::need_more || (!ec && !parser.is_done())) {
    ec = {};
    parser.put_eof(ec);
  }
  if (ec || !parser.is_done()) return 0;  // the server answers 400/413/431 from ec
  auto& req = parser.get();
  // The server refuses (and closes) before the router sees such a request.
  if (carbon::CheckRequestFramingOf(req)) return 0;
  carbon::api::Request r;
  r.method = std::string(req.method_string());
  r.target = std::string(req.target());
  r.content_type = std::string(req[http::field::content_type]);
  r.body = req.body();
  r.last_event_id = std::string(req["Last-Event-ID"]);
  r.peer_uid = size % 3 == 1 ? 1000 : 0;
  r.via_tcp = size % 3 == 2;
  carbon::api::Response resp = world->router->Handle(r);
  if (resp.status < 100 || resp.status > 599) __builtin_trap();
  if (resp.stream) resp.stream(std::make_shared<NullSink>());
  return 0;
}
