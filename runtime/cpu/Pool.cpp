#include "runtime/cpu/Pool.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/cpu/Parallel.h"

namespace lrc::cpu {

// Threads (Parallel.h) split the (image, channel) planes: each writes its own plane only.

namespace {

[[noreturn]] void fail(const char* kernel, const std::string& message) {
  throw std::invalid_argument(std::string(kernel) + ": " + message);
}

// Validates one call: `in` is the input-shaped band, `out` the output-shaped one, [a, b) the
// output rows; checks that `in` holds the input rows they read.
void checkPool(const char* kernel, const Pool2dParams& p, ConstRowBand in, const char* inName, ConstRowBand out,
               const char* outName, int64_t a, int64_t b) {
  check_window(kernel, "height", p.h);
  check_window(kernel, "width", p.w);
  check_band(kernel, inName, in);
  check_band(kernel, outName, out);
  if (in.N != out.N || in.C != out.C)
    fail(kernel, std::string(inName) + " and " + outName + " differ in batch or channels");
  const int64_t wantOH = window_output_size(p.h, in.H, p.ceilMode);
  const int64_t wantOW = window_output_size(p.w, in.W, p.ceilMode);
  if (out.H != wantOH || out.W != wantOW)
    fail(kernel, std::string(outName) + " map is " + std::to_string(out.H) + "x" + std::to_string(out.W) + " but a " +
                     std::to_string(in.H) + "x" + std::to_string(in.W) + " input gives " + std::to_string(wantOH) +
                     "x" + std::to_string(wantOW));
  check_output_rows(kernel, outName, out, a, b);
  require_rows(kernel, inName, in, window_input_rows(p.h, a, b, in.H), "the output rows read");
}

// The window's maximum and the offset ((ih - row0) * W + iw) of its first maximum within the
// band's (n, c) plane, with PyTorch's rule (v > max || isnan(v)); offset -1 when no tap is
// in bounds. All -inf: the first in-bounds tap, as PyTorch.
struct WindowMax {
  float value;
  int64_t offset;
};

WindowMax windowMax(const float* plane, int64_t row0, int64_t W, const Pool2dParams& p, const Taps& th,
                    const Taps& tw) {
  WindowMax m{-std::numeric_limits<float>::infinity(), -1};
  if (th.lo >= th.hi || tw.lo >= tw.hi) return m;
  m.offset = (th.start + th.lo * p.h.dilation - row0) * W + tw.start + tw.lo * p.w.dilation;
  for (int64_t i = th.lo; i < th.hi; ++i) {
    const int64_t rowOffset = (th.start + i * p.h.dilation - row0) * W;
    for (int64_t j = tw.lo; j < tw.hi; ++j) {
      const int64_t at = rowOffset + tw.start + j * p.w.dilation;
      const float v = plane[at];
      if (v > m.value || std::isnan(v)) m = {v, at};
    }
  }
  return m;
}

// ---- The max-pooling fast path ----
// The output columns [lo, hi) whose windows lie inside the row along w (every tap in bounds):
// for them each tap (i, j) of the window reads the column ow * stride - padBegin + j * dilation,
// so one loop over those columns per tap, in windowMax's scan order (taps i, then j) and with
// its rule, computes every column's windowMax at once: the same comparisons in the same order
// per output, so bit for bit its value and offset (NaN and ties included), and the loops over
// columns vectorise (the stride a template constant for the common 1 and 2). The columns
// outside [lo, hi) (padding) take windowMax itself.
struct Columns {
  int64_t lo, hi;
};

Columns interiorColumns(const WindowAxis& w, int64_t outW, int64_t inW) {
  auto inside = [&](int64_t ow) {
    const Taps t = valid_taps(w, ow, inW);
    return t.lo == 0 && t.hi == w.kernel;
  };
  Columns c{0, outW};
  while (c.lo < outW && !inside(c.lo)) ++c.lo;
  while (c.hi > c.lo && !inside(c.hi - 1)) --c.hi;
  return c;
}

// windowMax's rule as a select (branch free, so the column loops vectorise).
inline bool takes(float v, float m) { return v > m || v != v; }

// y[lo, hi) = the window maxima of output row th (its taps along h) for the interior columns;
// with offsets (non-null), each one's first maximum's offset in the band's plane, as windowMax.
template <int64_t kStride>
void interiorMax(float* __restrict y, int32_t* __restrict offsets, const float* __restrict plane, int64_t row0,
                 int64_t W, const Pool2dParams& p, const Taps& th, Columns cols) {
  const int64_t s = kStride > 0 ? kStride : p.w.stride, count = cols.hi - cols.lo;
  float* __restrict m = y + cols.lo;
  int32_t* __restrict at = offsets != nullptr ? offsets + cols.lo : nullptr;
  bool first = true;
  for (int64_t i = th.lo; i < th.hi; ++i) {
    const int64_t rowOffset = (th.start + i * p.h.dilation - row0) * W;
    for (int64_t j = 0; j < p.w.kernel; ++j) {
      // Column cols.lo + k reads plane[tap + k * s].
      const int64_t tap = rowOffset + cols.lo * s - p.w.padBegin + j * p.w.dilation;
      const float* __restrict x = plane + tap;
      if (first) {
        for (int64_t k = 0; k < count; ++k) m[k] = x[k * s];
        if (at != nullptr)
          for (int64_t k = 0; k < count; ++k) at[k] = static_cast<int32_t>(tap + k * s);
        first = false;
      } else if (at == nullptr) {
        for (int64_t k = 0; k < count; ++k) {
          const float v = x[k * s], old = m[k];
          m[k] = takes(v, old) ? v : old;
        }
      } else {
        for (int64_t k = 0; k < count; ++k) {
          const float v = x[k * s], old = m[k];
          const bool t = takes(v, old);
          m[k] = t ? v : old;
          at[k] = t ? static_cast<int32_t>(tap + k * s) : at[k];
        }
      }
    }
  }
}

void interiorMaxAnyStride(float* y, int32_t* offsets, const float* plane, int64_t row0, int64_t W,
                          const Pool2dParams& p, const Taps& th, Columns cols) {
  if (p.w.stride == 2) return interiorMax<2>(y, offsets, plane, row0, W, p, th, cols);
  if (p.w.stride == 1) return interiorMax<1>(y, offsets, plane, row0, W, p, th, cols);
  interiorMax<0>(y, offsets, plane, row0, W, p, th, cols);
}

// The fast path applies: some interior column, and offsets within a band's plane fit int32.
bool fastPath(Columns cols, const ConstRowBand& in) {
  return cols.lo < cols.hi && in.rows * in.W <= std::numeric_limits<int32_t>::max();
}

std::vector<AvgSpan> avgSpans(const WindowAxis& axis, int64_t outSize, int64_t size) {
  std::vector<AvgSpan> spans(outSize);
  for (int64_t o = 0; o < outSize; ++o) spans[o] = avg_span(axis, o, size);
  return spans;
}

void checkAvgDilation(const char* kernel, const Pool2dParams& p) {
  if (p.h.dilation != 1 || p.w.dilation != 1) fail(kernel, "average pooling supports dilation 1 only");
}

}  // namespace

void maxpool2d_rows_forward(RowBand out, ConstRowBand in, const Pool2dParams& p, int64_t a, int64_t b) {
  checkPool("maxpool2d_rows_forward", p, in, "input", out, "output", a, b);
  const Columns cols = interiorColumns(p.w, out.W, in.W);
  const bool fast = fastPath(cols, in);
  parallel_planes(in.N, in.C, (b - a) * out.W * p.h.kernel * p.w.kernel, [&](int64_t n, int64_t c) {
    const float* plane = in.row(n, c, in.row0);
    for (int64_t oh = a; oh < b; ++oh) {
      const Taps th = valid_taps(p.h, oh, in.H);
      float* y = out.row(n, c, oh);
      const bool rowFast = fast && th.lo < th.hi;
      if (rowFast) interiorMaxAnyStride(y, nullptr, plane, in.row0, in.W, p, th, cols);
      for (int64_t ow = 0; ow < out.W; ++ow) {
        if (rowFast && ow == cols.lo) ow = cols.hi;
        if (ow == out.W) break;
        y[ow] = windowMax(plane, in.row0, in.W, p, th, valid_taps(p.w, ow, in.W)).value;
      }
    }
  });
}

void maxpool2d_rows_forward_reference(RowBand out, ConstRowBand in, const Pool2dParams& p, int64_t a, int64_t b) {
  checkPool("maxpool2d_rows_forward", p, in, "input", out, "output", a, b);
  for (int64_t n = 0; n < in.N; ++n)
    for (int64_t c = 0; c < in.C; ++c) {
      const float* plane = in.row(n, c, in.row0);
      for (int64_t oh = a; oh < b; ++oh) {
        const Taps th = valid_taps(p.h, oh, in.H);
        float* y = out.row(n, c, oh);
        for (int64_t ow = 0; ow < out.W; ++ow)
          y[ow] = windowMax(plane, in.row0, in.W, p, th, valid_taps(p.w, ow, in.W)).value;
      }
    }
}

void maxpool2d_rows_backward(RowBand dIn, ConstRowBand dOut, ConstRowBand in, const Pool2dParams& p, int64_t a,
                             int64_t b) {
  const char* kernel = "maxpool2d_rows_backward";
  checkPool(kernel, p, in, "input", dOut, "output-gradient", a, b);
  check_band(kernel, "input-gradient", dIn);
  if (dIn.N != in.N || dIn.C != in.C || dIn.H != in.H || dIn.W != in.W)
    fail(kernel, "input-gradient and input bands are of different maps");
  require_rows(kernel, "input-gradient", dIn, window_input_rows(p.h, a, b, in.H), "the output rows read");
  const Columns cols = interiorColumns(p.w, dOut.W, in.W);
  const bool fast = fastPath(cols, in);
  parallel_planes(in.N, in.C, (b - a) * dOut.W * p.h.kernel * p.w.kernel, [&](int64_t n, int64_t c) {
    const float* plane = in.row(n, c, in.row0);
    // dIn's plane, indexed by offsets in `in`'s (the rows a window reads are in both bands).
    float* dPlane = dIn.row(n, c, dIn.row0);
    const int64_t shift = (in.row0 - dIn.row0) * in.W;
    thread_local std::vector<float> maxima;
    thread_local std::vector<int32_t> offsets;
    if (fast) {
      maxima.resize(static_cast<size_t>(dOut.W));
      offsets.resize(static_cast<size_t>(dOut.W));
    }
    for (int64_t oh = a; oh < b; ++oh) {
      const Taps th = valid_taps(p.h, oh, in.H);
      const float* dy = dOut.row(n, c, oh);
      const bool rowFast = fast && th.lo < th.hi;
      if (rowFast) interiorMaxAnyStride(maxima.data(), offsets.data(), plane, in.row0, in.W, p, th, cols);
      // In column order, as the reference: a tap that is two windows' maximum gets dy in order.
      for (int64_t ow = 0; ow < dOut.W; ++ow) {
        int64_t offset = 0;
        if (rowFast && ow >= cols.lo && ow < cols.hi) {
          offset = offsets[static_cast<size_t>(ow)];
        } else {
          offset = windowMax(plane, in.row0, in.W, p, th, valid_taps(p.w, ow, in.W)).offset;
          if (offset < 0) continue;
        }
        dPlane[offset + shift] += dy[ow];
      }
    }
  });
}

void maxpool2d_rows_backward_reference(RowBand dIn, ConstRowBand dOut, ConstRowBand in, const Pool2dParams& p,
                                       int64_t a, int64_t b) {
  checkPool("maxpool2d_rows_backward", p, in, "input", dOut, "output-gradient", a, b);
  for (int64_t n = 0; n < in.N; ++n)
    for (int64_t c = 0; c < in.C; ++c) {
      const float* plane = in.row(n, c, in.row0);
      for (int64_t oh = a; oh < b; ++oh) {
        const Taps th = valid_taps(p.h, oh, in.H);
        const float* dy = dOut.row(n, c, oh);
        for (int64_t ow = 0; ow < dOut.W; ++ow) {
          const WindowMax m = windowMax(plane, in.row0, in.W, p, th, valid_taps(p.w, ow, in.W));
          if (m.offset < 0) continue;
          const int64_t ih = in.row0 + m.offset / in.W;
          dIn.row(n, c, ih)[m.offset % in.W] += dy[ow];
        }
      }
    }
}

void avgpool2d_rows_forward(RowBand out, ConstRowBand in, const Pool2dParams& p, int64_t a, int64_t b) {
  const char* kernel = "avgpool2d_rows_forward";
  checkAvgDilation(kernel, p);
  checkPool(kernel, p, in, "input", out, "output", a, b);
  const std::vector<AvgSpan> spansW = avgSpans(p.w, out.W, in.W);
  parallel_planes(in.N, in.C, (b - a) * out.W * p.h.kernel * p.w.kernel, [&](int64_t n, int64_t c) {
    for (int64_t oh = a; oh < b; ++oh) {
      const AvgSpan sh = avg_span(p.h, oh, in.H);
      float* y = out.row(n, c, oh);
      for (int64_t ow = 0; ow < out.W; ++ow) {
        const AvgSpan& sw = spansW[ow];
        if (sh.lo >= sh.hi || sw.lo >= sw.hi) {
          y[ow] = 0.0f;
          continue;
        }
        double sum = 0.0;
        for (int64_t ih = sh.lo; ih < sh.hi; ++ih) {
          const float* x = in.row(n, c, ih);
          for (int64_t iw = sw.lo; iw < sw.hi; ++iw) sum += x[iw];
        }
        y[ow] = static_cast<float>(sum / avg_divisor(p, sh, sw));
      }
    }
  });
}

void avgpool2d_rows_backward(RowBand dIn, ConstRowBand dOut, const Pool2dParams& p, int64_t a, int64_t b) {
  const char* kernel = "avgpool2d_rows_backward";
  checkAvgDilation(kernel, p);
  checkPool(kernel, p, dIn, "input-gradient", dOut, "output-gradient", a, b);
  const std::vector<AvgSpan> spansW = avgSpans(p.w, dOut.W, dIn.W);
  parallel_planes(dIn.N, dIn.C, (b - a) * dOut.W * p.h.kernel * p.w.kernel, [&](int64_t n, int64_t c) {
    for (int64_t oh = a; oh < b; ++oh) {
      const AvgSpan sh = avg_span(p.h, oh, dIn.H);
      const float* dy = dOut.row(n, c, oh);
      for (int64_t ow = 0; ow < dOut.W; ++ow) {
        const AvgSpan& sw = spansW[ow];
        if (sh.lo >= sh.hi || sw.lo >= sw.hi) continue;
        const float g = static_cast<float>(dy[ow] / avg_divisor(p, sh, sw));
        for (int64_t ih = sh.lo; ih < sh.hi; ++ih) {
          float* dx = dIn.row(n, c, ih);
          for (int64_t iw = sw.lo; iw < sw.hi; ++iw) dx[iw] += g;
        }
      }
    }
  });
}

void global_avgpool_forward(float* y, const float* x, int64_t N, int64_t C, int64_t HW) {
  if (HW <= 0) fail("global_avgpool_forward", "map has no elements");
  parallel_each(N * C, HW, [&](int64_t nc) {
    const float* plane = x + nc * HW;
    double sum = 0.0;
    for (int64_t i = 0; i < HW; ++i) sum += plane[i];
    y[nc] = static_cast<float>(sum / static_cast<double>(HW));
  });
}

void global_avgpool_backward(float* dx, const float* dy, int64_t N, int64_t C, int64_t HW) {
  if (HW <= 0) fail("global_avgpool_backward", "map has no elements");
  parallel_each(N * C, HW, [&](int64_t nc) {
    const float g = static_cast<float>(dy[nc] / static_cast<double>(HW));
    float* plane = dx + nc * HW;
    for (int64_t i = 0; i < HW; ++i) plane[i] += g;
  });
}

}  // namespace lrc::cpu
