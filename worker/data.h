// Data sets loaded once into tensors: images float [N, C, H, W] scaled to
// [0, 1], labels int64 [N]. Batches are taken by shuffled index from these
// tensors (index_select), with no per-sample copies.
//   idx:     MNIST / Fashion-MNIST, {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
//   cifar10: the CIFAR-10 binary batches, data_batch_{1..5}.bin and test_batch.bin
//            (each record: 1 label byte, 3x32x32 pixel bytes)
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

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
// With `roots` (carbond's worker.data_roots) each file must resolve inside
// one of them, symlinks followed (common/paths.h); empty: no check.
StatusOr<Dataset> LoadIdx(const std::string& dir, bool train, int64_t limit,
                          const std::vector<std::string>& roots = {});
StatusOr<Dataset> LoadCifar10(const std::string& dir, bool train, int64_t limit,
                              const std::vector<std::string>& roots = {});
// Dispatches on format ("idx" | "cifar10").
StatusOr<Dataset> LoadDataset(const std::string& format, const std::string& dir, bool train,
                              int64_t limit, const std::vector<std::string>& roots = {});

}  // namespace carbon::worker
