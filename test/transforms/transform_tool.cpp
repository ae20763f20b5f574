// Test driver for test/transforms/check_transforms.py: runs one pixel operation of
// runtime/data/ImageOps.h, or a whole Transforms on one sample of a data set, on raw float32
// CHW files, so that the script can compare the result with torchvision's.
//
//   transform_tool op IN.f32 C H W OUT.f32 OP [ARGS...]
//     resize S | resized-crop TOP LEFT HEIGHT WIDTH OUT_H OUT_W | center-crop HEIGHT WIDTH |
//     crop TOP LEFT HEIGHT WIDTH | flip | normalize M1,M2.. S1,S2..
//     and on a label map (C = 1, values taken as integers): resize-nearest S |
//     resized-crop-nearest TOP LEFT HEIGHT WIDTH OUT_H OUT_W | crop-labels TOP LEFT HEIGHT WIDTH FILL
//   transform_tool sample SPEC C H W CLASSES LIST MEAN STD SEED EPOCH INDEX OUT.f32
//     LIST, MEAN, STD: "-" for none; MEAN and STD comma-separated.
//   transform_tool sample-mask SPEC C H W CLASSES IGNORE LIST SEED EPOCH INDEX OUT.f32 MASK.f32
//     a segmentation data set's sample: its image to OUT.f32, its mask (as floats) to MASK.f32.
// Prints the output's "C H W" and writes its pixels to OUT.f32. Errors: one line, exit 1.
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/data/ImageOps.h"
#include "runtime/data/Transforms.h"

using namespace lrc::data;

namespace {

int64_t integer(const std::string& text) { return std::stoll(text); }

std::vector<float> numbers(const std::string& text) {
  std::vector<float> v;
  size_t at = 0;
  for (;;) {
    const size_t comma = text.find(',', at);
    v.push_back(std::stof(text.substr(at, comma - at)));
    if (comma == std::string::npos) return v;
    at = comma + 1;
  }
}

std::vector<float> readFloats(const std::string& path, size_t count) {
  std::vector<float> v(count);
  std::ifstream f(path, std::ios::binary);
  f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(count * sizeof(float)));
  if (!f || f.peek() != EOF) throw std::runtime_error(path + ": expected exactly " + std::to_string(count) + " floats");
  return v;
}

void writeOutput(const std::string& path, const Shape& s, const std::vector<float>& pixels) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(pixels.data()), static_cast<std::streamsize>(pixels.size() * sizeof(float)));
  if (!f) throw std::runtime_error("cannot write " + path);
  std::cout << s[0] << " " << s[1] << " " << s[2] << "\n";
}

// The mask operations: `in` (C = 1) as int64 labels, the result back as floats.
bool runMaskOp(const std::string& op, const std::vector<float>& in, int64_t H, int64_t W,
               const std::function<int64_t(size_t)>& arg, Shape& out, std::vector<float>& pixels) {
  std::vector<int64_t> labels(in.begin(), in.end()), result;
  auto reshape = [&](int64_t h, int64_t w) {
    out = {1, h, w};
    result.resize(static_cast<size_t>(h * w));
    return result.data();
  };
  if (op == "resize-nearest") {
    const auto [h, w] = shorterSideTo(H, W, arg(0));
    resizeNearest(labels.data(), H, W, {0, 0, H, W}, reshape(h, w), h, w);
  } else if (op == "resized-crop-nearest") {
    resizeNearest(labels.data(), H, W, {arg(0), arg(1), arg(2), arg(3)}, reshape(arg(4), arg(5)), arg(4), arg(5));
  } else if (op == "crop-labels") {
    crop(labels.data(), 1, H, W, {arg(0), arg(1), arg(2), arg(3)}, reshape(arg(2), arg(3)), arg(4));
  } else {
    return false;
  }
  pixels.assign(result.begin(), result.end());
  return true;
}

