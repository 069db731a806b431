#include "common/job_spec.h"

#include <gtest/gtest.h>

#include <signal.h>

#include <filesystem>

#include "common/time_util.h"

namespace carbon {
namespace {

// The error message of parsing `text` as job.yaml (empty when it parsed).
std::string ErrorOf(const std::string& text) {
  auto r = ParseJobSpec(text, "job.yaml");
  return r.ok() ? "" : r.status().message();
}

std::string FieldOf(const std::string& text) {
  auto r = ParseJobSpec(text, "job.yaml");
  return r.ok() ? "" : r.status().field();
}

#define EXPECT_HAS(haystack, needle)                                          \
  do {                                                                        \
    const std::string hay_ = (haystack);                                      \
    EXPECT_NE(hay_.find(needle), std::string::npos) << "message: " << hay_;   \
  } while (0)

TEST(JobSpec, MinimalSpecGetsDocumentedDefaults) {
  auto r = ParseJobSpec("name: tiny\n", "job.yaml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->name, "tiny");
  EXPECT_EQ(r->model.arch, "mlp");
  EXPECT_EQ(r->data.path, "/usr/share/datasets/fashion-mnist");
  EXPECT_EQ(r->train.epochs, 5);
  EXPECT_EQ(r->train.batch_size, 64);
  EXPECT_EQ(r->train.accumulation_steps, 1);
  EXPECT_EQ(r->train.precision, "auto");
  EXPECT_EQ(r->train.device, "auto");
  EXPECT_EQ(r->carbon.policy, "forecast");
  EXPECT_FALSE(r->carbon.deadline.has_value());
}

TEST(JobSpec, FullSpecParsesEveryField) {
  const char* text = R"(name: full
model: {arch: resnet, blocks: 3, width: 32, dropout: 0.1}
data: {format: cifar10, path: /data/cifar, train_limit: 1000, test_limit: 200}
train:
  epochs: 7
  batch_size: 128
  accumulation_steps: 8
  optimizer: sgd
  lr: 0.05
  momentum: 0.8
  lr_schedule: {type: step, step_epochs: 2, gamma: 0.5}
  weight_decay: 0.0005
  seed: 7
  precision: bf16
  device: cpu
  threads: 2
checkpoint: {every_epochs: 2, keep: 3}
carbon:
  policy: threshold
  zone: DE
  threshold_gco2_per_kwh: 250
  max_wait: 12h
  not_before: 2026-11-27T00:00:00Z
  deadline: 2026-11-28T00:00:00+01:00
  expected_duration: 1h30m
  budget_kg: 0.2
)";
  auto r = ParseJobSpec(text, "job.yaml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->model.arch, "resnet");
  EXPECT_EQ(r->model.blocks, 3);
  EXPECT_EQ(r->data.format, "cifar10");
  EXPECT_EQ(r->data.train_limit, 1000);
  EXPECT_EQ(r->train.accumulation_steps, 8);
  EXPECT_EQ(r->train.lr_schedule.type, "step");
  EXPECT_DOUBLE_EQ(r->train.lr_schedule.gamma, 0.5);
  EXPECT_EQ(r->train.precision, "bf16");
  EXPECT_EQ(r->checkpoint.keep, 3);
  EXPECT_EQ(r->carbon.zone, "DE");
  EXPECT_DOUBLE_EQ(*r->carbon.threshold_gco2_per_kwh, 250);
  EXPECT_EQ(r->carbon.max_wait->count(), 12 * 3600 * 1000);
  EXPECT_EQ(FormatTime(*r->carbon.deadline), "2026-11-27T23:00:00.000Z");
  EXPECT_EQ(r->carbon.expected_duration->count(), 90 * 60 * 1000);
  EXPECT_DOUBLE_EQ(*r->carbon.budget_kg, 0.2);
}

TEST(JobSpec, JsonIsAcceptedToo) {
  auto r = ParseJobSpec(R"({"name": "j", "train": {"epochs": 2, "batch_size": 32}})", "body");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->train.epochs, 2);
}

TEST(JobSpec, UnknownKeyNamesLocationSectionAndSuggestion) {
  std::string msg = ErrorOf("name: x\ntrain:\n  epochs: 3\n  epoch: 4\n");
  EXPECT_HAS(msg, "unknown key 'epoch' at job.yaml:4:3 in train; did you mean 'epochs'?");
  EXPECT_HAS(msg, "accepted: epochs, batch_size");
  EXPECT_EQ(FieldOf("name: x\ntrain:\n  epoch: 4\n"), "train.epoch");
}

TEST(JobSpec, UnknownTopLevelKeySuggests) {
  std::string msg = ErrorOf("name: x\ncarbn:\n  policy: immediate\n");
  EXPECT_HAS(msg, "unknown key 'carbn' at job.yaml:2:1 at the top level; did you mean 'carbon'?");
}

TEST(JobSpec, MissingNameIsRequired) {
  std::string msg = ErrorOf("train: {epochs: 1}\n");
  EXPECT_HAS(msg, "'name': required field is missing");
  EXPECT_EQ(FieldOf("train: {epochs: 1}\n"), "name");
}

TEST(JobSpec, BadNameCharacters) {
  EXPECT_HAS(ErrorOf("name: 'my job!'\n"), "use 1-64 letters, digits");
}

TEST(JobSpec, WrongTypeSaysWhatIsAccepted) {
  std::string msg = ErrorOf("name: x\ntrain:\n  epochs: many\n");
  EXPECT_HAS(msg, "'train.epochs': 'many' is not an integer; expected a whole number from 1 to");
  EXPECT_HAS(msg, "job.yaml:3:11");
  EXPECT_HAS(ErrorOf("name: x\ntrain:\n  lr: fast\n"), "'train.lr': 'fast' is not a number");
  EXPECT_HAS(ErrorOf("name: x\nmodel:\n  hidden: 128\n"), "expected a list of integers");
  EXPECT_HAS(ErrorOf("name: x\ntrain: 5\n"), "'train': expected a mapping");
  EXPECT_HAS(ErrorOf("name: x\nmodel:\n  hidden: [128, big]\n"), "'model.hidden[1]'");
  EXPECT_HAS(ErrorOf("name: [a]\n"), "'name': expected a string, got a list");
}

TEST(JobSpec, RangesAreChecked) {
  EXPECT_HAS(ErrorOf("name: x\ntrain: {epochs: 0}\n"), "0 is out of range; expected 1 to");
  EXPECT_HAS(ErrorOf("name: x\ntrain: {accumulation_steps: 65}\n"), "expected 1 to 64");
  EXPECT_HAS(ErrorOf("name: x\ntrain: {lr: 0}\n"), "expected a number greater than 0");
  EXPECT_HAS(ErrorOf("name: x\ntrain: {threads: -1}\n"), "out of range");
  EXPECT_HAS(ErrorOf("name: x\nmodel: {dropout: 1.5}\n"), "'model.dropout'");
  EXPECT_HAS(ErrorOf("name: x\ncarbon: {budget_kg: 0}\n"), "'carbon.budget_kg'");
  EXPECT_HAS(ErrorOf("name: x\ncheckpoint: {keep: 0}\n"), "'checkpoint.keep'");
}

TEST(JobSpec, GpusDefaultByDeviceAndMustFitIt) {
  auto spec = [](const std::string& train) { return ParseJobSpec("name: x\ntrain: " + train + "\n", "job.yaml"); };
  EXPECT_EQ(GpusWanted(spec("{device: auto}")->train), 1);
  EXPECT_EQ(GpusWanted(spec("{device: cuda}")->train), 1);
  EXPECT_EQ(GpusWanted(spec("{device: cpu}")->train), 0);
  EXPECT_EQ(GpusWanted(spec("{device: cuda, gpus: 4}")->train), 4);
  EXPECT_EQ(GpusWanted(spec("{device: auto, gpus: 0}")->train), 0);
  EXPECT_HAS(ErrorOf("name: x\ntrain:\n  device: cpu\n  gpus: 2\n"),
             "'train.gpus': 2 GPUs for a job on device cpu; use device cuda or auto, or gpus: 0 at job.yaml:4:9");
  EXPECT_HAS(ErrorOf("name: x\ntrain: {device: cuda, gpus: 0}\n"), "0 GPUs for a job on device cuda");
  EXPECT_HAS(ErrorOf("name: x\ntrain: {gpus: 65}\n"), "'train.gpus'");
  EXPECT_HAS(ErrorOf("name: x\ntrain: {gpus: two}\n"), "train.gpus");
}

TEST(JobSpec, GpuPowerCapNeedsBothFieldsAndAGpu) {
  auto spec = ParseJobSpec("name: x\ncarbon: {gpu_power_cap: {above_gco2_per_kwh: 300, limit_pct: 70}}\n", "job.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  ASSERT_TRUE(spec->carbon.gpu_power_cap);
  EXPECT_EQ(spec->carbon.gpu_power_cap->above_gco2_per_kwh, 300);
  EXPECT_EQ(spec->carbon.gpu_power_cap->limit_pct, 70);
  EXPECT_FALSE(ParseJobSpec("name: x\n", "job.yaml")->carbon.gpu_power_cap);
  EXPECT_HAS(ErrorOf("name: x\ncarbon: {gpu_power_cap: {above_gco2_per_kwh: 300, limit_pct: 101}}\n"),
             "'carbon.gpu_power_cap.limit_pct': 101 is out of range");
  EXPECT_HAS(ErrorOf("name: x\ncarbon: {gpu_power_cap: {limit_pct: 70}}\n"),
             "'carbon.gpu_power_cap.above_gco2_per_kwh': required field is missing");
  EXPECT_HAS(ErrorOf("name: x\ncarbon: {gpu_power_cap: 70}\n"), "carbon.gpu_power_cap");
  EXPECT_HAS(ErrorOf("name: x\ntrain: {gpus: 0}\ncarbon: {gpu_power_cap: {above_gco2_per_kwh: 1, limit_pct: 70}}\n"),
             "it has no GPU to cap");
  // The baseline twin runs uncapped, as the job would without carbond.
  auto twin = BaselineTwinSpec("name: x\ncarbon: {gpu_power_cap: {above_gco2_per_kwh: 300, limit_pct: 70}}\n", "job.yaml");
  ASSERT_TRUE(twin.ok());
  EXPECT_FALSE(ParseJobSpec(*twin, "twin.yaml")->carbon.gpu_power_cap);
}

TEST(JobSpec, BatchSizeMustDivideByAccumulationSteps) {
  std::string msg = ErrorOf("name: x\ntrain:\n  batch_size: 64\n  accumulation_steps: 3\n");
  EXPECT_HAS(msg, "batch_size 64 is not divisible by accumulation_steps 3");
  EXPECT_HAS(msg, "job.yaml:4:23");
  EXPECT_EQ(FieldOf("name: x\ntrain:\n  batch_size: 64\n  accumulation_steps: 3\n"),
            "train.accumulation_steps");
  EXPECT_EQ(ErrorOf("name: x\ntrain:\n  batch_size: 64\n  accumulation_steps: 8\n"), "");
}

TEST(JobSpec, EnumsListTheAcceptedValues) {
  std::string msg = ErrorOf("name: x\ntrain:\n  precision: fp8\n");
  EXPECT_HAS(msg, "'fp8' is not accepted; expected one of fp32, fp16, bf16, auto");
  EXPECT_HAS(ErrorOf("name: x\nmodel: {arch: mpl}\n"), "did you mean 'mlp'?");
  EXPECT_HAS(ErrorOf("name: x\ncarbon: {policy: forcast}\n"), "did you mean 'forecast'?");
  EXPECT_HAS(ErrorOf("name: x\ntrain: {device: gpu}\n"), "expected one of auto, cpu, cuda");
  EXPECT_HAS(ErrorOf("name: x\ntrain: {optimizer: lamb}\n"), "expected one of sgd, adam, adamw");
  EXPECT_HAS(ErrorOf("name: x\ndata: {format: png}\n"), "expected one of idx, cifar10");
  EXPECT_HAS(ErrorOf("name: x\ntrain: {lr_schedule: linear}\n"),
             "expected one of constant, step, cosine");
}

TEST(JobSpec, DurationsAndTimesAreValidated) {
  EXPECT_HAS(ErrorOf("name: x\ncarbon: {max_wait: 0s}\n"), "must be greater than zero");
  EXPECT_HAS(ErrorOf("name: x\ncarbon: {max_wait: soon}\n"), "'carbon.max_wait': 'soon' is not a duration");
  EXPECT_HAS(ErrorOf("name: x\ncarbon: {expected_duration: 5 hours}\n"), "expected a number with a unit");
  EXPECT_HAS(ErrorOf("name: x\ncarbon: {not_before: 2026-11-27T03:00:00}\n"), "missing UTC offset");
}

TEST(JobSpec, DeadlineMustBeAfterNotBefore) {
  std::string msg = ErrorOf(
      "name: x\ncarbon:\n  not_before: 2026-11-27T06:00:00Z\n  deadline: 2026-11-27T05:00:00Z\n");
  EXPECT_HAS(msg, "deadline 2026-11-27T05:00:00.000Z must be after not_before 2026-11-27T06:00:00.000Z");
  EXPECT_HAS(msg, "job.yaml:4:13");
  std::string short_window = ErrorOf(
      "name: x\ncarbon:\n  not_before: 2026-11-27T06:00:00Z\n  deadline: 2026-11-27T07:00:00Z\n"
      "  expected_duration: 2h\n");
  EXPECT_HAS(short_window, "shorter than expected_duration 2h");
}

TEST(JobSpec, ThresholdPolicyNeedsAThreshold) {
  EXPECT_HAS(ErrorOf("name: x\ncarbon: {policy: threshold}\n"),
             "policy 'threshold' needs threshold_gco2_per_kwh");
  EXPECT_EQ(ErrorOf("name: x\ncarbon: {policy: threshold, threshold_gco2_per_kwh: 200}\n"), "");
}

TEST(JobSpec, Fp16NeedsCuda) {
  EXPECT_HAS(ErrorOf("name: x\ntrain: {precision: fp16, device: cpu}\n"),
             "fp16 mixed precision needs CUDA");
  EXPECT_EQ(ErrorOf("name: x\ntrain: {precision: fp16, device: cuda}\n"), "");
}

TEST(JobSpec, DuplicateKeysAreRejected) {
  EXPECT_HAS(ErrorOf("name: x\ntrain:\n  epochs: 1\n  epochs: 2\n"), "duplicate key 'epochs' at job.yaml:4:3");
}

TEST(JobSpec, SyntaxErrorNamesLineAndColumn) {
  std::string msg = ErrorOf("name: x\ntrain:\n  epochs: [1, 2\n");
  EXPECT_HAS(msg, "YAML syntax error at job.yaml:");
}

TEST(JobSpec, EmptyAndNonMappingDocuments) {
  EXPECT_HAS(ErrorOf(""), "job.yaml is empty");
  EXPECT_HAS(ErrorOf("- a\n- b\n"), "expected a mapping");
}

TEST(JobSpec, EveryProblemIsReportedAtOnce) {
  auto r = ParseJobSpec("name: x\ntrain: {epochs: 0, lr: -1, device: tpu}\n", "job.yaml");
  ASSERT_FALSE(r.ok());
  const std::string m = r.status().message();
  EXPECT_HAS(m, "train.epochs");
  EXPECT_HAS(m, "train.lr");
  EXPECT_HAS(m, "train.device");
}

TEST(JobSpec, ShippedExamplesAreValid) {
  for (const auto& e : std::filesystem::directory_iterator(CARBON_SOURCE_DIR "/configs/jobs")) {
    auto r = LoadJobSpecFile(e.path().string());
    EXPECT_TRUE(r.ok()) << e.path() << ": " << r.status().message();
  }
}

TEST(JobSpec, ACommandJobHasItsRunAndTheDocumentedDefaults) {
  auto r = ParseJobSpec("name: mine\nrun:\n  command: [torchrun, --nproc_per_node=2, train.py, '']\n", "j.yaml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_TRUE(r->run);
  EXPECT_EQ(r->run->command, (std::vector<std::string>{"torchrun", "--nproc_per_node=2", "train.py", ""}));
  EXPECT_EQ(r->run->workdir, "");  // the run directory
  EXPECT_TRUE(r->run->env.empty());
  EXPECT_EQ(r->run->stop_signal, "TERM");
  EXPECT_EQ(r->run->stop_grace, std::chrono::minutes(2));
  EXPECT_EQ(r->run->report_every, std::chrono::minutes(10));
  EXPECT_EQ(GpusWanted(*r), 1);
  EXPECT_EQ(StopSignalNumber("TERM"), SIGTERM);
  EXPECT_EQ(StopSignalNumber("USR1"), SIGUSR1);
  EXPECT_EQ(StopSignalNumber("KILL"), -1);
  // Every field, in JSON too.
  auto full = ParseJobSpec(R"({"name": "full", "run": {"command": ["python3", "t.py"], "workdir": "/srv/p",
      "env": {"A_1": "x", "OMP_NUM_THREADS": "2"}, "stop_signal": "USR1", "stop_grace": "30s", "gpus": 2,
      "report_every": "1m"}, "carbon": {"policy": "threshold", "threshold_gco2_per_kwh": 150}})", "j.json");
  ASSERT_TRUE(full.ok()) << full.status().message();
  EXPECT_EQ(full->run->workdir, "/srv/p");
  EXPECT_EQ(full->run->env, (std::vector<std::pair<std::string, std::string>>{{"A_1", "x"}, {"OMP_NUM_THREADS", "2"}}));
  EXPECT_EQ(full->run->stop_signal, "USR1");
  EXPECT_EQ(full->run->stop_grace, std::chrono::seconds(30));
  EXPECT_EQ(GpusWanted(*full), 2);
  EXPECT_EQ(full->run->report_every, std::chrono::minutes(1));
  // The same command in the same place takes about as long; another does not.
  EXPECT_EQ(JobSignature(*full), "run python3 t.py @/srv/p");
  EXPECT_NE(JobSignature(*full), JobSignature(*r));
  // A command job names no data, so data roots do not apply to it.
  std::vector<std::string> roots = {"/nowhere"};
  EXPECT_TRUE(ParseJobSpec("name: m\nrun: {command: [x]}\n", "j.yaml", &roots).ok());
}

TEST(JobSpec, ACommandJobsBaselineTwinRunsTheSameCommandAtOnce) {
  const std::string text = "name: mine\nrun:\n  command: [python3, train.py]\n  stop_grace: 30s\n"
                           "carbon: {policy: forecast, zone: FR, max_wait: 12h}\n";
  auto twin = BaselineTwinSpec(text, "j.yaml");
  ASSERT_TRUE(twin.ok()) << twin.status().message();
  auto spec = ParseJobSpec(*twin, "twin");
  ASSERT_TRUE(spec.ok()) << spec.status().message() << "\n" << *twin;
  EXPECT_EQ(spec->name, "mine-baseline");
  ASSERT_TRUE(spec->run);
  EXPECT_EQ(spec->run->command, (std::vector<std::string>{"python3", "train.py"}));
  EXPECT_EQ(spec->run->stop_grace, std::chrono::seconds(30));
  EXPECT_EQ(spec->carbon.policy, "immediate");
  EXPECT_EQ(spec->carbon.zone, "FR");
  EXPECT_FALSE(spec->carbon.max_wait);
}

TEST(JobSpec, MissingFileIsAClearError) {
  auto r = LoadJobSpecFile("/nonexistent/job.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_HAS(r.status().message(), "cannot open job file '/nonexistent/job.yaml'");
}

}  // namespace
}  // namespace carbon
