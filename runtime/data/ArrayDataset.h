// A data set whose samples lie back to back in one byte buffer, as npy, idx and cifar10
// files keep them: sample i's C*H*W pixels start at byte first + i * stride.
#pragma once

#include <algorithm>

#include "runtime/data/Loaders.h"

namespace lrc::data {

class ArrayDataset final : public Dataset {
 public:
  enum class Pixel { U8, F32 };  // U8 is scaled by 1/255; F32 (little-endian) is taken as is
  struct Layout {
    size_t first = 0;
    size_t stride = 0;
    Pixel pixel = Pixel::U8;
  };

  // The loaders have checked the buffer's size, the shape and the labels. With masks
  // (maskPixels > 0) `labels` holds maskPixels labels per sample.
  ArrayDataset(std::string description, std::vector<uint8_t> bytes, Layout layout, Shape shape,
               std::vector<int64_t> labels, int64_t classes, int64_t maskPixels = 0);

  int64_t size() const override { return static_cast<int64_t>(labels_.size()) / std::max<int64_t>(maskPixels_, 1); }
  std::array<int64_t, 3> sampleShape() const override { return shape_; }
  int64_t numClasses() const override { return classes_; }
  int64_t get(int64_t index, float* chw) const override;
  int64_t maskPixels() const override { return maskPixels_; }
  void getMask(int64_t index, int64_t* mask) const override;
  std::string describe() const override { return description_; }

 private:
  std::string description_;
  std::vector<uint8_t> bytes_;
  Layout layout_;
  Shape shape_;
  std::vector<int64_t> labels_;
  int64_t classes_;
  int64_t maskPixels_;
};

}  // namespace lrc::data
