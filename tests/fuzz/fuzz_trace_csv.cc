// libFuzzer target: the recorded-trace CSV parser (replayed by the trace source).
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/intensity_formats.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto series = carbon::ParseIntensityCsv(text, "trace");
  if (series.ok()) {
    for (size_t i = 1; i < series->size(); ++i)
      if ((*series)[i].time < (*series)[i - 1].time) __builtin_trap();  // promised: in time order
  }
  return 0;
}
