// The worker's training pieces with LibTorch on the CPU, and the worker
// binary end to end: accumulation, mixed precision, data, models,
// checkpoints, resumption after SIGKILL and SIGTERM.
#include <signal.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sys/resource.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/job_spec.h"
#include "common/worker_protocol.h"
#include "tests/support/fakes.h"
#include "tests/support/weights.h"
#include "worker/checkpoint.h"
#include "worker/data.h"
#include "worker/models.h"
#include "worker/precision.h"
#include "worker/system_info.h"
#include "worker/trainer.h"

namespace carbon::worker {
namespace {

using fakes::TempDir;
using nlohmann::json;
constexpr const char* kData = "/usr/share/datasets/fashion-mnist";

std::vector<torch::Tensor> Grads(torch::nn::Sequential& m) {
  std::vector<torch::Tensor> g;
  for (auto& p : m->parameters()) g.push_back(p.grad().clone());
  return g;
}

double MaxDiff(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, (a[i] - b[i]).abs().max().item<double>());
  return d;
}

torch::nn::Sequential Model(const std::string& arch, int64_t c = 1, int64_t hw = 28) {
  ModelSpec spec;
  spec.arch = arch;
  spec.channels = {8, 16};
  spec.blocks = 1;
  spec.width = 8;
  auto m = BuildModel(spec, c, hw, hw, 10);
  EXPECT_TRUE(m.ok());
  return *m;
}

void ExpectAccumulationMatchesFullBatch(const std::string& arch, int64_t batch, int64_t micro) {
  torch::manual_seed(1);
  auto model = Model(arch);
  auto images = torch::rand({batch, 1, 28, 28});
  auto labels = torch::randint(0, 10, {batch}, torch::kLong);
  auto idx = torch::arange(batch);
  auto fwd = [&](const torch::Tensor& x) { return model->forward(x); };
  LossScaler off(false);
  model->zero_grad();
  double full = AccumulateGradients(*model, fwd, images, labels, idx, batch, torch::kCPU,
                                    Precision::kFp32, off);
  auto g1 = Grads(model);
  model->zero_grad();
  double acc = AccumulateGradients(*model, fwd, images, labels, idx, micro, torch::kCPU,
                                   Precision::kFp32, off);
  auto gk = Grads(model);
  EXPECT_LT(MaxDiff(g1, gk), 1e-5) << arch << " batch " << batch << " micro " << micro;
  EXPECT_NEAR(full, acc, 1e-3);
}

TEST(Accumulation, GradientsEqualFullBatch) {
  ExpectAccumulationMatchesFullBatch("mlp", 64, 16);  // k = 4
  ExpectAccumulationMatchesFullBatch("mlp", 64, 8);   // k = 8
  ExpectAccumulationMatchesFullBatch("cnn", 64, 32);  // k = 2
}

TEST(Accumulation, PartialLastGroupIsWeightedBySize) {
  // 50 samples in micro-batches of 16: 16 + 16 + 16 + 2.
  ExpectAccumulationMatchesFullBatch("mlp", 50, 16);
}

TEST(Accumulation, ResnetWithoutBatchNormDriftMatches) {
  // Batch norm statistics depend on the micro-batch, so compare in eval mode.
  torch::manual_seed(2);
  auto model = Model("resnet", 3, 32);
  model->eval();
  auto images = torch::rand({16, 3, 32, 32});
  auto labels = torch::randint(0, 10, {16}, torch::kLong);
  auto fwd = [&](const torch::Tensor& x) { return model->forward(x); };
  LossScaler off(false);
  model->zero_grad();
  AccumulateGradients(*model, fwd, images, labels, torch::arange(16), 16, torch::kCPU,
                      Precision::kFp32, off);
  auto g1 = Grads(model);
  model->zero_grad();
  AccumulateGradients(*model, fwd, images, labels, torch::arange(16), 4, torch::kCPU,
                      Precision::kFp32, off);
  EXPECT_LT(MaxDiff(g1, Grads(model)), 1e-5);
}

TEST(Precision, AutoIsFp16OnCudaAndFp32OnCpu) {
  EXPECT_EQ(ResolvePrecision("auto", torch::kCPU), Precision::kFp32);
  EXPECT_EQ(ResolvePrecision("auto", torch::Device(torch::kCUDA, 0)), Precision::kFp16);
  EXPECT_EQ(ResolvePrecision("bf16", torch::kCPU), Precision::kBf16);
}

TEST(Precision, Bf16AutocastOnCpuRunsLinearInBf16) {
  auto lin = torch::nn::Linear(8, 4);
  auto x = torch::rand({2, 8});
  {
    AutocastGuard guard(Precision::kBf16, torch::kCPU);
    EXPECT_EQ(lin->forward(x).scalar_type(), torch::kBFloat16);
  }
  EXPECT_EQ(lin->forward(x).scalar_type(), torch::kFloat32);  // restored
}

TEST(Precision, LossScalerSkipsOverflowBacksOffAndGrows) {
  LossScaler s(true, 1024.0, 2.0, 0.5, /*growth_interval=*/3);
  auto p = torch::ones({2}, torch::requires_grad());
  s.Scale((p * 3).sum()).backward();
  EXPECT_TRUE(s.Unscale({p}));
  EXPECT_NEAR(p.grad()[0].item<double>(), 3.0, 1e-6);  // unscaled
  s.Update(true);
  p.grad().fill_(std::numeric_limits<float>::infinity());
  EXPECT_FALSE(s.Unscale({p}));
  s.Update(false);
  EXPECT_DOUBLE_EQ(s.scale(), 512.0);
  EXPECT_EQ(s.skipped_steps(), 1);
  for (int i = 0; i < 3; ++i) s.Update(true);
  EXPECT_DOUBLE_EQ(s.scale(), 1024.0);
  LossScaler restored(true);
  restored.LoadState(s.State());
  EXPECT_DOUBLE_EQ(restored.scale(), 1024.0);
  EXPECT_EQ(restored.skipped_steps(), 1);
  LossScaler off(false);
  EXPECT_DOUBLE_EQ(off.Scale(torch::tensor(2.0)).item<double>(), 2.0);
}

TEST(Data, LoadsFashionMnistSubset) {
  auto d = LoadIdx(kData, true, 100);
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->images.sizes(), (std::vector<int64_t>{100, 1, 28, 28}));
  EXPECT_LE(d->images.max().item<float>(), 1.0f);
  EXPECT_EQ(d->labels.max().item<int64_t>(), 9);
  auto t = LoadIdx(kData, false, 0);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->size(), 10000);
}

