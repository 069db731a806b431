#include "worker/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <thread>

#include "worker/idx_dataset.h"
#include "worker/models.h"

namespace carbon::worker {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

int Reject(EventChannel& events, const std::string& msg) {
  std::fprintf(stderr, "carbon-worker: %s\n", msg.c_str());
  events.Send("failed", {{"message", msg}, {"retryable", false}});
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
    double progress = t.epochs > 1 ? static_cast<double>(epoch) / static_cast<double>(t.epochs - 1) : 0;
    return s.min_lr + (t.lr - s.min_lr) * 0.5 * (1 + std::cos(M_PI * progress));
  }
  return t.lr;
}

void SetLr(torch::optim::Optimizer& opt, double lr) {
  for (auto& group : opt.param_groups()) group.options().set_lr(lr);
}

// Newest "checkpoint-<epoch>.pt" in run_dir: its epoch, or 0 when none.
int64_t NewestCheckpoint(const std::string& run_dir, std::string* path) {
  static const std::regex re("checkpoint-([0-9]+)\\.pt");
  int64_t best = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(run_dir, ec)) {
    std::smatch m;
    std::string name = e.path().filename().string();
    if (std::regex_match(name, m, re)) {
      int64_t ep = std::stoll(m[1]);
      if (ep > best) {
        best = ep;
        *path = e.path().string();
      }
    }
  }
  return best;
}

void PruneCheckpoints(const std::string& run_dir, int64_t keep) {
  static const std::regex re("checkpoint-([0-9]+)\\.pt");
  std::vector<std::pair<int64_t, fs::path>> all;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(run_dir, ec)) {
    std::smatch m;
    std::string name = e.path().filename().string();
    if (std::regex_match(name, m, re)) all.emplace_back(std::stoll(m[1]), e.path());
  }
  std::sort(all.begin(), all.end());
  while (static_cast<int64_t>(all.size()) > keep) {
    fs::remove(all.front().second, ec);
    all.erase(all.begin());
  }
}

double Evaluate(torch::nn::Sequential& model, const Dataset& test, torch::Device device,
                int64_t batch) {
  torch::NoGradGuard no_grad;
  model->eval();
  int64_t correct = 0;
  for (int64_t i = 0; i < test.size(); i += batch) {
    int64_t end = std::min(i + batch, test.size());
    auto x = test.images.slice(0, i, end).to(device);
    auto y = test.labels.slice(0, i, end).to(device);
    correct += model->forward(x).argmax(1).eq(y).sum().item<int64_t>();
  }
  model->train();
  return test.size() ? static_cast<double>(correct) / static_cast<double>(test.size()) : 0.0;
}

}  // namespace

