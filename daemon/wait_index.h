// WaitIndex: the scheduler's in-memory index of waiting jobs, by what wakes
// each one, so that a tick looks only at the jobs something happened to,
// never at the whole queue (100,000 waiting jobs cost nothing while nothing
// happens):
//   - a time: its planned start, not_before, max_wait or deadline (the
//     policy's planned_start), in time order;
//   - its zones' grid changing (a new reading or forecast): WakeZone;
//   - a free slot at its site, for a job ready to run: SlotWaiters, in id
//     (submission) order, so no later job overtakes it;
//   - anything else (submitted, requeued, a reload): Wake, due at the next tick.
// A job taken (TakeDue, TakeSlotWaiters) sleeps until it is placed again:
// the scheduler decides and says what wakes it next.
//
// Pure data structure, no I/O. Not thread-safe (the scheduler's thread).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/clock.h"

namespace carbon {

class WaitIndex {
 public:
  // Due at the next tick (BeginTick), not in the tick that calls it, so a
  // job that must be looked at again cannot loop within one tick.
  void Wake(int64_t id);
  // Due once the clock reaches `t`.
  void WakeAt(int64_t id, Timestamp t);
  // Until its zone changes or everything is woken.
  void Sleep(int64_t id);
  // Ready to run: waits for a free slot at `site` ("" for a job placed over
  // several sites: any site's free slot).
  void WaitForSlot(int64_t id, const std::string& site);
  // The zones whose grid the job's decision reads (each site's zone).
  void SetZones(int64_t id, const std::vector<std::string>& zones);
  // No longer waiting (released, cancelled, failed).
  void Remove(int64_t id);

  // At the start of a tick: the jobs woken since the last one become due.
  void BeginTick();
  // Every job of the zone is due now (its grid changed).
  void WakeZone(const std::string& zone);
  // Every job is due now (a reload changed the defaults the policies use).
  void WakeAll();

  // Up to `max` due jobs, taken (asleep until placed again): those woken
  // first, by id, then those whose time came, by time and then id.
  std::vector<int64_t> TakeDue(Timestamp now, size_t max);
  bool HasDue(Timestamp now) const;
  // Up to `max` jobs waiting for a slot at `site` (or at any site: ""), by id, taken.
  std::vector<int64_t> TakeSlotWaiters(const std::string& site, size_t max);
  size_t SlotWaiterCount(const std::string& site) const;

  // The zones jobs wait on.
  std::vector<std::string> Zones() const;
  // The earliest time after `now` a job waits for; empty when none does.
  std::optional<Timestamp> NextWake(Timestamp now) const;
  bool Contains(int64_t id) const { return entries_.count(id) > 0; }
  size_t size() const { return entries_.size(); }

 private:
  enum class Kind { kSleep, kWoken, kDue, kAt, kSlot };
  struct Entry {
    Kind kind = Kind::kSleep;
    Timestamp at{};
    std::string site;
    std::vector<std::string> zones;
  };
  Entry& Get(int64_t id) { return entries_[id]; }
  // Takes it out of whatever it waited in; it is then asleep.
  void Detach(int64_t id, Entry& e);

  std::unordered_map<int64_t, Entry> entries_;
  std::set<int64_t> woken_;                        // due at the next tick
  std::set<int64_t> due_;                          // due now
  std::set<std::pair<Timestamp, int64_t>> at_;     // due at a time
  std::map<std::string, std::set<int64_t>> slot_;  // ready, by site
  std::unordered_map<std::string, std::unordered_set<int64_t>> by_zone_;
};

}  // namespace carbon
