// npy:X.npy,Y.npy — NumPy's .npy format (v1, v2, v3): magic "\x93NUMPY", major, minor, the
// header length (2 bytes in v1, 4 after), a Python dict literal with 'descr',
// 'fortran_order' and 'shape', then the array's bytes.
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <limits>

#include "runtime/data/ArrayDataset.h"

namespace lrc::data {
namespace {

struct NpyArray {
  std::string descr;  // e.g. "<f4", "|u1"
  bool fortranOrder = false;
  std::vector<int64_t> shape;
  size_t dataOffset = 0;
  size_t dataBytes = 0;
};

// Reads the header dict; numpy writes exactly this form:
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 28, 28), }
class HeaderParser {
 public:
  HeaderParser(const std::string& path, const std::string& text) : path_(path), text_(text) {}

  NpyArray parse() {
    NpyArray a;
    bool seenDescr = false, seenShape = false;
    expect('{');
    while (!accept('}')) {
      const std::string key = quoted();
      expect(':');
      if (key == "descr") {
        a.descr = quoted();
        seenDescr = true;
      } else if (key == "fortran_order") {
        a.fortranOrder = boolean();
      } else if (key == "shape") {
        a.shape = tuple();
        seenShape = true;
      } else {
        bad("unknown key '" + key + "'");
      }
      if (!accept(',')) {
        expect('}');
        break;
      }
    }
    if (!seenDescr || !seenShape) bad("no 'descr' or no 'shape'");
    return a;
  }

 private:
  [[noreturn]] void bad(const std::string& what) const {
    fail(path_ + ": malformed .npy header (" + what + " at offset " + std::to_string(at_) + ")");
  }
  void skipSpace() {
    while (at_ < text_.size() && (text_[at_] == ' ' || text_[at_] == '\n' || text_[at_] == '\t')) ++at_;
  }
  bool accept(char c) {
    skipSpace();
    if (at_ < text_.size() && text_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!accept(c)) bad(std::string("expected '") + c + "'");
  }
  std::string quoted() {
    skipSpace();
    if (at_ >= text_.size() || (text_[at_] != '\'' && text_[at_] != '"')) bad("expected a string");
    const char q = text_[at_++];
    const size_t end = text_.find(q, at_);
    if (end == std::string::npos) bad("unterminated string");
    std::string s = text_.substr(at_, end - at_);
    at_ = end + 1;
    return s;
  }
  bool boolean() {
    skipSpace();
    for (const char* word : {"True", "False"}) {
      if (text_.compare(at_, std::strlen(word), word) == 0) {
        at_ += std::strlen(word);
        return word[0] == 'T';
      }
    }
    bad("expected True or False");
  }
  std::vector<int64_t> tuple() {
    std::vector<int64_t> dims;
    expect('(');
    while (!accept(')')) {
      skipSpace();
      int64_t v = 0;
      size_t digits = 0;
      for (; at_ < text_.size() && text_[at_] >= '0' && text_[at_] <= '9'; ++at_, ++digits) {
        if (v > (std::numeric_limits<int64_t>::max() - 9) / 10) bad("dimension too large");
        v = v * 10 + (text_[at_] - '0');
      }
      if (digits == 0) bad("expected a dimension");
      dims.push_back(v);
      if (!accept(',')) {
        expect(')');
        break;
      }
    }
    return dims;
  }

  const std::string& path_;
  const std::string& text_;
  size_t at_ = 0;
};

std::string shapeTuple(const std::vector<int64_t>& dims) {
  std::string s = "(";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + (dims.size() == 1 ? ",)" : ")");
}

uint32_t littleEndian(const uint8_t* p, int bytes) {
  uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

NpyArray readHeader(const std::string& path, const std::vector<uint8_t>& bytes) {
  static const uint8_t magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (bytes.size() < 10 || std::memcmp(bytes.data(), magic, 6) != 0)
    fail(path + ": bad magic, expected a NumPy .npy file (\\x93NUMPY)");
  const int major = bytes[6];
  if (major < 1 || major > 3) fail(path + ": .npy version " + std::to_string(major) + " is not 1, 2 or 3");
  const int lengthBytes = major == 1 ? 2 : 4;
  const size_t headerAt = 8 + static_cast<size_t>(lengthBytes);
  if (bytes.size() < headerAt) fail(path + ": truncated .npy header");
  const size_t headerLength = littleEndian(bytes.data() + 8, lengthBytes);
  if (bytes.size() - headerAt < headerLength) fail(path + ": truncated .npy header");
  const std::string text(reinterpret_cast<const char*>(bytes.data()) + headerAt, headerLength);
  NpyArray a = HeaderParser(path, text).parse();
  a.dataOffset = headerAt + headerLength;
  a.dataBytes = bytes.size() - a.dataOffset;
  if (a.fortranOrder) fail(path + ": Fortran-order arrays are not read; save a C-order array");
  return a;
}

// Item size of `descr` when it is one of `accepted` ("f4", "u1", ...), else throws naming
// what was expected. Multi-byte types must be little-endian.
size_t itemSize(const std::string& path, const NpyArray& a, std::initializer_list<const char*> accepted,
                const char* expected) {
  const std::string& d = a.descr;
  if (d.size() == 3 && std::string("<|=>").find(d[0]) != std::string::npos) {
    const std::string type = d.substr(1);
    const size_t size = static_cast<size_t>(d[2] - '0');
    for (const char* t : accepted) {
      if (type != t) continue;
      if (size > 1 && d[0] == '>') fail(path + ": dtype '" + d + "' is big-endian; expected little-endian " + expected);
      return size;
    }
  }
  fail(path + ": dtype '" + d + "' but expected " + expected);
}

// Checks that the data after the header holds exactly the array's elements.
void checkDataSize(const std::string& path, const NpyArray& a, size_t item) {
  size_t count = 1;
  for (const int64_t d : a.shape) {
    if (d != 0 && count > std::numeric_limits<size_t>::max() / static_cast<size_t>(d) / item)
      fail(path + ": shape " + shapeTuple(a.shape) + " is too large");
    count *= static_cast<size_t>(d);
  }
  const size_t want = count * item;
  if (a.dataBytes < want)
    fail(path + ": truncated: shape " + shapeTuple(a.shape) + " needs " + std::to_string(want) +
         " bytes of data, the file has " + std::to_string(a.dataBytes));
  if (a.dataBytes > want)
    fail(path + ": " + std::to_string(a.dataBytes - want) + " bytes after the data of shape " + shapeTuple(a.shape));
}

}  // namespace

