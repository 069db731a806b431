// The job spec: what a user submits (YAML or JSON), parsed and fully
// validated. docs/job-spec.md documents every field; configs/jobs/ has examples.
//
// ParseJobSpec never throws; it returns INVALID_ARGUMENT listing every problem
// with file:line:column, the field path and what is accepted.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace carbon {

struct ModelSpec {
  std::string arch = "mlp";                 // mlp | cnn | resnet
  std::vector<int64_t> hidden = {256, 128};  // mlp: hidden layer widths
  std::vector<int64_t> channels = {32, 64};  // cnn: conv channels per stage
  int64_t blocks = 2;                        // resnet: residual blocks per stage
  int64_t width = 16;                        // resnet: channels of the first stage
  double dropout = 0.0;
};

struct DataSpec {
  std::string format = "idx";  // idx (MNIST / Fashion-MNIST) | cifar10
  std::string path = "/usr/share/datasets/fashion-mnist";
  int64_t train_limit = 0;  // 0: use all training samples
  int64_t test_limit = 0;   // 0: use all test samples
};

struct LrScheduleSpec {
  std::string type = "constant";  // constant | step | cosine
  int64_t step_epochs = 1;        // step: decay every this many epochs
  double gamma = 0.1;             // step: multiply lr by gamma
  double min_lr = 0.0;            // cosine: floor
};

struct TrainSpec {
  int64_t epochs = 5;
  int64_t batch_size = 64;  // effective batch (samples per optimizer step)
  int64_t accumulation_steps = 1;
  std::string optimizer = "adam";  // sgd | adam | adamw
  double lr = 1e-3;
  double momentum = 0.9;  // sgd only
  LrScheduleSpec lr_schedule;
  double weight_decay = 0.0;
  int64_t seed = 42;
  std::string precision = "auto";  // fp32 | fp16 | bf16 | auto
  std::string device = "auto";     // auto | cpu | cuda
  int64_t threads = 0;             // 0: all cores
  // GPUs the job is given where carbond hands them out (worker.gpus); unset:
  // 1 for device cuda or auto, 0 for cpu. The worker trains on the first and
  // meters all of them.
  std::optional<int64_t> gpus;
};
// The GPUs a built-in job asks for (train.gpus, else by its device).
int64_t GpusWanted(const TrainSpec& t);

struct CheckpointSpec {
  int64_t every_epochs = 1;
  int64_t keep = 2;
};

struct CarbonSpec {
  std::string policy = "forecast";  // immediate | threshold | forecast
  std::string zone;                  // empty: the daemon's default zone
  std::optional<double> threshold_gco2_per_kwh;
  std::optional<Duration> max_wait;
  std::optional<Timestamp> not_before;
  std::optional<Timestamp> deadline;
  std::optional<Duration> expected_duration;
  std::optional<double> budget_kg;
  // Where it may run (carbond.yaml's site names), in order of preference;
  // empty: carbond's default site.
  std::vector<std::string> sites;
  // carbon.gpu_power_cap: while the zone's intensity is above
  // above_gco2_per_kwh, the job's GPUs run at limit_pct of their default
  // power limit (within the device's constraints; carbond-gpucap sets it).
  struct GpuPowerCap {
    double above_gco2_per_kwh = 0;
    double limit_pct = 100;
  };
  std::optional<GpuPowerCap> gpu_power_cap;
  // carbon.interruptible (policy forecast): the run is planned as segments
  // of at least min_segment over the cheapest forecast hours before the
  // deadline; between them the worker checkpoints and exits, and the job waits.
  bool interruptible = false;
  Duration min_segment = std::chrono::hours(1);
};

// A command job (run): any program, most often a user's PyTorch script or
// torchrun, run by carbon-worker's supervisor (worker/supervisor.h).
struct RunSpec {
  std::vector<std::string> command;  // argv; [0] is resolved in the job's PATH at start
  std::string workdir;               // absolute; empty: the run directory
  std::vector<std::pair<std::string, std::string>> env;  // added to the job's environment, in order
  std::string stop_signal = "TERM";  // TERM | INT | USR1 | USR2 | HUP
  Duration stop_grace = std::chrono::minutes(2);
  std::optional<int64_t> gpus;  // unset: 1, as train.gpus of a job on device auto
  Duration report_every = std::chrono::minutes(10);
};
// The signal number of run.stop_signal ("TERM" -> SIGTERM); -1 for another name.
int StopSignalNumber(const std::string& name);

struct JobSpec {
  std::string name;
  // Set: a command job, and model, data and train are unused (their defaults).
  std::optional<RunSpec> run;
  ModelSpec model;
  DataSpec data;
  TrainSpec train;
  CheckpointSpec checkpoint;
  CarbonSpec carbon;
};

// The GPUs a job asks for: run.gpus or train.gpus, else by its device.
int64_t GpusWanted(const JobSpec& spec);

// What makes two jobs take about as long: model, data, epochs, batch and
// device. Jobs with the same signature share learned durations.
std::string JobSignature(const JobSpec& spec);

// The baseline twin of a job, run as one would without carbond: the same
// model, data, seed, epochs, batch and checkpoints, named "<name>-baseline",
// policy immediate in the same zone (no waiting limits, threshold or budget),
// accumulation_steps 1 and fp32. A command job's twin runs the same command
// (its run section unchanged), policy immediate. The spec text (YAML); the job's own errors
// when it does not validate.
StatusOr<std::string> BaselineTwinSpec(const std::string& spec_text, const std::string& file);

// `file` names the source in error messages ("job.yaml", "request body").
StatusOr<JobSpec> ParseJobSpec(const std::string& text, const std::string& file);
// The same, and data.path (given or default) must resolve inside one of
// `data_roots` (carbond's worker.data_roots; see common/paths.h).
// With `sites`, each of carbon.sites must be one of them (carbond's sites).
StatusOr<JobSpec> ParseJobSpec(const std::string& text, const std::string& file,
                               const std::vector<std::string>* data_roots,
                               const std::vector<std::string>* sites = nullptr);

// Reads and parses a file; a missing or unreadable file is INVALID_ARGUMENT too.
StatusOr<JobSpec> LoadJobSpecFile(const std::string& path);

}  // namespace carbon
