// Checkpoints: everything a run needs to continue exactly where it stopped:
// model (parameters and buffers), optimizer, loss scaler, RNG state, epochs
// done and steps done in the current epoch, best accuracy so far.
// Written atomically: a temp file, fsync, rename, fsync of the folder.
// Names: checkpoint-<epochs done>-<steps into the next epoch>.pt.
#pragma once

#include <torch/torch.h>

#include <optional>
#include <string>

#include "common/status.h"

namespace carbon::worker {

struct TrainState {
  int64_t epoch = 0;  // epochs completed
  int64_t step = 0;   // optimizer steps completed in epoch `epoch` (0 at a boundary)
  double best_accuracy = 0;
  torch::Tensor rng;     // CPU generator state
  torch::Tensor scaler;  // LossScaler::State()
  // Saved at a stop mid-epoch: the energy metered since the last epoch's end
  // (energy::CarriedEnergy::Pack), added to the resumed epoch's row.
  torch::Tensor carried_energy;
};

std::string CheckpointPath(const std::string& run_dir, int64_t epoch, int64_t step);

Status SaveCheckpoint(const std::string& path, torch::nn::Module& model,
                      torch::optim::Optimizer& optimizer, const TrainState& state);
Status LoadCheckpoint(const std::string& path, torch::nn::Module& model,
                      torch::optim::Optimizer& optimizer, const torch::Device& device,
                      TrainState* state);

// The newest checkpoint in run_dir (by epoch, then step), if any.
std::optional<std::string> NewestCheckpoint(const std::string& run_dir);
// Keeps the newest `keep` checkpoints.
void PruneCheckpoints(const std::string& run_dir, int64_t keep);

torch::Tensor CpuRngState();
void SetCpuRngState(const torch::Tensor& state);

}  // namespace carbon::worker
