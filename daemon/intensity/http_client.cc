#include "daemon/intensity/http_client.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <random>
#include <algorithm>
#include <spdlog/spdlog.h>

#include "common/time_util.h"

namespace carbon {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

StatusOr<Url> ParseUrl(const std::string& url) {
  Url u;
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos)
    return InvalidArgument("'" + url + "' is not a URL; expected http://host/path or https://host/path");
  u.scheme = url.substr(0, scheme_end);
  if (u.scheme != "http" && u.scheme != "https")
    return InvalidArgument("'" + url + "': scheme '" + u.scheme + "' is not accepted; expected http or https");
  std::string rest = url.substr(scheme_end + 3);
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  u.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (authority.find('@') != std::string::npos)
    return InvalidArgument("'" + url + "': credentials in the URL are not accepted");
  auto colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']') == std::string::npos) {
    u.host = authority.substr(0, colon);
    u.port = authority.substr(colon + 1);
  } else {
    u.host = authority;
    u.port = u.scheme == "https" ? "443" : "80";
  }
  if (u.host.empty()) return InvalidArgument("'" + url + "': no host");
  for (char c : u.port)
    if (!std::isdigit(static_cast<unsigned char>(c)))
      return InvalidArgument("'" + url + "': port '" + u.port + "' is not a number");
  return u;
}

struct HttpClient::Impl {
  explicit Impl(const HttpClientOptions& o) : tls(ssl::context::tls_client) {
    tls.set_verify_mode(ssl::verify_peer);
    boost::system::error_code ec;
    if (!o.ca_file.empty()) {
      tls.load_verify_file(o.ca_file, ec);
      if (ec) spdlog::error("http: cannot load CA file {}: {}", o.ca_file, ec.message());
    } else {
      tls.set_default_verify_paths(ec);
      if (ec) spdlog::warn("http: no system CA store: {}", ec.message());
    }
  }
  ssl::context tls;
  std::mt19937_64 rng{std::random_device{}()};
};

namespace {

// One GET with its retries. Owns itself through shared_ptr while in flight.
class Operation : public std::enable_shared_from_this<Operation> {
 public:
  Operation(asio::io_context& io, HttpClientOptions o, std::shared_ptr<HttpClient::Impl> impl, Url url,
            std::string display, HttpClient::Headers headers, HttpClient::Callback done)
      : io_(io),
        o_(std::move(o)),
        impl_(std::move(impl)),
        url_(std::move(url)),
        display_(std::move(display)),
        headers_(std::move(headers)),
        done_(std::move(done)),
        resolver_(io),
        deadline_(io),
        backoff_(io) {}

  void Start() { Attempt(); }

 private:
  using TlsStream = beast::ssl_stream<beast::tcp_stream>;

  void Attempt() {
    ++attempts_;
    tls_ = std::make_unique<TlsStream>(io_, impl_->tls);
    parser_ = std::make_unique<http::response_parser<http::string_body>>();
    parser_->body_limit(o_.max_body_bytes);
    parser_->header_limit(64 * 1024);
    buffer_.clear();
    timed_out_ = false;
    deadline_.expires_after(o_.request_timeout);
    deadline_.async_wait([self = shared_from_this(), gen = attempts_](const boost::system::error_code& ec) {
      if (ec || gen != self->attempts_) return;
      self->timed_out_ = true;
      self->resolver_.cancel();
      beast::get_lowest_layer(*self->tls_).cancel();
      beast::get_lowest_layer(*self->tls_).close();
    });
    resolver_.async_resolve(url_.host, url_.port,
                            [self = shared_from_this()](const boost::system::error_code& ec,
                                                        tcp::resolver::results_type results) {
                              if (ec) return self->Fail("resolve " + self->url_.host, ec);
                              self->Connect(results);
                            });
  }

