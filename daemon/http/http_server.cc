#include "daemon/http/http_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <array>
#include <cerrno>
#include <cstdio>
#include <deque>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string_view>
#include <type_traits>
#include <vector>
#include <spdlog/spdlog.h>

#include "common/config.h"
#include "daemon/http/http_framing.h"

namespace carbon {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using local = asio::local::stream_protocol;
using tcp = asio::ip::tcp;

class HttpServer::SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void Close() = 0;
};

namespace {

template <class Protocol>
class Session : public HttpServer::SessionBase, public std::enable_shared_from_this<Session<Protocol>> {
 public:
  using Socket = typename Protocol::socket;
  static constexpr bool kUnix = std::is_same_v<Protocol, local>;

  Session(Socket sock, const HttpServerOptions& opts, const HttpServer::Handler& handler)
      : sock_(std::move(sock)), timer_(sock_.get_executor()), opts_(opts), handler_(handler) {
    if constexpr (kUnix) {
      ucred cred{};
      socklen_t len = sizeof cred;
      if (::getsockopt(sock_.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
        uid_ = cred.uid;
        pid_ = cred.pid;
        have_cred_ = true;
      }
    }
  }

  void Start() { Read(); }
  void Close() override {
    boost::system::error_code ec;
    timer_.cancel();
    sock_.shutdown(Socket::shutdown_both, ec);
    sock_.close(ec);
  }
  void Reject(int status, const std::string& body) {
    res_.emplace();
    res_->version(11);
    res_->result(static_cast<http::status>(status));
    res_->set(http::field::content_type, "application/json");
    res_->set(http::field::server, "carbond");
    res_->keep_alive(false);
    res_->body() = body;
    res_->prepare_payload();
    Write(false);
  }

  // A streamed response: one HTTP/1.1 chunk per write.
  bool Push(const std::string& data) {
    if (!sock_.is_open()) return false;
    if (backlog_ + data.size() > opts_.max_stream_backlog) {
      spdlog::warn("dropping an event-stream client that is {} bytes behind (more than {})", backlog_,
                   opts_.max_stream_backlog);
      Close();
      return false;
    }
    if (data.empty()) return true;  // an empty chunk would end the stream
    char size[20];
    std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    Queue(std::string(size) + data + "\r\n");
    return true;
  }
  bool is_open() const { return sock_.is_open(); }

 private:
  class Sink : public api::StreamSink {
   public:
    explicit Sink(std::weak_ptr<Session> s) : s_(std::move(s)) {}
    bool Write(std::string data) override {
      auto s = s_.lock();
      return s && s->Push(data);
    }
    bool open() const override {
      auto s = s_.lock();
      return s && s->is_open();
    }

   private:
    std::weak_ptr<Session> s_;
  };

  void Read() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(opts_.max_header_bytes));
    parser_->body_limit(opts_.max_body_bytes);
    ++request_;
    ArmReadTimer(request_, header_seen_);
    http::async_read_header(sock_, buf_, *parser_, [self = this->shared_from_this()](beast::error_code ec, size_t) {
      self->OnHeader(ec);
    });
  }

  // The read timeout. Its expiry does not close at once: the close is posted,
  // so a read that completed in the same turn of the loop (the loop was busy,
  // say, with a locked database) is handled first and wins. A request whose
  // header arrived since the timer was armed gets one more period for its body.
  void ArmReadTimer(uint64_t request, uint64_t headers) {
    timer_.expires_after(opts_.read_timeout);
    std::weak_ptr<Session> weak = this->shared_from_this();
    timer_.async_wait([weak, request, headers](const boost::system::error_code& ec) {
      if (ec) return;
      auto self = weak.lock();
      if (!self) return;
      asio::post(self->sock_.get_executor(), [weak, request, headers] {
        auto s = weak.lock();
        if (!s || s->request_ != request || s->read_done_ == request) return;
        if (s->header_seen_ != headers) return s->ArmReadTimer(request, s->header_seen_);
        s->Close();  // read timed out
      });
    });
  }

  // The framing is checked before any body byte is read: bytes that the
  // parser would frame otherwise than the sender meant must not become the
  // next request (RFC 9112 6.3). Every framing error closes the connection.
  void OnHeader(beast::error_code ec) {
    if (ec) {
      OnRead(ec);
      return;
    }
    ++header_seen_;
    if (auto bad = CheckRequestFramingOf(parser_->get())) {
      timer_.cancel();
      Reject(bad->status, api::ErrorBody(bad->status == 501 ? Status(StatusCode::kUnimplemented, bad->message)
                                                            : InvalidArgument(bad->message)));
      return;
    }
    if (parser_->is_done()) {
      OnRead(ec);
      return;
    }
    http::async_read(sock_, buf_, *parser_,
                     [self = this->shared_from_this()](beast::error_code read_ec, size_t) { self->OnRead(read_ec); });
  }

