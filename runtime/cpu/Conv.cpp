#include "runtime/cpu/Conv.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/cpu/Blas.h"
#include "runtime/cpu/DnnlConv.h"

namespace lrc::cpu {

namespace {

// Sizes of one call, derived from the bands and checked once.
struct ConvShape {
  int64_t N, C, H, W;  // input map
  int64_t K, OH, OW;   // output map
  int64_t Cg, Kg;      // channels per group
  int64_t patch;       // Cg * kH * kW: rows of the column matrix, columns of a group's weights
  bool direct;         // 1x1, stride 1, unpadded: the input rows are the column matrix
  RowRange live;       // rows of the input map the call reads or writes; the others count as padding
};

[[noreturn]] void fail(const char* kernel, const std::string& message) {
  throw std::invalid_argument(std::string(kernel) + ": " + message);
}

// Validates one call: `in` is the input-shaped band (input or its gradient), `out` the
// output-shaped one, [a, b) the output rows. Checks that `in` holds the rows they read inside
// `live` (the whole map for a convolution; a transposed convolution's strip rows, below).
ConvShape checkConv(const char* kernel, const Conv2dParams& p, ConstRowBand in, const char* inName, ConstRowBand out,
                    const char* outName, int64_t a, int64_t b, const float* weight, const float* workspace,
                    RowRange live = {0, -1}) {
  check_window(kernel, "height", p.h);
  check_window(kernel, "width", p.w);
  check_band(kernel, inName, in);
  check_band(kernel, outName, out);
  if (p.group < 1) fail(kernel, "group must be >= 1, got " + std::to_string(p.group));
  if (live.end < 0) live = {0, in.H};
  ConvShape s{in.N, in.C, in.H, in.W, out.C, out.H, out.W, 0, 0, 0, conv2d_is_direct(p), live};
  if (out.N != in.N) fail(kernel, "batch sizes differ: " + std::to_string(in.N) + " vs " + std::to_string(out.N));
  if (s.C % p.group != 0 || s.K % p.group != 0)
    fail(kernel, "group " + std::to_string(p.group) + " does not divide input channels " + std::to_string(s.C) +
                     " and output channels " + std::to_string(s.K));
  const int64_t wantOH = window_output_size(p.h, s.H), wantOW = window_output_size(p.w, s.W);
  if (s.OH != wantOH || s.OW != wantOW)
    fail(kernel, std::string(outName) + " map is " + std::to_string(s.OH) + "x" + std::to_string(s.OW) + " but a " +
                     std::to_string(s.H) + "x" + std::to_string(s.W) + " input gives " + std::to_string(wantOH) + "x" +
                     std::to_string(wantOW));
  check_output_rows(kernel, outName, out, a, b);
  require_rows(kernel, inName, in, kernels::intersect(window_input_rows(p.h, a, b, s.H), live),
               "the output rows read");
  if (weight == nullptr) fail(kernel, "weight is null");
  if (workspace == nullptr && conv2d_workspace_floats(p, s.C, s.OW, b - a) > 0)
    fail(kernel, "workspace is null (see conv2d_workspace_floats)");
  s.Cg = s.C / p.group;
  s.Kg = s.K / p.group;
  s.patch = s.Cg * p.h.kernel * p.w.kernel;
  return s;
}

// Output columns [lo, hi) whose input column ow * stride + offset lies in [0, W), for one
// kernel column.
struct ColumnSpan {
  int64_t lo, hi, offset;
};

ColumnSpan columnSpan(const WindowAxis& axis, int64_t kj, int64_t W, int64_t OW) {
  const int64_t offset = kj * axis.dilation - axis.padBegin;
  const int64_t lo = std::min(offset >= 0 ? 0 : (-offset + axis.stride - 1) / axis.stride, OW);
  const int64_t hi = W - 1 - offset < 0 ? lo : std::clamp((W - 1 - offset) / axis.stride + 1, lo, OW);
  return {lo, hi, offset};
}

// Moves data between channels [c0, c0 + Cg) of image n of a band and the column matrix
// [Cg * kH * kW][(b - a) * OW] of output rows [a, b). ToColumns: col = im2col(band), padding
// read as 0. Otherwise: band += col2im(col), padding skipped.
template <bool ToColumns, class Band>
void transferColumns(float* col, Band band, int64_t n, int64_t c0, const ConvShape& s, const Conv2dParams& p, int64_t a,
                     int64_t b) {
  const int64_t cols = (b - a) * s.OW;
  const int64_t strideW = p.w.stride;
  for (int64_t c = 0; c < s.Cg; ++c)
    for (int64_t ki = 0; ki < p.h.kernel; ++ki)
      for (int64_t kj = 0; kj < p.w.kernel; ++kj) {
        float* colRow = col + ((c * p.h.kernel + ki) * p.w.kernel + kj) * cols;
        const ColumnSpan span = columnSpan(p.w, kj, s.W, s.OW);
        for (int64_t oh = a; oh < b; ++oh) {
          float* cell = colRow + (oh - a) * s.OW;
          const int64_t ih = oh * p.h.stride - p.h.padBegin + ki * p.h.dilation;
          const bool padRow = ih < s.live.begin || ih >= s.live.end;
          if constexpr (ToColumns) {
            if (padRow) {
              std::fill(cell, cell + s.OW, 0.0f);
              continue;
            }
            const float* src = band.row(n, c0 + c, ih);
            std::fill(cell, cell + span.lo, 0.0f);
            if (strideW == 1 && span.hi > span.lo)
              std::memcpy(cell + span.lo, src + span.lo + span.offset, (span.hi - span.lo) * sizeof(float));
            else
              for (int64_t ow = span.lo; ow < span.hi; ++ow) cell[ow] = src[ow * strideW + span.offset];
            std::fill(cell + span.hi, cell + s.OW, 0.0f);
          } else {
            if (padRow) continue;
            float* dst = band.row(n, c0 + c, ih);
            for (int64_t ow = span.lo; ow < span.hi; ++ow) dst[ow * strideW + span.offset] += cell[ow];
          }
        }
      }
}

// The column matrix [patch][(b - a) * OW] of image n, group g, and its row stride: the input
// band's own rows for a direct convolution (no copy), else im2col into the workspace.
struct Columns {
  const float* data;
  int64_t ld;
};

Columns columnsOf(ConstRowBand in, int64_t n, int64_t g, const ConvShape& s, const Conv2dParams& p, int64_t a,
                  int64_t b, float* workspace) {
  if (s.direct) return {in.row(n, g * s.Cg, a), in.rows * s.W};
  transferColumns<true>(workspace, in, n, g * s.Cg, s, p, a, b);
  return {workspace, (b - a) * s.OW};
}

// Output rows [a, b) in chunks of conv2d_chunk_rows rows (the last one shorter): one chunk's
// column matrix is what the workspace holds. A direct convolution needs no workspace: one chunk.
std::vector<RowRange> chunksOf(const ConvShape& s, const Conv2dParams& p, int64_t a, int64_t b) {
  const int64_t step = s.direct ? b - a : conv2d_chunk_rows(p, s.C, s.OW, b - a);
  std::vector<RowRange> chunks;
  for (int64_t c = a; c < b; c += step) chunks.push_back({c, std::min(b, c + step)});
  return chunks;
}

// The three products with a `live` row range of the input-shaped map (rows outside it read
// as 0 and are not written) and, for the forward, `beta` (0 overwrites the output rows, 1 adds).
void forwardRows(const char* kernel, RowBand out, ConstRowBand in, const float* weight, const float* bias,
                 const Conv2dParams& p, int64_t a, int64_t b, float* workspace, RowRange live, float beta) {
  const ConvShape s = checkConv(kernel, p, in, "input", out, "output", a, b, weight, workspace, live);
  if (a == b) return;
  const int64_t cols = (b - a) * s.OW;
  for (int64_t n = 0; n < s.N; ++n) {
    for (const RowRange c : chunksOf(s, p, a, b))
      for (int64_t g = 0; g < p.group; ++g) {
        const Columns columns = columnsOf(in, n, g, s, p, c.begin, c.end, workspace);
        sgemm(false, false, s.Kg, c.size() * s.OW, s.patch, 1.0f, weight + g * s.Kg * s.patch, s.patch, columns.data,
              columns.ld, beta, out.row(n, g * s.Kg, c.begin), out.rows * s.OW);
      }
    if (bias != nullptr)
      for (int64_t k = 0; k < s.K; ++k) {
        float* y = out.row(n, k, a);
        const float bk = bias[k];
        for (int64_t i = 0; i < cols; ++i) y[i] += bk;
      }
  }
}

void backwardDataRows(const char* kernel, RowBand dIn, ConstRowBand dOut, const float* weight, const Conv2dParams& p,
                      int64_t a, int64_t b, float* workspace, RowRange live) {
  const ConvShape s =
      checkConv(kernel, p, dIn, "input-gradient", dOut, "output-gradient", a, b, weight, workspace, live);
  if (a == b) return;
  const int64_t ldDy = dOut.rows * s.OW;
  for (int64_t n = 0; n < s.N; ++n)
    for (const RowRange c : chunksOf(s, p, a, b))
      for (int64_t g = 0; g < p.group; ++g) {
        const float* wg = weight + g * s.Kg * s.patch;
        const float* dy = dOut.row(n, g * s.Kg, c.begin);
        const int64_t cols = c.size() * s.OW;
        if (s.direct) {
          sgemm(true, false, s.patch, cols, s.Kg, 1.0f, wg, s.patch, dy, ldDy, 1.0f, dIn.row(n, g * s.Cg, c.begin),
                dIn.rows * s.W);
        } else {
          sgemm(true, false, s.patch, cols, s.Kg, 1.0f, wg, s.patch, dy, ldDy, 0.0f, workspace, cols);
          transferColumns<false>(workspace, dIn, n, g * s.Cg, s, p, c.begin, c.end);
        }
      }
}

void backwardFilterRows(const char* kernel, float* dWeight, ConstRowBand dOut, ConstRowBand in, const Conv2dParams& p,
                        int64_t a, int64_t b, float* workspace, RowRange live) {
  const ConvShape s = checkConv(kernel, p, in, "input", dOut, "output-gradient", a, b, dWeight, workspace, live);
  if (a == b) return;
  for (int64_t n = 0; n < s.N; ++n)
    for (const RowRange c : chunksOf(s, p, a, b))
      for (int64_t g = 0; g < p.group; ++g) {
        const Columns columns = columnsOf(in, n, g, s, p, c.begin, c.end, workspace);
        sgemm(false, true, s.Kg, s.patch, c.size() * s.OW, 1.0f, dOut.row(n, g * s.Kg, c.begin), dOut.rows * s.OW,
              columns.data, columns.ld, 1.0f, dWeight + g * s.Kg * s.patch, s.patch);
      }
}

constexpr RowRange kWholeMap{0, -1};

ConvPath pathFromEnvironment() {
  const char* v = std::getenv("LRC_CPU_CONV");
  if (v == nullptr || *v == 0) return dnnl_conv::available() ? ConvPath::kDnnl : ConvPath::kIm2col;
  const std::string s = v;
  if (s == "dnnl") return ConvPath::kDnnl;
  if (s == "dnnl-plain") return ConvPath::kDnnlPlain;
  if (s == "im2col") return ConvPath::kIm2col;
  throw std::invalid_argument("LRC_CPU_CONV: expected dnnl, dnnl-plain or im2col, got '" + s + "'");
}

ConvPath& currentPath() {
  static ConvPath path = pathFromEnvironment();
  return path;
}

bool useDnnl() { return currentPath() != ConvPath::kIm2col && dnnl_conv::available(); }

// Whether a call runs oneDNN's blocked form (else its plain one). Under kDnnl, a 1x1
// stride-1 unpadded ungrouped convolution over a map of at least kDirectPlainMinPixels output
// pixels takes the plain form for its forward and input gradient: oneDNN's GEMM convolution on
// the NCHW bands, no scratch, measured faster than im2col's direct GEMM there in most runs
// (ResNet-50's bottleneck 1x1s, forward and input gradient: 0.79x the time at 56x56, 0.90x
// at 28x28). At 14x14 and 7x7 it is even with im2col (not routed), and for the weight gradient
// no faster anywhere (it stays on im2col); the blocked form (its copies need scratch the plan
// does not give a direct convolution) measured no faster (docs/benchmarks.md, "1x1
// convolutions on oneDNN").
constexpr int64_t kDirectPlainMinPixels = 28 * 28;
bool blocked(const Conv2dParams& p, int64_t OH, int64_t OW, bool weightGradient) {
  if (currentPath() != ConvPath::kDnnl) return false;
  return weightGradient || p.group != 1 || !kernels::conv2d_is_direct(p) || OH * OW < kDirectPlainMinPixels;
}

int64_t workspaceOf(int64_t given, const Conv2dParams& p, int64_t C, int64_t OW, int64_t a, int64_t b,
                    const float* workspace) {
  if (workspace == nullptr) return 0;
  return given >= 0 ? given : conv2d_workspace_floats(p, C, OW, b - a);
}

}  // namespace

ConvPath conv_path() { return currentPath(); }
void set_conv_path(ConvPath path) { currentPath() = path; }

void conv2d_rows_forward(RowBand out, ConstRowBand in, const float* weight, const float* bias, const Conv2dParams& p,
                         int64_t a, int64_t b, float* workspace, int64_t workspaceFloats) {
  const char* kernel = "conv2d_rows_forward";
  if (useDnnl()) {
    checkConv(kernel, p, in, "input", out, "output", a, b, weight, workspace);
    const int64_t ws = workspaceOf(workspaceFloats, p, in.C, out.W, a, b, workspace);
    if (blocked(p, out.H, out.W, false) ? dnnl_conv::blocked_forward(out, in, weight, bias, p, a, b, workspace, ws)
                  : dnnl_conv::forward(out, in, weight, bias, p, a, b, workspace, ws))
      return;
  }
  forwardRows(kernel, out, in, weight, bias, p, a, b, workspace, kWholeMap, 0.0f);
}

void conv2d_rows_backward_data(RowBand dIn, ConstRowBand dOut, const float* weight, const Conv2dParams& p, int64_t a,
                               int64_t b, float* workspace, bool dInZeroed, int64_t workspaceFloats) {
  const char* kernel = "conv2d_rows_backward_data";
  if (dInZeroed && useDnnl()) {
    checkConv(kernel, p, dIn, "input-gradient", dOut, "output-gradient", a, b, weight, workspace);
    const int64_t ws = workspaceOf(workspaceFloats, p, dIn.C, dOut.W, a, b, workspace);
    if (blocked(p, dOut.H, dOut.W, false)
            ? dnnl_conv::blocked_backward_data_zeroed(dIn, dOut, weight, p, a, b, workspace, ws)
                  : dnnl_conv::backward_data_zeroed(dIn, dOut, weight, p, a, b, workspace, ws))
      return;
  }
  backwardDataRows(kernel, dIn, dOut, weight, p, a, b, workspace, kWholeMap);
}

void conv2d_rows_backward_filter(float* dWeight, float* dBias, ConstRowBand dOut, ConstRowBand in,
                                 const Conv2dParams& p, int64_t a, int64_t b, float* workspace, bool dWeightZeroed,
                                 int64_t workspaceFloats) {
  const char* kernel = "conv2d_rows_backward_filter";
  bool done = false;
  if (useDnnl()) {
    checkConv(kernel, p, in, "input", dOut, "output-gradient", a, b, dWeight, workspace);
    const int64_t ws = workspaceOf(workspaceFloats, p, in.C, dOut.W, a, b, workspace);
    done = blocked(p, dOut.H, dOut.W, true) ? dnnl_conv::blocked_backward_weights(dWeight, dOut, in, p, a, b, !dWeightZeroed, workspace, ws)
                     : dnnl_conv::backward_weights(dWeight, dOut, in, p, a, b, !dWeightZeroed, workspace, ws);
  }
  if (!done) backwardFilterRows(kernel, dWeight, dOut, in, p, a, b, workspace, kWholeMap);
  if (dBias != nullptr && a < b) conv2d_rows_backward_bias(dBias, dOut, a, b);
}

// The transposed convolution: `p` is the equivalent convolution (output map -> input map), so
// its input-shaped band is the transposed output and its output rows are the input rows.
void conv_transpose2d_rows_forward(RowBand out, ConstRowBand in, const float* weight, const float* bias,
                                   const Conv2dParams& p, int64_t a, int64_t b, float* workspace) {
  const char* kernel = "conv_transpose2d_rows_forward";
  check_band(kernel, "output", out);
  check_output_rows(kernel, "output", out, a, b);
  if (a == b) return;
  for (int64_t n = 0; n < out.N; ++n)
    for (int64_t c = 0; c < out.C; ++c) std::fill(out.row(n, c, a), out.row(n, c, a) + (b - a) * out.W, 0.0f);
  const RowRange x = kernels::transposed_input_rows(p.h, a, b, in.H);
  if (!x.empty()) backwardDataRows(kernel, out, in, weight, p, x.begin, x.end, workspace, {a, b});
  if (bias != nullptr)
    for (int64_t n = 0; n < out.N; ++n)
      for (int64_t c = 0; c < out.C; ++c) {
        float* y = out.row(n, c, a);
        for (int64_t i = 0; i < (b - a) * out.W; ++i) y[i] += bias[c];
      }
}

void conv_transpose2d_rows_backward_data(RowBand dIn, ConstRowBand dOut, const float* weight, const Conv2dParams& p,
                                         int64_t a, int64_t b, float* workspace) {
  const RowRange x = kernels::transposed_input_rows(p.h, a, b, dIn.H);
  if (x.empty()) return;  // rows [a, b) lie in the padding or between dilated taps
  forwardRows("conv_transpose2d_rows_backward_data", dIn, dOut, weight, nullptr, p, x.begin, x.end, workspace, {a, b},
              1.0f);
}

void conv_transpose2d_rows_backward_filter(float* dWeight, ConstRowBand dOut, ConstRowBand in, const Conv2dParams& p,
                                           int64_t a, int64_t b, float* workspace) {
  const RowRange x = kernels::transposed_input_rows(p.h, a, b, in.H);
  if (x.empty()) return;
  backwardFilterRows("conv_transpose2d_rows_backward_filter", dWeight, in, dOut, p, x.begin, x.end, workspace, {a, b});
}

void conv2d_rows_backward_bias(float* dBias, ConstRowBand dOut, int64_t a, int64_t b) {
  const char* kernel = "conv2d_rows_backward_bias";
  check_band(kernel, "output-gradient", dOut);
  check_output_rows(kernel, "output-gradient", dOut, a, b);
  const int64_t count = (b - a) * dOut.W;
  for (int64_t k = 0; k < dOut.C; ++k) {
    double sum = 0.0;
    for (int64_t n = 0; n < dOut.N; ++n) {
      const float* dy = dOut.row(n, k, a);
      for (int64_t i = 0; i < count; ++i) sum += dy[i];
    }
    dBias[k] += static_cast<float>(sum);
  }
}

}  // namespace lrc::cpu
