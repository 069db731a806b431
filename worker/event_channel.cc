#include "worker/event_channel.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <sys/socket.h>

namespace carbon::worker {

void EventChannel::Send(const std::string& event, nlohmann::json fields) {
  fields["event"] = event;
  std::string line = fields.dump() + "\n";
  if (fd_ < 0) {
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fflush(stdout);
    return;
  }
  if (broken_) return;
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::send(fd_, line.data() + off, line.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::fprintf(stderr, "carbon-worker: event channel closed; continuing without it\n");
      broken_ = true;
      return;
    }
    off += static_cast<size_t>(n);
  }
}

}  // namespace carbon::worker
