#include "runtime/cpu/Resize.h"

#include <stdexcept>
#include <string>

#include "runtime/cpu/Parallel.h"

namespace lrc::cpu {

// Threads (Parallel.h) split the (image, channel) planes; each writes its own plane.

namespace {

// `in` is the input-shaped band, `out` the output-shaped one, [a, b) the output rows; checks
// the bands against p's extents and that `in` holds the input rows those output rows read.
void checkResize(const char* kernel, const ResizeParams& p, ConstRowBand in, const char* inName, ConstRowBand out,
                 const char* outName, int64_t a, int64_t b) {
  check_band(kernel, inName, in);
  check_band(kernel, outName, out);
  if (in.N != out.N || in.C != out.C)
    throw std::invalid_argument(std::string(kernel) + ": " + inName + " and " + outName +
                                " differ in batch or channels");
  if (in.H != p.h.inSize || in.W != p.w.inSize || out.H != p.h.outSize || out.W != p.w.outSize)
    throw std::invalid_argument(std::string(kernel) + ": maps " + std::to_string(in.H) + "x" + std::to_string(in.W) +
                                " -> " + std::to_string(out.H) + "x" + std::to_string(out.W) + " are not the resize's " +
                                std::to_string(p.h.inSize) + "x" + std::to_string(p.w.inSize) + " -> " +
                                std::to_string(p.h.outSize) + "x" + std::to_string(p.w.outSize));
  check_output_rows(kernel, outName, out, a, b);
  require_rows(kernel, inName, in, kernels::resize_input_rows(p, a, b), "the output rows read");
}

}  // namespace

void resize_rows_forward(RowBand out, ConstRowBand in, const ResizeParams& p, int64_t a, int64_t b) {
  checkResize("resize_rows_forward", p, in, "input", out, "output", a, b);
  const kernels::ResizeForward f{out, in, p};
  parallel_planes(out.N, out.C, (b - a) * out.W * 4, [&](int64_t n, int64_t c) {
    for (int64_t oh = a; oh < b; ++oh)
      for (int64_t ow = 0; ow < out.W; ++ow) f(n, c, oh, ow);
  });
}

void resize_rows_backward(RowBand dIn, ConstRowBand dOut, const ResizeParams& p, int64_t a, int64_t b) {
  checkResize("resize_rows_backward", p, dIn, "input-gradient", dOut, "output-gradient", a, b);
  const RowRange reached = kernels::resize_input_rows(p, a, b);
  const kernels::ResizeBackward g{dIn, dOut, p, a, b};
  parallel_planes(dIn.N, dIn.C, (reached.end - reached.begin) * dIn.W * 4, [&](int64_t n, int64_t c) {
    for (int64_t ih = reached.begin; ih < reached.end; ++ih)
      for (int64_t iw = 0; iw < dIn.W; ++iw) g(n, c, ih, iw);
  });
}

}  // namespace lrc::cpu
