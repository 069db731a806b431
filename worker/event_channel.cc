#include "worker/event_channel.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace carbon::worker {

EventChannel::EventChannel(int fd, const std::string& events_file) {
  if (fd >= 0) {
    fd_ = fd;
    socket_ = true;
  } else if (!events_file.empty()) {
    fd_ = ::open(events_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
    own_fd_ = fd_ >= 0;
    if (fd_ < 0) {
      std::fprintf(stderr, "carbon-worker: cannot open the events file %s: %s; continuing without it\n",
                   events_file.c_str(), std::strerror(errno));
      broken_ = true;
    }
  }
}

EventChannel::~EventChannel() {
  if (own_fd_) ::close(fd_);
}

void EventChannel::Send(const protocol::Event& event) {
  if (observer) observer(event);
  const std::string line = protocol::Encode(event);
  if (fd_ < 0 && !broken_) {
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fflush(stdout);
    return;
  }
  if (broken_) return;
  // One write per line: an O_APPEND file gets whole lines even if a reader
  // looks in between; a socket may take it in parts.
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = socket_ ? ::send(fd_, line.data() + off, line.size() - off, MSG_NOSIGNAL)
                        : ::write(fd_, line.data() + off, line.size() - off);
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
