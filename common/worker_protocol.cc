#include "common/worker_protocol.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace carbon::protocol {
namespace {

using ojson = nlohmann::ordered_json;

template <class... F>
struct Overload : F... {
  using F::operator()...;
};
template <class... F>
Overload(F...) -> Overload<F...>;

// A field of the wrong type: the decoder's one exception, caught in Decode.
struct FieldError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Reads the fields of one event object: absent or null gives the default,
// any other type than the one expected is a FieldError naming the field.
class Fields {
 public:
  Fields(const nlohmann::json& j, std::string event) : j_(j), event_(std::move(event)) {}

  int64_t Int(const char* key, int64_t def = 0) const {
    const auto* v = Find(key);
    if (!v) return def;
    if (!v->is_number_integer()) throw Wrong(key, "an integer", *v);
    return v->get<int64_t>();
  }
  double Num(const char* key, double def = 0) const {
    const auto* v = Find(key);
    if (!v) return def;
    if (!v->is_number()) throw Wrong(key, "a number", *v);
    return v->get<double>();
  }
  std::string Str(const char* key) const {
    const auto* v = Find(key);
    if (!v) return {};
    if (!v->is_string()) throw Wrong(key, "a string", *v);
    return v->get<std::string>();
  }
  // A string from a fixed set; absent gives "".
  std::string OneOf(const char* key, std::initializer_list<const char*> allowed, const char* want) const {
    std::string s = Str(key);
    if (s.empty() || std::any_of(allowed.begin(), allowed.end(), [&](const char* a) { return s == a; })) return s;
    throw Wrong(key, want, *Find(key));
  }
  bool Bool(const char* key) const {
    const auto* v = Find(key);
    if (!v) return false;
    if (!v->is_boolean()) throw Wrong(key, "true or false", *v);
    return v->get<bool>();
  }
  std::optional<int64_t> OptInt(const char* key) const {
    return Find(key) ? std::optional<int64_t>(Int(key)) : std::nullopt;
  }
  std::optional<double> OptNum(const char* key) const {
    return Find(key) ? std::optional<double>(Num(key)) : std::nullopt;
  }
  int64_t RequiredInt(const char* key) const {
    if (!Find(key)) throw FieldError("'" + event_ + "' event without its field '" + key + "'");
    return Int(key);
  }
  Fields Object(const char* key) const {
    const auto* v = Find(key);
    if (!v) return Fields(Empty(), event_);
    if (!v->is_object()) throw Wrong(key, "an object", *v);
    return Fields(*v, event_);
  }

