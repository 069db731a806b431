#include "worker/data.h"

#include <zlib.h>

#include <filesystem>
#include <vector>

#include "common/paths.h"

namespace carbon::worker {
namespace {

// Reads a whole file, inflating it when it is gzip (zlib reads raw files as is).
StatusOr<std::vector<uint8_t>> ReadMaybeGz(const std::string& base, const std::vector<std::string>& roots) {
  std::string path;
  for (const std::string& cand : {base + ".gz", base}) {
    if (std::filesystem::exists(cand)) {
      path = cand;
      break;
    }
  }
  if (path.empty())
    return InvalidArgument("dataset file " + base + "[.gz] not found (set data.path to the "
                           "folder that holds it; Fashion-MNIST comes with Debian's "
                           "dataset-fashion-mnist)");
  if (!roots.empty()) {
    auto inside = ResolveInsideRoots(path, roots);
    if (!inside.ok()) return InvalidArgument("data.path: " + inside.status().message());
    path = *inside;
  }
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) return InvalidArgument("cannot open " + path);
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + n);
  int err = 0;
  const char* msg = gzerror(f, &err);
  gzclose(f);
  if (n < 0 || (err != Z_OK && err != Z_STREAM_END))
    return InvalidArgument("cannot read " + path + ": " + (msg ? msg : "corrupt gzip"));
  return out;
}

uint32_t BigEndian(const std::vector<uint8_t>& b, size_t off) {
  return (uint32_t{b[off]} << 24) | (uint32_t{b[off + 1]} << 16) | (uint32_t{b[off + 2]} << 8) |
         uint32_t{b[off + 3]};
}

}  // namespace

StatusOr<Dataset> LoadIdx(const std::string& dir, bool train, int64_t limit,
                          const std::vector<std::string>& roots) {
  const std::string prefix = dir + "/" + (train ? "train" : "t10k");
  ASSIGN_OR_RETURN(auto img, ReadMaybeGz(prefix + "-images-idx3-ubyte", roots));
  ASSIGN_OR_RETURN(auto lab, ReadMaybeGz(prefix + "-labels-idx1-ubyte", roots));
  if (img.size() < 16 || BigEndian(img, 0) != 0x00000803)
    return InvalidArgument(prefix + "-images-idx3-ubyte: not an IDX image file (magic 0x803)");
  if (lab.size() < 8 || BigEndian(lab, 0) != 0x00000801)
    return InvalidArgument(prefix + "-labels-idx1-ubyte: not an IDX label file (magic 0x801)");
  int64_t n = BigEndian(img, 4), rows = BigEndian(img, 8), cols = BigEndian(img, 12);
  int64_t nl = BigEndian(lab, 4);
  if (n != nl)
    return InvalidArgument(prefix + ": " + std::to_string(n) + " images but " +
                           std::to_string(nl) + " labels");
  if (static_cast<int64_t>(img.size()) < 16 + n * rows * cols ||
      static_cast<int64_t>(lab.size()) < 8 + n)
    return InvalidArgument(prefix + ": file is truncated");
  if (limit > 0 && limit < n) n = limit;
  Dataset d;
  d.images = torch::from_blob(img.data() + 16, {n, 1, rows, cols}, torch::kUInt8)
                 .to(torch::kFloat32)
                 .div_(255.0);
  d.labels = torch::from_blob(lab.data() + 8, {n}, torch::kUInt8).to(torch::kInt64);
  return d;
}

StatusOr<Dataset> LoadCifar10(const std::string& dir, bool train, int64_t limit,
                              const std::vector<std::string>& roots) {
  constexpr int64_t kRecord = 1 + 3 * 32 * 32;
  std::vector<std::string> files;
  if (train) {
    for (int i = 1; i <= 5; ++i) files.push_back(dir + "/data_batch_" + std::to_string(i) + ".bin");
  } else {
    files.push_back(dir + "/test_batch.bin");
  }
  std::vector<uint8_t> all;
  for (const auto& f : files) {
    if (limit > 0 && static_cast<int64_t>(all.size()) / kRecord >= limit) break;
    ASSIGN_OR_RETURN(auto bytes, ReadMaybeGz(f, roots));
    if (bytes.empty() || bytes.size() % kRecord != 0)
      return InvalidArgument(f + ": not a CIFAR-10 binary batch (size " +
                             std::to_string(bytes.size()) + " is not a multiple of 3073 bytes)");
    all.insert(all.end(), bytes.begin(), bytes.end());
  }
  int64_t n = static_cast<int64_t>(all.size()) / kRecord;
  if (limit > 0 && limit < n) n = limit;
  auto raw = torch::from_blob(all.data(), {n, kRecord}, torch::kUInt8);
  Dataset d;
  d.labels = raw.select(1, 0).to(torch::kInt64);
  if (d.labels.max().item<int64_t>() > 9)
    return InvalidArgument(dir + ": CIFAR-10 labels must be 0-9");
  d.images = raw.slice(1, 1).reshape({n, 3, 32, 32}).to(torch::kFloat32).div_(255.0);
  return d;
}

StatusOr<Dataset> LoadDataset(const std::string& format, const std::string& dir, bool train,
                              int64_t limit, const std::vector<std::string>& roots) {
  if (format == "cifar10") return LoadCifar10(dir, train, limit, roots);
  return LoadIdx(dir, train, limit, roots);
}

}  // namespace carbon::worker