TEST(Data, Cifar10BinaryFormat) {
  TempDir dir;
  std::string rec(3073, '\0');
  std::ofstream out(dir / "test_batch.bin", std::ios::binary);
  for (int i = 0; i < 5; ++i) {
    rec[0] = static_cast<char>(i);
    rec[1] = static_cast<char>(255);  // first red pixel
    out.write(rec.data(), static_cast<std::streamsize>(rec.size()));
  }
  out.close();
  auto d = LoadCifar10(dir.path(), false, 0);
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->images.sizes(), (std::vector<int64_t>{5, 3, 32, 32}));
  EXPECT_EQ(d->labels[4].item<int64_t>(), 4);
  EXPECT_FLOAT_EQ(d->images[0][0][0][0].item<float>(), 1.0f);
  std::ofstream(dir / "data_batch_1.bin", std::ios::binary) << "short";
  auto bad = LoadCifar10(dir.path(), true, 0);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("not a multiple of 3073"), std::string::npos);
}

TEST(Data, BadIdxFilesNameTheFile) {
  TempDir dir;
  std::ofstream(dir / "train-images-idx3-ubyte") << "garbage garbage garbage";
  std::ofstream(dir / "train-labels-idx1-ubyte") << "garbage garbage";
  auto d = LoadIdx(dir.path(), true, 0);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("train-images-idx3-ubyte: not an IDX image file"),
            std::string::npos) << d.status().message();
  auto missing = LoadIdx(dir / "none", true, 0);
  EXPECT_NE(missing.status().message().find("not found"), std::string::npos);
}

TEST(Models, ShapesForEveryArch) {
  for (const char* arch : {"mlp", "cnn", "resnet"}) {
    auto m = Model(arch);
    EXPECT_EQ(m->forward(torch::rand({3, 1, 28, 28})).sizes(), (std::vector<int64_t>{3, 10})) << arch;
  }
  auto r = Model("resnet", 3, 32);
  EXPECT_EQ(r->forward(torch::rand({2, 3, 32, 32})).sizes(), (std::vector<int64_t>{2, 10}));
}

