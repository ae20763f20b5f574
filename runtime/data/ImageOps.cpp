#include "runtime/data/ImageOps.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

namespace lrc::data {

namespace {

// Python's round() of a float: to nearest, halves to even (the default rounding mode).
int64_t roundHalfEven(double x) { return static_cast<int64_t>(std::nearbyint(x)); }

// Where output index i of `out` samples an axis of `in` values (align_corners=False): the
// two neighbours and the second one's weight, as ATen's upsample_bilinear2d computes them.
struct Taps {
  std::vector<int64_t> first, second;
  std::vector<float> weight;
};

Taps linearTaps(int64_t in, int64_t out) {
  Taps t;
  t.first.resize(static_cast<size_t>(out));
  t.second.resize(static_cast<size_t>(out));
  t.weight.resize(static_cast<size_t>(out));
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  for (int64_t i = 0; i < out; ++i) {
    const double source = std::max(0.0, scale * (static_cast<double>(i) + 0.5) - 0.5);
    const int64_t first = std::min(static_cast<int64_t>(source), in - 1);
    const size_t k = static_cast<size_t>(i);
    t.first[k] = first;
    t.second[k] = first + (first < in - 1 ? 1 : 0);
    t.weight[k] = static_cast<float>(std::clamp(source - static_cast<double>(first), 0.0, 1.0));
  }
  return t;
}

}  // namespace

std::array<int64_t, 2> shorterSideTo(int64_t height, int64_t width, int64_t size) {
  if (height <= width)
    return {size,
            static_cast<int64_t>(static_cast<double>(size) * static_cast<double>(width) / static_cast<double>(height))};
  return {static_cast<int64_t>(static_cast<double>(size) * static_cast<double>(height) / static_cast<double>(width)),
          size};
}

Window centerCropWindow(int64_t H, int64_t W, int64_t height, int64_t width) {
  Window w{0, 0, height, width};
  w.top = height > H ? -((height - H) / 2) : roundHalfEven(static_cast<double>(H - height) / 2.0);
  w.left = width > W ? -((width - W) / 2) : roundHalfEven(static_cast<double>(W - width) / 2.0);
  return w;
}

Window randomResizedCropWindow(int64_t H, int64_t W, SplitMix64& rng) {
  constexpr double kMinScale = 0.08, kMaxScale = 1.0, kMinRatio = 3.0 / 4.0, kMaxRatio = 4.0 / 3.0;
  const double area = static_cast<double>(H) * static_cast<double>(W);
  const double logMin = std::log(kMinRatio), logMax = std::log(kMaxRatio);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * (kMinScale + (kMaxScale - kMinScale) * uniformUnit(rng));
    const double ratio = std::exp(logMin + (logMax - logMin) * uniformUnit(rng));
    const int64_t w = roundHalfEven(std::sqrt(target * ratio));
    const int64_t h = roundHalfEven(std::sqrt(target / ratio));
    if (0 < w && w <= W && 0 < h && h <= H) {
      const int64_t top = static_cast<int64_t>(uniformBelow(rng, static_cast<uint64_t>(H - h + 1)));
      const int64_t left = static_cast<int64_t>(uniformBelow(rng, static_cast<uint64_t>(W - w + 1)));
      return {top, left, h, w};
    }
  }
  const double inRatio = static_cast<double>(W) / static_cast<double>(H);
  int64_t w = W, h = H;
  if (inRatio < kMinRatio) {
    h = roundHalfEven(static_cast<double>(w) / kMinRatio);
  } else if (inRatio > kMaxRatio) {
    w = roundHalfEven(static_cast<double>(h) * kMaxRatio);
  }
  return {(H - h) / 2, (W - w) / 2, h, w};
}

