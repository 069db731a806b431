#include "daemon/http/event_hub.h"

#include <algorithm>

namespace carbon {

const char* const kEventTypes[5] = {"job", "progress", "epoch", "intensity", "forecast"};

bool EventFilter::Matches(const StreamEvent& e) const {
  if (!types.empty() && !types.count(e.type)) return false;
  if (job_id && e.job_id != 0 && e.job_id != *job_id) return false;
  if (job_id && e.job_id == 0 && (e.type == "job" || e.type == "progress" || e.type == "epoch")) return false;
  return true;
}

StatusOr<EventFilter> ParseEventFilter(const std::string& job, const std::string& types) {
  EventFilter f;
  if (!job.empty()) {
    ASSIGN_OR_RETURN(int64_t id, api::ParseIntParam("job", job, 1, INT64_MAX));
    f.job_id = id;
  }
  size_t start = 0;
  while (!types.empty() && start <= types.size()) {
    size_t comma = types.find(',', start);
    std::string t = types.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    bool known = std::any_of(std::begin(kEventTypes), std::end(kEventTypes), [&](const char* k) { return t == k; });
    if (!known)
      return Status(StatusCode::kInvalidArgument,
                    "query parameter types: unknown event type '" + t +
                        "'; accepted: job, progress, epoch, intensity, forecast (comma-separated)",
                    "types");
    f.types.insert(t);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return f;
}

std::string EventHub::Format(const StreamEvent& e) {
  return "id: " + std::to_string(e.id) + "\nevent: " + e.type + "\ndata: " + e.data + "\n\n";
}

uint64_t EventHub::Publish(const std::string& type, const nlohmann::json& data, int64_t job_id) {
  StreamEvent e{next_id_++, type, job_id, api::JsonText(data)};
  const std::string text = Format(e);
  bool dead = false;
  for (auto& s : subs_)
    if (s.filter.Matches(e)) dead |= !s.sink->Write(text);
  kept_.push_back(std::move(e));
  while (kept_.size() > keep_) kept_.pop_front();
  if (dead) Prune();
  return next_id_ - 1;
}

void EventHub::Subscribe(std::shared_ptr<api::StreamSink> sink, EventFilter filter, std::optional<uint64_t> last_id) {
  if (last_id) {
    std::string replay;
    for (const auto& e : kept_)
      if (e.id > *last_id && filter.Matches(e)) replay += Format(e);
    if (!replay.empty() && !sink->Write(std::move(replay))) return;
  }
  subs_.push_back({std::move(sink), std::move(filter)});
}

void EventHub::Heartbeat() {
  for (auto& s : subs_) s.sink->Write(": keep-alive\n\n");
  Prune();
}

size_t EventHub::subscribers() {
  Prune();
  return subs_.size();
}

void EventHub::Prune() {
  subs_.erase(std::remove_if(subs_.begin(), subs_.end(), [](const Subscriber& s) { return !s.sink->open(); }),
              subs_.end());
}

}  // namespace carbon
