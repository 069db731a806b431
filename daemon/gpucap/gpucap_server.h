// carbond-gpucap's requests: carbond (unprivileged) asks this root helper to
// lower or restore the power limit of the GPUs of its running jobs. One JSON
// object per line, one answer per request (docs/gpucap.md):
//   {"op":"limits","gpus":[...]}              each GPU's limits (empty: all)
//   {"op":"set","pid":P,"gpu":G,"limit_w":W}  cap G, a GPU of worker P
//   {"op":"restore","gpus":[...]} / {"op":"restore","all":true}
// Answers are {"ok":true,...} or {"ok":false,"error":"..."}.
//
// Refused: a peer whose uid is not carbond's (SO_PEERCRED, checked by the
// caller of Handle); a set on a GPU that is not one of process P's (P must
// be alive, run as the peer's uid, and its CUDA_VISIBLE_DEVICES, when set,
// must name the GPU); a limit outside the device's constraints. Before its
// first change to a GPU the limit in force is stored (state file, written
// atomically), and restore puts that stored limit back, so a crash of
// carbond, a worker or this helper never leaves a GPU capped for good.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>

#include "common/status.h"
#include "daemon/gpucap/nvml_control.h"

namespace carbon::gpucap {

struct ServerOptions {
  uid_t allow_uid = 0;            // carbond's uid
  std::string state_path;         // the stored limits (JSON: uuid -> watts)
  std::string proc_root = "/proc";
};

class Server {
 public:
  // `nvml` may be null: every request then fails with `nvml_error`.
  Server(NvmlControl* nvml, std::string nvml_error, ServerOptions options);
  // One request line from a peer of uid `peer_uid`; the answer line (no '\n').
  std::string Handle(const std::string& line, uid_t peer_uid);

 private:
  StatusOr<std::map<std::string, double>> Stored() const;
  Status Store(const std::map<std::string, double>& stored) const;
  // Whether GPU `index` is one that process `pid`, of uid `uid`, was given.
  Status CheckOwner(int64_t pid, uid_t uid, size_t index) const;

  NvmlControl* nvml_;
  std::string nvml_error_;
  ServerOptions o_;
};

}  // namespace carbon::gpucap