 private:
  static const nlohmann::json& Empty() {
    static const nlohmann::json empty = nlohmann::json::object();
    return empty;
  }
  const nlohmann::json* Find(const char* key) const {
    auto it = j_.find(key);
    return it == j_.end() || it->is_null() ? nullptr : &*it;
  }
  FieldError Wrong(const char* key, const char* want, const nlohmann::json& got) const {
    return FieldError("'" + event_ + "' event: field '" + key + "' must be " + want + ", not " + got.dump());
  }
  const nlohmann::json& j_;
  std::string event_;
};

ojson EncodeFields(const Started& s) {
  return {{"device", s.device},
          {"precision", s.precision},
          {"threads", s.threads},
          {"blas", s.blas},
          {"blas_kind", s.blas_kind},
          {"train_samples", s.train_samples},
          {"test_samples", s.test_samples},
          {"batch_size", s.batch_size},
          {"accumulation_steps", s.accumulation_steps},
          {"micro_batch", s.micro_batch},
          {"resumed_epoch", s.resumed_epoch},
          {"resumed_step", s.resumed_step},
          {"epochs", s.epochs}};
}
ojson EncodeFields(const Progress& p) {
  return {{"epoch", p.epoch}, {"epochs", p.epochs}, {"step", p.step}, {"steps", p.steps}, {"train_loss", p.train_loss}};
}
// An epoch's host: only what is known.
ojson HostFields(const EpochHost& h) {
  ojson host = ojson::object();
  auto put = [&host](const char* key, const auto& v) {
    if (v) host[key] = *v;
  };
  if (!h.cpu_model.empty()) host["cpu_model"] = h.cpu_model;
  put("cpu_count", h.cpu_count);
  if (!h.gpu_model.empty()) host["gpu_model"] = h.gpu_model;
  put("gpu_count", h.gpu_count);
  put("ram_total_gib", h.ram_total_gib);
  if (!h.os.empty()) host["os"] = h.os;
  put("cpu_utilization_percent", h.cpu_utilization_pct);
  put("ram_utilization_percent", h.ram_utilization_pct);
  put("ram_used_gib", h.ram_used_gib);
  return host;
}
EpochHost DecodeHostFields(const Fields& h) {
  EpochHost e;
  e.cpu_model = h.Str("cpu_model");
  e.cpu_count = h.OptInt("cpu_count");
  e.gpu_model = h.Str("gpu_model");
  e.gpu_count = h.OptInt("gpu_count");
  e.ram_total_gib = h.OptNum("ram_total_gib");
  e.os = h.Str("os");
  e.cpu_utilization_pct = h.OptNum("cpu_utilization_percent");
  e.ram_utilization_pct = h.OptNum("ram_utilization_percent");
  e.ram_used_gib = h.OptNum("ram_used_gib");
  return e;
}
ojson EncodeFields(const Epoch& ep) {
  const EpochRecord& e = ep.record;
  ojson j = {{"epoch", e.epoch},
             {"epochs", ep.epochs},
             {"train_loss", e.train_loss},
             {"test_loss", e.test_loss},
             {"test_accuracy", e.test_accuracy},
             {"samples", e.samples},
             {"samples_per_s", e.samples_per_s},
             {"wall_s", e.wall_s},
             {"lr", e.lr},
             {"peak_memory_bytes", e.peak_memory_bytes},
             {"memory_baseline_bytes", ep.memory_baseline_bytes},
             {"memory_added_bytes", e.memory_added_bytes ? ojson(*e.memory_added_bytes) : ojson(nullptr)},
             {"memory_method", e.memory_method},
             {"skipped_steps", ep.skipped_steps},
             {"loss_scale", ep.loss_scale}};
  if (ep.energy_samples) {
    j["energy"] = {{"cpu_kwh", e.cpu_kwh},       {"gpu_kwh", e.gpu_kwh},       {"ram_kwh", e.ram_kwh},
                   {"energy_kwh", e.energy_kwh}, {"cpu_w", e.cpu_w},           {"gpu_w", e.gpu_w},
                   {"ram_w", e.ram_w},           {"cpu_method", e.cpu_method}, {"gpu_method", e.gpu_method},
                   {"ram_method", e.ram_method}, {"samples", *ep.energy_samples}};
    if (e.energy_s) j["energy"]["seconds"] = *e.energy_s;
    if (!e.tracking_mode.empty()) j["energy"]["tracking_mode"] = e.tracking_mode;
    if (e.gpu_power_limit_w) j["energy"]["gpu_power_limit_w"] = *e.gpu_power_limit_w;
    if (ep.pue) j["energy"]["pue"] = *ep.pue;
    if (ep.measure_power_secs) j["energy"]["measure_power_secs"] = *ep.measure_power_secs;
    if (ep.process_cpu_s) j["energy"]["process_cpu_s"] = *ep.process_cpu_s;
  }
  if (e.kg_co2) {
    j["kg_co2"] = *e.kg_co2;
    j["gco2_per_kwh"] = e.gco2_per_kwh ? ojson(*e.gco2_per_kwh) : ojson(nullptr);
    j["intensity_source"] = e.intensity_source;
    if (!e.zone.empty()) j["zone"] = e.zone;
  }
  if (ojson host = HostFields(e.host); !host.empty()) j["host"] = std::move(host);
  return j;
}
ojson EncodeFields(const Checkpoint& c) { return {{"epoch", c.epoch}, {"step", c.step}, {"path", c.path}}; }
ojson EncodeFields(const Interrupted& i) {
  return {{"epoch", i.epoch}, {"step", i.step}, {"checkpointed", i.checkpointed}};
}
ojson EncodeFields(const Finished& f) {
  return {{"test_accuracy", f.test_accuracy},
          {"test_loss", f.test_loss},
          {"best_accuracy", f.best_accuracy},
          {"epochs", f.epochs}};
}
ojson EncodeFields(const Failed& f) { return {{"message", f.message}, {"retryable", f.retryable}}; }

Event DecodeStarted(const Fields& f) {
  Started s;
  s.device = f.Str("device");
  s.precision = f.Str("precision");
  s.threads = f.Int("threads");
  s.blas = f.Str("blas");
  s.blas_kind = f.Str("blas_kind");
  s.train_samples = f.Int("train_samples");
  s.test_samples = f.Int("test_samples");
  s.batch_size = f.Int("batch_size");
  s.accumulation_steps = f.Int("accumulation_steps", 1);
  s.micro_batch = f.Int("micro_batch");
  s.resumed_epoch = f.Int("resumed_epoch");
  s.resumed_step = f.Int("resumed_step");
  s.epochs = f.Int("epochs");
  return s;
}
Event DecodeProgress(const Fields& f) {
  return Progress{f.Int("epoch"), f.Int("epochs"), f.Int("step"), f.Int("steps"), f.Num("train_loss")};
}
Event DecodeEpoch(const Fields& f) {
  Epoch ep;
  EpochRecord& e = ep.record;
  e.epoch = f.RequiredInt("epoch");
  if (e.epoch < 1) throw FieldError("'epoch' event: field 'epoch' must be 1 or more, not " + std::to_string(e.epoch));
  ep.epochs = f.Int("epochs");
  e.train_loss = f.Num("train_loss");
  e.test_loss = f.Num("test_loss");
  e.test_accuracy = f.Num("test_accuracy");
  e.samples = f.Int("samples");
  e.samples_per_s = f.Num("samples_per_s");
  e.wall_s = f.Num("wall_s");
  e.lr = f.Num("lr");
  e.peak_memory_bytes = f.Int("peak_memory_bytes");
  ep.memory_baseline_bytes = f.Int("memory_baseline_bytes");
  e.memory_added_bytes = f.OptInt("memory_added_bytes");
  e.memory_method = f.Str("memory_method");
  ep.skipped_steps = f.Int("skipped_steps");
  ep.loss_scale = f.Num("loss_scale", 1.0);
  const Fields en = f.Object("energy");
  ep.energy_samples = en.OptInt("samples");
  e.energy_s = en.OptNum("seconds");
  e.cpu_kwh = en.Num("cpu_kwh");
  e.gpu_kwh = en.Num("gpu_kwh");
  e.ram_kwh = en.Num("ram_kwh");
  e.energy_kwh = en.Num("energy_kwh", e.cpu_kwh + e.gpu_kwh + e.ram_kwh);
  e.cpu_w = en.Num("cpu_w");
  e.gpu_w = en.Num("gpu_w");
  e.ram_w = en.Num("ram_w");
  e.cpu_method = en.Str("cpu_method");
  e.gpu_method = en.Str("gpu_method");
  e.ram_method = en.Str("ram_method");
  e.tracking_mode = en.OneOf("tracking_mode", {"machine", "process"}, "\"machine\" or \"process\"");
  e.gpu_power_limit_w = en.OptNum("gpu_power_limit_w");
  ep.pue = en.OptNum("pue");
  ep.measure_power_secs = en.OptNum("measure_power_secs");
  ep.process_cpu_s = en.OptNum("process_cpu_s");
  e.kg_co2 = f.OptNum("kg_co2");
  e.gco2_per_kwh = f.OptNum("gco2_per_kwh");
  e.intensity_source = f.Str("intensity_source");
  e.zone = f.Str("zone");
  e.host = DecodeHostFields(f.Object("host"));
  return ep;
}
Event DecodeCheckpoint(const Fields& f) { return Checkpoint{f.Int("epoch"), f.Int("step"), f.Str("path")}; }
Event DecodeInterrupted(const Fields& f) {
  return Interrupted{f.Int("epoch"), f.Int("step"), f.Bool("checkpointed")};
}
Event DecodeFinished(const Fields& f) {
  return Finished{f.Num("test_accuracy"), f.Num("test_loss"), f.Num("best_accuracy"), f.Int("epochs")};
}
Event DecodeFailed(const Fields& f) { return Failed{f.Str("message"), f.Bool("retryable")}; }

std::string Excerpt(std::string_view line) {
  return std::string(line.substr(0, 120)) + (line.size() > 120 ? "..." : "");
}

}  // namespace