TEST(System, OpenBlasIsTheLoadedBlasWhenInstalled) {
  torch::mm(torch::rand({64, 64}), torch::rand({64, 64}));
  const std::string blas = LoadedBlasLibrary();
  if (std::filesystem::exists("/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3")) {
    EXPECT_EQ(BlasKind(blas), "openblas") << "LibTorch runs on " << blas
        << "; point the libblas.so.3 alternative at OpenBLAS";
  }
  EXPECT_EQ(BlasKind("/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0"), "reference");
  auto peak = ReadPeakMemory(torch::kCPU);
  EXPECT_GT(peak.bytes, 0);
}

TEST(Checkpoint, RoundTripAndNewestAndPrune) {
  TempDir dir;
  torch::manual_seed(3);
  auto a = Model("mlp");
  torch::optim::Adam opt(a->parameters());
  TrainState st;
  st.epoch = 2;
  st.step = 7;
  st.best_accuracy = 0.5;
  st.rng = CpuRngState();
  ASSERT_TRUE(SaveCheckpoint(CheckpointPath(dir.path(), 2, 7), *a, opt, st).ok());
  ASSERT_TRUE(SaveCheckpoint(CheckpointPath(dir.path(), 2, 0), *a, opt, st).ok());
  ASSERT_TRUE(SaveCheckpoint(CheckpointPath(dir.path(), 10, 0), *a, opt, st).ok());
  EXPECT_EQ(*NewestCheckpoint(dir.path()), CheckpointPath(dir.path(), 10, 0));
  PruneCheckpoints(dir.path(), 2);
  EXPECT_FALSE(std::filesystem::exists(CheckpointPath(dir.path(), 2, 0)));
  EXPECT_TRUE(std::filesystem::exists(CheckpointPath(dir.path(), 2, 7)));
  torch::manual_seed(4);
  auto b = Model("mlp");
  torch::optim::Adam opt_b(b->parameters());
  TrainState got;
  Status loaded = LoadCheckpoint(CheckpointPath(dir.path(), 2, 7), *b, opt_b, torch::kCPU, &got);
  ASSERT_TRUE(loaded.ok()) << loaded.message();
  EXPECT_EQ(got.epoch, 2);
  EXPECT_EQ(got.step, 7);
  EXPECT_DOUBLE_EQ(got.best_accuracy, 0.5);
  EXPECT_TRUE(got.rng.defined());
  for (size_t i = 0; i < a->parameters().size(); ++i)
    EXPECT_TRUE(torch::equal(a->parameters()[i], b->parameters()[i]));
  std::ofstream(CheckpointPath(dir.path(), 11, 0)) << "torn";
  EXPECT_EQ(LoadCheckpoint(CheckpointPath(dir.path(), 11, 0), *b, opt_b, torch::kCPU, &got).code(),
            StatusCode::kDataLoss);
}

// ---- the worker binary, standalone ----

struct WorkerRun {
  int exit_code = -1;
  std::vector<json> events;
};

