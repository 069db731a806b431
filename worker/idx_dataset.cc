#include "worker/idx_dataset.h"

#include <zlib.h>

#include <filesystem>
#include <vector>

namespace carbon::worker {
namespace {

// Reads a whole file, inflating it when it is gzip (zlib reads raw files as is).
StatusOr<std::vector<uint8_t>> ReadMaybeGz(const std::string& base) {
  std::string path;
  for (const std::string& cand : {base + ".gz", base}) {
    if (std::filesystem::exists(cand)) {
      path = cand;
      break;
    }
  }
  if (path.empty())
    return InvalidArgument("dataset file " + base + "[.gz] not found (install Debian's "
                           "dataset-fashion-mnist, or set data.path to a folder of IDX files)");
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

StatusOr<Dataset> LoadIdx(const std::string& dir, bool train, int64_t limit) {
  const std::string prefix = dir + "/" + (train ? "train" : "t10k");
  ASSIGN_OR_RETURN(auto img, ReadMaybeGz(prefix + "-images-idx3-ubyte"));
  ASSIGN_OR_RETURN(auto lab, ReadMaybeGz(prefix + "-labels-idx1-ubyte"));
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

}  // namespace carbon::worker
