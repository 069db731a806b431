// WaitIndex: what wakes each waiting job, and in which order jobs come due;
// a property test against a brute-force model on random small queues.
#include "daemon/core/wait_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "common/time_util.h"

namespace carbon {
namespace {

using std::chrono::minutes;

const Timestamp kT0 = *ParseTime("2026-12-07T12:00:00Z");

TEST(WaitIndex, AWokenJobIsDueAtTheNextTickNotDuringThisOne) {
  WaitIndex w;
  w.Wake(3);
  EXPECT_FALSE(w.HasDue(kT0));
  EXPECT_TRUE(w.TakeDue(kT0, 10).empty());
  w.BeginTick();
  EXPECT_TRUE(w.HasDue(kT0));
  EXPECT_EQ(w.TakeDue(kT0, 10), std::vector<int64_t>{3});
  // Taken: asleep until placed again.
  EXPECT_TRUE(w.Contains(3));
  EXPECT_FALSE(w.HasDue(kT0 + minutes(1000)));
}

TEST(WaitIndex, JobsComeDueWhenTheirTimeComesInTimeOrder) {
  WaitIndex w;
  w.WakeAt(1, kT0 + minutes(30));
  w.WakeAt(2, kT0 + minutes(10));
  w.WakeAt(3, kT0 + minutes(10));
  w.WakeAt(4, kT0 + minutes(60));
  EXPECT_EQ(w.NextWake(kT0), kT0 + minutes(10));
  EXPECT_TRUE(w.TakeDue(kT0 + minutes(9), 10).empty());
  EXPECT_EQ(w.TakeDue(kT0 + minutes(30), 10), (std::vector<int64_t>{2, 3, 1}));
  EXPECT_EQ(w.NextWake(kT0 + minutes(30)), kT0 + minutes(60));
  EXPECT_EQ(w.TakeDue(kT0 + minutes(90), 10), std::vector<int64_t>{4});
  EXPECT_FALSE(w.NextWake(kT0).has_value());
}

TEST(WaitIndex, AZoneChangeWakesThatZonesJobsOnly) {
  WaitIndex w;
  w.WakeAt(1, kT0 + minutes(600));
  w.SetZones(1, {"GB"});
  w.WakeAt(2, kT0 + minutes(600));
  w.SetZones(2, {"FR", "GB"});
  w.Sleep(3);
  w.SetZones(3, {"FR"});
  EXPECT_EQ(w.Zones(), (std::vector<std::string>{"FR", "GB"}));
  w.WakeZone("GB");
  EXPECT_EQ(w.TakeDue(kT0, 10), (std::vector<int64_t>{1, 2}));
  w.WakeZone("DE");
  EXPECT_TRUE(w.TakeDue(kT0, 10).empty());
  w.SetZones(3, {"DE"});
  w.WakeZone("FR");  // job 2 only: job 3 moved to DE
  EXPECT_EQ(w.TakeDue(kT0, 10), std::vector<int64_t>{2});
}

TEST(WaitIndex, SlotWaitersAreTakenPerSiteInSubmissionOrder) {
  WaitIndex w;
  w.WaitForSlot(9, "local");
  w.WaitForSlot(4, "local");
  w.WaitForSlot(5, "cluster");
  w.WaitForSlot(7, "");
  EXPECT_EQ(w.SlotWaiterCount("local"), 2u);
  EXPECT_FALSE(w.HasDue(kT0));  // a slot wakes them, not the clock
  EXPECT_EQ(w.TakeSlotWaiters("local", 1), std::vector<int64_t>{4});
  EXPECT_EQ(w.TakeSlotWaiters("local", 5), std::vector<int64_t>{9});
  EXPECT_EQ(w.TakeSlotWaiters("", 5), std::vector<int64_t>{7});
  EXPECT_EQ(w.SlotWaiterCount("cluster"), 1u);
  w.Remove(5);
  EXPECT_EQ(w.SlotWaiterCount("cluster"), 0u);
  EXPECT_FALSE(w.Contains(5));
}

TEST(WaitIndex, WakeAllMakesEveryJobDueOnce) {
  WaitIndex w;
  w.WakeAt(1, kT0 + minutes(5));
  w.WaitForSlot(2, "local");
  w.Sleep(3);
  w.Wake(4);
  w.WakeAll();
  EXPECT_EQ(w.TakeDue(kT0, 10), (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(w.SlotWaiterCount("local"), 0u);
  w.BeginTick();
  EXPECT_TRUE(w.TakeDue(kT0 + minutes(10), 10).empty());
}

// The model: each job's state as plain data, and what must come due. A
// woken zone (or every job) is a wake: its jobs not placed since come due,
// wake by wake, by id.
struct Model {
  enum Kind { kSleep, kWoken, kDue, kAt, kSlot };
  struct Job {
    Kind kind = kSleep;
    Timestamp at{};
    std::string site;
    std::set<std::string> zones;
    int placed = 0;  // when it was last placed, taken or given zones
  };
  struct Wake {
    std::optional<std::string> zone;  // none: every job then
    std::set<int64_t> ids;
    int since = 0;
  };
  std::map<int64_t, Job> jobs;
  std::vector<Wake> wakes;
  int stamp = 0;
  void Place(int64_t id, Kind k) {
    jobs[id].kind = k;
    jobs[id].placed = ++stamp;
  }
  void SetZones(int64_t id, std::set<std::string> z) {
    jobs[id].zones = std::move(z);
    jobs[id].placed = ++stamp;
  }
  bool Swept(int64_t id, const Job& j) const {
    for (const Wake& w : wakes)
      if ((w.zone ? j.zones.count(*w.zone) > 0 : w.ids.count(id) > 0) && j.placed <= w.since && j.kind != kDue)
        return true;
    return false;
  }
  bool Due(Timestamp now) const {
    for (const auto& [id, j] : jobs)
      if (j.kind == kDue || (j.kind == kAt && j.at <= now) || Swept(id, j)) return true;
    return false;
  }
  std::vector<int64_t> TakeDue(Timestamp now, size_t max) {
    std::vector<int64_t> out;
    for (auto& [id, j] : jobs)
      if (j.kind == kDue && out.size() < max) out.push_back(id), Place(id, kSleep);
    for (const Wake& w : wakes)
      for (auto& [id, j] : jobs)
        if (out.size() < max && (w.zone ? j.zones.count(*w.zone) > 0 : w.ids.count(id) > 0) &&
            j.placed <= w.since && j.kind != kDue)
          out.push_back(id), Place(id, kSleep);
    std::vector<std::pair<Timestamp, int64_t>> timed;
    for (auto& [id, j] : jobs)
      if (j.kind == kAt && j.at <= now) timed.push_back({j.at, id});
    std::sort(timed.begin(), timed.end());
    for (auto& [t, id] : timed)
      if (out.size() < max) out.push_back(id), Place(id, kSleep);
    return out;
  }
};

TEST(WaitIndex, MatchesABruteForceModelOnRandomOperations) {
  const std::vector<std::string> zones = {"GB", "FR", "DE"}, sites = {"", "local", "cluster"};
  for (unsigned seed = 1; seed <= 200; ++seed) {
    std::mt19937 rng(seed);
    auto pick = [&rng](size_t n) { return static_cast<size_t>(rng() % n); };
    WaitIndex w;
    Model m;
    Timestamp now = kT0;
    for (int step = 0; step < 300; ++step) {
      const int64_t id = static_cast<int64_t>(pick(12));
      switch (pick(12)) {
        case 0:
          w.Wake(id);
          m.Place(id, Model::kWoken);
          break;
        case 1: {
          const Timestamp t = now + minutes(static_cast<int>(pick(40)) - 5);
          w.WakeAt(id, t);
          m.Place(id, Model::kAt);
          m.jobs[id].at = t;
          break;
        }
        case 2:
          w.Sleep(id);
          m.Place(id, Model::kSleep);
          break;
        case 3: {
          const std::string& s = sites[pick(sites.size())];
          w.WaitForSlot(id, s);
          m.Place(id, Model::kSlot);
          m.jobs[id].site = s;
          break;
        }
        case 4: {
          std::vector<std::string> z;
          for (const std::string& name : zones)
            if (pick(2)) z.push_back(name);
          w.SetZones(id, z);
          m.SetZones(id, std::set<std::string>(z.begin(), z.end()));
          break;
        }
        case 5:
          w.Remove(id);
          m.jobs.erase(id);
          break;
        case 6:
          w.BeginTick();
          for (auto& [i, j] : m.jobs)
            if (j.kind == Model::kWoken) j.kind = Model::kDue;
          break;
        case 7: {
          const std::string& z = zones[pick(zones.size())];
          w.WakeZone(z);
          m.wakes.push_back({z, {}, m.stamp});
          break;
        }
        case 8: {
          const size_t max = 1 + pick(4);
          ASSERT_EQ(w.TakeDue(now, max), m.TakeDue(now, max)) << "seed " << seed << " step " << step;
          break;
        }
        case 9: {
          const std::string& s = sites[pick(sites.size())];
          const size_t max = 1 + pick(3);
          std::vector<int64_t> want;
          for (auto& [i, j] : m.jobs)
            if (j.kind == Model::kSlot && j.site == s && want.size() < max) want.push_back(i);
          for (int64_t i : want) m.Place(i, Model::kSleep);
          ASSERT_EQ(w.TakeSlotWaiters(s, max), want) << "seed " << seed << " step " << step;
          break;
        }
        case 10:
          w.WakeAll();
          m.wakes.push_back({std::nullopt, {}, m.stamp});
          for (auto& [i, j] : m.jobs) m.wakes.back().ids.insert(i);
          break;
        default:
          now += minutes(static_cast<int>(pick(10)));
          break;
      }
      // Invariants after every step.
      ASSERT_EQ(w.size(), m.jobs.size()) << "seed " << seed << " step " << step;
      std::optional<Timestamp> next;
      for (auto& [i, j] : m.jobs)
        if (j.kind == Model::kAt && j.at > now && (!next || j.at < *next)) next = j.at;
      // HasDue may stay true after a wake's last job was taken another way,
      // until a TakeDue has passed over the rest.
      if (m.Due(now)) {
        ASSERT_TRUE(w.HasDue(now)) << "seed " << seed << " step " << step;
      } else if (w.HasDue(now)) {
        ASSERT_TRUE(w.TakeDue(now, 100).empty()) << "seed " << seed << " step " << step;
        ASSERT_FALSE(w.HasDue(now)) << "seed " << seed << " step " << step;
      }
      ASSERT_EQ(w.NextWake(now), next) << "seed " << seed << " step " << step;
    }
  }
}

}  // namespace
}  // namespace carbon
