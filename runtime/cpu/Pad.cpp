#include "runtime/cpu/Pad.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "runtime/cpu/Parallel.h"

namespace lrc::cpu {

// Threads (Parallel.h) split the output (image, channel) planes; each writes its own plane
// (the backward: the input plane it maps to, a different one for each).

namespace {

[[noreturn]] void fail(const char* kernel, const std::string& message) {
  throw std::invalid_argument(std::string(kernel) + ": " + message);
}

// Validates one call and returns the output columns [lo, hi) that have an input column
// (input column = output column - w0).
struct PadColumns {
  int64_t lo, hi;
};

PadColumns checkPad(const char* kernel, const PadParams& p, ConstRowBand in, const char* inName, ConstRowBand out,
                    const char* outName, int64_t a, int64_t b) {
  check_band(kernel, inName, in);
  check_band(kernel, outName, out);
  const int64_t* q = p.pads;
  if (out.N != in.N + q[0] + q[4] || out.C != in.C + q[1] + q[5] || out.H != in.H + q[2] + q[6] ||
      out.W != in.W + q[3] + q[7])
    fail(kernel, std::string(outName) + " map is " + std::to_string(out.N) + "x" + std::to_string(out.C) + "x" +
                     std::to_string(out.H) + "x" + std::to_string(out.W) + ", which is not the " + inName +
                     " map with the pads applied");
  check_output_rows(kernel, outName, out, a, b);
  require_rows(kernel, inName, in, pad_input_rows(p, a, b, in.H), "the output rows read");
  const int64_t lo = std::clamp<int64_t>(q[3], 0, out.W);
  return {lo, std::clamp<int64_t>(in.W + q[3], lo, out.W)};
}

bool inside(int64_t i, int64_t size) { return i >= 0 && i < size; }

}  // namespace

void pad_rows_forward(RowBand out, ConstRowBand in, const PadParams& p, int64_t a, int64_t b) {
  const PadColumns cols = checkPad("pad_rows_forward", p, in, "input", out, "output", a, b);
  const int64_t n0 = p.pads[0], c0 = p.pads[1], h0 = p.pads[2], w0 = p.pads[3];
  parallel_planes(out.N, out.C, (b - a) * out.W, [&](int64_t n, int64_t c) {
    const bool planeInside = inside(n - n0, in.N) && inside(c - c0, in.C);
    for (int64_t oh = a; oh < b; ++oh) {
      float* y = out.row(n, c, oh);
      if (!planeInside || !inside(oh - h0, in.H)) {
        std::fill(y, y + out.W, p.value);
        continue;
      }
      const float* x = in.row(n - n0, c - c0, oh - h0);
      std::fill(y, y + cols.lo, p.value);
      if (cols.hi > cols.lo) std::memcpy(y + cols.lo, x + (cols.lo - w0), (cols.hi - cols.lo) * sizeof(float));
      std::fill(y + cols.hi, y + out.W, p.value);
    }
  });
}

void pad_rows_backward(RowBand dIn, ConstRowBand dOut, const PadParams& p, int64_t a, int64_t b) {
  const PadColumns cols = checkPad("pad_rows_backward", p, dIn, "input-gradient", dOut, "output-gradient", a, b);
  const int64_t n0 = p.pads[0], c0 = p.pads[1], h0 = p.pads[2], w0 = p.pads[3];
  parallel_planes(dOut.N, dOut.C, (b - a) * dOut.W, [&](int64_t n, int64_t c) {
    if (!inside(n - n0, dIn.N) || !inside(c - c0, dIn.C)) return;
    for (int64_t oh = a; oh < b; ++oh) {
      if (!inside(oh - h0, dIn.H)) continue;
      const float* dy = dOut.row(n, c, oh);
      float* dx = dIn.row(n - n0, c - c0, oh - h0);
      for (int64_t ow = cols.lo; ow < cols.hi; ++ow) dx[ow - w0] += dy[ow];
    }
  });
}

}  // namespace lrc::cpu
