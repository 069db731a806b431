// NVML's total-energy counter against integrated power draw over the same
// interval, on every GPU together: two meters opened side by side, the power
// one sampled every PERIOD seconds (default 1) for SECONDS (default 60) while
// whatever runs on the GPU runs (bench/gpu-check.sh trains a CUDA job
// meanwhile). Prints both energies and their ratio; exits 2 without NVML.
//   usage: build/bench/nvml_compare [SECONDS] [PERIOD]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "worker/energy_meters.h"

int main(int argc, char** argv) {
  using carbon::energy::NvmlMeter;
  const double seconds = argc > 1 ? std::atof(argv[1]) : 60;
  const double period = argc > 2 ? std::atof(argv[2]) : 1;
  std::string why;
  auto counter = NvmlMeter::Open(&why);
  auto power = NvmlMeter::Open(&why);
  if (!counter || !power) {
    std::printf("%s\n", why.c_str());
    return 2;
  }
  power->UsePowerIntegration();
  double power_kwh = 0;
  std::string method;
  const auto start = std::chrono::steady_clock::now();
  (void)counter->DeltaKwh(0, &method);  // both start now
  auto last = start;
  while (std::chrono::duration<double>(last - start).count() < seconds) {
    std::this_thread::sleep_for(std::chrono::duration<double>(period));
    auto now = std::chrono::steady_clock::now();
    auto kwh = power->DeltaKwh(std::chrono::duration<double>(now - last).count(), nullptr);
    if (kwh.ok()) power_kwh += *kwh;
    last = now;
  }
  auto counted = counter->DeltaKwh(0, &method);
  if (!counted.ok() || method != "nvml") {
    std::printf("the energy counter is not supported on this GPU (method %s): nothing to compare\n", method.c_str());
    return 2;
  }
  const double elapsed = std::chrono::duration<double>(last - start).count();
  std::printf("%d GPU(s), %.1f s: energy counter %.6f kWh (%.1f W), integrated power every %g s %.6f kWh (%.1f W), "
              "ratio %.4f\n",
              counter->devices(), elapsed, *counted, *counted * 3.6e6 / elapsed, period, power_kwh,
              power_kwh * 3.6e6 / elapsed, power_kwh / *counted);
  return 0;
}
