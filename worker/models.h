// The models a job can name: mlp and cnn (LeNet-like). Sizes come from the spec.
#pragma once

#include <torch/torch.h>

#include "common/job_spec.h"
#include "common/status.h"

namespace carbon::worker {

// Input: [N, channels, height, width]; output: logits [N, classes].
StatusOr<torch::nn::Sequential> BuildModel(const ModelSpec& spec, int64_t channels,
                                           int64_t height, int64_t width, int64_t classes);

}  // namespace carbon::worker
