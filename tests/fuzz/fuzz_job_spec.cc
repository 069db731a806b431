// libFuzzer target: the job file parser (YAML or JSON text from a user).
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/job_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto spec = carbon::ParseJobSpec(text, "fuzz.yaml");
  if (spec.ok()) {
    (void)carbon::JobSignature(*spec);
    (void)carbon::BaselineTwinSpec(text, "fuzz.yaml");
  } else if (spec.status().message().empty()) {
    __builtin_trap();  // every refusal must say why
  }
  return 0;
}
