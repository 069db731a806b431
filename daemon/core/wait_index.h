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
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
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
  // Every job of the zone is due now (its grid changed). O(1): the zone's
  // jobs are taken by TakeDue in turn, in slices (a forecast wakes 33,000
  // jobs at once); one placed again (Wake, WakeAt, Sleep, WaitForSlot,
  // SetZones) or taken before its turn is passed over, as is one due anyway.
  void WakeZone(const std::string& zone);
  // Every job is due now (a reload changed the defaults the policies use),
  // as for WakeZone; O(jobs) to copy their ids.
  void WakeAll();

  // Up to `max` due jobs, taken (asleep until placed again): those woken
  // first, by id, then those of woken zones, zone by zone and by id, then
  // those whose time came, by time and then id.
  std::vector<int64_t> TakeDue(Timestamp now, size_t max);
  // Whether TakeDue may return jobs; after a sweep's last job was taken
  // another way, true until a TakeDue has passed over what is left.
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
    uint64_t placed = 0;  // stamp_ when it was last placed, taken or given zones
  };
  // The jobs of a woken zone (or of every zone: `ids`), taken in id order
  // from `after` on: those not placed since the wake (`since`).
  struct Sweep {
    std::string zone;
    std::vector<int64_t> ids;  // WakeAll: every job then, sorted
    std::optional<int64_t> after;  // the last id looked at
    uint64_t since = 0;
  };
  // The next job id of the sweep after `after`, if any.
  std::optional<int64_t> Next(Sweep& sw) const;
  // A job handed out: asleep.
  void Taken(Entry& e) {
    e.kind = Kind::kSleep;
    e.placed = ++stamp_;
  }
  Entry& Get(int64_t id) { return entries_[id]; }
  // Takes it out of whatever it waited in; it is then asleep.
  void Detach(int64_t id, Entry& e);

  std::unordered_map<int64_t, Entry> entries_;
  std::set<int64_t> woken_;                        // due at the next tick
  std::set<int64_t> due_;                          // due now
  std::set<std::pair<Timestamp, int64_t>> at_;     // due at a time
  std::map<std::string, std::set<int64_t>> slot_;  // ready, by site
  std::unordered_map<std::string, std::set<int64_t>> by_zone_;
  std::deque<Sweep> sweeps_;  // oldest first
  uint64_t stamp_ = 0;
};

}  // namespace carbon
