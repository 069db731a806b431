// HttpServer: HTTP/1.1 on a unix stream socket with Boost.Beast, one parser
// per request with header and body limits (431/413), a read timeout per
// request, keep-alive, and the peer's uid/pid from SO_PEERCRED.
//
// The socket file gets its mode before listen(), so no client can connect
// through a wider mode. A stale socket file (no server answers) is replaced;
// a live one is an error (another carbond runs). All on the io_context thread.
//
// Optionally also a TCP listener (api.tcp_listen, off by default): its
// requests carry via_tcp and no peer uid; the handler decides what it serves.
// A response with a `stream` stays open (chunked) for Server-Sent Events; a
// streamed client that falls more than max_stream_backlog bytes behind is
// dropped, so a stalled reader cannot grow carbond's memory.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <functional>
#include <list>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "proto-less-api/api.h"

namespace carbon {

struct HttpServerOptions {
  std::string socket_path;
  uint32_t socket_mode = 0660;
  size_t max_header_bytes = 8 * 1024;
  size_t max_body_bytes = 1024 * 1024;
  Duration read_timeout = std::chrono::seconds(10);
  size_t max_connections = 256;
  // "127.0.0.1:8080"; empty: no TCP listener. Port 0 picks a free one.
  std::string tcp_listen;
  size_t max_stream_backlog = 4 * 1024 * 1024;
};

class HttpServer {
 public:
  using Reply = std::function<void(api::Response)>;
  // Handles one request; calls the reply once, now or later, on the loop thread.
  using Handler = std::function<void(const api::Request&, Reply)>;
  HttpServer(boost::asio::io_context& io, HttpServerOptions options, Handler handler);
  ~HttpServer();

  Status Listen();
  // Stops accepting and closes every connection; removes the socket file.
  void Stop();
  size_t connections() const;
  void set_limits(const HttpServerOptions& o);
  // "127.0.0.1:PORT" of the TCP listener as bound; empty when off.
  std::string tcp_endpoint() const;

  class SessionBase;

 private:
  template <class Protocol>
  void Accept(typename Protocol::acceptor& acceptor);
  Status ListenTcp();

  boost::asio::io_context& io_;
  HttpServerOptions options_;
  Handler handler_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  boost::asio::ip::tcp::acceptor tcp_acceptor_;
  std::list<std::weak_ptr<SessionBase>> sessions_;
  bool listening_ = false;
};

}  // namespace carbon
