// cifar10:DIR — the binary CIFAR-10: files of records, each 1 label byte and 3072 pixel
// bytes (the 1024 red, then green, then blue values of a 32x32 image, row by row: CHW).
#include "runtime/data/ArrayDataset.h"

namespace lrc::data {

namespace {
constexpr Shape kCifarShape{3, 32, 32};
constexpr size_t kRecordBytes = 1 + 3 * 32 * 32;
}  // namespace

std::unique_ptr<Dataset> openCifar10(const std::string& dir, Split split, const Shape& shape, int64_t classes,
                                     bool anySize) {
  checkDirectory("cifar10", dir);
  std::vector<std::string> files;
  if (split == Split::Train) {
    for (int i = 1; i <= 5; ++i) files.push_back(dir + "/data_batch_" + std::to_string(i) + ".bin");
  } else {
    files.push_back(dir + "/test_batch.bin");
  }
  // Missing files first: the shape is CIFAR-10's own, a mismatch only means something once
  // the files are there.
  for (const std::string& path : files)
    if (!isRegularFile(path)) fail("cifar10:" + dir + " has no " + path + " (the binary CIFAR-10 version)");
  checkShape("cifar10:" + dir, kCifarShape, shape, anySize);

  std::vector<uint8_t> records;
  std::vector<int64_t> labels;
  for (const std::string& path : files) {
    const std::vector<uint8_t> bytes = readFile(path);
    if (bytes.empty() || bytes.size() % kRecordBytes != 0)
      fail(path + ": truncated: " + std::to_string(bytes.size()) + " bytes is not a whole number of " +
           std::to_string(kRecordBytes) + "-byte records");
    for (size_t at = 0; at < bytes.size(); at += kRecordBytes) {
      checkLabel(path, bytes[at], static_cast<int64_t>(at / kRecordBytes), classes);
      labels.push_back(bytes[at]);
    }
    records.insert(records.end(), bytes.begin(), bytes.end());
  }

  const int64_t n = static_cast<int64_t>(labels.size());
  const ArrayDataset::Layout layout{1, kRecordBytes, ArrayDataset::Pixel::U8};
  return std::make_unique<ArrayDataset>(summary("cifar10:" + dir, splitName(split), n, kCifarShape, classes),
                                        std::move(records), layout, kCifarShape, std::move(labels), classes);
}

}  // namespace lrc::data