int RunTraining(const JobSpec& spec, const std::string& run_dir, EventChannel& events,
                const std::atomic<bool>& stop) {
  const TrainSpec& t = spec.train;
  if (spec.data.format != "idx")
    return Reject(events, "data.format '" + spec.data.format +
                              "' is not supported by this carbon-worker yet; use idx");
  if (t.precision == "fp16" || t.precision == "bf16")
    return Reject(events, "train.precision '" + t.precision +
                              "' is not supported by this carbon-worker yet; use fp32 or auto");

  torch::Device device(torch::kCPU);
  if (t.device == "cuda" || (t.device == "auto" && torch::cuda::is_available())) {
    if (!torch::cuda::is_available())
      return Reject(events, "train.device is cuda but no CUDA device is available "
                            "(use device auto or cpu)");
    device = torch::Device(torch::kCUDA);
  }
  int threads = t.threads > 0 ? static_cast<int>(t.threads)
                              : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
  torch::manual_seed(static_cast<uint64_t>(t.seed));

  auto train = LoadIdx(spec.data.path, true, spec.data.train_limit);
  if (!train.ok()) return Reject(events, train.status().message());
  auto test = LoadIdx(spec.data.path, false, spec.data.test_limit);
  if (!test.ok()) return Reject(events, test.status().message());

  auto model_or = BuildModel(spec.model, train->images.size(1), train->images.size(2),
                             train->images.size(3), 10);
  if (!model_or.ok()) return Reject(events, model_or.status().message());
  torch::nn::Sequential model = *model_or;
  model->to(device);
  auto optimizer = MakeOptimizer(t, model->parameters());

  int64_t start_epoch = 0;
  std::string ckpt;
  if (int64_t done = NewestCheckpoint(run_dir, &ckpt); done > 0) {
    try {
      torch::serialize::InputArchive in;
      in.load_from(ckpt, device);
      torch::serialize::InputArchive m, o;
      in.read("model", m);
      in.read("optimizer", o);
      model->load(m);
      optimizer->load(o);
      start_epoch = done;
      std::fprintf(stderr, "carbon-worker: resumed from %s (epoch %lld done)\n", ckpt.c_str(),
                   static_cast<long long>(done));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "carbon-worker: ignoring unreadable checkpoint %s: %s\n", ckpt.c_str(),
                   e.what());
    }
  }

  const int64_t micro = t.batch_size / t.accumulation_steps;
  events.Send("started", {{"device", device.is_cuda() ? "cuda" : "cpu"},
                          {"precision", "fp32"},
                          {"threads", threads},
                          {"train_samples", train->size()},
                          {"test_samples", test->size()},
                          {"batch_size", t.batch_size},
                          {"accumulation_steps", t.accumulation_steps},
                          {"micro_batch", micro},
                          {"resumed_from_epoch", start_epoch},
                          {"epochs", t.epochs}});
  std::fprintf(stderr, "carbon-worker: training %s on %s (%d threads), %lld samples, batch %lld = %lld x %lld\n",
               spec.model.arch.c_str(), device.is_cuda() ? "cuda" : "cpu", threads,
               static_cast<long long>(train->size()), static_cast<long long>(t.batch_size),
               static_cast<long long>(t.accumulation_steps), static_cast<long long>(micro));

  model->train();
  const int64_t n = train->size();
  double accuracy = 0;
  for (int64_t epoch = start_epoch; epoch < t.epochs; ++epoch) {
    auto t0 = std::chrono::steady_clock::now();
    double lr = LearningRate(t, epoch);
    SetLr(*optimizer, lr);
    torch::manual_seed(static_cast<uint64_t>(t.seed + epoch));
    auto perm = torch::randperm(n, torch::TensorOptions().dtype(torch::kLong));
    double loss_sum = 0;
    int64_t seen = 0;
    for (int64_t b = 0; b < n; b += t.batch_size) {
      if (stop.load()) {
        events.Send("interrupted", {{"epoch", epoch + 1}, {"last_checkpoint_epoch", epoch}});
        std::fprintf(stderr, "carbon-worker: stopping on request during epoch %lld\n",
                     static_cast<long long>(epoch + 1));
        return kExitInterrupted;
      }
      int64_t bend = std::min(b + t.batch_size, n);
      int64_t blen = bend - b;
      optimizer->zero_grad();
      for (int64_t m = b; m < bend; m += micro) {
        int64_t mend = std::min(m + micro, bend);
        auto idx = perm.slice(0, m, mend);
        auto x = train->images.index_select(0, idx).to(device);
        auto y = train->labels.index_select(0, idx).to(device);
        auto loss = torch::nn::functional::cross_entropy(model->forward(x), y);
        // Weight each micro-batch by its share of the batch: the summed
        // gradients equal those of the whole batch.
        (loss * (static_cast<double>(mend - m) / static_cast<double>(blen))).backward();
        loss_sum += loss.item<double>() * static_cast<double>(mend - m);
      }
      optimizer->step();
      seen += blen;
    }
    accuracy = Evaluate(model, *test, device, 1000);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const int64_t done = epoch + 1;
    events.Send("epoch", {{"epoch", done},
                          {"epochs", t.epochs},
                          {"loss", loss_sum / static_cast<double>(std::max<int64_t>(seen, 1))},
                          {"test_accuracy", accuracy},
                          {"lr", lr},
                          {"seconds", secs},
                          {"samples_per_s", static_cast<double>(seen) / secs}});
    std::fprintf(stderr, "carbon-worker: epoch %lld/%lld loss %.4f accuracy %.4f (%.1f s)\n",
                 static_cast<long long>(done), static_cast<long long>(t.epochs),
                 loss_sum / static_cast<double>(std::max<int64_t>(seen, 1)), accuracy, secs);
    if (done % spec.checkpoint.every_epochs == 0 || done == t.epochs) {
      std::string path = run_dir + "/checkpoint-" + std::to_string(done) + ".pt";
      torch::serialize::OutputArchive out, m, o;
      model->save(m);
      optimizer->save(o);
      out.write("model", m);
      out.write("optimizer", o);
      out.save_to(path + ".tmp");
      std::error_code ec;
      fs::rename(path + ".tmp", path, ec);
      PruneCheckpoints(run_dir, spec.checkpoint.keep);
      events.Send("checkpoint", {{"epoch", done}, {"path", path}});
    }
  }
  events.Send("finished", {{"test_accuracy", accuracy}, {"epochs", t.epochs}});
  return kExitOk;
}

}  // namespace carbon::worker
