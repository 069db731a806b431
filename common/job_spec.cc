#include "common/job_spec.h"

#include <signal.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "common/paths.h"
#include "common/time_util.h"
#include "common/yaml_fields.h"

namespace carbon {
namespace {

bool ValidName(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
      return false;
  return true;
}

template <typename T>
void Set(T& out, const std::optional<T>& v) {
  if (v) out = *v;
}

bool ValidEnvName(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  return true;
}

// The key node of root's `key` (for errors about the key itself).
YAML::Node KeyOf(const YAML::Node& root, const std::string& key) {
  for (auto it = root.begin(); it != root.end(); ++it)
    if (it->first.IsScalar() && it->first.Scalar() == key) return it->first;
  return root;
}

// run: a command job (docs/job-spec.md, "Command jobs").
void ParseRun(YamlFields& y, const YAML::Node& root, JobSpec& spec) {
  YAML::Node run = root["run"];
  for (const char* builtin : {"model", "data", "train"})
    if (root[builtin].IsDefined())
      y.Error(KeyOf(root, builtin), "run",
                std::string("a job is either a command (run) or a built-in network (model, data, train), not "
                            "both; this one also has '") +
                    builtin + "': remove " + builtin + " (a command brings its own model and data) or run");
  if (run.IsNull()) {
    y.Error(KeyOf(root, "run"), "run", "is empty; a command job needs at least run.command, e.g. "
                                  "command: [python3, train.py]");
    return;
  }
  if (!y.Map(run, "run", {"command", "workdir", "env", "stop_signal", "stop_grace", "gpus", "report_every"})) return;
  RunSpec r;
  YAML::Node command = run["command"];
  const std::string how = "a list of words, the program first, e.g. [python3, train.py, --epochs, '3'] or "
                          "[torchrun, --nproc_per_node=2, train.py]; for a shell line write [sh, -c, '...']";
  if (!command.IsDefined() || command.IsNull()) {
    y.ErrorAt(run, "command", "run.command", "is required: " + how);
  } else if (!command.IsSequence()) {
    y.Error(command, "run.command", "expected " + how);
  } else if (command.size() == 0) {
    y.Error(command, "run.command", "is empty; expected " + how);
  } else {
    for (size_t i = 0; i < command.size(); ++i) {
      const std::string item = "run.command[" + std::to_string(i) + "]";
      if (!command[i].IsScalar()) {
        y.Error(command[i], item, "expected a string (one word of the command line)");
        return;
      }
      r.command.push_back(command[i].Scalar());
    }
    if (r.command[0].empty()) y.Error(command[0], "run.command[0]", "the program must not be empty");
  }
  if (auto w = y.String(run, "run", "workdir")) {
    if (w->empty() || (*w)[0] != '/')
      y.ErrorAt(run, "workdir", "run.workdir",
                "'" + *w + "' is not an absolute path; use one such as /home/ann/project, or leave workdir out "
                "to start in the job's run directory");
    else
      r.workdir = *w;
  }
  YAML::Node env = run["env"];
  if (env.IsDefined() && !env.IsNull()) {
    if (!env.IsMap()) {
      y.Error(env, "run.env", "expected a mapping of variable names to strings, e.g. {OMP_NUM_THREADS: '2'}");
    } else {
      for (const auto& kv : env) {
        const std::string name = kv.first.IsScalar() ? kv.first.Scalar() : "";
        const std::string field = "run.env." + name;
        if (!ValidEnvName(name)) {
          y.Error(kv.first, "run.env",
                  "'" + name + "' is not a variable name; use letters, digits and '_', not starting with a digit "
                  "(e.g. OMP_NUM_THREADS)");
        } else if (name.rfind("CARBOND_", 0) == 0) {
          y.Error(kv.first, field, "CARBOND_ variables are carbond's to set (docs/protocol.md); pick another name");
        } else if (!kv.second.IsScalar()) {
          y.Error(kv.second, field, "expected a string value (quote numbers: '2')");
        } else {
          r.env.emplace_back(name, kv.second.Scalar());
        }
      }
    }
  }
  Set(r.stop_signal, y.Enum(run, "run", "stop_signal", {"TERM", "INT", "USR1", "USR2", "HUP"}));
  if (auto g = y.DurationField(run, "run", "stop_grace", /*allow_zero=*/true)) {
    if (*g > std::chrono::hours(24))
      y.ErrorAt(run, "stop_grace", "run.stop_grace", FormatDuration(*g) + " is too long; at most 24h (e.g. 30s, 2m, 10m)");
    else
      r.stop_grace = *g;
  }
  r.gpus = y.Int(run, "run", "gpus", 0, 64);
  if (auto e = y.DurationField(run, "run", "report_every")) {
    if (*e < std::chrono::seconds(1))
      y.ErrorAt(run, "report_every", "run.report_every",
                FormatDuration(*e) + " is not accepted; at least 1s (e.g. 30s, 10m)");
    else
      r.report_every = *e;
  }
  spec.run = std::move(r);
}

}  // namespace

StatusOr<JobSpec> ParseJobSpec(const std::string& text, const std::string& file) {
  return ParseJobSpec(text, file, nullptr);
}

StatusOr<JobSpec> ParseJobSpec(const std::string& text, const std::string& file,
                               const std::vector<std::string>* data_roots,
                               const std::vector<std::string>* sites) {
  YamlFields y(file);
  YAML::Node root = y.Parse(text);
  if (!y.ok()) return y.ToStatus();
  if (!root.IsDefined() || root.IsNull()) {
    return InvalidArgument(file + " is empty; a job needs at least 'name' (see docs/job-spec.md)");
  }
  if (!y.Map(root, "", {"name", "run", "model", "data", "train", "checkpoint", "carbon"}))
    return y.ToStatus();

  JobSpec spec;
  if (auto name = y.String(root, "", "name", /*required=*/true)) {
    spec.name = *name;
    if (!name->empty() && !ValidName(*name))
      y.ErrorAt(root, "name", "name",
                "'" + *name + "' is not accepted; use 1-64 letters, digits, '-', '_' or '.'");
  }

  if (root["run"].IsDefined()) ParseRun(y, root, spec);

  YAML::Node model = root["model"];
  if (y.Map(model, "model", {"arch", "hidden", "channels", "blocks", "width", "dropout"})) {
    Set(spec.model.arch, y.Enum(model, "model", "arch", {"mlp", "cnn", "resnet"}));
    Set(spec.model.hidden, y.IntList(model, "model", "hidden", 1, 65536));
    Set(spec.model.channels, y.IntList(model, "model", "channels", 1, 4096));
    Set(spec.model.blocks, y.Int(model, "model", "blocks", 1, 16));
    Set(spec.model.width, y.Int(model, "model", "width", 1, 1024));
    Set(spec.model.dropout, y.Double(model, "model", "dropout", 0.0, 0.95));
    if (spec.model.hidden.empty() && spec.model.arch == "mlp")
      y.ErrorAt(model, "hidden", "model.hidden", "an mlp needs at least one hidden layer width");
    if (spec.model.channels.empty() && spec.model.arch == "cnn")
      y.ErrorAt(model, "channels", "model.channels", "a cnn needs at least one stage");
  }

  YAML::Node data = root["data"];
  if (y.Map(data, "data", {"format", "path", "train_limit", "test_limit"})) {
    Set(spec.data.format, y.Enum(data, "data", "format", {"idx", "cifar10"}));
    if (auto p = y.String(data, "data", "path")) {
      if (p->empty()) y.ErrorAt(data, "path", "data.path", "must not be empty");
      spec.data.path = *p;
    }
    Set(spec.data.train_limit, y.Int(data, "data", "train_limit", 0, 100'000'000));
    Set(spec.data.test_limit, y.Int(data, "data", "test_limit", 0, 100'000'000));
  }
  if (data_roots && !spec.data.path.empty() && !root["run"].IsDefined()) {
    if (auto inside = ResolveInsideRoots(spec.data.path, *data_roots); !inside.ok())
      y.ErrorAt(data.IsMap() ? data : root, "path", "data.path", inside.status().message());
  }

  YAML::Node train = root["train"];
  if (y.Map(train, "train",
            {"epochs", "batch_size", "accumulation_steps", "optimizer", "lr", "momentum",
             "lr_schedule", "weight_decay", "seed", "precision", "device", "threads", "gpus"})) {
    TrainSpec& t = spec.train;
    Set(t.epochs, y.Int(train, "train", "epochs", 1, 100'000));
    auto bs = y.Int(train, "train", "batch_size", 1, 1 << 20);
    auto acc = y.Int(train, "train", "accumulation_steps", 1, 64);
    Set(t.batch_size, bs);
    Set(t.accumulation_steps, acc);
    if ((bs || acc) && t.batch_size % t.accumulation_steps != 0) {
      y.ErrorAt(train, acc ? "accumulation_steps" : "batch_size", "train.accumulation_steps",
                "batch_size " + std::to_string(t.batch_size) +
                    " is not divisible by accumulation_steps " +
                    std::to_string(t.accumulation_steps) +
                    "; each micro-batch is batch_size / accumulation_steps samples, so pick "
                    "a divisor of batch_size (e.g. 2, 4 or 8 for 64)");
    }
    Set(t.optimizer, y.Enum(train, "train", "optimizer", {"sgd", "adam", "adamw"}));
    Set(t.lr, y.Double(train, "train", "lr", 0.0, 10.0, /*min_exclusive=*/true));
    Set(t.momentum, y.Double(train, "train", "momentum", 0.0, 0.999));
    YAML::Node sched = train["lr_schedule"];
    if (sched.IsDefined() && sched.IsScalar()) {
      // Short form: lr_schedule: cosine
      Set(t.lr_schedule.type, y.Enum(train, "train", "lr_schedule", {"constant", "step", "cosine"}));
    } else if (y.Map(sched, "train.lr_schedule", {"type", "step_epochs", "gamma", "min_lr"})) {
      Set(t.lr_schedule.type,
          y.Enum(sched, "train.lr_schedule", "type", {"constant", "step", "cosine"}));
      Set(t.lr_schedule.step_epochs, y.Int(sched, "train.lr_schedule", "step_epochs", 1, 100'000));
      Set(t.lr_schedule.gamma, y.Double(sched, "train.lr_schedule", "gamma", 0.0, 1.0, true));
      Set(t.lr_schedule.min_lr, y.Double(sched, "train.lr_schedule", "min_lr", 0.0, 10.0));
    }
    Set(t.weight_decay, y.Double(train, "train", "weight_decay", 0.0, 1.0));
    Set(t.seed, y.Int(train, "train", "seed", 0, INT64_MAX));
    Set(t.precision, y.Enum(train, "train", "precision", {"fp32", "fp16", "bf16", "auto"}));
    Set(t.device, y.Enum(train, "train", "device", {"auto", "cpu", "cuda"}));
    Set(t.threads, y.Int(train, "train", "threads", 0, 1024));
    t.gpus = y.Int(train, "train", "gpus", 0, 64);
    if (t.gpus && *t.gpus > 0 && t.device == "cpu")
      y.ErrorAt(train, "gpus", "train.gpus",
                std::to_string(*t.gpus) + " GPUs for a job on device cpu; use device cuda or auto, or gpus: 0");
    if (t.gpus && *t.gpus == 0 && t.device == "cuda")
      y.ErrorAt(train, "gpus", "train.gpus", "0 GPUs for a job on device cuda; use 1 or more, or device cpu");
    if (t.precision == "fp16" && t.device == "cpu")
      y.ErrorAt(train, "precision", "train.precision",
                "fp16 mixed precision needs CUDA; on device cpu use bf16 or fp32 (or device "
                "auto/cuda)");
  }

  YAML::Node ckpt = root["checkpoint"];
  if (y.Map(ckpt, "checkpoint", {"every_epochs", "keep"})) {
    Set(spec.checkpoint.every_epochs, y.Int(ckpt, "checkpoint", "every_epochs", 1, 100'000));
    Set(spec.checkpoint.keep, y.Int(ckpt, "checkpoint", "keep", 1, 100));
  }

  YAML::Node carbon = root["carbon"];
  if (y.Map(carbon, "carbon",
            {"policy", "zone", "threshold_gco2_per_kwh", "max_wait", "not_before", "deadline",
             "expected_duration", "budget_kg", "sites", "gpu_power_cap", "interruptible", "min_segment"})) {
    CarbonSpec& c = spec.carbon;
    Set(c.policy, y.Enum(carbon, "carbon", "policy", {"immediate", "threshold", "forecast"}));
    Set(c.zone, y.String(carbon, "carbon", "zone"));
    c.threshold_gco2_per_kwh = y.Double(carbon, "carbon", "threshold_gco2_per_kwh", 0.0, 5000.0);
    c.max_wait = y.DurationField(carbon, "carbon", "max_wait");
    c.not_before = y.Time(carbon, "carbon", "not_before");
    c.deadline = y.Time(carbon, "carbon", "deadline");
    c.expected_duration = y.DurationField(carbon, "carbon", "expected_duration");
    c.budget_kg = y.Double(carbon, "carbon", "budget_kg", 0.0, 1e9, /*min_exclusive=*/true);
    if (auto names = y.StringList(carbon, "carbon", "sites", sites ? *sites : std::vector<std::string>{})) {
      if (names->empty())
        y.ErrorAt(carbon, "sites", "carbon.sites",
                  "list at least one site, or leave carbon.sites out for carbond's default site");
      for (const std::string& n : *names)
        if (std::find(c.sites.begin(), c.sites.end(), n) == c.sites.end()) c.sites.push_back(n);
    }
    YAML::Node cap = carbon["gpu_power_cap"];
    if (cap.IsDefined() && !cap.IsNull() && y.Map(cap, "carbon.gpu_power_cap", {"above_gco2_per_kwh", "limit_pct"})) {
      auto above = y.Double(cap, "carbon.gpu_power_cap", "above_gco2_per_kwh", 0.0, 5000.0, false, true);
      auto pct = y.Double(cap, "carbon.gpu_power_cap", "limit_pct", 0.0, 100.0, /*min_exclusive=*/true, true);
      if (above && pct) c.gpu_power_cap = CarbonSpec::GpuPowerCap{*above, *pct};
      if (GpusWanted(spec) == 0)
        y.ErrorAt(carbon, "gpu_power_cap", "carbon.gpu_power_cap",
                  spec.run ? "the command is given no GPU (run.gpus 0): it has no GPU to cap; give it run.gpus, "
                             "or leave gpu_power_cap out"
                           : "the job trains on the CPU (train.device cpu or train.gpus 0): it has no GPU to cap; use "
                             "train.device cuda or auto, or leave gpu_power_cap out");
    }
    Set(c.interruptible, y.Bool(carbon, "carbon", "interruptible"));
    if (auto seg = y.DurationField(carbon, "carbon", "min_segment")) {
      if (*seg < std::chrono::minutes(1))
        y.ErrorAt(carbon, "min_segment", "carbon.min_segment",
                  FormatDuration(*seg) + " is not accepted; a segment lasts at least 1m (e.g. 30m, 1h, 2h)");
      else
        c.min_segment = *seg;
      if (!c.interruptible)
        y.ErrorAt(carbon, "min_segment", "carbon.min_segment",
                  "applies to interruptible jobs only; add interruptible: true or leave min_segment out");
    }
    if (c.interruptible && c.policy != "forecast")
      y.ErrorAt(carbon, "interruptible", "carbon.interruptible",
                "needs policy forecast (its segments are planned over the forecast); policy is '" + c.policy + "'");
    if (c.interruptible && c.sites.size() > 1)
      y.ErrorAt(carbon, "interruptible", "carbon.interruptible",
                "an interruptible job resumes from its checkpoint where it ran, so it names one site; carbon.sites "
                "lists " + std::to_string(c.sites.size()));
    if (c.policy == "threshold" && !c.threshold_gco2_per_kwh && y.ok())
      y.Error(carbon, "carbon.threshold_gco2_per_kwh",
              "policy 'threshold' needs threshold_gco2_per_kwh (gCO2/kWh, e.g. 200)");
    if (c.not_before && c.deadline && *c.deadline <= *c.not_before)
      y.ErrorAt(carbon, "deadline", "carbon.deadline",
                "deadline " + FormatTime(*c.deadline) + " must be after not_before " +
                    FormatTime(*c.not_before));
    else if (c.not_before && c.deadline && c.expected_duration &&
             *c.deadline - *c.expected_duration < *c.not_before)
      y.ErrorAt(carbon, "deadline", "carbon.deadline",
                "the window from not_before to deadline is shorter than expected_duration " +
                    FormatDuration(*c.expected_duration));
  }

  RETURN_IF_ERROR(y.ToStatus());
  return spec;
}

std::string JobSignature(const JobSpec& s) {
  if (s.run) {  // the same command in the same place takes about as long
    std::string sig = "run";
    for (const std::string& w : s.run->command) sig += " " + w;
    return sig + " @" + s.run->workdir;
  }
  auto list = [](const std::vector<int64_t>& v) {
    std::string out;
    for (int64_t x : v) out += (out.empty() ? "" : "x") + std::to_string(x);
    return out;
  };
  std::string sig = s.model.arch;
  if (s.model.arch == "mlp") sig += "[" + list(s.model.hidden) + "]";
  if (s.model.arch == "cnn") sig += "[" + list(s.model.channels) + "]";
  if (s.model.arch == "resnet") sig += "[" + std::to_string(s.model.blocks) + "," + std::to_string(s.model.width) + "]";
  sig += " " + s.data.format + ":" + s.data.path + ":" + std::to_string(s.data.train_limit) + "/" +
         std::to_string(s.data.test_limit);
  sig += " e" + std::to_string(s.train.epochs) + " b" + std::to_string(s.train.batch_size) + "/" +
         std::to_string(s.train.accumulation_steps) + " " + s.train.precision + " " + s.train.device;
  return sig;
}

StatusOr<JobSpec> LoadJobSpecFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidArgument("cannot open job file '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ParseJobSpec(ss.str(), path);
}

StatusOr<std::string> BaselineTwinSpec(const std::string& spec_text, const std::string& file) {
  ASSIGN_OR_RETURN(JobSpec spec, ParseJobSpec(spec_text, file));
  YAML::Node root = YAML::Load(spec_text);  // parsed above, so it loads
  root["name"] = spec.name + "-baseline";
  YAML::Node carbon(YAML::NodeType::Map);
  carbon["policy"] = "immediate";
  if (!spec.carbon.zone.empty()) carbon["zone"] = spec.carbon.zone;
  if (!spec.carbon.sites.empty()) carbon["sites"] = spec.carbon.sites;  // where the job would run without carbond
  root["carbon"] = carbon;
  if (spec.run) {  // the same command, run at once
    YAML::Emitter out;
    out << root;
    std::string text = std::string(out.c_str()) + "\n";
    RETURN_IF_ERROR(ParseJobSpec(text, file + " (baseline twin)").status());
    return text;
  }
  if (!root["train"] || !root["train"].IsMap()) root["train"] = YAML::Node(YAML::NodeType::Map);
  root["train"]["accumulation_steps"] = 1;
  root["train"]["precision"] = "fp32";
  YAML::Emitter out;
  out << root;
  std::string text = std::string(out.c_str()) + "\n";
  RETURN_IF_ERROR(ParseJobSpec(text, file + " (baseline twin)").status());
  return text;
}

int64_t GpusWanted(const TrainSpec& t) { return t.gpus ? *t.gpus : (t.device == "cpu" ? 0 : 1); }

int64_t GpusWanted(const JobSpec& spec) {
  if (spec.run) return spec.run->gpus.value_or(1);
  return GpusWanted(spec.train);
}

int StopSignalNumber(const std::string& name) {
  if (name == "TERM") return SIGTERM;
  if (name == "INT") return SIGINT;
  if (name == "USR1") return SIGUSR1;
  if (name == "USR2") return SIGUSR2;
  if (name == "HUP") return SIGHUP;
  return -1;
}

}  // namespace carbon
