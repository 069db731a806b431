// The models a job can name: mlp, cnn (LeNet-like) and a small resnet. Sizes
// come from the spec. All are Sequential containers, so checkpoints name their
// parameters the same way whatever the architecture.
#pragma once

#include <torch/torch.h>

#include "common/job_spec.h"
#include "common/status.h"

namespace carbon::worker {

// Input: [N, channels, height, width]; output: logits [N, classes].
StatusOr<torch::nn::Sequential> BuildModel(const ModelSpec& spec, int64_t channels,
                                           int64_t height, int64_t width, int64_t classes);

}  // namespace carbon::worker