  void Connect(const tcp::resolver::results_type& results) {
    auto& tcp_stream = beast::get_lowest_layer(*tls_);
    tcp_stream.expires_after(o_.connect_timeout);
    tcp_stream.async_connect(results, [self = shared_from_this()](const boost::system::error_code& ec,
                                                                  const tcp::endpoint&) {
      if (ec) return self->Fail("connect", ec);
      beast::get_lowest_layer(*self->tls_).expires_never();  // the attempt's deadline rules now
      if (self->url_.scheme == "https")
        self->Handshake();
      else
        self->Send(beast::get_lowest_layer(*self->tls_));
    });
  }

  void Handshake() {
    // SNI carries host names only, never an IP literal (RFC 6066). This is
    // SSL_set_tlsext_host_name without its macro's C-style cast.
    boost::system::error_code not_ip;
    asio::ip::make_address(url_.host, not_ip);
    if (not_ip && !::SSL_ctrl(tls_->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                    const_cast<char*>(url_.host.c_str())))
      return Fail("TLS SNI", boost::system::error_code(static_cast<int>(::ERR_get_error()),
                                                       asio::error::get_ssl_category()));
    tls_->set_verify_callback(ssl::host_name_verification(url_.host));
    tls_->async_handshake(ssl::stream_base::client,
                          [self = shared_from_this()](const boost::system::error_code& ec) {
                            if (ec) {
                              self->tls_failed_ = true;
                              return self->Fail("TLS handshake", ec);
                            }
                            self->Send(*self->tls_);
                          });
  }

  template <typename Stream>
  void Send(Stream& stream) {
    req_ = {};
    req_.method(http::verb::get);
    req_.target(url_.target);
    req_.version(11);
    req_.set(http::field::host, url_.host);
    req_.set(http::field::user_agent, o_.user_agent);
    req_.set(http::field::accept, "application/json");
    req_.set(http::field::connection, "close");
    for (const auto& [k, v] : headers_) req_.set(k, v);
    http::async_write(stream, req_, [self = shared_from_this(), &stream](const boost::system::error_code& ec, size_t) {
      if (ec) return self->Fail("send", ec);
      http::async_read(stream, self->buffer_, *self->parser_,
                       [self](const boost::system::error_code& rec, size_t) {
                         if (rec) return self->Fail("read", rec);
                         self->Received();
                       });
    });
  }

  void Received() {
    deadline_.cancel();
    auto& res = parser_->get();
    int status = static_cast<int>(res.result_int());
    CloseQuietly();
    if (status >= 200 && status < 300) return Finish(HttpResponse{status, std::move(res.body()), attempts_});
    // The body may echo the request's headers (a token): never quote them.
    std::string snippet = res.body().substr(0, 4096);
    for (const auto& [name, value] : headers_)
      for (size_t at; !value.empty() && (at = snippet.find(value)) != std::string::npos;)
        snippet.replace(at, value.size(), "[" + name + "]");
    snippet.resize(std::min<size_t>(snippet.size(), 200));
    for (char& c : snippet)
      if (c == '\n' || c == '\r') c = ' ';
    std::string msg = "GET " + display_ + ": HTTP " + std::to_string(status) +
                      (snippet.empty() ? "" : " (" + snippet + ")");
    if (status == 429 || status >= 500) {
      std::optional<Duration> wait;
      if (status == 429) {
        auto ra = res[http::field::retry_after];
        if (!ra.empty()) {
          auto secs = ParseDuration(std::string(ra), /*allow_zero=*/true);
          if (secs.ok()) wait = *secs;
        }
        if (wait && *wait > o_.max_retry_after)
          return Finish(Unavailable(msg + "; Retry-After " + FormatDuration(*wait) +
                                    " is longer than max_retry_after " + FormatDuration(o_.max_retry_after)));
      }
      return Retry(Unavailable(msg), wait);
    }
    if (status == 401 || status == 403) return Finish(PermissionDenied(msg));
    if (status == 404) return Finish(NotFound(msg));
    return Finish(Unavailable(msg));
  }