void runOp(const std::vector<std::string>& a) {
  const int64_t C = integer(a[2]), H = integer(a[3]), W = integer(a[4]);
  const std::vector<float> in = readFloats(a[1], static_cast<size_t>(C * H * W));
  const std::string& op = a[6];
  auto arg = [&](size_t i) { return integer(a.at(7 + i)); };
  Shape out{C, H, W};
  std::vector<float> pixels;
  auto reshape = [&](int64_t h, int64_t w) {
    out = {C, h, w};
    pixels.resize(static_cast<size_t>(C * h * w));
    return pixels.data();
  };
  if (C == 1 && runMaskOp(op, in, H, W, arg, out, pixels)) {
    writeOutput(a[5], out, pixels);
    return;
  }
  if (op == "resize") {
    const auto [h, w] = shorterSideTo(H, W, arg(0));
    resizeBilinear(in.data(), C, H, W, {0, 0, H, W}, reshape(h, w), h, w);
  } else if (op == "resized-crop") {
    resizeBilinear(in.data(), C, H, W, {arg(0), arg(1), arg(2), arg(3)}, reshape(arg(4), arg(5)), arg(4), arg(5));
  } else if (op == "center-crop") {
    crop(in.data(), C, H, W, centerCropWindow(H, W, arg(0), arg(1)), reshape(arg(0), arg(1)));
  } else if (op == "crop") {
    crop(in.data(), C, H, W, {arg(0), arg(1), arg(2), arg(3)}, reshape(arg(2), arg(3)));
  } else if (op == "flip") {
    pixels = in;
    flipHorizontal(pixels.data(), C, H, W);
  } else if (op == "normalize") {
    pixels = in;
    const std::vector<float> mean = numbers(a.at(7)), std = numbers(a.at(8));
    normalize(pixels.data(), C, H * W, mean.data(), std.data());
  } else {
    throw std::runtime_error("unknown op '" + op + "'");
  }
  writeOutput(a[5], out, pixels);
}

void runSample(const std::vector<std::string>& a) {
  const Shape shape{integer(a[2]), integer(a[3]), integer(a[4])};
  const std::vector<TransformStep> steps =
      a[6] == "-" ? std::vector<TransformStep>{} : parseTransformList("LIST", a[6]);
  Normalization normalization;
  if (a[7] != "-") normalization = {numbers(a[7]), numbers(a[8])};
  const Transforms transforms(steps, normalization, shape, static_cast<uint64_t>(integer(a[9])));
  const auto data = openDataset(a[1], Split::Train, shape, integer(a[5]), 0, transforms.changesSize());
  Scratch scratch;
  std::vector<float> out(static_cast<size_t>(shape[0] * shape[1] * shape[2]));
  transforms.sample(*data, integer(a[11]), integer(a[10]), scratch, out.data());
  writeOutput(a[12], shape, out);
}

// A segmentation data set's sample through Transforms: the image and its mask.
void runSampleMask(const std::vector<std::string>& a) {
  const Shape shape{integer(a[2]), integer(a[3]), integer(a[4])};
  const int64_t ignore = integer(a[6]);
  const std::vector<TransformStep> steps =
      a[7] == "-" ? std::vector<TransformStep>{} : parseTransformList("LIST", a[7]);
  const Transforms transforms(steps, {}, shape, static_cast<uint64_t>(integer(a[8])), ignore);
  const auto data = openDataset(a[1], Split::Train, shape, integer(a[5]), 0, transforms.changesSize(),
                                PixelLabels{shape[1], shape[2], ignore});
  Scratch scratch;
  std::vector<float> out(static_cast<size_t>(shape[0] * shape[1] * shape[2]));
  std::vector<int64_t> mask(static_cast<size_t>(shape[1] * shape[2]));
  transforms.sample(*data, integer(a[10]), integer(a[9]), scratch, out.data(), mask.data());
  std::ofstream f(a[12], std::ios::binary);
  const std::vector<float> asFloats(mask.begin(), mask.end());
  f.write(reinterpret_cast<const char*>(asFloats.data()),
          static_cast<std::streamsize>(asFloats.size() * sizeof(float)));
  if (!f) throw std::runtime_error("cannot write " + a[12]);
  writeOutput(a[11], shape, out);
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> a(argv + 1, argv + argc);
  try {
    if (a.size() >= 7 && a[0] == "op") {
      runOp(a);
    } else if (a.size() == 13 && a[0] == "sample") {
      runSample(a);
    } else if (a.size() == 13 && a[0] == "sample-mask") {
      runSampleMask(a);
    } else {
      std::cerr << "usage: transform_tool op IN.f32 C H W OUT.f32 OP [ARGS...] | transform_tool sample SPEC C H W "
                   "CLASSES LIST MEAN STD SEED EPOCH INDEX OUT.f32\n";
      return 2;
    }
  } catch (const std::exception& e) {
    std::cerr << "transform_tool: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