void resizeBilinear(const float* in, int64_t C, int64_t H, int64_t W, const Window& window, float* out, int64_t outH,
                    int64_t outW) {
  if (window.top < 0 || window.left < 0 || window.height <= 0 || window.width <= 0 || window.top + window.height > H ||
      window.left + window.width > W)
    throw std::logic_error("resizeBilinear: the window leaves the image");
  const Taps rows = linearTaps(window.height, outH), cols = linearTaps(window.width, outW);
  for (int64_t c = 0; c < C; ++c) {
    const float* plane = in + (c * H + window.top) * W + window.left;
    for (int64_t y = 0; y < outH; ++y) {
      const size_t ky = static_cast<size_t>(y);
      const float* a = plane + rows.first[ky] * W;
      const float* b = plane + rows.second[ky] * W;
      const float wy = rows.weight[ky];
      float* o = out + (c * outH + y) * outW;
      for (int64_t x = 0; x < outW; ++x) {
        const size_t kx = static_cast<size_t>(x);
        const int64_t x0 = cols.first[kx], x1 = cols.second[kx];
        const float wx = cols.weight[kx];
        const float top = (1 - wx) * a[x0] + wx * a[x1];
        const float bottom = (1 - wx) * b[x0] + wx * b[x1];
        o[x] = (1 - wy) * top + wy * bottom;
      }
    }
  }
}

namespace {

// Where output index i of an axis of `out` values reads an axis of `in` values, as ATen's
// nearest_idx: the same index when the sizes agree, i / 2 when doubling, else
// min(floor(i * scale), in - 1) with scale = in / out in float32.
std::vector<int64_t> nearestTaps(int64_t in, int64_t out) {
  std::vector<int64_t> t(static_cast<size_t>(out));
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  for (int64_t i = 0; i < out; ++i) {
    int64_t source;
    if (in == out) {
      source = i;
    } else if (out == 2 * in) {
      source = i >> 1;
    } else {
      source = std::min(static_cast<int64_t>(std::floor(static_cast<float>(i) * scale)), in - 1);
    }
    t[static_cast<size_t>(i)] = source;
  }
  return t;
}

}  // namespace

void resizeNearest(const int64_t* in, int64_t H, int64_t W, const Window& window, int64_t* out, int64_t outH,
                   int64_t outW) {
  if (window.top < 0 || window.left < 0 || window.height <= 0 || window.width <= 0 || window.top + window.height > H ||
      window.left + window.width > W)
    throw std::logic_error("resizeNearest: the window leaves the map");
  const std::vector<int64_t> rows = nearestTaps(window.height, outH), cols = nearestTaps(window.width, outW);
  for (int64_t y = 0; y < outH; ++y) {
    const int64_t* row = in + (window.top + rows[static_cast<size_t>(y)]) * W + window.left;
    for (int64_t x = 0; x < outW; ++x) out[y * outW + x] = row[cols[static_cast<size_t>(x)]];
  }
}

template <class T>
void crop(const T* in, int64_t C, int64_t H, int64_t W, const Window& window, T* out, T fill) {
  // The columns of each output row that fall inside the image: [x0, x1).
  const int64_t x0 = std::clamp<int64_t>(-window.left, 0, window.width);
  const int64_t x1 = std::clamp<int64_t>(W - window.left, x0, window.width);
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t y = 0; y < window.height; ++y) {
      T* o = out + (c * window.height + y) * window.width;
      const int64_t sy = window.top + y;
      if (sy < 0 || sy >= H) {
        std::fill(o, o + window.width, fill);
        continue;
      }
      std::fill(o, o + x0, fill);
      std::copy(in + (c * H + sy) * W + window.left + x0, in + (c * H + sy) * W + window.left + x1, o + x0);
      std::fill(o + x1, o + window.width, fill);
    }
  }
}

template void crop<float>(const float*, int64_t, int64_t, int64_t, const Window&, float*, float);
template void crop<int64_t>(const int64_t*, int64_t, int64_t, int64_t, const Window&, int64_t*, int64_t);

void normalize(float* chw, int64_t C, int64_t plane, const float* mean, const float* std) {
  for (int64_t c = 0; c < C; ++c) {
    float* p = chw + c * plane;
    for (int64_t i = 0; i < plane; ++i) p[i] = (p[i] - mean[c]) / std[c];
  }
}

}  // namespace lrc::data