  void Fail(const std::string& what, const boost::system::error_code& ec) {
    deadline_.cancel();
    CloseQuietly();
    if (timed_out_)
      return Retry(Unavailable("GET " + display_ + ": timed out after " + FormatDuration(o_.request_timeout) +
                               " (" + what + ")"),
                   std::nullopt);
    if (ec == beast::error::timeout)
      return Retry(Unavailable("GET " + display_ + ": " + what + " timed out after " +
                               FormatDuration(o_.connect_timeout)),
                   std::nullopt);
    if (ec == http::error::body_limit)
      return Finish(ResourceExhausted("GET " + display_ + ": response body is larger than " +
                                      std::to_string(o_.max_body_bytes) + " bytes"));
    std::string msg = "GET " + display_ + ": " + what + ": " + ec.message();
    if (tls_failed_) return Finish(Unavailable(msg));  // a bad certificate does not get better
    Retry(Unavailable(msg), std::nullopt);
  }

  void Retry(Status error, std::optional<Duration> wait) {
    if (attempts_ > o_.retries) return Finish(std::move(error));
    Duration delay;
    if (wait) {
      delay = *wait;
    } else {
      std::uniform_real_distribution<double> jitter(0.5, 1.5);
      double ms = static_cast<double>(o_.backoff.count()) * static_cast<double>(1 << (attempts_ - 1)) *
                  jitter(impl_->rng);
      delay = Duration(static_cast<int64_t>(ms));
    }
    spdlog::debug("{}; retry {} of {} in {}", error.message(), attempts_, o_.retries, FormatDuration(delay));
    backoff_.expires_after(delay);
    backoff_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->Attempt();
    });
  }

  void CloseQuietly() {
    boost::system::error_code ignored;
    beast::get_lowest_layer(*tls_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(*tls_).close();
  }

  void Finish(StatusOr<HttpResponse> result) {
    if (!done_) return;
    auto done = std::move(done_);
    done_ = nullptr;
    if (!result.ok()) {
      std::string m = result.status().message();
      if (attempts_ > 1) m += " (after " + std::to_string(attempts_) + " attempts)";
      result = Status(result.status().code(), m);
    }
    done(std::move(result));
  }

  asio::io_context& io_;
  HttpClientOptions o_;
  std::shared_ptr<HttpClient::Impl> impl_;
  Url url_;
  std::string display_;
  HttpClient::Headers headers_;
  HttpClient::Callback done_;
  tcp::resolver resolver_;
  asio::steady_timer deadline_;
  asio::steady_timer backoff_;
  std::unique_ptr<TlsStream> tls_;
  std::unique_ptr<http::response_parser<http::string_body>> parser_;
  http::request<http::empty_body> req_;
  beast::flat_buffer buffer_;
  int attempts_ = 0;
  bool timed_out_ = false;
  bool tls_failed_ = false;
};

}  // namespace

HttpClient::HttpClient(asio::io_context& io, HttpClientOptions options)
    : io_(io), options_(std::move(options)), impl_(std::make_shared<Impl>(options_)) {}

HttpClient::~HttpClient() = default;

void HttpClient::Get(const std::string& url, const Headers& headers, Callback done) {
  auto u = ParseUrl(url);
  if (!u.ok()) {
    asio::post(io_, [done = std::move(done), st = u.status()] { done(st); });
    return;
  }
  // Shown in errors and logs: the URL without its query (which may hold a zone
  // or postcode, never a secret, but keep lines short).
  std::string display = u->scheme + "://" + u->host +
                        (u->port == "443" || u->port == "80" ? "" : ":" + u->port) + u->target;
  auto op = std::make_shared<Operation>(io_, options_, impl_, std::move(*u), std::move(display), headers,
                                        std::move(done));
  op->Start();
}

}  // namespace carbon
