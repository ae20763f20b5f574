// Fixture files for the data loader tests, written at test time: a temporary directory,
// .npy arrays, gzip and PNG (with "stored" deflate blocks, so no zlib is needed here), and
// the check every malformed-file test makes on the error.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace lrc::data::testing {

using Bytes = std::vector<uint8_t>;

// A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "lrc-data-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline void writeFile(const std::string& path, const Bytes& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!f) throw std::runtime_error("cannot write " + path);
}

inline Bytes readFileBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

inline void append(Bytes& to, const Bytes& more) { to.insert(to.end(), more.begin(), more.end()); }
inline void appendBigEndian32(Bytes& to, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) to.push_back(static_cast<uint8_t>(v >> shift));
}
inline void appendLittleEndian32(Bytes& to, uint32_t v) {
  for (int shift = 0; shift <= 24; shift += 8) to.push_back(static_cast<uint8_t>(v >> shift));
}
template <class T>
Bytes bytesOf(const std::vector<T>& values) {
  Bytes b(values.size() * sizeof(T));
  if (!b.empty()) std::memcpy(b.data(), values.data(), b.size());
  return b;
}

// A .npy v1 file as numpy writes it: the header dict padded with spaces to a multiple of 64.
inline Bytes npyFile(const std::string& descr, const std::vector<int64_t>& shape, const Bytes& data) {
  std::string dims;
  for (const int64_t d : shape) dims += std::to_string(d) + ", ";
  if (shape.size() > 1) dims.resize(dims.size() - 2);
  if (shape.size() == 1) dims.resize(dims.size() - 1);
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  const std::string prefix = std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(header.size() & 0xff) +
                             static_cast<char>(header.size() >> 8) + header;
  Bytes file(prefix.begin(), prefix.end());
  append(file, data);
  return file;
}

inline uint32_t crc32(const uint8_t* p, size_t n, uint32_t crc = 0) {
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
  }
  return ~crc;
}

// Deflate "stored" blocks: the data uncompressed, in blocks of at most 65535 bytes.
inline Bytes deflateStored(const Bytes& data) {
  Bytes out;
  size_t at = 0;
  do {
    const size_t n = std::min<size_t>(65535, data.size() - at);
    out.push_back(at + n == data.size() ? 1 : 0);  // BFINAL, BTYPE=00
    out.push_back(static_cast<uint8_t>(n));
    out.push_back(static_cast<uint8_t>(n >> 8));
    out.push_back(static_cast<uint8_t>(~n));
    out.push_back(static_cast<uint8_t>(~n >> 8));
    out.insert(out.end(), data.begin() + static_cast<std::ptrdiff_t>(at),
               data.begin() + static_cast<std::ptrdiff_t>(at + n));
    at += n;
  } while (at < data.size());
  return out;
}

inline Bytes gzipFile(const Bytes& data) {
  Bytes out = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255};
  append(out, deflateStored(data));
  appendLittleEndian32(out, crc32(data.data(), data.size()));
  appendLittleEndian32(out, static_cast<uint32_t>(data.size()));
  return out;
}

// PNG with the given color type (0 gray, 2 RGB, 4 gray+alpha, 6 RGBA) and bit depth; `samples`
// are the rows' samples, big-endian when 16-bit.
inline Bytes pngFile(uint32_t width, uint32_t height, uint8_t colorType, uint8_t bitDepth, const Bytes& samples) {
  const int channels = colorType == 0 ? 1 : colorType == 2 ? 3 : colorType == 4 ? 2 : 4;
  const size_t rowBytes = width * static_cast<size_t>(channels) * (bitDepth / 8);
  Bytes raw;  // each row behind filter byte 0
  for (uint32_t y = 0; y < height; ++y) {
    raw.push_back(0);
    raw.insert(raw.end(), samples.begin() + static_cast<std::ptrdiff_t>(y * rowBytes),
               samples.begin() + static_cast<std::ptrdiff_t>((y + 1) * rowBytes));
  }
  uint32_t a = 1, b = 0;  // Adler-32
  for (uint8_t v : raw) {
    a = (a + v) % 65521;
    b = (b + a) % 65521;
  }
  Bytes zlib = {0x78, 0x01};
  append(zlib, deflateStored(raw));
  appendBigEndian32(zlib, b << 16 | a);

  Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  auto chunk = [&png](const char* type, const Bytes& body) {
    appendBigEndian32(png, static_cast<uint32_t>(body.size()));
    Bytes typed(type, type + 4);
    append(typed, body);
    append(png, typed);
    appendBigEndian32(png, crc32(typed.data(), typed.size()));
  };
  Bytes ihdr;
  appendBigEndian32(ihdr, width);
  appendBigEndian32(ihdr, height);
  append(ihdr, {bitDepth, colorType, 0, 0, 0});
  chunk("IHDR", ihdr);
  chunk("IDAT", zlib);
  chunk("IEND", {});
  return png;
}

// Binary PGM (channels 1) or PPM (3) with maxval 255 or, for 16-bit samples, `maxval`.
inline Bytes pnmFile(int channels, int width, int height, int maxval, const Bytes& samples,
                     const std::string& comment = "") {
  std::string header = std::string(channels == 1 ? "P5" : "P6") + "\n" + comment + std::to_string(width) + " " +
                       std::to_string(height) + "\n" + std::to_string(maxval) + "\n";
  Bytes file(header.begin(), header.end());
  append(file, samples);
  return file;
}

// Runs `open` and expects an `Error` whose message is one line starting with `prefix` and
// containing every one of `parts`.
template <class Error>
void expectOneLineError(const std::function<void()>& open, const std::string& prefix,
                        const std::vector<std::string>& parts) {
  try {
    open();
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    EXPECT_EQ(m.rfind(prefix, 0), 0u) << m;
    for (const std::string& part : parts)
      EXPECT_NE(m.find(part), std::string::npos) << "'" << part << "' not in: " << m;
    return;
  }
  ADD_FAILURE() << "no " << prefix << "error; expected one mentioning " << (parts.empty() ? "" : parts[0]);
}

// Runs `open` and expects a std::runtime_error whose message is one line starting with
// "data: " and containing every one of `parts`.
inline void expectDataError(const std::function<void()>& open, const std::vector<std::string>& parts) {
  expectOneLineError<std::runtime_error>(open, "data: ", parts);
}

// Runs `open` and accepts success or a one-line "data: " std::runtime_error, nothing else.
inline void expectCleanOutcome(const std::function<void()>& open, const std::string& what) {
  try {
    open();
  } catch (const std::runtime_error& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.find('\n'), std::string::npos) << what << ": " << m;
    EXPECT_EQ(m.rfind("data: ", 0), 0u) << what << ": " << m;
  }
}

}  // namespace lrc::data::testing
