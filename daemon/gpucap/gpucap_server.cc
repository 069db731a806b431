#include "daemon/gpucap/gpucap_server.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/gpu_names.h"

namespace carbon::gpucap {
namespace {

using json = nlohmann::json;

std::string Refuse(const std::string& why) { return json{{"ok", false}, {"error", why}}.dump(); }

json LimitsJson(const GpuLimits& l, const std::map<std::string, double>& stored) {
  auto s = stored.find(l.uuid);
  return {{"index", l.index},     {"uuid", l.uuid},   {"limit_w", l.limit_w},
          {"default_w", l.default_w}, {"min_w", l.min_w}, {"max_w", l.max_w},
          {"stored_w", s == stored.end() ? json(nullptr) : json(s->second)}};
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Text(const double w) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f", w);
  return buf;
}

}  // namespace

Server::Server(NvmlControl* nvml, std::string nvml_error, ServerOptions options)
    : nvml_(nvml), nvml_error_(std::move(nvml_error)), o_(std::move(options)) {}

StatusOr<std::map<std::string, double>> Server::Stored() const {
  std::map<std::string, double> out;
  std::ifstream in(o_.state_path);
  if (!in) return out;  // nothing stored yet
  try {
    json j = json::parse(in);
    for (auto& [uuid, w] : j.items()) out[uuid] = w.get<double>();
  } catch (const json::exception& e) {
    return DataLoss("stored limits " + o_.state_path + " are unreadable (" + e.what() +
                    "); restore the GPUs with nvidia-smi -pl and remove the file");
  }
  return out;
}

Status Server::Store(const std::map<std::string, double>& stored) const {
  const std::string tmp = o_.state_path + ".tmp";
  const std::string text = json(stored).dump() + "\n";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  if (!ok || ::rename(tmp.c_str(), o_.state_path.c_str()) != 0)
    return Unavailable("cannot store the GPUs' limits in " + o_.state_path + "; nothing was changed");
  return Status();
}

Status Server::CheckOwner(int64_t pid, uid_t uid, size_t index) const {
  const std::string dir = o_.proc_root + "/" + std::to_string(pid);
  std::istringstream status(ReadAll(dir + "/status"));
  long real_uid = -1;
  for (std::string line; std::getline(status, line);)
    if (line.rfind("Uid:", 0) == 0) real_uid = std::strtol(line.c_str() + 4, nullptr, 10);
  if (real_uid < 0) return PermissionDenied("no running process " + std::to_string(pid));
  if (static_cast<uid_t>(real_uid) != uid)
    return PermissionDenied("process " + std::to_string(pid) + " runs as uid " + std::to_string(real_uid) +
                            ", not as the caller's uid " + std::to_string(uid));
  // Reading another user's environment takes CAP_SYS_PTRACE (the unit grants it).
  std::ifstream environ(dir + "/environ", std::ios::binary);
  if (!environ.is_open())
    return PermissionDenied("cannot read " + dir + "/environ to see process " + std::to_string(pid) +
                            "'s GPUs (carbond-gpucap needs root with CAP_SYS_PTRACE); nothing was changed");
  std::stringstream env_text;
  env_text << environ.rdbuf();
  const std::string env = env_text.str();
  const std::string key = "CUDA_VISIBLE_DEVICES=";
  for (size_t at = 0; at < env.size();) {
    size_t end = env.find('\0', at);
    if (end == std::string::npos) end = env.size();
    if (env.compare(at, key.size(), key) == 0) {
      const std::string visible = env.substr(at + key.size(), end - at - key.size());
      for (size_t k : VisibleGpus(visible, nvml_->uuids()))
        if (k == index) return Status();
      return PermissionDenied(nvml_->uuids()[index] + " is not a GPU of process " + std::to_string(pid) +
                              " (CUDA_VISIBLE_DEVICES=" + visible + ")");
    }
    at = end + 1;
  }
  return Status();  // CUDA_VISIBLE_DEVICES unset: the worker sees every GPU
}

std::string Server::Handle(const std::string& line, uid_t peer_uid) {
  if (peer_uid != o_.allow_uid)
    return Refuse("uid " + std::to_string(peer_uid) + " may not use carbond-gpucap; only carbond's uid " +
                  std::to_string(o_.allow_uid) + " may");
  json req;
  try {
    req = json::parse(line);
  } catch (const json::exception&) {
    return Refuse("the request is not JSON; expected one object per line, e.g. {\"op\":\"limits\"}");
  }
  if (!req.is_object() || !req.contains("op") || !req["op"].is_string())
    return Refuse("the request has no \"op\"; expected limits, set or restore");
  const std::string op = req["op"];
  if (op != "limits" && op != "set" && op != "restore")
    return Refuse("unknown op '" + op + "'; expected limits, set or restore");
  if (!nvml_) return Refuse(nvml_error_);
  auto stored = Stored();
  if (!stored.ok()) return Refuse(stored.status().message());
  auto names = [&](const char* key) -> StatusOr<std::vector<std::string>> {
    std::vector<std::string> out;
    if (!req.contains(key)) return out;
    if (!req[key].is_array()) return InvalidArgument(std::string("\"") + key + "\" must be a list of GPUs");
    for (const json& g : req[key]) {
      if (g.is_number_unsigned()) out.push_back(std::to_string(g.get<uint64_t>()));
      else if (g.is_string()) out.push_back(g.get<std::string>());
      else return InvalidArgument(std::string("\"") + key + "\" must list NVML indices or UUIDs");
    }
    return out;
  };

  if (op == "limits") {
    auto want = names("gpus");
    if (!want.ok()) return Refuse(want.status().message());
    auto gpus = nvml_->Resolve(*want);
    if (!gpus.ok()) return Refuse(gpus.status().message());
    json out = json::array();
    for (size_t k : *gpus) {
      auto l = nvml_->Limits(k);
      if (!l.ok()) return Refuse(l.status().message());
      out.push_back(LimitsJson(*l, *stored));
    }
    return json{{"ok", true}, {"gpus", out}}.dump();
  }

  if (op == "set") {
    if (!req.contains("pid") || !req["pid"].is_number_integer() || req["pid"].get<int64_t>() <= 1)
      return Refuse("set needs \"pid\": the worker process whose GPU it caps");
    if (!req.contains("gpu") || !(req["gpu"].is_string() || req["gpu"].is_number_unsigned()))
      return Refuse("set needs \"gpu\": an NVML index or UUID");
    if (!req.contains("limit_w") || !req["limit_w"].is_number())
      return Refuse("set needs \"limit_w\": the power limit in watts");
    const std::string name = req["gpu"].is_string() ? req["gpu"].get<std::string>()
                                                    : std::to_string(req["gpu"].get<uint64_t>());
    auto gpu = nvml_->Resolve({name});
    if (!gpu.ok()) return Refuse(gpu.status().message());
    const size_t k = gpu->front();
    if (Status st = CheckOwner(req["pid"].get<int64_t>(), peer_uid, k); !st.ok()) return Refuse(st.message());
    auto l = nvml_->Limits(k);
    if (!l.ok()) return Refuse(l.status().message());
    const double w = req["limit_w"].get<double>();
    if (w < l->min_w || w > l->max_w)
      return Refuse("limit " + Text(w) + " W is outside " + l->uuid + "'s constraints, " + Text(l->min_w) + "-" +
                    Text(l->max_w) + " W");
    if (!stored->count(l->uuid)) {  // the limit to restore, stored before the first change
      (*stored)[l->uuid] = l->limit_w;
      if (Status st = Store(*stored); !st.ok()) return Refuse(st.message());
    }
    if (Status st = nvml_->SetLimit(k, w); !st.ok()) return Refuse(st.message());
    auto after = nvml_->Limits(k);
    if (!after.ok()) return Refuse(after.status().message());
    return json{{"ok", true}, {"gpu", LimitsJson(*after, *stored)}}.dump();
  }

  // restore
  std::vector<size_t> gpus;
  if (req.value("all", false)) {
    for (const auto& [uuid, w] : *stored) {
      auto k = nvml_->Resolve({uuid});
      if (k.ok()) gpus.push_back(k->front());
    }
  } else {
    auto want = names("gpus");
    if (!want.ok()) return Refuse(want.status().message());
    if (want->empty()) return Refuse("restore needs \"gpus\" or \"all\": true");
    auto k = nvml_->Resolve(*want);
    if (!k.ok()) return Refuse(k.status().message());
    gpus = *k;
  }
  json restored = json::array();
  std::string errors;
  for (size_t k : gpus) {
    const std::string& uuid = nvml_->uuids()[k];
    auto s = stored->find(uuid);
    if (s == stored->end()) continue;  // never changed here
    if (Status st = nvml_->SetLimit(k, s->second); !st.ok()) {
      errors += (errors.empty() ? "" : "; ") + st.message();
      continue;
    }
    restored.push_back({{"uuid", uuid}, {"limit_w", s->second}});
    stored->erase(s);
  }
  if (Status st = Store(*stored); !st.ok()) return Refuse(st.message());
  if (!errors.empty()) return Refuse(errors);
  return json{{"ok", true}, {"restored", restored}}.dump();
}

}  // namespace carbon::gpucap
