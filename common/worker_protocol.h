// The worker protocol: what carbon-worker tells whoever runs it (carbond's
// executors, a person reading a run directory), as typed events, their one
// JSON-line form and the worker's exit codes. One encoder (Encode) is used
// by the worker and by the test fake; one decoder (EventStreamDecoder) by
// every executor, whichever transport carried the bytes: the socketpair of a
// forked worker or the append-only events file of one carbond did not start
// (EventsFileFollower). docs/protocol.md describes it for other tools.
//
// Every line carries the protocol version ("v"); a line of another version is
// refused (StatusCode::kFailedPrecondition) with a message naming both.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/job_record.h"
#include "common/status.h"

namespace carbon::protocol {

constexpr int kVersion = 1;

// The worker's exit codes. Any other code, or a signal, is a failure.
enum class WorkerExit : int {
  kOk = 0,
  kFailed = 1,        // training failed; another attempt may succeed
  kRejected = 2,      // the job or its data is wrong: retrying will not help
  kOutOfMemory = 3,   // an allocation failed: the same job will fail again
  kInterrupted = 75,  // stopped on request after a checkpoint; resumable (EX_TEMPFAIL)
};
constexpr int ExitCode(WorkerExit e) { return static_cast<int>(e); }
WorkerExit WorkerExitFromCode(int64_t code);
const char* WorkerExitName(WorkerExit e);  // "ok", "failed", "rejected", "out_of_memory", "interrupted"

// The worker is up and about to train.
struct Started {
  std::string device, precision;  // "cpu" | "cuda"; "fp32" | "bf16" | "fp16"
  int64_t threads = 0;
  std::string blas, blas_kind;
  int64_t train_samples = 0, test_samples = 0, batch_size = 0, accumulation_steps = 1, micro_batch = 0;
  int64_t resumed_epoch = 0, resumed_step = 0, epochs = 0;
};

// Within an epoch, at most once a second.
struct Progress {
  int64_t epoch = 0, epochs = 0, step = 0, steps = 0;
  double train_loss = 0;
};

// An epoch is over. `record` holds what the worker knows (not job_id,
// attempt or at, which the receiver sets).
struct Epoch {
  EpochRecord record;
  int64_t epochs = 0;
  int64_t memory_baseline_bytes = 0;
  int64_t skipped_steps = 0;  // fp16 steps skipped for overflow
  double loss_scale = 1.0;
  // How the energy was measured (absent when the worker measured none).
  std::optional<int64_t> energy_samples;
  std::optional<double> pue, measure_power_secs;
  // tracking_mode process: the CPU seconds of the metered process (a command
  // job: its whole tree) over the epoch.
  std::optional<double> process_cpu_s;
};

struct Checkpoint {
  int64_t epoch = 0, step = 0;
  std::string path;
};

// Stopped on request (SIGTERM); exits with kInterrupted next.
struct Interrupted {
  int64_t epoch = 0, step = 0;
  bool checkpointed = false;
};

struct Finished {
  double test_accuracy = 0, test_loss = 0, best_accuracy = 0;
  int64_t epochs = 0;
};

struct Failed {
  std::string message;
  bool retryable = false;
};

using Event = std::variant<Started, Progress, Epoch, Checkpoint, Interrupted, Finished, Failed>;

// "started", "progress", "epoch", "checkpoint", "interrupted", "finished", "failed".
const char* EventName(const Event& e);

// One line of JSON with "v" and "event" first, ending in '\n'.
std::string Encode(const Event& e);

// One line (without its '\n'). INVALID_ARGUMENT for a line that is not an
// event of this protocol (not JSON, no "event", an unknown event, a field of
// the wrong type) and FAILED_PRECONDITION for another version.
StatusOr<Event> Decode(std::string_view line);

// An epoch's host as the "host" object of an epoch event (only what is
// known; "{}" when nothing is), and back: the API shows it in the same form.
std::string EncodeHost(const EpochHost& host);
StatusOr<EpochHost> DecodeHost(std::string_view object);

// Splits a byte stream into lines and decodes each. Bytes may arrive in any
// pieces: a line is decoded once its '\n' has come. A line longer than
// kMaxLine is an error and skipped up to its end.
class EventStreamDecoder {
 public:
  static constexpr size_t kMaxLine = 1 << 20;
  // Called once per line with its decoding and the line itself.
  using Sink = std::function<void(StatusOr<Event> event, std::string_view line)>;
  void Feed(std::string_view bytes, const Sink& sink);
  // Bytes of a line whose '\n' has not come (a writer cut short).
  size_t pending() const { return pending_.size(); }

 private:
  std::string pending_;
  bool skipping_ = false;
};

// Follows an append-only events file (the worker's --events-file): each
// Poll reads what was appended since the last one and decodes it. A file
// that does not exist yet is not an error (the worker has not opened it).
class EventsFileFollower {
 public:
  // Starts reading at `offset` (the size the file had before this writer began).
  explicit EventsFileFollower(std::string path, int64_t offset = 0) : path_(std::move(path)), offset_(offset) {}
  // Returns an error only when the file exists and cannot be read.
  Status Poll(const EventStreamDecoder::Sink& sink);
  const std::string& path() const { return path_; }
  int64_t offset() const { return offset_; }

 private:
  std::string path_;
  int64_t offset_ = 0;
  EventStreamDecoder decoder_;
};

}  // namespace carbon::protocol
