// The weights in a worker checkpoint of the tests' MLP (hidden [64],
// dropout 0.2, 28x28 images, 10 classes), and how far two checkpoints'
// weights are apart: a resumed run must end where an uninterrupted one does.
// For test programs that link LibTorch (carbon_worker_lib).
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <string>
#include <vector>

#include "worker/checkpoint.h"
#include "worker/models.h"

namespace carbon::fakes {

inline std::vector<torch::Tensor> FinalWeights(const std::string& ckpt) {
  ModelSpec spec;
  spec.hidden = {64};
  spec.dropout = 0.2;
  auto m = *worker::BuildModel(spec, 1, 28, 28, 10);
  torch::optim::Adam opt(m->parameters());
  worker::TrainState st;
  EXPECT_TRUE(worker::LoadCheckpoint(ckpt, *m, opt, torch::kCPU, &st).ok()) << ckpt;
  return m->parameters();
}

inline double MaxWeightDiff(const std::string& a, const std::string& b) {
  auto wa = FinalWeights(a), wb = FinalWeights(b);
  if (wa.size() != wb.size()) return 1e9;
  double d = 0;
  for (size_t i = 0; i < wa.size(); ++i) d = std::max(d, (wa[i] - wb[i]).abs().max().item<double>());
  return d;
}

}  // namespace carbon::fakes
