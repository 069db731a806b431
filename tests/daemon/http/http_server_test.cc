// HttpServer (daemon/http/http_server.h): a request that arrived while carbond's
// loop was busy (a locked database blocks it for up to busy_timeout) is
// answered, not dropped by a read timeout that expired in the same turn.
#include "daemon/http/http_server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cstring>
#include <thread>

#include "tests/support/fakes.h"

namespace carbon {
namespace {

// Sends `req` and reads one response (up to its body's first bytes); "" when
// the server closed the connection instead.
std::string Exchange(int fd, const std::string& req) {
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) return "";
  char buf[4096];
  ssize_t n = ::read(fd, buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

TEST(HttpServer, ARequestThatArrivedWhileTheLoopWasBlockedIsAnswered) {
  fakes::TempDir dir;
  boost::asio::io_context io;
  HttpServerOptions o;
  o.socket_path = dir / "s.sock";
  o.read_timeout = std::chrono::milliseconds(150);
  HttpServer server(io, o, [](const api::Request&, HttpServer::Reply reply) {
    api::Response r;
    r.status = 200;
    r.body = "{}";
    reply(r);
  });
  ASSERT_TRUE(server.Listen().ok());
  auto guard = boost::asio::make_work_guard(io);
  std::thread loop([&io] { io.run(); });
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, o.socket_path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string get = "GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(Exchange(fd, get).substr(0, 12), "HTTP/1.1 200");
  int answered = 0;
  for (int i = 0; i < 12; ++i) {
    // The server waits for the next request on this connection (its read
    // timer armed). Its loop is then blocked past the timeout while the
    // request arrives: timer and read become ready in the same turn.
    boost::asio::post(io, [] { std::this_thread::sleep_for(std::chrono::milliseconds(400)); });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const std::string r = Exchange(fd, get);
    if (r.substr(0, 12) != "HTTP/1.1 200") break;
    ++answered;
  }
  EXPECT_EQ(answered, 12) << "a complete request was dropped by the read timeout";
  // A connection that sends nothing is still closed after the timeout.
  int idle = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(::connect(idle, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const auto t0 = std::chrono::steady_clock::now();
  char c;
  EXPECT_EQ(::read(idle, &c, 1), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  ::close(idle);
  ::close(fd);
  server.Stop();
  guard.reset();
  io.stop();
  loop.join();
}

}  // namespace
}  // namespace carbon
