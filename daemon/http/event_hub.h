// EventHub: carbond's event stream, GET /v1/events (Server-Sent Events).
//
// The daemon publishes what happens (a job's state change with its reason, a
// worker's progress and epochs, each new intensity reading and forecast); every
// subscriber whose filter matches gets it as
//   id: 42\nevent: job\ndata: {...}\n\n
// The last `keep` events stay in memory, so a client that reconnects with
// Last-Event-ID (EventSource does) misses nothing that is still kept.
// Loop thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "proto-less-api/api.h"

namespace carbon {

struct StreamEvent {
  uint64_t id = 0;
  std::string type;  // job | progress | epoch | intensity | forecast
  int64_t job_id = 0;  // 0: not about one job
  std::string data;    // one line of JSON
};

struct EventFilter {
  std::optional<int64_t> job_id;  // job, progress and epoch events of this job only
  std::set<std::string> types;    // empty: all
  bool Matches(const StreamEvent& e) const;
};

// The known event types, for the filter's error message.
extern const char* const kEventTypes[5];

// ?job=ID&types=job,epoch -> filter; an unknown type or a bad id is an error
// naming the parameter.
StatusOr<EventFilter> ParseEventFilter(const std::string& job, const std::string& types);

class EventHub {
 public:
  explicit EventHub(size_t keep = 2048) : keep_(keep) {}

  // Sends to every matching subscriber; returns the event's id.
  uint64_t Publish(const std::string& type, const nlohmann::json& data, int64_t job_id = 0);
  // Sends the kept events after `last_id` that match, then follows.
  void Subscribe(std::shared_ptr<api::StreamSink> sink, EventFilter filter, std::optional<uint64_t> last_id);
  // A comment to every subscriber, so dead peers are noticed; drops closed ones.
  void Heartbeat();
  size_t subscribers();
  uint64_t last_id() const { return next_id_ - 1; }

  static std::string Format(const StreamEvent& e);

 private:
  struct Subscriber {
    std::shared_ptr<api::StreamSink> sink;
    EventFilter filter;
  };
  void Prune();

  size_t keep_;
  uint64_t next_id_ = 1;
  std::deque<StreamEvent> kept_;
  std::vector<Subscriber> subs_;
};

}  // namespace carbon
