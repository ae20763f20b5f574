// Image files for folder:DIR — PNG (libpng), JPEG (libjpeg) and binary PGM/PPM, told apart
// by their first bytes, read as CHW floats in [0, 1] (value / 255, or / 65535 and / maxval
// for 16-bit PNG and PGM/PPM). Grayscale gives C=1, RGB (and PNG palettes) C=3; images with
// an alpha channel, CMYK JPEGs and ASCII PGM/PPM are refused. Errors name the file.
#pragma once

#include <string>

#include "runtime/data/Loaders.h"

namespace lrc::data {

// Throws unless the file's header says it is a `shape` (C, H, W) image (with `anySize`, an
// image of shape[0] channels: checkShape); decodes no pixel. Returns the shape it found.
Shape checkImage(const std::string& path, const Shape& shape, bool anySize);

// Decodes the image, which must be `shape` (C, H, W), into `chw`.
void readImage(const std::string& path, const Shape& shape, float* chw);

// Decodes the image at its own size into `image`.
void readImage(const std::string& path, Image& image);

}  // namespace lrc::data
