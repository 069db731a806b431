#include "worker/precision.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#define CARBON_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace carbon::worker {

const char* PrecisionName(Precision p) {
  switch (p) {
    case Precision::kFp32: return "fp32";
    case Precision::kFp16: return "fp16";
    case Precision::kBf16: return "bf16";
  }
  return "fp32";
}

Precision ResolvePrecision(const std::string& v, const torch::Device& device) {
  if (v == "fp16") return Precision::kFp16;
  if (v == "bf16") return Precision::kBf16;
  if (v == "auto") return device.is_cuda() ? Precision::kFp16 : Precision::kFp32;
  return Precision::kFp32;
}

namespace {
// The autocast switches moved to per-device-type functions in LibTorch 2.4.
bool AutocastEnabled(bool cuda) {
#if CARBON_TORCH_AT_LEAST(2, 4)
  return at::autocast::is_autocast_enabled(cuda ? at::kCUDA : at::kCPU);
#else
  return cuda ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}
void SetAutocastEnabled(bool cuda, bool on) {
#if CARBON_TORCH_AT_LEAST(2, 4)
  at::autocast::set_autocast_enabled(cuda ? at::kCUDA : at::kCPU, on);
#else
  if (cuda) at::autocast::set_enabled(on);
  else at::autocast::set_cpu_enabled(on);
#endif
}
at::ScalarType AutocastDtype(bool cuda) {
#if CARBON_TORCH_AT_LEAST(2, 4)
  return at::autocast::get_autocast_dtype(cuda ? at::kCUDA : at::kCPU);
#else
  return cuda ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
#endif
}
void SetAutocastDtype(bool cuda, at::ScalarType t) {
#if CARBON_TORCH_AT_LEAST(2, 4)
  at::autocast::set_autocast_dtype(cuda ? at::kCUDA : at::kCPU, t);
#else
  if (cuda) at::autocast::set_autocast_gpu_dtype(t);
  else at::autocast::set_autocast_cpu_dtype(t);
#endif
}
}  // namespace

AutocastGuard::AutocastGuard(Precision p, const torch::Device& device) {
  if (p == Precision::kFp32) return;
  active_ = true;
  cuda_ = device.is_cuda();
  prev_enabled_ = AutocastEnabled(cuda_);
  prev_dtype_ = AutocastDtype(cuda_);
  SetAutocastDtype(cuda_, p == Precision::kFp16 ? at::kHalf : at::kBFloat16);
  SetAutocastEnabled(cuda_, true);
  at::autocast::increment_nesting();
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
  // Leaving the outermost autocast region frees its cast cache.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  SetAutocastEnabled(cuda_, prev_enabled_);
  SetAutocastDtype(cuda_, prev_dtype_);
}

LossScaler::LossScaler(bool enabled, double init_scale, double growth, double backoff,
                       int64_t growth_interval)
    : enabled_(enabled), scale_(enabled ? init_scale : 1.0), growth_(growth), backoff_(backoff),
      growth_interval_(growth_interval) {}

torch::Tensor LossScaler::Scale(const torch::Tensor& loss) const {
  return enabled_ ? loss * scale_ : loss;
}

bool LossScaler::Unscale(const std::vector<torch::Tensor>& params) const {
  if (!enabled_) return true;
  torch::NoGradGuard no_grad;
  bool finite = true;
  const double inv = 1.0 / scale_;
  for (const auto& p : params) {
    auto& g = p.grad();
    if (!g.defined()) continue;
    g.mul_(inv);
    if (finite && !torch::isfinite(g).all().item<bool>()) finite = false;
  }
  return finite;
}

void LossScaler::Update(bool grads_finite) {
  if (!enabled_) return;
  if (!grads_finite) {
    scale_ *= backoff_;
    growth_tracker_ = 0;
    ++skipped_;
    return;
  }
  if (++growth_tracker_ >= growth_interval_) {
    scale_ *= growth_;
    growth_tracker_ = 0;
  }
}

torch::Tensor LossScaler::State() const {
  return torch::tensor({scale_, static_cast<double>(growth_tracker_), static_cast<double>(skipped_)},
                       torch::kFloat64);
}

void LossScaler::LoadState(const torch::Tensor& state) {
  auto s = state.to(torch::kCPU, torch::kFloat64).contiguous();
  if (s.numel() < 3) return;
  const double* d = s.data_ptr<double>();
  scale_ = d[0];
  growth_tracker_ = static_cast<int64_t>(d[1]);
  skipped_ = static_cast<int64_t>(d[2]);
}

}  // namespace carbon::worker
