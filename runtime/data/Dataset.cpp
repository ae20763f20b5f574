#include "runtime/data/Dataset.h"

#include <stdexcept>

#include "runtime/data/Loaders.h"

namespace lrc::data {

[[noreturn]] void fail(const std::string& message) { throw std::runtime_error("data: " + message); }

std::string shapeText(const Shape& s) {
  return std::to_string(s[0]) + "x" + std::to_string(s[1]) + "x" + std::to_string(s[2]);
}

const char* splitName(Split split) { return split == Split::Train ? "train" : "test"; }

std::string summary(const std::string& spec, const char* split, int64_t n, const Shape& shape, int64_t classes) {
  std::string s = spec + " (";
  if (split) s += std::string(split) + ", ";
  // H = W = 0: a folder of images of different sizes (an empty image is refused before).
  const std::string images = shape[1] == 0 ? std::to_string(shape[0]) + "xHxW of various sizes" : shapeText(shape);
  return s + std::to_string(n) + " images " + images + ", " + std::to_string(classes) + " classes)";
}

void checkShape(const std::string& what, const Shape& found, const Shape& expected, bool anySize) {
  // Bounds the memory an image may take once decoded (1 GiB of floats), and leaves no empty
  // image for the transforms.
  if (anySize && (found[1] <= 0 || found[2] <= 0 || found[0] * found[1] * found[2] > kMaxImageValues))
    fail(what + " has " + shapeText(found) + " images; expected at least 1x1 and at most " +
         std::to_string(kMaxImageValues) + " values each");
  if (anySize && found[0] != expected[0])
    fail(what + " has " + shapeText(found) + " images but the plan expects " + std::to_string(expected[0]) +
         " channels (images are not converted between grayscale and RGB)");
  if (!anySize && found != expected)
    fail(what + " has " + shapeText(found) + " images but the plan expects " + shapeText(expected));
}

void Dataset::getMask(int64_t, int64_t*) const {
  throw std::logic_error("Dataset::getMask: " + describe() + " has no masks");
}

void Dataset::readMask(int64_t index, LabelMap& mask) const {
  const Shape shape = sampleShape();
  getMask(index, mask.reshape(shape[1], shape[2]));
}

int64_t Dataset::read(int64_t index, Image& image) const { return get(index, image.reshape(sampleShape())); }

void checkIndex(const Dataset& data, int64_t index) {
  if (index < 0 || index >= data.size())
    fail(data.describe() + ": sample " + std::to_string(index) + " is outside [0, " + std::to_string(data.size()) +
         ")");
}

void checkLabel(const std::string& what, int64_t label, int64_t index, int64_t classes) {
  if (label < 0 || label >= classes)
    fail(what + ": label " + std::to_string(label) + " of sample " + std::to_string(index) + " is outside [0, " +
         std::to_string(classes) + "), the plan's classes");
}

std::unique_ptr<Dataset> openDataset(const std::string& spec, Split split, Shape shape, int64_t classes, uint64_t seed,
                                     bool anySize, const std::optional<PixelLabels>& pixels) {
  if (shape[0] <= 0 || shape[1] <= 0 || shape[2] <= 0 || classes <= 0)
    fail("the plan's image shape " + shapeText(shape) + " and classes " + std::to_string(classes) +
         " must be positive");
  if (pixels && spec.rfind("npy:", 0) != 0 && spec.rfind("folder:", 0) != 0)
    fail("data spec '" + spec + "': the plan labels every pixel (a segmentation loss); its data must be npy:X.npy,Y.npy "
         "with label maps Y of shape N," + std::to_string(pixels->height) + "," + std::to_string(pixels->width) +
         " or folder:DIR with DIR/images and DIR/masks");
  if (spec == "synthetic") return openSynthetic(split, shape, classes, seed);

  const size_t colon = spec.find(':');
  const std::string kind = spec.substr(0, colon);
  const std::string arg = colon == std::string::npos ? "" : spec.substr(colon + 1);
  const bool known = kind == "npy" || kind == "idx" || kind == "cifar10" || kind == "folder";
  if (!known || colon == std::string::npos)
    fail("unknown data spec '" + spec + "'; expected npy:X.npy,Y.npy, idx:DIR, cifar10:DIR, folder:DIR or synthetic");
  if (arg.empty()) fail("data spec '" + spec + "' names no " + (kind == "npy" ? "files" : "directory"));

  if (kind == "npy") {
    const size_t comma = arg.find(',');
    if (comma == std::string::npos || comma == 0 || comma + 1 == arg.size() ||
        arg.find(',', comma + 1) != std::string::npos)
      fail("data spec '" + spec + "' must name two files: npy:X.npy,Y.npy");
    return openNpy(arg.substr(0, comma), arg.substr(comma + 1), shape, classes, anySize, pixels);
  }
  if (kind == "idx") return openIdx(arg, split, shape, classes, anySize);
  if (kind == "cifar10") return openCifar10(arg, split, shape, classes, anySize);
  if (pixels) return openSegmentationFolder(arg, shape, classes, *pixels, anySize);
  return openFolder(arg, shape, classes, anySize);
}

}  // namespace lrc::data