  void OnRead(beast::error_code ec) {
    timer_.cancel();
    read_done_ = request_;
    if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::error::bad_descriptor) {
      Close();
      return;
    }
    if (ec == http::error::body_limit) {
      Reject(413, api::ErrorBody(ResourceExhausted(
                      "request body is larger than " + std::to_string(opts_.max_body_bytes) +
                      " bytes (api.max_body_bytes)")));
      return;
    }
    if (ec == http::error::header_limit) {
      Reject(431, api::ErrorBody(ResourceExhausted(
                      "request headers are larger than " + std::to_string(opts_.max_header_bytes) +
                      " bytes (api.max_header_bytes)")));
      return;
    }
    if (ec == http::error::bad_transfer_encoding) {
      // Beast refuses Transfer-Encoding with Content-Length, or split over
      // lines it cannot combine, before our own check (http_framing.h) runs.
      Reject(400, api::ErrorBody(InvalidArgument(
                      "malformed HTTP request: bad Transfer-Encoding (not with Content-Length; chunked must be "
                      "the final coding); send the body with Content-Length, or with Transfer-Encoding: chunked "
                      "alone")));
      return;
    }
    if (ec) {
      Reject(400, api::ErrorBody(InvalidArgument("malformed HTTP request: " + ec.message())));
      return;
    }
    auto& req = parser_->get();
    api::Request r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    r.content_type = std::string(req[http::field::content_type]);
    r.body = std::move(req.body());
    r.peer_uid = uid_;
    r.peer_pid = pid_;
    r.via_tcp = !kUnix;
    r.last_event_id = std::string(req["Last-Event-ID"]);
    const unsigned version = req.version();
    const bool keep_alive = req.keep_alive();
    auto reply = [self = this->shared_from_this(), version, keep_alive](api::Response out) {
      self->Respond(version, keep_alive, std::move(out));
    };
    if (kUnix && !have_cred_) {
      reply(api::ErrorResponse(PermissionDenied("cannot identify the peer (SO_PEERCRED failed)")));
    } else {
      handler_(r, reply);
    }
  }

  void Respond(unsigned version, bool keep_alive, api::Response out) {
    if (!sock_.is_open()) return;  // closed while the answer was pending
    if (out.stream) {
      StartStream(std::move(out));
      return;
    }
    res_.emplace();
    res_->version(version);
    res_->result(static_cast<http::status>(out.status));
    res_->set(http::field::content_type, out.content_type);
    res_->set(http::field::server, "carbond");
    res_->keep_alive(keep_alive);
    res_->body() = std::move(out.body);
    res_->prepare_payload();
    Write(keep_alive);
  }

  void Write(bool keep_alive) {
    http::async_write(sock_, *res_,
                      [self = this->shared_from_this(), keep_alive](beast::error_code ec, size_t) {
                        if (ec || !keep_alive) {
                          self->Close();
                          return;
                        }
                        self->Read();
                      });
  }

  void StartStream(api::Response out) {
    Queue("HTTP/1.1 " + std::to_string(out.status) + " OK\r\nContent-Type: " + out.content_type +
          "\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\nServer: carbond\r\n"
          "X-Accel-Buffering: no\r\n\r\n");
    if (!out.body.empty()) Push(out.body);
    // The client sends nothing more; a read that ends tells us it left.
    WatchClose();
    out.stream(std::make_shared<Sink>(this->shared_from_this()));
  }

  void WatchClose() {
    sock_.async_read_some(asio::buffer(scratch_),
                          [self = this->shared_from_this()](boost::system::error_code ec, size_t) {
                            if (ec) {
                              self->Close();
                              return;
                            }
                            self->WatchClose();
                          });
  }

  void Queue(std::string bytes) {
    backlog_ += bytes.size();
    out_.push_back(std::move(bytes));
    if (!writing_) Pump();
  }

  void Pump() {
    if (out_.empty() || !sock_.is_open()) {
      writing_ = false;
      return;
    }
    writing_ = true;
    asio::async_write(sock_, asio::buffer(out_.front()),
                      [self = this->shared_from_this()](boost::system::error_code ec, size_t n) {
                        self->backlog_ -= std::min(self->backlog_, n);
                        self->out_.pop_front();
                        if (ec) {
                          self->out_.clear();
                          self->backlog_ = 0;
                          self->writing_ = false;
                          self->Close();
                          return;
                        }
                        self->Pump();
                      });
  }

  Socket sock_;
  asio::steady_timer timer_;
  uint64_t request_ = 0;      // requests begun on this connection
  uint64_t read_done_ = 0;    // the last one read whole (or failed)
  uint64_t header_seen_ = 0;  // headers received, all requests together
  beast::flat_buffer buf_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> res_;
  const HttpServerOptions& opts_;
  const HttpServer::Handler& handler_;
  uint32_t uid_ = 0;
  int32_t pid_ = 0;
  bool have_cred_ = false;
  // Streaming
  bool writing_ = false;
  std::deque<std::string> out_;
  size_t backlog_ = 0;
  std::array<char, 512> scratch_{};
};

}  // namespace

