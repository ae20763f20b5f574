#include "runtime/data/ImageFile.h"

// clang-format off
#include <cstdio>   // jpeglib.h needs FILE first
#include <jpeglib.h>
#include <jerror.h>
// clang-format on
#include <png.h>

#include <cctype>
#include <csetjmp>
#include <cstring>
#include <functional>

namespace lrc::data {
namespace {

// Interleaved samples (H, W, C) to planes (C, H, W), each sample / maxval.
template <class Sample>
void toChw(const Sample* hwc, const Shape& s, float maxval, float* chw) {
  const auto [C, H, W] = s;
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x)
      for (int64_t c = 0; c < C; ++c) chw[(c * H + y) * W + x] = static_cast<float>(hwc[(y * W + x) * C + c]) / maxval;
}

// Where the pixels of an image of the shape found go: null to decode none (only the header
// is wanted, or the shape is not the one expected).
using Destination = std::function<float*(const Shape& found)>;

// Each reader reads the header, asks `destination` where the pixels go, decodes them there
// unless it says nowhere, and returns the shape it found.

Shape readPng(FILE* f, const std::string& path, const Destination& destination) {
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_stdio(&image, f)) fail(path + ": corrupt PNG (" + image.message + ")");
  const bool color = image.format & PNG_FORMAT_FLAG_COLOR;
  const Shape found{color ? 3 : 1, image.height, image.width};
  if (image.format & PNG_FORMAT_FLAG_ALPHA) {
    png_image_free(&image);
    fail(path + ": PNG with an alpha channel; expected grayscale or RGB");
  }
  float* chw = destination(found);
  if (!chw) {
    png_image_free(&image);
    return found;
  }
  // 16-bit files without sRGB or gamma information read as 16-bit values, unchanged.
  const bool wide = image.format & PNG_FORMAT_FLAG_LINEAR;
  image.format = (color ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY) | (wide ? PNG_FORMAT_FLAG_LINEAR : 0);
  const size_t samples = static_cast<size_t>(found[0] * found[1] * found[2]);
  std::vector<uint8_t> narrow(wide ? 0 : samples);
  std::vector<uint16_t> broad(wide ? samples : 0);
  void* pixels = wide ? static_cast<void*>(broad.data()) : narrow.data();
  if (!png_image_finish_read(&image, nullptr, pixels, 0, nullptr))
    fail(path + ": corrupt or truncated PNG (" + image.message + ")");
  if (wide) {
    toChw(broad.data(), found, 65535.0f, chw);
  } else {
    toChw(narrow.data(), found, 255.0f, chw);
  }
  return found;
}

struct JpegErrors {
  jpeg_error_mgr pub;  // first, so that libjpeg's pointer to it points to the whole
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];  // the error, when libjpeg gave up
  char warning[JMSG_LENGTH_MAX];  // the first warning about damaged data, else ""
};

void onJpegError(j_common_ptr cinfo) {
  auto* errors = reinterpret_cast<JpegErrors*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, errors->message);
  std::longjmp(errors->jump, 1);
}

// libjpeg's warnings mean damaged data it decoded anyway (truncated files are padded with
// gray), except for stray bytes between markers, which lose no pixel.
void onJpegMessage(j_common_ptr cinfo, int level) {
  auto* errors = reinterpret_cast<JpegErrors*>(cinfo->err);
  if (level >= 0 || cinfo->err->msg_code == JWRN_EXTRANEOUS_DATA) return;
  if (errors->warning[0] == '\0') (*cinfo->err->format_message)(cinfo, errors->warning);
}

