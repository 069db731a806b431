// HTTP/1.1 message framing rules for requests (RFC 9112 section 6), checked
// on the header before any body is read, so that a body the parser would not
// frame as the sender meant can never be served as a second request
// (request smuggling). Pure: no Beast, no sockets.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace carbon {

struct FramingError {
  int status;           // 400, or 501 for a transfer coding carbond does not implement
  std::string message;  // says what is accepted
};

// `version` is 10 or 11; `transfer_encodings` holds the value of every
// Transfer-Encoding field line (empty when there is none);
// `has_content_length` whether any Content-Length field line was sent.
// Empty when the framing is valid. Any error must close the connection after
// the answer: the rest of the bytes cannot be trusted as the next request.
std::optional<FramingError> CheckRequestFraming(unsigned version,
                                                const std::vector<std::string_view>& transfer_encodings,
                                                bool has_content_length);

// The same for a parsed request header: anything with version(),
// equal_range(name), find(name) and end(), as Boost.Beast's is (a template,
// so this header stays free of Beast).
template <class Header>
std::optional<FramingError> CheckRequestFramingOf(const Header& req) {
  std::vector<std::string_view> te;
  for (auto [it, end] = req.equal_range("Transfer-Encoding"); it != end; ++it) te.emplace_back(it->value());
  return CheckRequestFraming(req.version(), te, req.find("Content-Length") != req.end());
}

}  // namespace carbon
