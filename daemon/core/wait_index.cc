#include "daemon/core/wait_index.h"

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
  e.placed = ++stamp_;
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
  e.placed = ++stamp_;  // a zone it joins now was not woken for it
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
  if (by_zone_.count(zone)) sweeps_.push_back(Sweep{zone, {}, std::nullopt, stamp_});
}

void WaitIndex::WakeAll() {
  if (entries_.empty()) return;
  Sweep sw;
  sw.ids.reserve(entries_.size());
  for (const auto& [id, e] : entries_) sw.ids.push_back(id);
  std::sort(sw.ids.begin(), sw.ids.end());
  sw.since = stamp_;
  sweeps_.push_back(std::move(sw));
}

std::optional<int64_t> WaitIndex::Next(Sweep& sw) const {
  if (sw.zone.empty()) {
    auto it = sw.after ? std::upper_bound(sw.ids.begin(), sw.ids.end(), *sw.after) : sw.ids.begin();
    if (it == sw.ids.end()) return std::nullopt;
    return sw.after = *it;
  }
  auto z = by_zone_.find(sw.zone);
  if (z == by_zone_.end()) return std::nullopt;
  auto it = sw.after ? z->second.upper_bound(*sw.after) : z->second.begin();
  if (it == z->second.end()) return std::nullopt;
  return sw.after = *it;
}

std::vector<int64_t> WaitIndex::TakeDue(Timestamp now, size_t max) {
  std::vector<int64_t> out;
  while (out.size() < max && !due_.empty()) {
    const int64_t id = *due_.begin();
    due_.erase(due_.begin());
    Taken(entries_[id]);
    out.push_back(id);
  }
  // Sweeps, oldest first; a call passes over at most kLook jobs (those
  // placed since their zone woke), so none holds the loop up.
  constexpr size_t kLook = 4096;
  for (size_t looked = 0; out.size() < max && !sweeps_.empty() && looked < kLook; ++looked) {
    Sweep& sw = sweeps_.front();
    const std::optional<int64_t> id = Next(sw);
    if (!id) {
      sweeps_.pop_front();
      continue;
    }
    auto e = entries_.find(*id);
    if (e == entries_.end() || e->second.placed > sw.since || e->second.kind == Kind::kDue) continue;
    Detach(*id, e->second);
    out.push_back(*id);
  }
  if (out.size() < max && !sweeps_.empty()) return out;  // more to look at: the next call
  while (out.size() < max && !at_.empty() && at_.begin()->first <= now) {
    const int64_t id = at_.begin()->second;
    at_.erase(at_.begin());
    Taken(entries_[id]);
    out.push_back(id);
  }
  return out;
}

bool WaitIndex::HasDue(Timestamp now) const {
  return !due_.empty() || !sweeps_.empty() || (!at_.empty() && at_.begin()->first <= now);
}

std::vector<int64_t> WaitIndex::TakeSlotWaiters(const std::string& site, size_t max) {
  std::vector<int64_t> out;
  auto s = slot_.find(site);
  if (s == slot_.end()) return out;
  for (auto it = s->second.begin(); it != s->second.end() && out.size() < max;) {
    Taken(entries_[*it]);
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