// Returns false when libjpeg gave up (errors->message says why). Errors longjmp back into
// this frame, so nothing here may need a destructor.
bool decodeJpeg(FILE* f, JpegErrors* errors, Shape* found, const Destination& destination) {
  jpeg_decompress_struct cinfo;
  cinfo.err = jpeg_std_error(&errors->pub);
  errors->pub.error_exit = onJpegError;
  errors->pub.emit_message = onJpegMessage;
  errors->message[0] = errors->warning[0] = '\0';
  if (setjmp(errors->jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_stdio_src(&cinfo, f);
  jpeg_read_header(&cinfo, TRUE);
  *found = {cinfo.num_components, cinfo.image_height, cinfo.image_width};
  float* chw = cinfo.num_components == 1 || cinfo.num_components == 3 ? destination(*found) : nullptr;
  if (chw) {
    cinfo.out_color_space = cinfo.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    const int64_t C = cinfo.num_components, H = cinfo.image_height, W = cinfo.image_width;
    JSAMPARRAY row = (*cinfo.mem->alloc_sarray)(reinterpret_cast<j_common_ptr>(&cinfo), JPOOL_IMAGE,
                                                static_cast<JDIMENSION>(W * C), 1);
    while (cinfo.output_scanline < cinfo.output_height) {
      const int64_t y = cinfo.output_scanline;
      jpeg_read_scanlines(&cinfo, row, 1);
      for (int64_t c = 0; c < C; ++c)
        for (int64_t x = 0; x < W; ++x) chw[(c * H + y) * W + x] = static_cast<float>(row[0][x * C + c]) / 255.0f;
    }
    jpeg_finish_decompress(&cinfo);
  }
  jpeg_destroy_decompress(&cinfo);
  return true;
}

Shape readJpeg(FILE* f, const std::string& path, const Destination& destination) {
  JpegErrors errors;
  Shape found{};
  if (!decodeJpeg(f, &errors, &found, destination)) fail(path + ": corrupt JPEG (" + errors.message + ")");
  if (errors.warning[0]) fail(path + ": truncated or corrupt JPEG (" + errors.warning + ")");
  if (found[0] != 1 && found[0] != 3)
    fail(path + ": JPEG with " + std::to_string(found[0]) + " color components; expected grayscale or RGB");
  return found;
}

// Binary PGM (P5) and PPM (P6): "P5", width, height, maxval as decimal numbers separated by
// whitespace and #-comments, one whitespace byte, then the samples (1 byte each when
// maxval < 256, else 2, big-endian).
int64_t pnmNumber(FILE* f, const std::string& path) {
  int c = std::getc(f);
  for (;;) {
    while (c != EOF && std::isspace(c)) c = std::getc(f);
    if (c != '#') break;
    while (c != EOF && c != '\n') c = std::getc(f);
  }
  if (c == EOF || !std::isdigit(c)) fail(path + ": malformed PGM/PPM header");
  int64_t v = 0;
  for (; c != EOF && std::isdigit(c); c = std::getc(f)) {
    v = v * 10 + (c - '0');
    if (v > (int64_t{1} << 30)) fail(path + ": malformed PGM/PPM header (number too large)");
  }
  if (c == '#') {
    std::ungetc(c, f);
  } else if (c == EOF || !std::isspace(c)) {
    fail(path + ": malformed PGM/PPM header");
  }
  return v;
}

Shape readPnm(FILE* f, const std::string& path, const Destination& destination) {
  char magic[2];
  if (std::fread(magic, 1, 2, f) != 2 || magic[0] != 'P' || (magic[1] != '5' && magic[1] != '6'))
    fail(path + ": only binary PGM (P5) and PPM (P6) are read");
  const int64_t width = pnmNumber(f, path), height = pnmNumber(f, path), maxval = pnmNumber(f, path);
  if (maxval < 1 || maxval > 65535) fail(path + ": PGM/PPM maxval " + std::to_string(maxval) + " is not in [1, 65535]");
  const Shape found{magic[1] == '5' ? 1 : 3, height, width};
  float* chw = destination(found);
  if (!chw) return found;

  const size_t count = static_cast<size_t>(found[0] * height * width);
  const size_t sampleBytes = maxval < 256 ? 1 : 2;
  std::vector<uint8_t> bytes(count * sampleBytes);
  if (std::fread(bytes.data(), 1, bytes.size(), f) != bytes.size())
    fail(path + ": truncated: the PGM/PPM header promises " + std::to_string(bytes.size()) + " bytes of samples");
  std::vector<uint16_t> samples(count);
  for (size_t i = 0; i < count; ++i) {
    samples[i] = sampleBytes == 1 ? bytes[i] : static_cast<uint16_t>(bytes[2 * i] << 8 | bytes[2 * i + 1]);
    if (samples[i] > maxval)
      fail(path + ": sample " + std::to_string(samples[i]) + " exceeds maxval " + std::to_string(maxval));
  }
  toChw(samples.data(), found, static_cast<float>(maxval), chw);
  return found;
}

Shape readAny(const std::string& path, const Destination& destination) {
  const FilePtr f = openFile(path);
  unsigned char head[8] = {};
  const size_t got = std::fread(head, 1, sizeof head, f.get());
  std::rewind(f.get());
  static const unsigned char pngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (got == 8 && std::memcmp(head, pngSignature, 8) == 0) return readPng(f.get(), path, destination);
  if (got >= 3 && head[0] == 0xff && head[1] == 0xd8 && head[2] == 0xff) return readJpeg(f.get(), path, destination);
  if (got >= 2 && head[0] == 'P' && head[1] >= '1' && head[1] <= '7') return readPnm(f.get(), path, destination);
  fail(path + ": not a PNG, JPEG, PGM or PPM image");
}

void checkFound(const std::string& path, const Shape& found, const Shape& expected) {
  if (found != expected)
    fail(path + " has " + shapeText(found) + " pixels but the plan expects " + shapeText(expected) +
         " (images are not resized without a resize or crop transform, nor converted between grayscale and RGB)");
}

}  // namespace

Shape checkImage(const std::string& path, const Shape& shape, bool anySize) {
  const Shape found = readAny(path, [](const Shape&) { return nullptr; });
  if (anySize)
    checkShape(path, found, shape, true);
  else
    checkFound(path, found, shape);
  return found;
}

void readImage(const std::string& path, const Shape& shape, float* chw) {
  checkFound(path, readAny(path, [&](const Shape& found) { return found == shape ? chw : nullptr; }), shape);
}

void readImage(const std::string& path, Image& image) {
  readAny(path, [&](const Shape& found) { return image.reshape(found); });
}

}  // namespace lrc::data
