// libFuzzer target: the worker protocol's decoder (common/worker_protocol.h)
// on any bytes, whole and split in two at a point the input chooses. Both
// must decode the same lines the same way, and every event that decodes must
// come back unchanged through the encoder and the decoder again.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/worker_protocol.h"

namespace {

std::vector<std::string> DecodeAll(const std::string& bytes, size_t split) {
  std::vector<std::string> out;
  carbon::protocol::EventStreamDecoder d;
  auto sink = [&out](carbon::StatusOr<carbon::protocol::Event> e, std::string_view) {
    if (!e.ok()) {
      out.push_back("error " + e.status().message());
      return;
    }
    const std::string once = carbon::protocol::Encode(*e);
    auto again = carbon::protocol::Decode(std::string_view(once).substr(0, once.size() - 1));
    if (!again.ok() || carbon::protocol::Encode(*again) != once) std::abort();  // the encoder and decoder disagree
    out.push_back(once);
  };
  d.Feed(std::string_view(bytes).substr(0, split), sink);
  d.Feed(std::string_view(bytes).substr(split), sink);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const size_t split = size == 0 ? 0 : data[0] % (size + 1);
  if (DecodeAll(bytes, 0) != DecodeAll(bytes, split)) std::abort();  // the pieces changed the result
  return 0;
}