// Runs carbon-worker; `on_event` may return a signal to send (0: none).
// With `data_limit` bytes, the worker runs under that RLIMIT_DATA.
// `extra`: more flags.
WorkerRun RunWorker(const std::string& job, const std::string& run_dir,
              const std::function<int(const json&)>& on_event = nullptr, rlim_t data_limit = 0,
              const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {CARBON_WORKER_BIN, "--job", job, "--run-dir", run_dir};
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int out[2];
  EXPECT_EQ(::pipe(out), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::close(out[0]);
    int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 2);
    if (data_limit > 0) {
      rlimit r{data_limit, data_limit};
      ::setrlimit(RLIMIT_DATA, &r);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  WorkerRun r;
  FILE* f = ::fdopen(out[0], "r");
  char* line = nullptr;
  size_t cap = 0;
  while (::getline(&line, &cap, f) > 0) {
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded()) continue;
    // Every line the worker writes is an event of the protocol.
    std::string text(line);
    text.pop_back();
    auto decoded = protocol::Decode(text);
    EXPECT_TRUE(decoded.ok()) << decoded.status().ToString();
    r.events.push_back(j);
    if (on_event) {
      if (int sig = on_event(j)) ::kill(pid, sig);
    }
  }
  ::free(line);
  ::fclose(f);
  int st = 0;
  ::waitpid(pid, &st, 0);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

std::string WriteJob(const TempDir& dir, const std::string& name, const std::string& train) {
  std::string path = dir / (name + ".yaml");
  std::ofstream(path) << "name: " << name << "\nmodel: {arch: mlp, hidden: [64], dropout: 0.2}\n"
                      << "data: {path: " << kData << ", train_limit: 4000, test_limit: 500}\n"
                      << "train: {" << train << "}\ncheckpoint: {keep: 5}\n";
  return path;
}

using fakes::MaxWeightDiff;

const std::string kTrain = "epochs: 4, batch_size: 32, accumulation_steps: 2, lr: 0.002, threads: 1";

TEST(WorkerBinary, SigkillInEpochThreeThenResumeEndsWithTheSameWeights) {
  TempDir dir;
  std::string job = WriteJob(dir, "resume", kTrain);
  WorkerRun whole = RunWorker(job, dir / "whole");
  ASSERT_EQ(whole.exit_code, 0);
  EXPECT_EQ(whole.events.back()["event"], "finished");

  bool killed = false;
  WorkerRun first = RunWorker(job, dir / "cut", [&](const json& e) {
    if (!killed && e["event"] == "checkpoint" && e["epoch"] == 2) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a few steps into epoch 3
      killed = true;
      return SIGKILL;
    }
    return 0;
  });
  ASSERT_TRUE(killed);
  EXPECT_EQ(first.exit_code, 128 + SIGKILL);
  WorkerRun second = RunWorker(job, dir / "cut");
  ASSERT_EQ(second.exit_code, 0);
  EXPECT_EQ(second.events.front()["resumed_epoch"], 2);
  EXPECT_LT(MaxWeightDiff(CheckpointPath(dir / "whole", 4, 0), CheckpointPath(dir / "cut", 4, 0)),
            1e-6);
}

TEST(WorkerBinary, SigtermCheckpointsMidEpochAndResumesExactly) {
  TempDir dir;
  std::string job = WriteJob(dir, "term", kTrain);
  WorkerRun whole = RunWorker(job, dir / "whole");
  ASSERT_EQ(whole.exit_code, 0);
  bool sent = false;
  WorkerRun first = RunWorker(job, dir / "cut", [&](const json& e) {
    if (!sent && e["event"] == "checkpoint" && e["epoch"] == 1) {
      std::this_thread::sleep_for(std::chrono::milliseconds(30));  // some steps into epoch 2
      sent = true;
      return SIGTERM;
    }
    return 0;
  });
  ASSERT_TRUE(sent);
  ASSERT_EQ(first.exit_code, kExitInterrupted);
  const json& last = first.events.back();
  ASSERT_EQ(last["event"], "interrupted");
  EXPECT_EQ(last["checkpointed"], true);
  WorkerRun second = RunWorker(job, dir / "cut");
  ASSERT_EQ(second.exit_code, 0);
  EXPECT_EQ(second.events.front()["resumed_epoch"], 1);
  EXPECT_GT(second.events.front()["resumed_step"].get<int64_t>(), 0);  // mid-epoch
  EXPECT_LT(MaxWeightDiff(CheckpointPath(dir / "whole", 4, 0), CheckpointPath(dir / "cut", 4, 0)),
            1e-6);
}

double FinalAccuracy(const WorkerRun& r) {
  for (auto it = r.events.rbegin(); it != r.events.rend(); ++it)
    if ((*it)["event"] == "finished") return (*it)["test_accuracy"].get<double>();
  return -1;
}

TEST(WorkerBinary, AccumulationFourKeepsAccuracyWithinOnePoint) {
  TempDir dir;
  WorkerRun k1 = RunWorker(WriteJob(dir, "k1", "epochs: 3, batch_size: 64, accumulation_steps: 1, threads: 1"),
                     dir / "k1");
  WorkerRun k4 = RunWorker(WriteJob(dir, "k4", "epochs: 3, batch_size: 64, accumulation_steps: 4, threads: 1"),
                     dir / "k4");
  ASSERT_EQ(k1.exit_code, 0);
  ASSERT_EQ(k4.exit_code, 0);
  EXPECT_GT(FinalAccuracy(k1), 0.6);
  EXPECT_NEAR(FinalAccuracy(k4), FinalAccuracy(k1), 0.01);
}

