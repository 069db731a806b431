#include "worker/models.h"

namespace carbon::worker {
namespace nn = torch::nn;

namespace {

// A basic residual block: two 3x3 convs with batch norm; a 1x1 projection on
// the skip path when the shape changes.
struct ResidualBlockImpl : nn::Module {
  ResidualBlockImpl(int64_t in, int64_t out, int64_t stride)
      : conv1(register_module("conv1", nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false)))),
        bn1(register_module("bn1", nn::BatchNorm2d(out))),
        conv2(register_module("conv2", nn::Conv2d(nn::Conv2dOptions(out, out, 3).padding(1).bias(false)))),
        bn2(register_module("bn2", nn::BatchNorm2d(out))) {
    if (stride != 1 || in != out) {
      proj = register_module("proj", nn::Sequential(
          nn::Conv2d(nn::Conv2dOptions(in, out, 1).stride(stride).bias(false)), nn::BatchNorm2d(out)));
    }
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto y = torch::relu(bn1(conv1(x)));
    y = bn2(conv2(y));
    return torch::relu(y + (proj ? proj->forward(x) : x));
  }
  nn::Conv2d conv1;
  nn::BatchNorm2d bn1;
  nn::Conv2d conv2;
  nn::BatchNorm2d bn2;
  nn::Sequential proj{nullptr};
};
TORCH_MODULE(ResidualBlock);

}  // namespace

StatusOr<torch::nn::Sequential> BuildModel(const ModelSpec& spec, int64_t channels, int64_t height,
                                           int64_t width, int64_t classes) {
  nn::Sequential seq;
  if (spec.arch == "mlp") {
    seq->push_back(nn::Flatten());
    int64_t in = channels * height * width;
    for (int64_t h : spec.hidden) {
      seq->push_back(nn::Linear(in, h));
      seq->push_back(nn::ReLU());
      if (spec.dropout > 0) seq->push_back(nn::Dropout(spec.dropout));
      in = h;
    }
    seq->push_back(nn::Linear(in, classes));
    return seq;
  }
  if (spec.arch == "cnn") {
    int64_t in = channels, h = height, w = width;
    for (int64_t c : spec.channels) {
      seq->push_back(nn::Conv2d(nn::Conv2dOptions(in, c, 3).padding(1)));
      seq->push_back(nn::ReLU());
      if (h >= 2 && w >= 2) {
        seq->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(2)));
        h /= 2;
        w /= 2;
      }
      in = c;
    }
    seq->push_back(nn::Flatten());
    if (spec.dropout > 0) seq->push_back(nn::Dropout(spec.dropout));
    seq->push_back(nn::Linear(in * h * w, 128));
    seq->push_back(nn::ReLU());
    seq->push_back(nn::Linear(128, classes));
    return seq;
  }
  if (spec.arch == "resnet") {
    // Stem, then three stages of `blocks` residual blocks (width, 2x, 4x;
    // stride 2 between stages), global average pooling, a linear classifier.
    int64_t w0 = spec.width;
    seq->push_back(nn::Conv2d(nn::Conv2dOptions(channels, w0, 3).padding(1).bias(false)));
    seq->push_back(nn::BatchNorm2d(w0));
    seq->push_back(nn::ReLU());
    int64_t in = w0;
    for (int stage = 0; stage < 3; ++stage) {
      int64_t out = w0 << stage;
      for (int64_t b = 0; b < spec.blocks; ++b) {
        seq->push_back(ResidualBlock(in, out, (stage > 0 && b == 0) ? 2 : 1));
        in = out;
      }
    }
    seq->push_back(nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions({1, 1})));
    seq->push_back(nn::Flatten());
    if (spec.dropout > 0) seq->push_back(nn::Dropout(spec.dropout));
    seq->push_back(nn::Linear(in, classes));
    return seq;
  }
  return InvalidArgument("model.arch '" + spec.arch + "' is not known; use mlp, cnn or resnet");
}

}  // namespace carbon::worker
