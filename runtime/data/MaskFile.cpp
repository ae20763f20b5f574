#include "runtime/data/MaskFile.h"

#include <png.h>

#include <csetjmp>
#include <cstring>

#include "runtime/data/Loaders.h"

namespace lrc::data {
namespace {

struct PngErrors {
  std::jmp_buf jump;
  char message[256];
};

void onPngError(png_structp png, png_const_charp message) {
  auto* errors = static_cast<PngErrors*>(png_get_error_ptr(png));
  std::strncpy(errors->message, message, sizeof errors->message - 1);
  std::longjmp(errors->jump, 1);
}

void onPngWarning(png_structp, png_const_charp) {}

// Returns "" or why the file is not a mask; libpng's errors longjmp back into this frame, so
// nothing here may need a destructor but `rows` and `mask`, set up before setjmp.
std::string decodeMask(FILE* f, PngErrors* errors, Mask* mask, std::vector<png_bytep>* rows,
                       std::vector<uint8_t>* bytes) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, errors, onPngError, onPngWarning);
  if (!png) return "cannot start libpng";
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    return "cannot start libpng";
  }
  errors->message[0] = '\0';
  if (setjmp(errors->jump)) {
    png_destroy_read_struct(&png, &info, nullptr);
    return std::string("corrupt or truncated PNG (") + errors->message + ")";
  }
  png_init_io(png, f);
  png_read_info(png, info);
  const png_uint_32 width = png_get_image_width(png, info), height = png_get_image_height(png, info);
  const int colorType = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
  if (colorType != PNG_COLOR_TYPE_PALETTE && colorType != PNG_COLOR_TYPE_GRAY) {
    png_destroy_read_struct(&png, &info, nullptr);
    return "a mask must be a palette or grayscale PNG (its values are class ids), not RGB or with alpha";
  }
  if (static_cast<int64_t>(width) * height > kMaxImageValues) {
    png_destroy_read_struct(&png, &info, nullptr);
    return "mask too large";
  }
  if (depth < 8) png_set_packing(png);  // 1, 2, 4-bit values or indices as one byte each
  if (depth == 16) png_set_swap(png);   // host order (little-endian) for the uint16 values
  png_read_update_info(png, info);
  const size_t rowBytes = png_get_rowbytes(png, info);
  bytes->resize(rowBytes * height);
  rows->resize(height);
  for (png_uint_32 y = 0; y < height; ++y) (*rows)[y] = bytes->data() + y * rowBytes;
  png_read_image(png, rows->data());
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  mask->height = height;
  mask->width = width;
  mask->ids.resize(static_cast<size_t>(width) * height);
  for (size_t i = 0; i < mask->ids.size(); ++i) {
    if (depth == 16) {
      uint16_t v;
      std::memcpy(&v, bytes->data() + 2 * i, 2);
      mask->ids[i] = v;
    } else {
      mask->ids[i] = (*bytes)[i];
    }
  }
  return "";
}

}  // namespace

Mask readMask(const std::string& path) {
  const FilePtr f = openFile(path);
  unsigned char head[8] = {};
  if (std::fread(head, 1, sizeof head, f.get()) != sizeof head || png_sig_cmp(head, 0, sizeof head) != 0)
    fail(path + ": not a PNG (masks are PNG files of class ids)");
  std::rewind(f.get());
  PngErrors errors;
  Mask mask;
  std::vector<png_bytep> rows;
  std::vector<uint8_t> bytes;
  const std::string problem = decodeMask(f.get(), &errors, &mask, &rows, &bytes);
  if (!problem.empty()) fail(path + ": " + problem);
  return mask;
}

}  // namespace lrc::data
