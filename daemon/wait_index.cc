#include "daemon/wait_index.h"

#include <algorithm>

namespace carbon {

void WaitIndex::Detach(int64_t id, Entry& e) {
  switch (e.kind) {
    case Kind::kWoken:
      woken_.erase(id);
      break;
    case Kind::kDue:
      due_.erase(id);
      break;
    case Kind::kAt:
      at_.erase({e.at, id});
      break;
    case Kind::kSlot:
      if (auto s = slot_.find(e.site); s != slot_.end()) {
        s->second.erase(id);
        if (s->second.empty()) slot_.erase(s);
      }
      break;
    case Kind::kSleep:
      break;
  }
  e.kind = Kind::kSleep;
}

void WaitIndex::Wake(int64_t id) {
  Entry& e = Get(id);
  Detach(id, e);
  e.kind = Kind::kWoken;
  woken_.insert(id);
}

void WaitIndex::WakeAt(int64_t id, Timestamp t) {
  Entry& e = Get(id);
  Detach(id, e);
  e.kind = Kind::kAt;
  e.at = t;
  at_.insert({t, id});
}

void WaitIndex::Sleep(int64_t id) {
  Entry& e = Get(id);
  Detach(id, e);
}

void WaitIndex::WaitForSlot(int64_t id, const std::string& site) {
  Entry& e = Get(id);
  Detach(id, e);
  e.kind = Kind::kSlot;
  e.site = site;
  slot_[site].insert(id);
}

void WaitIndex::SetZones(int64_t id, const std::vector<std::string>& zones) {
  Entry& e = Get(id);
  for (const std::string& z : e.zones)
    if (auto it = by_zone_.find(z); it != by_zone_.end()) {
      it->second.erase(id);
      if (it->second.empty()) by_zone_.erase(it);
    }
  e.zones = zones;
  for (const std::string& z : e.zones) by_zone_[z].insert(id);
}

void WaitIndex::Remove(int64_t id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  SetZones(id, {});
  Detach(id, it->second);
  entries_.erase(id);
}

void WaitIndex::BeginTick() {
  for (int64_t id : woken_) entries_[id].kind = Kind::kDue;
  due_.insert(woken_.begin(), woken_.end());
  woken_.clear();
}

void WaitIndex::WakeZone(const std::string& zone) {
  auto it = by_zone_.find(zone);
  if (it == by_zone_.end()) return;
  for (int64_t id : it->second) {
    Entry& e = entries_[id];
    if (e.kind == Kind::kDue) continue;
    Detach(id, e);
    e.kind = Kind::kDue;
    due_.insert(id);
  }
}

void WaitIndex::WakeAll() {
  for (auto& [id, e] : entries_) {
    if (e.kind == Kind::kDue) continue;
    Detach(id, e);
    e.kind = Kind::kDue;
    due_.insert(id);
  }
}

std::vector<int64_t> WaitIndex::TakeDue(Timestamp now, size_t max) {
  std::vector<int64_t> out;
  while (out.size() < max && !due_.empty()) {
    const int64_t id = *due_.begin();
    due_.erase(due_.begin());
    entries_[id].kind = Kind::kSleep;
    out.push_back(id);
  }
  while (out.size() < max && !at_.empty() && at_.begin()->first <= now) {
    const int64_t id = at_.begin()->second;
    at_.erase(at_.begin());
    entries_[id].kind = Kind::kSleep;
    out.push_back(id);
  }
  return out;
}

bool WaitIndex::HasDue(Timestamp now) const {
  return !due_.empty() || (!at_.empty() && at_.begin()->first <= now);
}

std::vector<int64_t> WaitIndex::TakeSlotWaiters(const std::string& site, size_t max) {
  std::vector<int64_t> out;
  auto s = slot_.find(site);
  if (s == slot_.end()) return out;
  for (auto it = s->second.begin(); it != s->second.end() && out.size() < max;) {
    entries_[*it].kind = Kind::kSleep;
    out.push_back(*it);
    it = s->second.erase(it);
  }
  if (s->second.empty()) slot_.erase(s);
  return out;
}

size_t WaitIndex::SlotWaiterCount(const std::string& site) const {
  auto s = slot_.find(site);
  return s == slot_.end() ? 0 : s->second.size();
}

std::vector<std::string> WaitIndex::Zones() const {
  std::vector<std::string> out;
  for (const auto& [zone, ids] : by_zone_) out.push_back(zone);
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<Timestamp> WaitIndex::NextWake(Timestamp now) const {
  auto it = at_.lower_bound({now, INT64_MAX});
  if (it == at_.end()) return std::nullopt;
  return it->first;
}

}  // namespace carbon