HttpServer::HttpServer(asio::io_context& io, HttpServerOptions options, Handler handler)
    : io_(io), options_(std::move(options)), handler_(std::move(handler)), acceptor_(io), tcp_acceptor_(io) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::set_limits(const HttpServerOptions& o) {
  std::string path = options_.socket_path, tcp_listen = options_.tcp_listen;
  options_ = o;
  options_.socket_path = path;  // the sockets themselves do not move on reload
  options_.tcp_listen = tcp_listen;
}

Status HttpServer::Listen() {
  namespace fs = std::filesystem;
  const std::string& path = options_.socket_path;
  if (path.size() >= sizeof(sockaddr_un::sun_path))
    return InvalidArgument("socket path '" + path + "' is too long for a unix socket (max " +
                           std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes)");
  std::error_code fec;
  fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) fs::create_directories(parent, fec);
  if (fs::exists(path, fec)) {
    // Is a server alive behind it?
    local::socket probe(io_);
    boost::system::error_code ec;
    probe.connect(local::endpoint(path), ec);
    if (!ec)
      return FailedPrecondition("another server is listening on " + path +
                                "; is carbond already running? (carbonctl status, or systemctl "
                                "status carbond)");
    fs::remove(path, fec);
  }
  boost::system::error_code ec;
  acceptor_.open(local(), ec);
  if (!ec) acceptor_.bind(local::endpoint(path), ec);
  if (ec) return Unavailable("cannot bind " + path + ": " + ec.message());
  if (::chmod(path.c_str(), options_.socket_mode) != 0)
    return Unavailable("cannot chmod " + path + ": " + std::strerror(errno));
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Unavailable("cannot listen on " + path + ": " + ec.message());
  if (Status st = ListenTcp(); !st.ok()) return st;
  listening_ = true;
  Accept<local>(acceptor_);
  if (tcp_acceptor_.is_open()) Accept<tcp>(tcp_acceptor_);
  return Status();
}

Status HttpServer::ListenTcp() {
  if (options_.tcp_listen.empty()) return Status();
  const std::string& spec = options_.tcp_listen;
  auto parsed = ParseListenAddress(spec);
  if (!parsed.ok()) return InvalidArgument("api.tcp_listen " + parsed.status().message());
  boost::system::error_code ec;
  asio::ip::address addr = asio::ip::make_address(parsed->first, ec);
  if (ec) return InvalidArgument("api.tcp_listen '" + spec + "': " + ec.message());
  const long port = parsed->second;
  tcp::endpoint ep(addr, static_cast<unsigned short>(port));
  tcp_acceptor_.open(ep.protocol(), ec);
  if (!ec) tcp_acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) tcp_acceptor_.bind(ep, ec);
  if (!ec) tcp_acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    tcp_acceptor_.close();
    return Unavailable("cannot listen on " + spec + " (api.tcp_listen): " + ec.message());
  }
  return Status();
}

std::string HttpServer::tcp_endpoint() const {
  if (!tcp_acceptor_.is_open()) return "";
  boost::system::error_code ec;
  tcp::endpoint ep = tcp_acceptor_.local_endpoint(ec);
  if (ec) return "";
  std::string host = ep.address().to_string();
  if (ep.address().is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(ep.port());
}

size_t HttpServer::connections() const {
  size_t n = 0;
  for (auto& w : sessions_)
    if (!w.expired()) ++n;
  return n;
}

template <class Protocol>
void HttpServer::Accept(typename Protocol::acceptor& acceptor) {
  acceptor.async_accept([this, &acceptor](boost::system::error_code ec, typename Protocol::socket sock) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (!ec) {
      sessions_.remove_if([](const std::weak_ptr<SessionBase>& w) { return w.expired(); });
      auto s = std::make_shared<Session<Protocol>>(std::move(sock), options_, handler_);
      if (sessions_.size() >= options_.max_connections) {
        s->Reject(503, api::ErrorBody(Unavailable(
                           "too many connections (api.max_connections = " +
                           std::to_string(options_.max_connections) + "); try again")));
      } else {
        sessions_.push_back(s);
        s->Start();
      }
    } else {
      // Out of descriptors (EMFILE) and the like: retry shortly rather than spin.
      spdlog::warn("accept failed: {}; retrying in 100 ms", ec.message());
      auto retry = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(100));
      retry->async_wait([this, &acceptor, retry](const boost::system::error_code&) {
        if (acceptor.is_open()) Accept<Protocol>(acceptor);
      });
      return;
    }
    Accept<Protocol>(acceptor);
  });
}

void HttpServer::Stop() {
  if (!listening_) return;
  listening_ = false;
  boost::system::error_code ec;
  acceptor_.close(ec);
  tcp_acceptor_.close(ec);
  for (auto& w : sessions_)
    if (auto s = w.lock()) s->Close();
  sessions_.clear();
  std::error_code fec;
  std::filesystem::remove(options_.socket_path, fec);
}

}  // namespace carbon
