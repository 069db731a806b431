// What one energy sample costs on this machine: EnergyTracker::Sample on the
// real /proc and /sys/class/powercap (RAPL where readable, else the TDP model
// reading /proc/stat), and GridFeed::Current on an unchanged grid.json, each
// timed over many calls; 7 rounds, medians. The overhead of tracking is that
// cost divided by measure_power_secs.
//   usage: build/bench/energy_sample_cost [calls per round, default 20000]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "worker/energy_meters.h"

int main(int argc, char** argv) {
  using namespace carbon;
  const int calls = argc > 1 ? std::atoi(argv[1]) : 20000;
  energy::TrackerOptions o;
  o.try_nvml = true;
  energy::EnergyTracker tracker(o);
  for (const auto& n : tracker.notes()) std::printf("note: %s\n", n.c_str());
  const std::string dir = std::filesystem::temp_directory_path() / "carbond-sample-cost";
  std::filesystem::create_directories(dir);
  const std::string grid = dir + "/grid.json";
  std::ofstream(grid) << R"({"zone":"GB","gco2_per_kwh":212.5,"source":"uk"})";
  energy::GridFeed feed(grid, std::nullopt);
  std::vector<double> sample_us, feed_us;
  std::string method;
  for (int round = 0; round < 7; ++round) {
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < calls; ++i) method = tracker.Sample(15).cpu_method;
    auto t1 = std::chrono::steady_clock::now();
    for (int i = 0; i < calls; ++i) (void)feed.Current();
    auto t2 = std::chrono::steady_clock::now();
    sample_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count() / calls);
    feed_us.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count() / calls);
  }
  std::filesystem::remove_all(dir);
  const double per_sample = bench::Median(sample_us) + bench::Median(feed_us);
  std::printf("cpu method %s; %d calls x 7 rounds, medians\n", method.c_str(), calls);
  std::printf("EnergyTracker::Sample %.2f us, GridFeed::Current %.2f us\n", bench::Median(sample_us),
              bench::Median(feed_us));
  for (double secs : {15.0, 1.0})
    std::printf("one sample every %g s: %.2e of the time (%.5f %%)\n", secs, per_sample * 1e-6 / secs,
                per_sample * 1e-4 / secs);
  return 0;
}