WorkerExit WorkerExitFromCode(int64_t code) {
  switch (code) {
    case 0: return WorkerExit::kOk;
    case 2: return WorkerExit::kRejected;
    case 3: return WorkerExit::kOutOfMemory;
    case 75: return WorkerExit::kInterrupted;
    default: return WorkerExit::kFailed;
  }
}

const char* WorkerExitName(WorkerExit e) {
  switch (e) {
    case WorkerExit::kOk: return "ok";
    case WorkerExit::kFailed: return "failed";
    case WorkerExit::kRejected: return "rejected";
    case WorkerExit::kOutOfMemory: return "out_of_memory";
    case WorkerExit::kInterrupted: return "interrupted";
  }
  return "failed";
}

const char* EventName(const Event& e) {
  return std::visit(Overload{[](const Started&) { return "started"; }, [](const Progress&) { return "progress"; },
                             [](const Epoch&) { return "epoch"; }, [](const Checkpoint&) { return "checkpoint"; },
                             [](const Interrupted&) { return "interrupted"; },
                             [](const Finished&) { return "finished"; }, [](const Failed&) { return "failed"; }},
                    e);
}

std::string Encode(const Event& e) {
  ojson j = {{"v", kVersion}, {"event", EventName(e)}};
  ojson fields = std::visit([](const auto& ev) { return EncodeFields(ev); }, e);
  for (auto& [k, v] : fields.items()) j[k] = v;
  return j.dump() + "\n";
}

