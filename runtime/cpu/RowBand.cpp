#include "runtime/cpu/RowBand.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "runtime/cpu/Parallel.h"

namespace lrc::cpu {

namespace {

std::string rangeText(RowRange r) {
  // Built by appending: GCC 12 warns (-Wrestrict, a false positive) on "literal" + string&&.
  std::string text("[");
  text.append(std::to_string(r.begin)).append(", ").append(std::to_string(r.end)).append(")");
  return text;
}

[[noreturn]] void fail(const char* kernel, const std::string& message) {
  throw std::invalid_argument(std::string(kernel) + ": " + message);
}

void checkSameMap(const char* kernel, ConstRowBand dst, ConstRowBand src) {
  if (dst.N != src.N || dst.C != src.C || dst.H != src.H || dst.W != src.W)
    fail(kernel, "destination and source bands are of different maps");
}

}  // namespace

void check_window(const char* kernel, const char* axisName, const WindowAxis& axis) {
  if (axis.kernel < 1 || axis.stride < 1 || axis.dilation < 1 || axis.padBegin < 0 || axis.padEnd < 0)
    fail(kernel, std::string(axisName) + " window needs kernel, stride, dilation >= 1 and pads >= 0 (got kernel " +
                     std::to_string(axis.kernel) + ", stride " + std::to_string(axis.stride) + ", dilation " +
                     std::to_string(axis.dilation) + ", pads " + std::to_string(axis.padBegin) + ", " +
                     std::to_string(axis.padEnd) + ")");
}

void check_band(const char* kernel, const char* name, ConstRowBand band) {
  if (band.N < 0 || band.C < 0 || band.H < 0 || band.W < 0 || band.rows < 0)
    fail(kernel, std::string(name) + " band has a negative size");
  if (band.row0 < 0 || band.row0 + band.rows > band.H)
    fail(kernel, std::string(name) + " band rows " + rangeText(band.range()) + " are not inside the map's rows [0, " +
                     std::to_string(band.H) + ")");
  if (band.data == nullptr && band.numElements() > 0) fail(kernel, std::string(name) + " band has no data");
}

void require_rows(const char* kernel, const char* name, ConstRowBand band, RowRange needed, const char* why) {
  if (!band.holds(needed))
    fail(kernel, std::string(name) + " band holds rows " + rangeText(band.range()) + " but " + why + " rows " +
                     rangeText(needed));
}

void check_output_rows(const char* kernel, const char* name, ConstRowBand band, int64_t a, int64_t b) {
  if (a < 0 || b < a || b > band.H)
    fail(kernel,
         "row range " + rangeText({a, b}) + " is not inside " + name + "'s rows [0, " + std::to_string(band.H) + ")");
  if (!band.holds({a, b}))
    fail(kernel, std::string(name) + " band holds rows " + rangeText(band.range()) + " but rows " + rangeText({a, b}) +
                     " were asked for");
}

void check_rows_of_one_map(const char* kernel, std::initializer_list<std::pair<const char*, ConstRowBand>> bands,
                           int64_t a, int64_t b) {
  const auto& [firstName, first] = *bands.begin();
  for (const auto& [name, band] : bands) {
    check_band(kernel, name, band);
    if (band.N != first.N || band.C != first.C || band.H != first.H || band.W != first.W)
      fail(kernel, std::string(name) + " and " + firstName + " bands are of different maps");
    check_output_rows(kernel, name, band, a, b);
  }
}

void copy_rows(RowBand dst, ConstRowBand src, int64_t a, int64_t b) {
  check_band("copy_rows", "destination", dst);
  check_band("copy_rows", "source", src);
  checkSameMap("copy_rows", dst, src);
  check_output_rows("copy_rows", "destination", dst, a, b);
  check_output_rows("copy_rows", "source", src, a, b);
  if (a == b) return;
  const size_t bytes = static_cast<size_t>((b - a) * dst.W) * sizeof(float);
  parallel_planes(dst.N, dst.C, (b - a) * dst.W,
                  [&](int64_t n, int64_t c) { std::memcpy(dst.row(n, c, a), src.row(n, c, a), bytes); });
}

void add_rows(RowBand dst, ConstRowBand src, int64_t a, int64_t b) {
  check_band("add_rows", "destination", dst);
  check_band("add_rows", "source", src);
  checkSameMap("add_rows", dst, src);
  check_output_rows("add_rows", "destination", dst, a, b);
  check_output_rows("add_rows", "source", src, a, b);
  const int64_t count = (b - a) * dst.W;
  parallel_planes(dst.N, dst.C, count, [&](int64_t n, int64_t c) {
    float* d = dst.row(n, c, a);
    const float* s = src.row(n, c, a);
    for (int64_t i = 0; i < count; ++i) d[i] += s[i];
  });
}

namespace {

// Zeroes dst, then calls put(source, rows) for the rows each source shares with dst, in order.
template <class Put>
void combineRows(const char* kernel, RowBand dst, const std::vector<ConstRowBand>& sources, Put put) {
  check_band(kernel, "destination", dst);
  for (const ConstRowBand& src : sources) {
    check_band(kernel, "source", src);
    checkSameMap(kernel, dst, src);
  }
  parallel_for(dst.numElements(), 1, [&](int64_t begin, int64_t end) {
    std::memset(dst.data + begin, 0, static_cast<size_t>(end - begin) * sizeof(float));
  });
  for (const ConstRowBand& src : sources) {
    const RowRange r = intersect(dst.range(), src.range());
    if (!r.empty()) put(src, r);
  }
}

}  // namespace

void gather_rows(RowBand dst, const std::vector<ConstRowBand>& sources) {
  combineRows("gather_rows", dst, sources, [&](ConstRowBand src, RowRange r) { copy_rows(dst, src, r.begin, r.end); });
}

void sum_rows(RowBand dst, const std::vector<ConstRowBand>& sources) {
  combineRows("sum_rows", dst, sources, [&](ConstRowBand src, RowRange r) { add_rows(dst, src, r.begin, r.end); });
}

}  // namespace lrc::cpu
