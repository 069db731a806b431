#include "daemon/http_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <spdlog/spdlog.h>

namespace carbon {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using local = asio::local::stream_protocol;

class HttpServer::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(local::socket sock, const HttpServerOptions& opts, const Handler& handler)
      : sock_(std::move(sock)), timer_(sock_.get_executor()), opts_(opts), handler_(handler) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(sock_.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
      uid_ = cred.uid;
      pid_ = cred.pid;
      have_cred_ = true;
    }
  }

  void Start() { Read(); }
  void Close() {
    boost::system::error_code ec;
    timer_.cancel();
    sock_.shutdown(local::socket::shutdown_both, ec);
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

 private:
  void Read() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(opts_.max_header_bytes));
    parser_->body_limit(opts_.max_body_bytes);
    timer_.expires_after(opts_.read_timeout);
    std::weak_ptr<Session> weak = shared_from_this();
    timer_.async_wait([weak](const boost::system::error_code& ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->Close();  // read timed out
    });
    http::async_read(sock_, buf_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    timer_.cancel();
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
    const unsigned version = req.version();
    const bool keep_alive = req.keep_alive();
    auto reply = [self = shared_from_this(), version, keep_alive](api::Response out) {
      self->Respond(version, keep_alive, std::move(out));
    };
    if (!have_cred_) {
      reply(api::ErrorResponse(PermissionDenied("cannot identify the peer (SO_PEERCRED failed)")));
    } else {
      handler_(r, reply);
    }
  }

  void Respond(unsigned version, bool keep_alive, api::Response out) {
    if (!sock_.is_open()) return;  // closed while the answer was pending
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
                      [self = shared_from_this(), keep_alive](beast::error_code ec, size_t) {
                        if (ec || !keep_alive) {
                          self->Close();
                          return;
                        }
                        self->Read();
                      });
  }

  local::socket sock_;
  asio::steady_timer timer_;
  beast::flat_buffer buf_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> res_;
  const HttpServerOptions& opts_;
  const Handler& handler_;
  uint32_t uid_ = 0;
  int32_t pid_ = 0;
  bool have_cred_ = false;
};

HttpServer::HttpServer(asio::io_context& io, HttpServerOptions options, Handler handler)
    : io_(io), options_(std::move(options)), handler_(std::move(handler)), acceptor_(io) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::set_limits(const HttpServerOptions& o) {
  std::string path = options_.socket_path;
  options_ = o;
  options_.socket_path = path;  // the socket itself does not move on reload
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
  listening_ = true;
  Accept();
  return Status();
}

size_t HttpServer::connections() const {
  size_t n = 0;
  for (auto& w : sessions_)
    if (!w.expired()) ++n;
  return n;
}

void HttpServer::Accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, local::socket sock) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      sessions_.remove_if([](const std::weak_ptr<Session>& w) { return w.expired(); });
      auto s = std::make_shared<Session>(std::move(sock), options_, handler_);
      if (sessions_.size() >= options_.max_connections) {
        s->Reject(503, api::ErrorBody(Unavailable(
                           "too many connections (api.max_connections = " +
                           std::to_string(options_.max_connections) + "); try again")));
      } else {
        sessions_.push_back(s);
        s->Start();
      }
    } else {
      spdlog::warn("accept failed: {}", ec.message());
    }
    Accept();
  });
}

void HttpServer::Stop() {
  if (!listening_) return;
  listening_ = false;
  boost::system::error_code ec;
  acceptor_.close(ec);
  for (auto& w : sessions_)
    if (auto s = w.lock()) s->Close();
  sessions_.clear();
  std::error_code fec;
  std::filesystem::remove(options_.socket_path, fec);
}

}  // namespace carbon
