// Trainer: runs one job's training in the worker process: loads the data,
// builds the model, resumes from the newest checkpoint in the run directory,
// trains with gradient accumulation and mixed precision, evaluates, writes
// checkpoints and reports every epoch on the event channel and in
// <run_dir>/metrics.jsonl.
#pragma once

#include <torch/torch.h>

#include <atomic>
#include <exception>
#include <optional>
#include <string>

#include "common/job_spec.h"
#include "worker/energy_meters.h"
#include "worker/event_channel.h"
#include "worker/precision.h"

namespace carbon::worker {

// The exit codes of the worker protocol (common/worker_protocol.h).
constexpr int kExitOk = protocol::ExitCode(protocol::WorkerExit::kOk);
constexpr int kExitFailed = protocol::ExitCode(protocol::WorkerExit::kFailed);
constexpr int kExitRejected = protocol::ExitCode(protocol::WorkerExit::kRejected);
constexpr int kExitOutOfMemory = protocol::ExitCode(protocol::WorkerExit::kOutOfMemory);
constexpr int kExitInterrupted = protocol::ExitCode(protocol::WorkerExit::kInterrupted);

struct TrainOptions {
  bool progress_bar = false;  // draw a progress bar on stderr (standalone, on a terminal)
  energy::MeterOptions meter;  // energy and emissions per epoch (worker/energy_meters.h)
  // carbond's worker.data_roots: every data file must lie inside one; empty: no check.
  std::vector<std::string> data_roots;
};

// When `e` is an allocation failure (host memory: std::bad_alloc or
// LibTorch's CPU allocator; GPU memory: CUDA out of memory), what to tell the
// person who submitted the job; nullopt for any other error.
std::optional<std::string> OutOfMemoryMessage(const std::exception& e);

// Returns one of the exit codes above. `stop` is set from the SIGTERM handler:
// the worker finishes the optimizer step in progress, writes a checkpoint and
// exits with kExitInterrupted.
int RunTraining(const JobSpec& spec, const std::string& run_dir, EventChannel& events,
                const std::atomic<bool>& stop, const TrainOptions& options = {});

// One optimizer step's forward and backward passes: the samples `idx` of
// (images, labels) in micro-batches of `micro`, each micro-batch's mean loss
// weighted by its share of the batch (1/k for k equal micro-batches), so the
// accumulated gradients equal those of the whole batch at once. Gradients add
// to whatever the parameters hold. Returns the summed per-sample loss.
double AccumulateGradients(torch::nn::Module& model,
                           const std::function<torch::Tensor(const torch::Tensor&)>& forward,
                           const torch::Tensor& images, const torch::Tensor& labels,
                           const torch::Tensor& idx, int64_t micro, const torch::Device& device,
                           Precision precision, const LossScaler& scaler);

}  // namespace carbon::worker
