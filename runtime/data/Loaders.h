// What the data set kinds of Dataset.h share: one opener per kind and the checks and file
// reading they all use. Internal to runtime/data.
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "runtime/data/Dataset.h"
#include "runtime/data/Random.h"

namespace lrc::data {

// Throws std::runtime_error("data: " + message).
[[noreturn]] void fail(const std::string& message);

std::string shapeText(const Shape& s);  // "1x28x28"
const char* splitName(Split split);     // "train" / "test"

// "<spec> (<split>, N images CxHxW, K classes)"; `split` may be null (the split is ignored).
std::string summary(const std::string& spec, const char* split, int64_t n, const Shape& shape, int64_t classes);

// The most values (C*H*W) an image of any size may have: 2^28 (1 GiB of floats).
constexpr int64_t kMaxImageValues = int64_t{1} << 28;
// Throws "data: <what> has <found> images but the plan expects <expected>" when they differ
// (with `anySize`, when their channels differ, they are empty or exceed kMaxImageValues).
void checkShape(const std::string& what, const Shape& found, const Shape& expected, bool anySize);
// Throws unless 0 <= index < data.size().
void checkIndex(const Dataset& data, int64_t index);
// Throws when label is outside [0, classes); `index` is the sample's.
void checkLabel(const std::string& what, int64_t label, int64_t index, int64_t classes);

struct CloseFile {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, CloseFile>;

// The file opened for reading; throws naming it when it cannot be opened.
FilePtr openFile(const std::string& path);
// The whole file; throws naming it when it cannot be read.
std::vector<uint8_t> readFile(const std::string& path);
// The whole file, gunzipped when it is gzip-compressed; throws on truncated or corrupt data.
std::vector<uint8_t> readMaybeGzipFile(const std::string& path);
bool isRegularFile(const std::string& path);
// Throws "data: KIND:DIR: no such directory" (or "not a directory"), so that a mistyped
// directory is named as such before any of its files, or its images' shape, is looked at.
void checkDirectory(const std::string& kind, const std::string& dir);

// Whether `name` ends in .png, .jpg, .jpeg, .pgm or .ppm (any case).
bool isImageName(const std::string& name);
// Names of the entries of `dir` that are directories (`wantDirectories`) or image files, not
// hidden, in byte order.
std::vector<std::string> listNames(const std::string& dir, bool wantDirectories);

// The openers of openDataset (Dataset.h), with its `shape`, `classes` and `anySize`.
std::unique_ptr<Dataset> openNpy(const std::string& xPath, const std::string& yPath, const Shape& shape,
                                 int64_t classes, bool anySize, const std::optional<PixelLabels>& pixels = std::nullopt);
std::unique_ptr<Dataset> openIdx(const std::string& dir, Split split, const Shape& shape, int64_t classes,
                                 bool anySize);
std::unique_ptr<Dataset> openCifar10(const std::string& dir, Split split, const Shape& shape, int64_t classes,
                                     bool anySize);
std::unique_ptr<Dataset> openFolder(const std::string& dir, const Shape& shape, int64_t classes, bool anySize);
// folder:DIR of a segmentation plan: DIR/images/<name>.<ext> with DIR/masks/<name>.png.
std::unique_ptr<Dataset> openSegmentationFolder(const std::string& dir, const Shape& shape, int64_t classes,
                                                const PixelLabels& pixels, bool anySize);
std::unique_ptr<Dataset> openSynthetic(Split split, const Shape& shape, int64_t classes, uint64_t seed);

}  // namespace lrc::data
