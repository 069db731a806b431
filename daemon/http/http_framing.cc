#include "daemon/http/http_framing.h"

#include <cctype>

namespace carbon {
namespace {

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
  std::string out(s.substr(b, e - b));
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::optional<FramingError> CheckRequestFraming(unsigned version,
                                                const std::vector<std::string_view>& transfer_encodings,
                                                bool has_content_length) {
  if (transfer_encodings.empty()) return std::nullopt;
  const std::string accepted = "; send the body with Content-Length, or with Transfer-Encoding: chunked alone";
  // RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing.
  if (version < 11) return FramingError{400, "Transfer-Encoding is not allowed in an HTTP/1.0 request" + accepted};
  // 6.3 rule 3: both fields may be an attempt at smuggling; refuse and close.
  if (has_content_length)
    return FramingError{400, "a request must not have both Transfer-Encoding and Content-Length" + accepted};
  std::vector<std::string> codings;
  for (std::string_view line : transfer_encodings) {
    size_t start = 0;
    while (start <= line.size()) {
      size_t comma = line.find(',', start);
      std::string_view item = line.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
      // A coding's parameters (";q=...") do not change which coding it is.
      std::string name = Trim(item.substr(0, item.find(';')));
      if (!name.empty()) codings.push_back(std::move(name));
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
  }
  if (codings.empty()) return FramingError{400, "Transfer-Encoding is empty" + accepted};
  // 6.3 rule 4: a request whose final coding is not chunked has no
  // determinable length.
  if (codings.back() != "chunked")
    return FramingError{400, "Transfer-Encoding '" + codings.back() +
                                 "' is not chunked as its final coding, so the body's length is unknown" + accepted};
  for (size_t i = 0; i + 1 < codings.size(); ++i) {
    if (codings[i] == "chunked")
      return FramingError{400, "Transfer-Encoding applies chunked more than once" + accepted};
  }
  if (codings.size() > 1)
    return FramingError{501, "Transfer-Encoding '" + codings.front() + "' is not implemented" + accepted};
  return std::nullopt;
}

}  // namespace carbon
