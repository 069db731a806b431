#include "worker/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <ATen/CPUGeneratorImpl.h>
#include <algorithm>
#include <filesystem>
#include <mutex>
#include <regex>
#include <tuple>
#include <vector>

namespace carbon::worker {
namespace fs = std::filesystem;

namespace {

bool FsyncPath(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

std::vector<std::tuple<int64_t, int64_t, fs::path>> ListCheckpoints(const std::string& run_dir) {
  static const std::regex re("checkpoint-([0-9]+)-([0-9]+)\\.pt");
  std::vector<std::tuple<int64_t, int64_t, fs::path>> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(run_dir, ec)) {
    std::smatch m;
    std::string name = e.path().filename().string();
    if (std::regex_match(name, m, re)) out.emplace_back(std::stoll(m[1]), std::stoll(m[2]), e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::string CheckpointPath(const std::string& run_dir, int64_t epoch, int64_t step) {
  return run_dir + "/checkpoint-" + std::to_string(epoch) + "-" + std::to_string(step) + ".pt";
}

torch::Tensor CpuRngState() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}

void SetCpuRngState(const torch::Tensor& state) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

Status SaveCheckpoint(const std::string& path, torch::nn::Module& model,
                      torch::optim::Optimizer& optimizer, const TrainState& state) {
  const std::string tmp = path + ".tmp";
  try {
    torch::serialize::OutputArchive out, m, o;
    model.save(m);
    optimizer.save(o);
    out.write("model", m);
    out.write("optimizer", o);
    out.write("epoch", torch::tensor(state.epoch));
    out.write("step", torch::tensor(state.step));
    out.write("best_accuracy", torch::tensor(state.best_accuracy, torch::kFloat64));
    if (state.rng.defined()) out.write("rng", state.rng);
    if (state.scaler.defined()) out.write("scaler", state.scaler);
    if (state.carried_energy.defined()) out.write("carried_energy", state.carried_energy);
    out.save_to(tmp);
  } catch (const std::exception& e) {
    return Unavailable("cannot write checkpoint " + tmp + ": " + e.what());
  }
  if (!FsyncPath(tmp, false)) return Unavailable("cannot fsync " + tmp);
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Unavailable("cannot rename " + tmp + ": " + ec.message());
  FsyncPath(fs::path(path).parent_path().string(), true);
  return Status();
}

Status LoadCheckpoint(const std::string& path, torch::nn::Module& model,
                      torch::optim::Optimizer& optimizer, const torch::Device& device,
                      TrainState* state) {
  try {
    torch::serialize::InputArchive in;
    in.load_from(path, device);
    torch::serialize::InputArchive m, o;
    in.read("model", m);
    in.read("optimizer", o);
    model.load(m);
    optimizer.load(o);
    // A fresh tensor per key: reading into a defined tensor would set_ its storage.
    auto read = [&in](const char* key, bool required) -> torch::Tensor {
      torch::Tensor t;
      if (required) in.read(key, t);
      else in.try_read(key, t);
      return t;
    };
    state->epoch = read("epoch", true).item<int64_t>();
    state->step = read("step", true).item<int64_t>();
    state->best_accuracy = read("best_accuracy", true).item<double>();
    if (auto rng = read("rng", false); rng.defined()) state->rng = rng.to(torch::kCPU);
    if (auto sc = read("scaler", false); sc.defined()) state->scaler = sc.to(torch::kCPU);
    if (auto ce = read("carried_energy", false); ce.defined()) state->carried_energy = ce.to(torch::kCPU);
  } catch (const std::exception& e) {
    return DataLoss("cannot read checkpoint " + path + ": " + e.what());
  }
  return Status();
}

std::optional<std::string> NewestCheckpoint(const std::string& run_dir) {
  auto all = ListCheckpoints(run_dir);
  if (all.empty()) return std::nullopt;
  return std::get<2>(all.back()).string();
}

void PruneCheckpoints(const std::string& run_dir, int64_t keep) {
  auto all = ListCheckpoints(run_dir);
  std::error_code ec;
  for (size_t i = 0; i + static_cast<size_t>(keep) < all.size(); ++i) fs::remove(std::get<2>(all[i]), ec);
}

}  // namespace carbon::worker
