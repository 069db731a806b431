#include "worker/trainer.h"

#include "worker/energy_meters.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <new>
#include <thread>

#include "worker/checkpoint.h"
#include "worker/data.h"
#include "worker/models.h"
#include "worker/system_info.h"

namespace carbon::worker {

namespace {

int Reject(EventChannel& events, const std::string& msg) {
  std::fprintf(stderr, "carbon-worker: %s\n", msg.c_str());
  events.Send(protocol::Failed{msg, /*retryable=*/false});
  return kExitRejected;
}

std::unique_ptr<torch::optim::Optimizer> MakeOptimizer(const TrainSpec& t,
                                                       std::vector<torch::Tensor> params) {
  if (t.optimizer == "sgd")
    return std::make_unique<torch::optim::SGD>(
        params, torch::optim::SGDOptions(t.lr).momentum(t.momentum).weight_decay(t.weight_decay));
  if (t.optimizer == "adamw")
    return std::make_unique<torch::optim::AdamW>(
        params, torch::optim::AdamWOptions(t.lr).weight_decay(t.weight_decay));
  return std::make_unique<torch::optim::Adam>(
      params, torch::optim::AdamOptions(t.lr).weight_decay(t.weight_decay));
}

double LearningRate(const TrainSpec& t, int64_t epoch /* 0-based */) {
  const auto& s = t.lr_schedule;
  if (s.type == "step") return t.lr * std::pow(s.gamma, static_cast<double>(epoch / s.step_epochs));
  if (s.type == "cosine") {
    double progress =
        t.epochs > 1 ? static_cast<double>(epoch) / static_cast<double>(t.epochs - 1) : 0;
    return s.min_lr + (t.lr - s.min_lr) * 0.5 * (1 + std::cos(M_PI * progress));
  }
  return t.lr;
}

void SetLr(torch::optim::Optimizer& opt, double lr) {
  for (auto& group : opt.param_groups()) group.options().set_lr(lr);
}

// Copies rows `idx` of a host tensor to the device: on CUDA through a pinned
// staging tensor and a non-blocking copy (the caching host allocator keeps the
// staging block alive until the copy is done).
torch::Tensor Gather(const torch::Tensor& host, const torch::Tensor& idx, const torch::Device& device) {
  if (!device.is_cuda()) return host.index_select(0, idx);
  std::vector<int64_t> shape = host.sizes().vec();
  shape[0] = idx.size(0);
  auto staging = torch::empty(shape, host.options().pinned_memory(true));
  torch::index_select_out(staging, host, 0, idx);
  return staging.to(device, /*non_blocking=*/true);
}

struct EvalResult {
  double loss = 0;
  double accuracy = 0;
};

EvalResult Evaluate(torch::nn::Sequential& model, const Dataset& test, const torch::Device& device,
                    Precision precision, int64_t batch) {
  torch::NoGradGuard no_grad;
  model->eval();
  int64_t correct = 0;
  double loss_sum = 0;
  for (int64_t i = 0; i < test.size(); i += batch) {
    int64_t end = std::min(i + batch, test.size());
    auto x = test.images.slice(0, i, end).to(device, /*non_blocking=*/true);
    auto y = test.labels.slice(0, i, end).to(device, /*non_blocking=*/true);
    AutocastGuard autocast(precision, device);
    auto logits = model->forward(x);
    loss_sum += torch::nn::functional::cross_entropy(
                    logits.to(torch::kFloat32), y,
                    torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    correct += logits.argmax(1).eq(y).sum().item<int64_t>();
  }
  model->train();
  EvalResult r;
  if (test.size()) {
    r.loss = loss_sum / static_cast<double>(test.size());
    r.accuracy = static_cast<double>(correct) / static_cast<double>(test.size());
  }
  return r;
}

void DrawProgress(int64_t epoch, int64_t epochs, int64_t done, int64_t total, double loss) {
  const int width = 30;
  int filled = total ? static_cast<int>(width * done / total) : width;
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(width, '.');
  std::fprintf(stderr, "\repoch %lld/%lld [%s] %3d%% loss %.4f ", static_cast<long long>(epoch),
               static_cast<long long>(epochs), bar.c_str(),
               total ? static_cast<int>(100 * done / total) : 100, loss);
  std::fflush(stderr);
}

}  // namespace

double AccumulateGradients(torch::nn::Module& /*model*/,
                           const std::function<torch::Tensor(const torch::Tensor&)>& forward,
                           const torch::Tensor& images, const torch::Tensor& labels,
                           const torch::Tensor& idx, int64_t micro, const torch::Device& device,
                           Precision precision, const LossScaler& scaler) {
  const int64_t blen = idx.size(0);
  double loss_sum = 0;
  for (int64_t m = 0; m < blen; m += micro) {
    const int64_t mend = std::min(m + micro, blen);
    auto mi = idx.slice(0, m, mend);
    auto x = Gather(images, mi, device);
    auto y = Gather(labels, mi, device);
    torch::Tensor loss;
    {
      AutocastGuard autocast(precision, device);
      loss = torch::nn::functional::cross_entropy(forward(x).to(torch::kFloat32), y);
    }
    const double share = static_cast<double>(mend - m) / static_cast<double>(blen);
    scaler.Scale(loss * share).backward();
    loss_sum += loss.item<double>() * static_cast<double>(mend - m);
  }
  return loss_sum;
}

int RunTraining(const JobSpec& spec, const std::string& run_dir, EventChannel& events,
                const std::atomic<bool>& stop, const TrainOptions& options) {
  const TrainSpec& t = spec.train;

  torch::Device device(torch::kCPU);
  const bool cuda = torch::cuda::is_available();
  if (t.device == "cuda" && !cuda)
    return Reject(events, "train.device is cuda but no CUDA device is available (use device auto "
                          "or cpu)");
  if (t.device == "cuda" || (t.device == "auto" && cuda)) device = torch::Device(torch::kCUDA, 0);
  const Precision precision = ResolvePrecision(t.precision, device);
  if (precision == Precision::kFp16 && !device.is_cuda())
    return Reject(events, "train.precision fp16 needs CUDA; none is available here (use bf16, "
                          "fp32 or auto)");

  int threads = t.threads > 0 ? static_cast<int>(t.threads)
                              : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
  const std::string blas = LoadedBlasLibrary();
  std::fprintf(stderr, "carbon-worker: device %s (%s), precision %s, %d threads, BLAS %s (%s)\n",
               device.is_cuda() ? "cuda" : "cpu",
               t.device == "auto" ? (cuda ? "auto: CUDA available" : "auto: no CUDA, using CPU")
                                  : "requested",
               PrecisionName(precision), threads, BlasKind(blas).c_str(), blas.c_str());

  torch::manual_seed(static_cast<uint64_t>(t.seed));
  auto train = LoadDataset(spec.data.format, spec.data.path, true, spec.data.train_limit, options.data_roots);
  if (!train.ok()) return Reject(events, train.status().message());
  auto test = LoadDataset(spec.data.format, spec.data.path, false, spec.data.test_limit, options.data_roots);
  if (!test.ok()) return Reject(events, test.status().message());
  if (device.is_cuda()) {
    // Pinned test set: its batches go to the GPU with non-blocking copies.
    test->images = test->images.pin_memory();
    test->labels = test->labels.pin_memory();
  }

  auto model_or = BuildModel(spec.model, train->images.size(1), train->images.size(2),
                             train->images.size(3), 10);
  if (!model_or.ok()) return Reject(events, model_or.status().message());
  torch::nn::Sequential model = *model_or;
  model->to(device);
  auto optimizer = MakeOptimizer(t, model->parameters());
  LossScaler scaler(precision == Precision::kFp16);

  TrainState state;
  if (auto ckpt = NewestCheckpoint(run_dir)) {
    Status st = LoadCheckpoint(*ckpt, *model, *optimizer, device, &state);
    if (!st.ok()) {
      std::fprintf(stderr, "carbon-worker: %s; starting from scratch\n", st.message().c_str());
      state = TrainState{};
    } else {
      if (state.scaler.defined()) scaler.LoadState(state.scaler);
      std::fprintf(stderr, "carbon-worker: resumed from %s (epoch %lld, step %lld)\n",
                   ckpt->c_str(), static_cast<long long>(state.epoch),
                   static_cast<long long>(state.step));
    }
  }

  const int64_t micro = t.batch_size / t.accumulation_steps;
  const int64_t n = train->size();
  const int64_t steps_per_epoch = (n + t.batch_size - 1) / t.batch_size;
  protocol::Started started;
  started.device = device.is_cuda() ? "cuda" : "cpu";
  started.precision = PrecisionName(precision);
  started.threads = threads;
  started.blas = blas;
  started.blas_kind = BlasKind(blas);
  started.train_samples = n;
  started.test_samples = test->size();
  started.batch_size = t.batch_size;
  started.accumulation_steps = t.accumulation_steps;
  started.micro_batch = micro;
  started.resumed_epoch = state.epoch;
  started.resumed_step = state.step;
  started.epochs = t.epochs;
  events.Send(started);
  std::ofstream metrics(run_dir + "/metrics.jsonl", std::ios::app);

  auto save = [&](int64_t epoch, int64_t step) -> bool {
    state.epoch = epoch;
    state.step = step;
    state.rng = CpuRngState();
    state.scaler = scaler.State();
    std::string path = CheckpointPath(run_dir, epoch, step);
    Status st = SaveCheckpoint(path, *model, *optimizer, state);
    if (!st.ok()) {
      std::fprintf(stderr, "carbon-worker: %s\n", st.message().c_str());
      return false;
    }
    PruneCheckpoints(run_dir, spec.checkpoint.keep);
    events.Send(protocol::Checkpoint{epoch, step, path});
    return true;
  };

  auto forward = [&model](const torch::Tensor& x) { return model->forward(x); };
  const auto params = model->parameters();
  model->train();
  EvalResult eval;
  // Energy and CO2 per epoch, CodeCarbon's methodology (worker/energy_meters.h).
  energy::MeterOptions meter_options = options.meter;
  meter_options.tracker.process_uses_gpu = device.is_cuda();  // process mode meters GPUs only for a CUDA job
  energy::RunMeter meter(meter_options);
  for (const auto& note : meter.notes()) std::fprintf(stderr, "carbon-worker: energy: %s\n", note.c_str());
  // Resumed mid-epoch: the energy of the epoch's part before the stop goes into its row.
  if (state.step > 0 && state.carried_energy.defined()) {
    const torch::Tensor c = state.carried_energy.to(torch::kFloat64).contiguous();
    if (auto carried = energy::CarriedEnergy::Unpack(
            std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel())))
      meter.Carry(*carried);
  }
  for (int64_t epoch = state.epoch; epoch < t.epochs; ++epoch) {
    const auto t0 = std::chrono::steady_clock::now();
    const double lr = LearningRate(t, epoch);
    SetLr(*optimizer, lr);
    // The shuffle of an epoch depends only on seed and epoch, so a resumed run
    // sees the same order; mid-epoch, the saved RNG state then restores the
    // dropout stream exactly.
    torch::manual_seed(static_cast<uint64_t>(t.seed + epoch));
    auto perm = torch::randperm(n, torch::TensorOptions().dtype(torch::kLong));
    int64_t first_step = 0;
    if (epoch == state.epoch && state.step > 0) {
      first_step = state.step;
      if (state.rng.defined()) SetCpuRngState(state.rng);
    }
    const int64_t memory_baseline = ResetPeakMemory(device);
    double loss_sum = 0;
    int64_t seen = 0;
    auto last_progress = std::chrono::steady_clock::now();
    for (int64_t step = first_step; step < steps_per_epoch; ++step) {
      if (stop.load()) {
        if (options.progress_bar) std::fprintf(stderr, "\n");
        state.carried_energy = torch::tensor(meter.TakePartial().Pack(), torch::kFloat64);
        bool saved = save(epoch, step);
        events.Send(protocol::Interrupted{epoch + 1, step, saved});
        std::fprintf(stderr, "carbon-worker: stopped on request at epoch %lld step %lld%s\n",
                     static_cast<long long>(epoch + 1), static_cast<long long>(step),
                     saved ? " after a checkpoint" : "");
        return kExitInterrupted;
      }
      const int64_t b = step * t.batch_size;
      auto idx = perm.slice(0, b, std::min(b + t.batch_size, n));
      optimizer->zero_grad();
      loss_sum += AccumulateGradients(*model, forward, train->images, train->labels, idx, micro,
                                      device, precision, scaler);
      const bool finite = scaler.Unscale(params);
      if (finite) optimizer->step();  // an overflowed fp16 step is skipped
      scaler.Update(finite);
      seen += idx.size(0);
      // Progress within the epoch for carbond's event stream, at most once a second.
      if (auto now = std::chrono::steady_clock::now(); now - last_progress >= std::chrono::seconds(1)) {
        last_progress = now;
        events.Send(protocol::Progress{epoch + 1, t.epochs, step + 1, steps_per_epoch,
                                       loss_sum / static_cast<double>(std::max<int64_t>(seen, 1))});
      }
      if (options.progress_bar && (step % 10 == 0 || step + 1 == steps_per_epoch))
        DrawProgress(epoch + 1, t.epochs, step + 1, steps_per_epoch,
                     loss_sum / static_cast<double>(std::max<int64_t>(seen, 1)));
    }
    if (options.progress_bar) std::fprintf(stderr, "\n");
    if (device.is_cuda()) torch::cuda::synchronize();
    const double train_secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    PeakMemory peak = ReadPeakMemory(device);
    eval = Evaluate(model, *test, device, precision, 1000);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const int64_t done = epoch + 1;
    state.best_accuracy = std::max(state.best_accuracy, eval.accuracy);
    protocol::Epoch ev;
    EpochRecord& r = ev.record;
    r.epoch = done;
    ev.epochs = t.epochs;
    r.train_loss = loss_sum / static_cast<double>(std::max<int64_t>(seen, 1));
    r.test_loss = eval.loss;
    r.test_accuracy = eval.accuracy;
    r.samples = seen;
    r.samples_per_s = static_cast<double>(seen) / train_secs;
    r.wall_s = wall;
    r.lr = lr;
    r.peak_memory_bytes = peak.bytes;
    ev.memory_baseline_bytes = memory_baseline;
    r.memory_added_bytes = std::max<int64_t>(0, peak.bytes - memory_baseline);
    r.memory_method = peak.method;
    ev.skipped_steps = scaler.skipped_steps();
    ev.loss_scale = scaler.scale();
    meter.AddEpochEnergy(ev);
    metrics << protocol::Encode(ev) << std::flush;
    events.Send(ev);
    std::fprintf(stderr,
                 "carbon-worker: epoch %lld/%lld train loss %.4f test loss %.4f accuracy %.4f "
                 "(%.0f samples/s, %.1f s, peak %.1f MB)\n",
                 static_cast<long long>(done), static_cast<long long>(t.epochs), r.train_loss, eval.loss,
                 eval.accuracy, r.samples_per_s, wall, static_cast<double>(peak.bytes) / (1024.0 * 1024.0));
    state.carried_energy = torch::Tensor();  // the epoch's row has it all
    if (done % spec.checkpoint.every_epochs == 0 || done == t.epochs) save(done, 0);
  }
  events.Send(protocol::Finished{eval.accuracy, eval.loss, state.best_accuracy, t.epochs});
  return kExitOk;
}

std::optional<std::string> OutOfMemoryMessage(const std::exception& e) {
  std::string what;
  if (dynamic_cast<const std::bad_alloc*>(&e)) {
    what = "an allocation failed (std::bad_alloc)";
  } else if (const auto* c10 = dynamic_cast<const c10::Error*>(&e)) {
    what = c10->what_without_backtrace();
    const bool oom = dynamic_cast<const c10::OutOfMemoryError*>(&e) != nullptr ||
                     what.find("out of memory") != std::string::npos ||
                     what.find("can't allocate memory") != std::string::npos ||
                     what.find("not enough memory") != std::string::npos;
    if (!oom) return std::nullopt;
    if (size_t nl = what.find('\n'); nl != std::string::npos) what.resize(nl);
  } else {
    return std::nullopt;
  }
  return "out of memory: " + what +
         ". Raise train.accumulation_steps (smaller micro-batches, the same effective batch), or lower "
         "train.batch_size or the model's size";
}

}  // namespace carbon::worker