TEST(WorkerBinary, Bf16OnCpuTrains) {
  TempDir dir;
  WorkerRun r = RunWorker(WriteJob(dir, "bf16", "epochs: 1, precision: bf16, device: cpu, threads: 1"),
                    dir / "bf16");
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.events.front()["precision"], "bf16");
  EXPECT_GT(FinalAccuracy(r), 0.5);
}

TEST(WorkerBinary, CudaRequestedButAbsentIsRejected) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "this machine has CUDA";
  TempDir dir;
  WorkerRun r = RunWorker(WriteJob(dir, "cuda", "epochs: 1, device: cuda"), dir / "cuda");
  EXPECT_EQ(r.exit_code, kExitRejected);
  EXPECT_NE(r.events.back()["message"].get<std::string>().find("no CUDA device"), std::string::npos);
}

TEST(WorkerErrors, AllocationFailuresAreOutOfMemoryWithAdvice) {
  auto bad_alloc = OutOfMemoryMessage(std::bad_alloc());
  ASSERT_TRUE(bad_alloc);
  EXPECT_EQ(bad_alloc->rfind("out of memory: an allocation failed (std::bad_alloc). Raise train.accumulation_steps", 0),
            0u)
      << *bad_alloc;
  // LibTorch 1.13's CPU allocator (seen under a data limit) and CUDA's.
  auto cpu = OutOfMemoryMessage(c10::Error("[enforce fail at alloc_cpu.cpp:75] err == 0. DefaultCPUAllocator: can't "
                                           "allocate memory: you tried to allocate 188160000 bytes.",
                                           "backtrace lines"));
  ASSERT_TRUE(cpu);
  EXPECT_NE(cpu->find("you tried to allocate 188160000 bytes"), std::string::npos);
  EXPECT_EQ(cpu->find("backtrace"), std::string::npos);
  auto cuda = OutOfMemoryMessage(c10::OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB", ""));
  ASSERT_TRUE(cuda);
  EXPECT_NE(cuda->find("CUDA out of memory. Tried to allocate 2.00 GiB"), std::string::npos);
  EXPECT_FALSE(OutOfMemoryMessage(c10::Error("mat1 and mat2 shapes cannot be multiplied", "")));
  EXPECT_FALSE(OutOfMemoryMessage(std::runtime_error("disk full")));
}

// Under a data limit the whole training set (188 MB as float32) does not
// fit: the worker says so and exits with kExitOutOfMemory (not retried).
TEST(WorkerBinary, AllocationFailureUnderADataLimitIsOutOfMemory) {
  TempDir dir;
  std::string job = dir / "full.yaml";
  std::ofstream(job) << "name: full\ndata: {path: " << kData << ", test_limit: 200}\ntrain: {epochs: 1, threads: 1}\n";
  WorkerRun r = RunWorker(job, dir / "full", nullptr, rlim_t{440} << 20);
  if (r.events.empty())  // it died before main: the libraries' own data
    GTEST_SKIP() << "LibTorch alone needs more than 440 MiB of data memory on this machine (exit " << r.exit_code << ")";
  EXPECT_EQ(r.exit_code, kExitOutOfMemory);
  ASSERT_EQ(r.events.back()["event"], "failed");
  EXPECT_EQ(r.events.back()["retryable"], false);
  EXPECT_EQ(r.events.back()["message"].get<std::string>().rfind("out of memory: ", 0), 0u) << r.events.back();
}

TEST(WorkerBinary, StartedEventNamesDeviceAndBlas) {
  TempDir dir;
  WorkerRun r = RunWorker(WriteJob(dir, "s", "epochs: 1, threads: 1"), dir / "s");
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.events.front()["event"], "started");
  EXPECT_EQ(r.events.front()["device"], torch::cuda::is_available() ? "cuda" : "cpu");
  EXPECT_FALSE(r.events.front()["blas"].get<std::string>().empty());
  // metrics.jsonl holds one line per epoch.
  std::ifstream m(dir / "s/metrics.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(m, line));
  json e = json::parse(line);
  for (const char* k : {"train_loss", "test_loss", "test_accuracy", "samples", "samples_per_s",
                        "wall_s", "peak_memory_bytes", "memory_method"})
    EXPECT_TRUE(e.contains(k)) << k;
}

// The rows of a CSV file without quoted fields, header first.
std::vector<std::vector<std::string>> ReadCsv(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> row;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) row.push_back(cell);
    if (!line.empty() && line.back() == ',') row.emplace_back();
    rows.push_back(row);
  }
  return rows;
}

