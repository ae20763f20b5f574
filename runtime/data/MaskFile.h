// Segmentation masks for folder:DIR (Dataset.h): PNG files whose pixel values are class ids,
// read without any colour conversion: a palette PNG gives its palette indices (as VOC's
// SegmentationClass masks, where 255 marks the border), a grayscale PNG its gray values
// (1 to 16 bits). RGB and alpha PNGs are refused: their pixels are colours, not ids. Errors
// name the file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lrc::data {

struct Mask {
  int64_t height = 0, width = 0;
  std::vector<int64_t> ids;  // H*W, row by row
};

// Decodes the mask at `path`.
Mask readMask(const std::string& path);

}  // namespace lrc::data
