// The IDX format of MNIST and Fashion-MNIST (raw or .gz), loaded once into
// tensors: images as float [N, 1, H, W] scaled to [0, 1], labels as int64 [N].
#pragma once

#include <torch/torch.h>

#include <string>

#include "common/status.h"

namespace carbon::worker {

struct Dataset {
  torch::Tensor images;  // float32 [N, 1, H, W]
  torch::Tensor labels;  // int64 [N]
  int64_t size() const { return labels.size(0); }
};

// Loads <dir>/{train|t10k}-images-idx3-ubyte[.gz] and the matching labels;
// `limit` > 0 keeps the first `limit` samples. Errors name the file and what
// was wrong (missing, truncated, bad magic number, count mismatch).
StatusOr<Dataset> LoadIdx(const std::string& dir, bool train, int64_t limit);

}  // namespace carbon::worker
