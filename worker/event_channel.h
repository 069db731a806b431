// EventChannel: JSON lines from the worker to carbond over the inherited
// socketpair end (fd 3 by convention), or to stdout when run standalone.
// Write failures (carbond gone) are reported once and then ignored: the
// worker keeps its run directory up to date either way.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace carbon::worker {

class EventChannel {
 public:
  explicit EventChannel(int fd) : fd_(fd) {}  // fd < 0: write to stdout
  void Send(const std::string& event, nlohmann::json fields = nlohmann::json::object());

 private:
  int fd_;
  bool broken_ = false;
};

}  // namespace carbon::worker
