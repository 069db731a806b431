// EventChannel: the worker's side of the worker protocol
// (common/worker_protocol.h). Each event goes as one line to one transport:
// the socketpair end carbond gave (--event-fd), an append-only events file
// (--events-file, for a runner that is not the worker's parent), or stdout
// when run standalone. Write failures (carbond gone) are reported once and
// then ignored: the worker keeps its run directory up to date either way.
#pragma once

#include <functional>
#include <string>

#include "common/worker_protocol.h"

namespace carbon::worker {

class EventChannel {
 public:
  // fd >= 0: that socket; else a non-empty events_file: appended to; else stdout.
  explicit EventChannel(int fd, const std::string& events_file = {});
  ~EventChannel();
  EventChannel(const EventChannel&) = delete;
  EventChannel& operator=(const EventChannel&) = delete;

  void Send(const protocol::Event& event);
  // Sees every event sent (the standalone worker writes its emissions files
  // from the epochs).
  std::function<void(const protocol::Event&)> observer;

 private:
  int fd_ = -1;
  bool socket_ = false;
  bool own_fd_ = false;
  bool broken_ = false;
};

}  // namespace carbon::worker
