// Whole-file reads for the loaders, plain and gzip (zlib).
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "runtime/data/Loaders.h"

namespace lrc::data {

bool isRegularFile(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec);
}

void checkDirectory(const std::string& kind, const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    fail(kind + ":" + dir + ": " + (std::filesystem::exists(dir, ec) ? "not a directory" : "no such directory"));
}

namespace {

void refuseDirectory(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail(path + " is a directory, expected a file");
}

}  // namespace

FilePtr openFile(const std::string& path) {
  refuseDirectory(path);
  FilePtr f(std::fopen(path.c_str(), "rb"));
  if (!f) fail("cannot open " + path + ": " + std::strerror(errno));
  return f;
}

std::vector<uint8_t> readFile(const std::string& path) {
  const FilePtr f = openFile(path);
  std::vector<uint8_t> bytes;
  std::error_code ec;
  if (const auto size = std::filesystem::file_size(path, ec); !ec) bytes.reserve(size);
  uint8_t chunk[1 << 16];
  size_t got;
  while ((got = std::fread(chunk, 1, sizeof chunk, f.get())) > 0) bytes.insert(bytes.end(), chunk, chunk + got);
  if (std::ferror(f.get())) fail("cannot read " + path + ": " + std::strerror(errno));
  return bytes;
}

std::vector<uint8_t> readMaybeGzipFile(const std::string& path) {
  refuseDirectory(path);
  // gzread passes files that are not gzip through unchanged.
  struct CloseGz {
    void operator()(gzFile f) const { gzclose(f); }
  };
  std::unique_ptr<gzFile_s, CloseGz> f(gzopen(path.c_str(), "rb"));
  if (!f) fail("cannot open " + path + ": " + std::strerror(errno));
  std::vector<uint8_t> bytes;
  for (;;) {
    const size_t at = bytes.size();
    bytes.resize(at + (1 << 20));
    const int got = gzread(f.get(), bytes.data() + at, 1 << 20);
    bytes.resize(at + static_cast<size_t>(std::max(got, 0)));
    if (got <= 0) break;
  }
  // A stream cut short ends like a whole one, with Z_BUF_ERROR left behind; check it too.
  int code = Z_OK;
  const char* why = gzerror(f.get(), &code);
  if (code != Z_OK) {
    const std::string reason = code == Z_ERRNO ? std::strerror(errno) : why;
    fail("cannot read " + path + ": truncated or corrupt gzip data (" + reason + ")");
  }
  return bytes;
}

}  // namespace lrc::data