std::string EncodeHost(const EpochHost& host) { return HostFields(host).dump(); }

StatusOr<EpochHost> DecodeHost(std::string_view object) {
  auto j = nlohmann::json::parse(object.begin(), object.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return InvalidArgument("an epoch's host is not a JSON object: " + Excerpt(object));
  try {
    return DecodeHostFields(Fields(j, "epoch"));
  } catch (const FieldError& e) {
    return InvalidArgument(e.what());
  }
}

StatusOr<Event> Decode(std::string_view line) {
  auto j = nlohmann::json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return InvalidArgument("not a worker event (one JSON object per line expected): " + Excerpt(line));
  auto v = j.find("v");
  if (v == j.end() || !v->is_number_integer())
    return FailedPrecondition("worker event without a protocol version (\"v\"): this carbond speaks worker "
                              "protocol " + std::to_string(kVersion) +
                              "; install the carbon-worker of the same release: " + Excerpt(line));
  if (v->get<int64_t>() != kVersion)
    return FailedPrecondition("the worker speaks protocol version " + std::to_string(v->get<int64_t>()) +
                              " and this carbond speaks version " + std::to_string(kVersion) +
                              "; install the carbon-worker of the same release");
  auto ev = j.find("event");
  if (ev == j.end() || !ev->is_string())
    return InvalidArgument("worker event without a string field 'event': " + Excerpt(line));
  const std::string name = ev->get<std::string>();
  const Fields f(j, name);
  try {
    if (name == "started") return DecodeStarted(f);
    if (name == "progress") return DecodeProgress(f);
    if (name == "epoch") return DecodeEpoch(f);
    if (name == "checkpoint") return DecodeCheckpoint(f);
    if (name == "interrupted") return DecodeInterrupted(f);
    if (name == "finished") return DecodeFinished(f);
    if (name == "failed") return DecodeFailed(f);
  } catch (const FieldError& e) {
    return InvalidArgument(e.what());
  }
  return InvalidArgument("unknown worker event '" + name +
                         "' (protocol 1 has started, progress, epoch, checkpoint, interrupted, finished, failed)");
}

void EventStreamDecoder::Feed(std::string_view bytes, const Sink& sink) {
  while (!bytes.empty()) {
    const size_t nl = bytes.find('\n');
    const std::string_view piece = bytes.substr(0, nl);
    if (skipping_) {
      if (nl == std::string_view::npos) return;
      skipping_ = false;
    } else if (pending_.size() + piece.size() > kMaxLine) {
      pending_.clear();
      skipping_ = nl == std::string_view::npos;
      sink(InvalidArgument("worker event longer than " + std::to_string(kMaxLine) + " bytes: skipped"), {});
    } else if (nl == std::string_view::npos) {
      pending_.append(piece);
      return;
    } else {
      pending_.append(piece);
      if (!pending_.empty() && pending_.back() == '\r') pending_.pop_back();
      if (!pending_.empty()) sink(Decode(pending_), pending_);
      pending_.clear();
    }
    if (nl == std::string_view::npos) return;
    bytes.remove_prefix(nl + 1);
  }
}

Status EventsFileFollower::Poll(const EventStreamDecoder::Sink& sink) {
  // Opened anew at each poll: on NFS (a cluster's shared run directories)
  // only an open sees what another host appended since (close-to-open).
  int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return Status();
    return Unavailable("cannot read the events file " + path_ + ": " + std::strerror(errno));
  }
  char buf[65536];
  Status st;
  for (;;) {
    ssize_t n = ::pread(fd, buf, sizeof buf, offset_);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      st = Unavailable("cannot read the events file " + path_ + ": " + std::strerror(errno));
      break;
    }
    if (n == 0) break;
    offset_ += n;
    decoder_.Feed(std::string_view(buf, static_cast<size_t>(n)), sink);
  }
  ::close(fd);
  return st;
}

}  // namespace carbon::protocol
