// idx:DIR — the IDX files of MNIST and Fashion-MNIST: a big-endian header (0, 0, type 0x08 =
// unsigned byte, number of dimensions; then each dimension as 4 bytes) and the bytes.
#include <cstdio>

#include "runtime/data/ArrayDataset.h"

namespace lrc::data {
namespace {

// DIR/NAME when it exists, else DIR/NAME.gz; throws naming both when neither does.
std::string findFile(const std::string& dir, const std::string& name) {
  const std::string plain = dir + "/" + name;
  if (isRegularFile(plain)) return plain;
  if (isRegularFile(plain + ".gz")) return plain + ".gz";
  fail("idx:" + dir + " has neither " + plain + " nor " + plain + ".gz");
}

uint32_t bigEndian32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}

// Reads the header of an unsigned-byte IDX file with `rank` dimensions and checks that the
// bytes after it are exactly their product. Returns the dimensions.
std::vector<int64_t> readHeader(const std::string& path, const std::vector<uint8_t>& bytes, int rank) {
  const size_t headerBytes = 4 + 4 * static_cast<size_t>(rank);
  if (bytes.size() < 4 || bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 0x08 || bytes[3] != rank) {
    char want[16];
    std::snprintf(want, sizeof want, "0x000008%02x", rank);
    fail(path + ": bad magic, expected " + want + " (IDX, unsigned bytes, " + std::to_string(rank) + " dimensions)");
  }
  if (bytes.size() < headerBytes) fail(path + ": truncated IDX header");
  std::vector<int64_t> dims;
  uint64_t count = 1;  // at most 2^96 would overflow; each factor is < 2^32 and checked below
  bool tooLarge = false;
  for (int i = 0; i < rank; ++i) {
    dims.push_back(bigEndian32(bytes.data() + 4 + 4 * i));
    if (dims.back() != 0 && count > (uint64_t{1} << 62) / static_cast<uint64_t>(dims.back())) tooLarge = true;
    count *= static_cast<uint64_t>(dims.back());
  }
  const uint64_t have = bytes.size() - headerBytes;
  if (tooLarge || have < count)
    fail(path + ": truncated: the header promises more bytes than the file's " + std::to_string(have));
  if (have > count) fail(path + ": " + std::to_string(have - count) + " bytes after the data the header describes");
  return dims;
}

}  // namespace

std::unique_ptr<Dataset> openIdx(const std::string& dir, Split split, const Shape& shape, int64_t classes,
                                 bool anySize) {
  const std::string prefix = split == Split::Train ? "train" : "t10k";
  const std::string imagesPath = findFile(dir, prefix + "-images-idx3-ubyte");
  const std::string labelsPath = findFile(dir, prefix + "-labels-idx1-ubyte");

  std::vector<uint8_t> images = readMaybeGzipFile(imagesPath);
  const std::vector<int64_t> dims = readHeader(imagesPath, images, 3);
  const Shape found{1, dims[1], dims[2]};
  checkShape(imagesPath, found, shape, anySize);
  const int64_t n = dims[0];
  if (n == 0) fail(imagesPath + ": holds no images");

  const std::vector<uint8_t> labelBytes = readMaybeGzipFile(labelsPath);
  const int64_t labelCount = readHeader(labelsPath, labelBytes, 1)[0];
  if (labelCount != n)
    fail(imagesPath + " has " + std::to_string(n) + " images but " + labelsPath + " has " + std::to_string(labelCount) +
         " labels");
  std::vector<int64_t> labels(labelBytes.begin() + 8, labelBytes.end());
  for (int64_t i = 0; i < n; ++i) checkLabel(labelsPath, labels[static_cast<size_t>(i)], i, classes);

  const ArrayDataset::Layout layout{16, static_cast<size_t>(dims[1] * dims[2]), ArrayDataset::Pixel::U8};
  return std::make_unique<ArrayDataset>(summary("idx:" + dir, splitName(split), n, found, classes), std::move(images),
                                        layout, found, std::move(labels), classes);
}

}  // namespace lrc::data
