#include "tests/support/fake_upstream.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdio>
#include <memory>
#include <stdexcept>

namespace carbon::fakes {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

void MakeSelfSignedCert(const std::string& cert_path, const std::string& key_path) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (!key) throw std::runtime_error("EVP_EC_gen failed");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"),
                             -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name,
                                            const_cast<char*>("DNS:localhost,IP:127.0.0.1"));
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
  X509_sign(x, key, EVP_sha256());
  FILE* f = std::fopen(cert_path.c_str(), "w");
  PEM_write_X509(f, x);
  std::fclose(f);
  f = std::fopen(key_path.c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  X509_free(x);
  EVP_PKEY_free(key);
}

struct FakeUpstream::Impl {
  asio::io_context io;
  ssl::context tls{ssl::context::tls_server};
  tcp::acceptor plain{io};
  tcp::acceptor secure{io};
  std::thread thread;
  mutable std::mutex mu;
  Handler handler;
  std::vector<UpstreamRequest> log;

  UpstreamReply Answer(const UpstreamRequest& r) {
    std::lock_guard<std::mutex> lock(mu);
    log.push_back(r);
    if (!handler) return UpstreamReply{404, "{}", {}, {}, UpstreamReply::Kind::kNormal};
    return handler(r);
  }

  template <typename Stream>
  static void Serve(Impl* self, std::shared_ptr<Stream> stream) {
    auto buffer = std::make_shared<beast::flat_buffer>();
    auto req = std::make_shared<http::request<http::string_body>>();
    http::async_read(*stream, *buffer, *req, [self, stream, buffer, req](beast::error_code ec, size_t) {
      if (ec) return;
      UpstreamRequest r;
      r.target = std::string(req->target());
      for (const auto& f : *req) {
        std::string n(f.name_string());
        for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        r.headers[n] = std::string(f.value());
      }
      UpstreamReply reply = self->Answer(r);
      auto timer = std::make_shared<asio::steady_timer>(self->io);
      timer->expires_after(reply.delay);
      timer->async_wait([self, stream, reply, timer](beast::error_code) {
        if (reply.kind == UpstreamReply::Kind::kHang) {
          // Hold the connection open, answer nothing.
          auto hold = std::make_shared<asio::steady_timer>(self->io);
          hold->expires_after(std::chrono::minutes(10));
          hold->async_wait([stream, hold](beast::error_code) {});
          return;
        }
        if (reply.kind == UpstreamReply::Kind::kClose) {
          beast::get_lowest_layer(*stream).close();
          return;
        }
        std::string head = "HTTP/1.1 " + std::to_string(reply.status) + " X\r\n";
        size_t length = reply.body.size() + (reply.kind == UpstreamReply::Kind::kTruncate ? 1000 : 0);
        head += "Content-Type: application/json\r\nContent-Length: " + std::to_string(length) + "\r\n";
        for (const auto& [k, v] : reply.headers) head += k + ": " + v + "\r\n";
        head += "Connection: close\r\n\r\n";
        auto out = std::make_shared<std::string>(head + reply.body);
        asio::async_write(*stream, asio::buffer(*out), [stream, out](beast::error_code, size_t) {
          beast::get_lowest_layer(*stream).close();
        });
      });
    });
  }

  void AcceptPlain() {
    plain.async_accept([this](beast::error_code ec, tcp::socket s) {
      if (ec) return;
      Serve(this, std::make_shared<beast::tcp_stream>(std::move(s)));
      AcceptPlain();
    });
  }
  void AcceptSecure() {
    secure.async_accept([this](beast::error_code ec, tcp::socket s) {
      if (ec) return;
      auto stream = std::make_shared<beast::ssl_stream<beast::tcp_stream>>(std::move(s), tls);
      stream->async_handshake(ssl::stream_base::server, [this, stream](beast::error_code hec) {
        if (!hec) Serve(this, stream);
      });
      AcceptSecure();
    });
  }
};

FakeUpstream::FakeUpstream(const std::string& dir)
    : cert_path_(dir + "/cert.pem"), key_path_(dir + "/key.pem"), impl_(std::make_unique<Impl>()) {
  MakeSelfSignedCert(cert_path_, key_path_);
  impl_->tls.use_certificate_chain_file(cert_path_);
  impl_->tls.use_private_key_file(key_path_, ssl::context::pem);
  for (tcp::acceptor* a : {&impl_->plain, &impl_->secure}) {
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    a->open(ep.protocol());
    a->set_option(asio::socket_base::reuse_address(true));
    a->bind(ep);
    a->listen();
  }
  impl_->AcceptPlain();
  impl_->AcceptSecure();
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

FakeUpstream::~FakeUpstream() {
  impl_->io.stop();
  impl_->thread.join();
}

void FakeUpstream::set_handler(Handler h) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->handler = std::move(h);
}

std::string FakeUpstream::http_url() const {
  return "http://127.0.0.1:" + std::to_string(impl_->plain.local_endpoint().port());
}
std::string FakeUpstream::https_url() const {
  // An IP literal: a fresh chroot may have no /etc/hosts entry for localhost.
  // The certificate names 127.0.0.1 too, and the client checks it.
  return "https://127.0.0.1:" + std::to_string(impl_->secure.local_endpoint().port());
}
std::vector<UpstreamRequest> FakeUpstream::requests() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->log;
}
size_t FakeUpstream::request_count() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->log.size();
}
void FakeUpstream::clear_requests() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->log.clear();
}

}  // namespace carbon::fakes
