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

namespace lrc::data {

using Shape = std::array<int64_t, 3>;  // C, H, W

// Throws std::runtime_error("data: " + message).
[[noreturn]] void fail(const std::string& message);

std::string shapeText(const Shape& s);  // "1x28x28"
const char* splitName(Split split);     // "train" / "test"

// "<spec> (<split>, N images CxHxW, K classes)"; `split` may be null (the split is ignored).
std::string summary(const std::string& spec, const char* split, int64_t n, const Shape& shape, int64_t classes);

// Throws "data: <what> has <found> images but the plan expects <expected>" when they differ.
void checkShape(const std::string& what, const Shape& found, const Shape& expected);
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

// A uniform draw from [0, n), n > 0: rejects r < 2^64 mod n, so it is unbiased and does not
// depend on the standard library (std::uniform_int_distribution's algorithm is unspecified).
template <class Rng>
uint64_t uniformBelow(Rng& rng, uint64_t n) {
  const uint64_t threshold = (0 - n) % n;  // 2^64 mod n
  for (;;) {
    const uint64_t r = rng();
    if (r >= threshold) return r % n;
  }
}

std::unique_ptr<Dataset> openNpy(const std::string& xPath, const std::string& yPath, const Shape& shape,
                                 int64_t classes);
std::unique_ptr<Dataset> openIdx(const std::string& dir, Split split, const Shape& shape, int64_t classes);
std::unique_ptr<Dataset> openCifar10(const std::string& dir, Split split, const Shape& shape, int64_t classes);
std::unique_ptr<Dataset> openFolder(const std::string& dir, const Shape& shape, int64_t classes);
std::unique_ptr<Dataset> openSynthetic(Split split, const Shape& shape, int64_t classes, uint64_t seed);

}  // namespace lrc::data
