// libFuzzer target: the grid-intensity providers' JSON parsers (UK Carbon
// Intensity API with actual and with forecast values, Electricity Maps), each
// on the same input.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/intensity_formats.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  (void)carbon::ParseUkIntensity(body, "uk", true);
  (void)carbon::ParseUkIntensity(body, "uk", false);
  (void)carbon::ParseElectricityMaps(body, "electricitymaps");
  return 0;
}
