#include "runtime/data/ArrayDataset.h"

#include <bit>
#include <cstring>
#include <stdexcept>

namespace lrc::data {

static_assert(std::endian::native == std::endian::little, "F32 pixels are read as little-endian floats");

ArrayDataset::ArrayDataset(std::string description, std::vector<uint8_t> bytes, Layout layout, Shape shape,
                           std::vector<int64_t> labels, int64_t classes, int64_t maskPixels)
    : description_(std::move(description)),
      bytes_(std::move(bytes)),
      layout_(layout),
      shape_(shape),
      labels_(std::move(labels)),
      classes_(classes),
      maskPixels_(maskPixels) {
  const size_t sampleBytes = static_cast<size_t>(shape[0] * shape[1] * shape[2]) * (layout.pixel == Pixel::U8 ? 1 : 4);
  if (size() > 0 && layout.first + static_cast<size_t>(size() - 1) * layout.stride + sampleBytes > bytes_.size())
    throw std::logic_error("ArrayDataset: the buffer is smaller than its samples");
}

int64_t ArrayDataset::get(int64_t index, float* chw) const {
  checkIndex(*this, index);
  const int64_t count = shape_[0] * shape_[1] * shape_[2];
  const uint8_t* p = bytes_.data() + layout_.first + static_cast<size_t>(index) * layout_.stride;
  if (layout_.pixel == Pixel::U8) {
    for (int64_t i = 0; i < count; ++i) chw[i] = static_cast<float>(p[i]) / 255.0f;
  } else {
    std::memcpy(chw, p, static_cast<size_t>(count) * sizeof(float));
  }
  return maskPixels_ > 0 ? 0 : labels_[static_cast<size_t>(index)];
}

void ArrayDataset::getMask(int64_t index, int64_t* mask) const {
  checkIndex(*this, index);
  if (maskPixels_ == 0) return Dataset::getMask(index, mask);
  std::copy_n(labels_.begin() + index * maskPixels_, maskPixels_, mask);
}

}  // namespace lrc::data
