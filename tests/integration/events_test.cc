// GET /v1/events (Server-Sent Events), the optional TCP listener and
// `carbonctl watch`, against carbond as a real process with the fake worker.
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "daemon/store/db.h"
#include "proto-less-api/client.h"
#include "tests/support/daemon_process.h"

namespace carbon {
namespace {

using fakes::DaemonProcess;
using fakes::TempDir;
using fakes::WriteJob;
using nlohmann::json;

struct Seen {
  std::vector<api::ServerEvent> events;
  Status status;
};

// Follows `target` until `done` says so (or 20 s without an event).
Seen Follow(const std::string& socket, const std::string& target,
            const std::function<bool(const api::ServerEvent&)>& done) {
  Seen s;
  api::Client c(socket);
  s.status = c.Follow(
      target,
      [&](const api::ServerEvent& e) {
        s.events.push_back(e);
        return !done(e);
      },
      20);
  return s;
}

bool IsJobState(const api::ServerEvent& e, int64_t id, const std::string& state) {
  if (e.type != "job") return false;
  json j = json::parse(e.data);
  return j["id"] == id && j["state"] == state;
}

TEST(Events, StreamCarriesStatesAndEpochsInOrderAndResumesAfterLastEventId) {
  TempDir dir;
  DaemonProcess d(dir, FAKE_WORKER_BIN);
  ASSERT_TRUE(d.Start()) << d.Log();
  // Subscribed before the job exists; the stream is what tells us it ran.
  auto follower = std::async(std::launch::async, [&] {
    return Follow(d.socket(), "/v1/events?types=job,epoch,progress",
                  [](const api::ServerEvent& e) { return IsJobState(e, 1, "succeeded"); });
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_EQ(d.Ctl({"submit", WriteJob(dir, "streamed")}).exit_code, 0);
  Seen s = follower.get();
  ASSERT_TRUE(s.status.ok()) << s.status.ToString() << d.Log();

  ASSERT_FALSE(s.events.empty());
  EXPECT_EQ(s.events.front().type, "hello");
  std::vector<std::string> states;
  uint64_t prev = 0, first_job_event = 0;
  bool epoch_seen = false;
  for (const auto& e : s.events) {
    if (e.type == "hello") continue;
    ASSERT_FALSE(e.id.empty()) << e.type;
    uint64_t id = std::stoull(e.id);
    EXPECT_GT(id, prev) << "event ids increase";
    prev = id;
    json j = json::parse(e.data);
    if (e.type == "job") {
      if (!first_job_event) first_job_event = id;
      states.push_back(j["state"]);
      EXPECT_FALSE(j["reason"].get<std::string>().empty()) << e.data;
    }
    if (e.type == "epoch") {
      epoch_seen = true;
      EXPECT_EQ(j["job_id"], 1);
      EXPECT_EQ(j["epoch"], 1);
      EXPECT_TRUE(j.contains("train_loss") && j.contains("energy")) << e.data;
      EXPECT_EQ(states.back(), "running") << "the epoch comes while the job runs";
    }
    EXPECT_NE(e.type, "intensity") << "filtered out by types=";
  }
  EXPECT_TRUE(epoch_seen);
  ASSERT_GE(states.size(), 3u);
  EXPECT_EQ(states.front(), "waiting");
  EXPECT_EQ(states[states.size() - 2], "running");
  EXPECT_EQ(states.back(), "succeeded");

  // A client that reconnects after the first job event gets the rest again,
  // the same ids and bytes, then the stream goes on.
  std::vector<api::ServerEvent> expected;
  for (const auto& e : s.events)
    if (!e.id.empty() && std::stoull(e.id) > first_job_event) expected.push_back(e);
  Seen again = Follow(d.socket(), "/v1/events?types=job,epoch,progress&since=" + std::to_string(first_job_event),
                      [&](const api::ServerEvent& e) { return e.id == expected.back().id; });
  ASSERT_TRUE(again.status.ok()) << again.status.ToString();
  std::vector<api::ServerEvent> replayed;
  for (const auto& e : again.events)
    if (e.type != "hello") replayed.push_back(e);
  ASSERT_EQ(replayed.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(replayed[i].id, expected[i].id);
    EXPECT_EQ(replayed[i].data, expected[i].data);
  }

  // A job filter keeps other jobs' events out; job 2's come through.
  ASSERT_EQ(d.Ctl({"submit", WriteJob(dir, "other")}).exit_code, 0);
  Seen only2 = Follow(d.socket(), "/v1/events?types=job,epoch&job=2&since=0",
                      [](const api::ServerEvent& e) { return IsJobState(e, 2, "succeeded"); });
  ASSERT_TRUE(only2.status.ok()) << only2.status.ToString();
  int job2_events = 0;
  for (const auto& e : only2.events) {
    if (e.type == "hello") continue;
    json j = json::parse(e.data);
    EXPECT_EQ(e.type == "job" ? j["id"] : j["job_id"], 2) << e.type << " " << e.data;
    ++job2_events;
  }
  EXPECT_GE(job2_events, 4) << "waiting, running, an epoch, succeeded";

  // Bad parameters are refused with the parameter named.
  api::Client c(d.socket());
  Status bad = c.Follow("/v1/events?types=job,bogus", [](const api::ServerEvent&) { return false; }, 5);
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.field(), "types");
  EXPECT_NE(bad.message().find("accepted: job, progress, epoch, intensity, forecast"), std::string::npos);
  bad = c.Follow("/v1/events?job=x", [](const api::ServerEvent&) { return false; }, 5);
  EXPECT_EQ(bad.field(), "job");
  bad = c.Follow("/v1/events?since=-1", [](const api::ServerEvent&) { return false; }, 5);
  EXPECT_EQ(bad.field(), "since");
}

TEST(Events, ManyStreamsAndAClientThatLeavesDoNotDisturbTheApi) {
  TempDir dir;
  DaemonProcess d(dir, FAKE_WORKER_BIN);
  ASSERT_TRUE(d.Start()) << d.Log();
  // 20 followers; half of them hang up after the hello.
  std::vector<std::future<Seen>> followers;
  for (int i = 0; i < 20; ++i)
    followers.push_back(std::async(std::launch::async, [&, i] {
      return Follow(d.socket(), "/v1/events?types=job", [i](const api::ServerEvent& e) {
        return i % 2 == 1 || IsJobState(e, 1, "succeeded");
      });
    }));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_EQ(d.Ctl({"submit", WriteJob(dir, "broadcast")}).exit_code, 0);
  for (auto& f : followers) {
    Seen s = f.get();
    EXPECT_TRUE(s.status.ok()) << s.status.ToString();
  }
  EXPECT_EQ(d.Ctl({"health"}).exit_code, 0);
}

// One HTTP request over TCP.
struct TcpResult {
  int status = 0;
  std::string content_type, body;
};
TcpResult TcpRequest(const std::string& endpoint, const std::string& method, const std::string& target,
                     const std::string& body = "") {
  namespace asio = boost::asio;
  namespace http = boost::beast::http;
  asio::io_context io;
  asio::ip::tcp::socket sock(io);
  size_t colon = endpoint.rfind(':');
  asio::ip::tcp::endpoint ep(asio::ip::make_address(endpoint.substr(0, colon)),
                             static_cast<unsigned short>(std::stoi(endpoint.substr(colon + 1))));
  sock.connect(ep);
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, endpoint);
  if (!body.empty()) req.set(http::field::content_type, "application/yaml");
  req.body() = body;
  req.prepare_payload();
  http::write(sock, req);
  boost::beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(sock, buf, res);
  return {static_cast<int>(res.result_int()), std::string(res[http::field::content_type]), res.body()};
}

TEST(TcpListener, ServesDashboardMetricsAndReadsButNoChanges) {
  TempDir dir;
  DaemonProcess d(dir, FAKE_WORKER_BIN, "api: {tcp_listen: \"127.0.0.1:0\"}\n");
  ASSERT_TRUE(d.Start()) << d.Log();
  json h = json::parse(d.Ctl({"-o", "json", "health"}).out);
  ASSERT_TRUE(h["tcp"].is_string()) << h.dump();
  const std::string ep = h["tcp"];
  EXPECT_EQ(ep.rfind("127.0.0.1:", 0), 0u);
  ASSERT_EQ(d.Ctl({"submit", WriteJob(dir, "over-unix")}).exit_code, 0);

  TcpResult page = TcpRequest(ep, "GET", "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("new EventSource(\"/v1/events\""), std::string::npos);
  // Nothing fetched from elsewhere (the one URL is SVG's namespace name).
  for (const char* outside : {"src=", "<link", "@import", "https://", "//cdn"})
    EXPECT_EQ(page.body.find(outside), std::string::npos) << outside;
  TcpResult metrics = TcpRequest(ep, "GET", "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("carbond_jobs{state=\"succeeded\"}"), std::string::npos) << metrics.body;
  TcpResult jobs = TcpRequest(ep, "GET", "/v1/jobs");
  EXPECT_EQ(jobs.status, 200);
  EXPECT_NE(jobs.body.find("over-unix"), std::string::npos);
  TcpResult totals = TcpRequest(ep, "GET", "/v1/totals?days=3&weeks=2");
  ASSERT_EQ(totals.status, 200) << totals.body;
  json t = json::parse(totals.body);
  EXPECT_EQ(t["days"].size(), 3u);
  EXPECT_EQ(t["weeks"].size(), 2u);
  EXPECT_EQ(TcpRequest(ep, "GET", "/v1/totals?days=0").status, 400);

  // Nothing that changes state: the peer of a TCP connection is unknown.
  TcpResult submit = TcpRequest(ep, "POST", "/v1/jobs", "name: over-tcp\n");
  EXPECT_EQ(submit.status, 403);
  EXPECT_NE(submit.body.find("unix socket"), std::string::npos) << submit.body;
  TcpResult cancel = TcpRequest(ep, "POST", "/v1/jobs/1/cancel");
  EXPECT_EQ(cancel.status, 403);
  EXPECT_EQ(TcpRequest(ep, "DELETE", "/v1/jobs/1").status, 403);
  json list = json::parse(d.Ctl({"-o", "json", "list"}).out);
  if (list.is_object()) list = list["jobs"];
  ASSERT_EQ(list.size(), 1u) << list.dump();
  EXPECT_EQ(list[0]["name"], "over-unix");
  EXPECT_NE(list[0]["state"], "cancelled");
}

TEST(TcpListener, BadAddressIsAConfigErrorWithItsPosition) {
  TempDir dir;
  DaemonProcess d(dir, FAKE_WORKER_BIN, "api:\n  tcp_listen: \"localhost:8080\"\n");
  EXPECT_FALSE(d.Start());
  std::string log = d.Log();
  EXPECT_NE(log.find("api.tcp_listen"), std::string::npos) << log;
  EXPECT_NE(log.find("is not an IP address"), std::string::npos) << log;
  EXPECT_NE(log.find("carbond.yaml:"), std::string::npos) << log;
}

TEST(Watch, FollowsAJobToItsEndAndDrawsALiveView) {
  TempDir dir;
  DaemonProcess d(dir, FAKE_WORKER_BIN);
  ASSERT_TRUE(d.Start()) << d.Log();
  ASSERT_EQ(d.Ctl({"submit", WriteJob(dir, "watched", "")}).exit_code, 0);
  auto w = d.Ctl({"watch", "1", "--timeout", "60"});
  ASSERT_EQ(w.exit_code, 0) << w.out << w.err << d.Log();
  EXPECT_NE(w.out.find("EPOCH ATTEMPT TRAIN_LOSS"), std::string::npos) << w.out;
  EXPECT_NE(w.out.find("job 1 succeeded: worker finished on attempt 1"), std::string::npos) << w.out;
  EXPECT_EQ(w.out.find("\x1b["), std::string::npos) << "plain lines when not a terminal";

  // --live redraws: the progress bar, energy so far and the grid's intensity.
  ASSERT_EQ(d.Ctl({"submit", WriteJob(dir, "slow-watched")}).exit_code, 0);
  auto live = std::async(std::launch::async, [&] { return d.Ctl({"watch", "2", "--live", "--timeout", "60"}); });
  std::this_thread::sleep_for(std::chrono::seconds(2));
  ASSERT_EQ(d.Ctl({"cancel", "2"}).exit_code, 0);
  auto l = live.get();
  EXPECT_EQ(l.exit_code, 1) << "a cancelled job is not a success\n" << l.out << l.err;
  EXPECT_NE(l.out.find("\x1b["), std::string::npos) << l.out;
  EXPECT_NE(l.out.find("#2 slow-watched  running  ["), std::string::npos) << l.out;
  EXPECT_NE(l.out.find("grid GB: "), std::string::npos) << l.out;
  EXPECT_NE(l.out.find("job 2 cancelled"), std::string::npos) << l.out;

  // A job that is already over: its history, and at once.
  auto again = d.Ctl({"watch", "1"});
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_NE(again.out.find("job 1 succeeded"), std::string::npos);
  // Without an id: every job, until the timeout.
  auto all = d.Ctl({"watch", "--timeout", "1"});
  EXPECT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(d.Ctl({"watch", "99"}).exit_code, 1);
}

}  // namespace
}  // namespace carbon
