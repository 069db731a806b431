#include "worker/models.h"

namespace carbon::worker {

StatusOr<torch::nn::Sequential> BuildModel(const ModelSpec& spec, int64_t channels, int64_t height,
                                           int64_t width, int64_t classes) {
  namespace nn = torch::nn;
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
  return InvalidArgument("model.arch '" + spec.arch +
                         "' is not supported by this carbon-worker yet; use mlp or cnn");
}

}  // namespace carbon::worker