// Standalone (no carbond), the worker leaves what carbond leaves: CodeCarbon's
// 38 columns, one row per epoch and the total, charged at the fixed intensity
// or the country's.
TEST(WorkerBinary, AStandaloneRunLeavesCodeCarbonsEmissionsFiles) {
  TempDir dir;
  const std::string job = WriteJob(dir, "alone", "epochs: 2, threads: 1");
  for (const std::vector<std::string>& flags :
       {std::vector<std::string>{"--gco2-per-kwh", "200", "--measure-power-secs", "0"},
        std::vector<std::string>{"--country", "FRA", "--measure-power-secs", "0"},
        std::vector<std::string>{"--gco2-per-kwh", "200", "--country", "DEU", "--measure-power-secs", "0"}}) {
    const std::string run = dir / ("run-" + flags[0].substr(2) + std::to_string(flags.size()));
    WorkerRun r = RunWorker(job, run, nullptr, 0, flags);
    ASSERT_EQ(r.exit_code, 0);
    auto rows = ReadCsv(run + "/emissions.csv");
    ASSERT_EQ(rows.size(), 3u) << "header and 2 epochs";
    ASSERT_EQ(rows[0].size(), 38u);
    auto col = [&](const std::string& name) {
      return static_cast<size_t>(std::find(rows[0].begin(), rows[0].end(), name) - rows[0].begin());
    };
    EXPECT_EQ(rows[1][col("project_name")], "alone");
    double kg = 0, kwh = 0;
    for (int i : {1, 2}) {
      ASSERT_EQ(rows[i].size(), 38u);
      const double e = std::stod(rows[i][col("energy_consumed")]), co2 = std::stod(rows[i][col("emissions")]);
      EXPECT_GT(e, 0);
      if (flags[0] == "--gco2-per-kwh") EXPECT_NEAR(co2, e * 200 / 1000, 1e-12 + co2 * 1e-9);
      if (flags[0] == "--country") {
        EXPECT_EQ(rows[i][col("country_iso_code")], "FRA");
        EXPECT_EQ(rows[i][col("country_name")], "France");
        EXPECT_GT(co2, 0);
      }
      // A fixed intensity names the country given with it, and else what
      // CodeCarbon's dashboard can read (issue 38): never an empty cell.
      if (flags.size() == 6) {
        EXPECT_EQ(rows[i][col("country_iso_code")], "DEU");
        EXPECT_EQ(rows[i][col("country_name")], "Germany");
      } else if (flags[0] == "--gco2-per-kwh") {
        EXPECT_EQ(rows[i][col("country_iso_code")], "WLD");
        EXPECT_EQ(rows[i][col("country_name")], "World");
      }
      EXPECT_EQ(rows[i][col("region")], "");  // a country, never below one
      kg += co2;
      kwh += e;
    }
    // The run as one row, beside: CodeCarbon's one row per finished run.
    auto total = ReadCsv(run + "/emissions-total.csv");
    ASSERT_EQ(total.size(), 2u);
    EXPECT_EQ(total[1][col("project_name")], "alone");
    EXPECT_NEAR(std::stod(total[1][col("emissions")]), kg, kg * 1e-9);
    EXPECT_NEAR(std::stod(total[1][col("energy_consumed")]), kwh, kwh * 1e-9);
    json j = json::parse(std::ifstream(run + "/emissions.json"));
    ASSERT_EQ(j.size(), 2u);
    EXPECT_EQ(json::parse(std::ifstream(run + "/emissions-total.json"))[0]["project_name"], "alone");
    // CodeCarbon's dashboard code path (pandas, the regional panel's upper()) reads the file.
    std::string out;
    const std::string cmd = std::string("/usr/bin/python3 ") + CARBON_SOURCE_DIR +
                            "/tests/tools/carbonboard_summary.py " + run + "/emissions.csv 2>&1";
    if (FILE* p = ::popen(cmd.c_str(), "r")) {
      char buf[4096];
      for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
      EXPECT_EQ(::pclose(p), 0) << out;
    }
    auto board = json::parse(out, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(board.is_object() && board.contains("alone")) << out;
    EXPECT_EQ(board["alone"]["country_iso_code"],
              flags.size() == 6 ? "DEU" : flags[0] == "--country" ? "FRA" : "WLD");
  }
}

}  // namespace
}  // namespace carbon::worker