std::unique_ptr<Dataset> openNpy(const std::string& xPath, const std::string& yPath, const Shape& shape,
                                 int64_t classes, bool anySize, const std::optional<PixelLabels>& pixels) {
  std::vector<uint8_t> xBytes = readFile(xPath);
  const NpyArray x = readHeader(xPath, xBytes);
  const size_t xItem = itemSize(xPath, x, {"f4", "u1"}, "float32 or uint8 images");
  checkDataSize(xPath, x, xItem);
  if (x.shape.size() != 3 && x.shape.size() != 4)
    fail(xPath + ": shape " + shapeTuple(x.shape) + " but expected images N,C,H,W or N,H,W");
  const Shape found =
      x.shape.size() == 4 ? Shape{x.shape[1], x.shape[2], x.shape[3]} : Shape{1, x.shape[1], x.shape[2]};
  checkShape(xPath, found, shape, anySize);
  const int64_t n = x.shape[0];
  if (n == 0) fail(xPath + ": holds no images");

  const std::vector<uint8_t> yBytes = readFile(yPath);
  const NpyArray y = readHeader(yPath, yBytes);
  const size_t yItem = itemSize(yPath, y, {"i8", "i4", "u1"}, "int64, int32 or uint8 labels");
  checkDataSize(yPath, y, yItem);
  // Per pixel: label maps of the plan's H x W, or with `anySize` (transforms resize and crop
  // them with their images) of the images' H x W; each value a class or the ignore index.
  const int64_t mapH = pixels ? (anySize ? found[1] : pixels->height) : 1;
  const int64_t mapW = pixels ? (anySize ? found[2] : pixels->width) : 1;
  const int64_t perSample = mapH * mapW;
  if (pixels && (y.shape.size() != 3 || y.shape[1] != mapH || y.shape[2] != mapW))
    fail(yPath + ": shape " + shapeTuple(y.shape) + " but the plan labels every pixel: expected label maps (N, " +
         std::to_string(mapH) + ", " + std::to_string(mapW) + ")" + (anySize ? ", the images' size" : ""));
  if (!pixels && y.shape.size() != 1) fail(yPath + ": shape " + shapeTuple(y.shape) + " but expected labels (N,)");
  if (y.shape[0] != n)
    fail(xPath + " has " + std::to_string(n) + " images but " + yPath + " has " + std::to_string(y.shape[0]) +
         (pixels ? " label maps" : " labels"));

  std::vector<int64_t> labels(static_cast<size_t>(n * perSample));
  const uint8_t* p = yBytes.data() + y.dataOffset;
  for (int64_t i = 0; i < n * perSample; ++i, p += yItem) {
    int64_t v;
    if (yItem == 8) {
      std::memcpy(&v, p, 8);
    } else if (yItem == 4) {
      int32_t v32;
      std::memcpy(&v32, p, 4);
      v = v32;
    } else {
      v = *p;
    }
    if (!pixels) {
      checkLabel(yPath, v, i, classes);
    } else if (v != pixels->ignoreIndex && (v < 0 || v >= classes)) {
      const int64_t at = i % perSample;
      fail(yPath + ": label " + std::to_string(v) + " of sample " + std::to_string(i / perSample) + " (pixel " +
           std::to_string(at / mapW) + "," + std::to_string(at % mapW) + ") is outside [0, " +
           std::to_string(classes) + "), the plan's classes, and is not the ignore index " +
           std::to_string(pixels->ignoreIndex));
    }
    labels[static_cast<size_t>(i)] = v;
  }

  // A NaN or an infinity would make every loss from the first batch holding it NaN: the
  // training would diverge with nothing to say why.
  if (xItem == 4) {
    const int64_t sampleFloats = found[0] * found[1] * found[2];
    const uint8_t* pixel = xBytes.data() + x.dataOffset;
    for (int64_t i = 0; i < n * sampleFloats; ++i, pixel += 4) {
      float v;
      std::memcpy(&v, pixel, 4);
      if (!std::isfinite(v))
        fail(xPath + ": sample " + std::to_string(i / sampleFloats) + " has a non-finite pixel (" +
             (std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf") + " at element " + std::to_string(i % sampleFloats) +
             ")");
    }
  }

  const ArrayDataset::Layout layout{x.dataOffset, static_cast<size_t>(found[0] * found[1] * found[2]) * xItem,
                                    xItem == 1 ? ArrayDataset::Pixel::U8 : ArrayDataset::Pixel::F32};
  std::string description = summary("npy:" + xPath + "," + yPath, nullptr, n, found, classes);
  description.insert(description.size() - 1, xItem == 1 ? ", uint8 /255" : ", float32");
  if (pixels) description.insert(description.size() - 1, ", label maps");
  return std::make_unique<ArrayDataset>(std::move(description), std::move(xBytes), layout, found, std::move(labels),
                                        classes, pixels ? perSample : 0);
}

}  // namespace lrc::data
