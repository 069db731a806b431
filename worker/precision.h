// Mixed precision: autocast (fp16 on CUDA, bf16 on CPU or CUDA) and a dynamic
// loss scaler for fp16, the C++ counterpart of torch.cuda.amp.GradScaler:
// the loss is multiplied by `scale` before backward; gradients are unscaled
// before the step; a step whose gradients hold inf/nan is skipped and the
// scale backs off (x0.5); after `growth_interval` good steps it grows (x2).
// Builds against LibTorch 1.13 and 2.x.
#pragma once

#include <torch/torch.h>

#include <string>

namespace carbon::worker {

enum class Precision { kFp32, kFp16, kBf16 };

const char* PrecisionName(Precision p);
// spec value (fp32 | fp16 | bf16 | auto) and device -> the precision to use:
// auto is fp16 on CUDA and fp32 on CPU.
Precision ResolvePrecision(const std::string& spec_value, const torch::Device& device);

// Enables autocast for the device while alive (no-op for fp32).
class AutocastGuard {
 public:
  AutocastGuard(Precision p, const torch::Device& device);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool active_ = false;
  bool cuda_ = false;
  bool prev_enabled_ = false;
  at::ScalarType prev_dtype_ = at::kFloat;
};

class LossScaler {
 public:
  // Disabled scalers (fp32, bf16) pass everything through and never skip.
  explicit LossScaler(bool enabled, double init_scale = 65536.0, double growth = 2.0,
                      double backoff = 0.5, int64_t growth_interval = 2000);

  bool enabled() const { return enabled_; }
  double scale() const { return scale_; }
  int64_t skipped_steps() const { return skipped_; }

  torch::Tensor Scale(const torch::Tensor& loss) const;
  // Divides the gradients by the scale; false when any is inf or nan.
  bool Unscale(const std::vector<torch::Tensor>& params) const;
  // After a step attempt: backs off on overflow, grows after enough good steps.
  void Update(bool grads_finite);

  // State for checkpoints: [scale, growth_tracker, skipped].
  torch::Tensor State() const;
  void LoadState(const torch::Tensor& state);

 private:
  bool enabled_;
  double scale_, growth_, backoff_;
  int64_t growth_interval_;
  int64_t growth_tracker_ = 0;
  int64_t skipped_ = 0;
};

}  // namespace carbon::worker
