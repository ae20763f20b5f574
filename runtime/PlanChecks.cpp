// The checks of a decoded plan before anything runs (runtime/PlanChecks.h): buffers, io,
// inits, optimizer, and each step of both programs (StepChecker: indices, attributes, bands,
// the kernel's operand and result types, scratch, overlaps).
#include "runtime/PlanChecks.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>
#include <sstream>
#include <stdexcept>

#include "runtime/PreparedStep.h"
#include "runtime/kernels/Conv.h"
#include "runtime/kernels/Pad.h"
#include "runtime/kernels/Pool.h"
#include "runtime/plan/PlanFile.h"

namespace lrc::runtime {

namespace {

using plan::Buffer;
using plan::DType;
using plan::Step;

// Bounds that keep every size computation below far from int64 overflow: elements of one
// buffer, and each window parameter (kernel, stride, dilation, pad, group).
constexpr int64_t kMaxElements = int64_t{1} << 60;
constexpr int64_t kMaxWindow = int64_t{1} << 30;
constexpr int kMaxRank = 8;

std::string shapeText(const Shape& s) {
  // Built by appending: GCC 12 warns (-Wrestrict, a false positive) on "literal" + string&&.
  std::string text = "[";
  for (size_t i = 0; i < s.size(); ++i) text.append(i ? "," : "").append(std::to_string(s[i]));
  return text.append("]");
}

std::string typeText(DType dtype, const Shape& s) { return (dtype == plan::I64 ? "i64" : "f32") + shapeText(s); }

Shape shapeOf(const Buffer& b) { return {b.shape().begin(), b.shape().end()}; }

// ---- row bands (plan.proto's Buffer.row0/height; geometry checked by PlanValidator) ----
bool isBand(const Buffer& b) { return b.height() > 0; }

// The whole tensor a buffer is part of: its own shape, with a band's full height.
Shape mapOf(const Buffer& b) {
  Shape s = shapeOf(b);
  if (isBand(b)) s[2] = b.height();
  return s;
}

// The rows a rank-4 buffer holds: a band's, or all of a whole map's.
kernels::RowRange rowsOf(const Buffer& b) {
  const int64_t row0 = isBand(b) ? b.row0() : 0;
  return {row0, row0 + b.shape(2)};
}

std::string rangeText(kernels::RowRange r) {
  std::string text = "[";
  return text.append(std::to_string(r.begin)).append(", ").append(std::to_string(r.end)).append(")");
}

// Type and, for a band, its rows: "f32[2,4,3,9] rows [2,5) of 12".
std::string typeOf(const Buffer& b) { return plan::bufferType(b) + plan::bandText(b); }

// Whether two buffers (already checked to lie inside the arena) share a byte.
bool overlaps(const Buffer& a, const Buffer& b) {
  return a.bytes() > 0 && b.bytes() > 0 && a.offset() < b.offset() + b.bytes() && b.offset() < a.offset() + a.bytes();
}

std::string numberText(double x) {
  std::ostringstream s;
  s << x;
  return s.str();
}

// Checks of one step. `where` reads "train step #12 (conv2d '/features/Conv')".
class StepChecker {
 public:
  StepChecker(const plan::Plan& plan, const Step& step, std::string where, const std::string& path)
      : plan_(plan), step_(step), where_(std::move(where)), path_(path) {}

  void check(const Backend& backend) {
    std::optional<Kernel> kernel = kernelByName(step_.kernel());
    if (!kernel) fail("unknown kernel '" + step_.kernel() + "'");
    if (!backend.supports(*kernel))
      fail("the " + backend.name() + " backend has no kernel '" + step_.kernel() + "'");
    checkIndices();
    checkAttrs();
    checkBandUse(*kernel);
    checkKernel(*kernel);
    checkNoOverlap();
  }

 private:
  const plan::Plan& plan_;
  const Step& step_;
  std::string where_;
  const std::string& path_;

  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error(path_ + ": " + where_ + ": " + what);
  }

  const Buffer& buffer(uint32_t index) const { return plan_.buffers(static_cast<int>(index)); }
  std::string describe(uint32_t index) const {
    return std::string("#").append(std::to_string(index)).append(" '").append(buffer(index).name()).append("'");
  }
  const Buffer& in(int i) const { return buffer(step_.inputs(i)); }
  const Buffer& out(int i) const { return buffer(step_.outputs(i)); }

  void checkIndices() const {
    const int64_t n = plan_.buffers_size();
    for (uint32_t index : step_.inputs())
      if (index >= n)
        fail("operand buffer #" + std::to_string(index) + " does not exist (" + std::to_string(n) + " buffers)");
    for (uint32_t index : step_.outputs())
      if (index >= n)
        fail("result buffer #" + std::to_string(index) + " does not exist (" + std::to_string(n) + " buffers)");
    if (step_.scratch() < -1 || step_.scratch() >= n)
      fail("scratch buffer #" + std::to_string(step_.scratch()) + " does not exist (" + std::to_string(n) +
           " buffers)");
  }

  void checkAttrs() const {
    std::set<std::string> seen;
    for (const plan::Attr& a : step_.attrs()) {
      if (!seen.insert(a.name()).second) fail("attribute '" + a.name() + "' is given twice");
      if (a.is_float() ? a.ints_size() != 0 : a.floats_size() != 0)
        fail("attribute '" + a.name() + "' holds both ints and floats");
    }
  }

  void counts(int minInputs, int maxInputs, int results) const {
    const int n = step_.inputs_size();
    if (n < minInputs || n > maxInputs)
      fail("expects " +
           (minInputs == maxInputs ? std::to_string(minInputs)
                                   : std::to_string(minInputs) + " or " + std::to_string(maxInputs)) +
           " operands, got " + std::to_string(n));
    if (step_.outputs_size() != results)
      fail("expects " + std::to_string(results) + " results, got " + std::to_string(step_.outputs_size()));
  }

  // ---- attributes ----
  const plan::Attr& attr(const std::string& name) const {
    const plan::Attr* a = findAttr(step_, name);
    if (!a) fail("missing attribute '" + name + "'");
    return *a;
  }
  std::vector<int64_t> ints(const std::string& name, int count, int64_t lo, int64_t hi) const {
    const plan::Attr& a = attr(name);
    if (a.is_float()) fail("attribute '" + name + "' must hold integers");
    if (count >= 0 && a.ints_size() != count)
      fail("attribute '" + name + "' must have " + std::to_string(count) + " values, got " +
           std::to_string(a.ints_size()));
    for (int64_t v : a.ints())
      if (v < lo || v > hi)
        fail("attribute '" + name + "' value " + std::to_string(v) + " is outside [" + std::to_string(lo) + ", " +
             std::to_string(hi) + "]");
    return {a.ints().begin(), a.ints().end()};
  }
  int64_t integer(const std::string& name, int64_t lo, int64_t hi) const { return ints(name, 1, lo, hi)[0]; }
  bool flag(const std::string& name) const { return integer(name, 0, 1) != 0; }
  double number(const std::string& name, double lo, double hi) const {
    const plan::Attr& a = attr(name);
    const int size = a.is_float() ? a.floats_size() : a.ints_size();
    if (size != 1) fail("attribute '" + name + "' must have 1 value, got " + std::to_string(size));
    const double v = a.is_float() ? a.floats(0) : static_cast<double>(a.ints(0));
    if (!(v >= lo && v <= hi))
      fail("attribute '" + name + "' value " + numberText(v) + " is outside [" + numberText(lo) + ", " +
           numberText(hi) + "]");
    return v;
  }
  double finite(const std::string& name) const {
    constexpr double big = std::numeric_limits<double>::max();
    return number(name, -big, big);
  }

  // ---- types ----
  // Shapes are compared as whole maps (mapOf): a band's rows are checked by needRows.
  void expect(const Buffer& b, const std::string& role, DType dtype, const Shape& shape) const {
    if (b.dtype() != dtype || mapOf(b) != shape)
      fail(role + " '" + b.name() + "' is " + typeOf(b) + ", expected " + typeText(dtype, shape));
  }
  void expectF32(const Buffer& b, const std::string& role, int rank) const {
    if (b.dtype() != plan::F32) fail(role + " '" + b.name() + "' is " + plan::bufferType(b) + ", expected f32");
    if (rank >= 0 && b.shape_size() != rank)
      fail(role + " '" + b.name() + "' is " + plan::bufferType(b) + ", expected rank " + std::to_string(rank));
  }
  void expectSame(const Buffer& b, const std::string& role, const Buffer& like) const {
    expect(b, role, like.dtype(), mapOf(like));
  }
  void expectElements(const Buffer& b, const std::string& role, const Buffer& like) const {
    if (b.dtype() != like.dtype() || elementsOf(shapeOf(b)) != elementsOf(shapeOf(like)))
      fail(role + " '" + b.name() + "' is " + plan::bufferType(b) + ", which does not hold the " +
           plan::bufferType(like) + " of '" + like.name() + "'");
  }

  // ---- windows ----
  kernels::Conv2dParams convAttrs(int64_t kernelH, int64_t kernelW) const {
    ints("dilation", 2, 1, kMaxWindow);
    ints("pad", 4, 0, kMaxWindow);
    ints("stride", 2, 1, kMaxWindow);
    integer("group", 1, kMaxWindow);
    if (kernelH > kMaxWindow || kernelW > kMaxWindow)
      fail("kernel " + std::to_string(kernelH) + "x" + std::to_string(kernelW) + " is too large");
    return convParams(step_, kernelH, kernelW);
  }
  // The output of convolving x with w (shape [K, C/group, kh, kw]).
  Shape convOutput(const Shape& x, const Shape& w, const kernels::Conv2dParams& p) const {
    if (x[1] % p.group != 0 || w[0] % p.group != 0)
      fail("group " + std::to_string(p.group) + " does not divide the input channels " + std::to_string(x[1]) +
           " and the output channels " + std::to_string(w[0]));
    if (w[1] * p.group != x[1])
      fail("weight " + shapeText(w) + " expects " + std::to_string(w[1] * p.group) + " input channels, the input " +
           shapeText(x) + " has " + std::to_string(x[1]));
    return windowOutput(x, w[0], p.h, p.w, false);
  }
  Shape windowOutput(const Shape& x, int64_t channels, const kernels::WindowAxis& h, const kernels::WindowAxis& w,
                     bool ceilMode) const {
    const int64_t oh = kernels::window_output_size(h, x[2], ceilMode), ow = kernels::window_output_size(w, x[3], ceilMode);
    if (oh <= 0 || ow <= 0)
      fail("the " + std::to_string(h.kernel) + "x" + std::to_string(w.kernel) +
           " window does not fit the padded input " + shapeText(x));
    return {x[0], channels, oh, ow};
  }
  kernels::Pool2dParams poolAttrs(bool average) const {
    flag("ceil_mode");
    ints("kernel", 2, 1, kMaxWindow);
    ints("pad", 4, 0, kMaxWindow);
    ints("stride", 2, 1, kMaxWindow);
    if (average)
      flag("count_include_pad");
    else
      ints("dilation", 2, 1, kMaxWindow);
    return poolParams(step_, average);
  }
  Shape poolOutput(const Shape& x, const kernels::Pool2dParams& p) const {
    return windowOutput(x, x[1], p.h, p.w, p.ceilMode);
  }
  Shape shapeAttr(const std::string& name, int rank) const { return ints(name, rank, 1, kMaxElements); }

  // The scratch a step uses: present, f32, at least `floats` floats (or `bytes` bytes).
  void expectScratchBytes(uint64_t bytes, const std::string& what) const {
    if (bytes == 0) return;
    if (step_.scratch() < 0)
      fail("needs " + std::to_string(bytes) + " bytes of scratch (" + what + "), the plan gives none");
    const Buffer& s = buffer(static_cast<uint32_t>(step_.scratch()));
    if (s.bytes() < bytes)
      fail("scratch " + describe(static_cast<uint32_t>(step_.scratch())) + " holds " + std::to_string(s.bytes()) +
           " bytes, " + what + " needs " + std::to_string(bytes));
  }
  // For `outRows` rows of an output of width `outW`.
  void expectConvScratch(const kernels::Conv2dParams& p, int64_t inChannels, int64_t outW, int64_t outRows) const {
    int64_t floats = 0;
    const int64_t factors[] = {inChannels / p.group, p.h.kernel, p.w.kernel, outRows, outW, 4};
    int64_t product = 1;
    for (int64_t f : factors)
      if (__builtin_mul_overflow(product, f, &product)) fail("the convolution's workspace size overflows");
    floats = kernels::conv2d_workspace_floats(p, inChannels, outW, outRows);
    expectScratchBytes(static_cast<uint64_t>(floats) * 4, "the convolution's im2col matrix");
  }

  // ---- rows ----
  bool byRows() const { return runsOnRows(plan_, step_); }
  // Bands and `rows` only where a kernel takes them; a band only of rank-4 f32 (checked per
  // buffer), so the shape checks below may index its dims.
  void checkBandUse(Kernel kernel) const {
    // Where a kernel takes row bands (docs/plan-format.md, "Row bands"): the op table's band
    // slots, the maps it reads and writes by rows; weights, statistics and parameter gradients
    // are whole tensors.
    const ops::OpInfo& slots = kernelInfo(kernel);
    if (findAttr(step_, "rows") && !slots.takesRows) fail("attribute 'rows' is only for backward kernels of row plans");
    auto check = [&](uint32_t index, bool allowed, const std::string& place) {
      if (!allowed && isBand(buffer(index)))
        fail("kernel '" + step_.kernel() + "' takes no row band as " + place + ": " + describe(index) + " is " +
             typeOf(buffer(index)));
    };
    for (int i = 0; i < step_.inputs_size(); ++i) check(step_.inputs(i), i < slots.bandOperands, "operand " + std::to_string(i));
    for (int i = 0; i < step_.outputs_size(); ++i)
      check(step_.outputs(i), i == 0 && slots.bandResult, "result " + std::to_string(i));
  }
  // `b` holds rows `needed`, which `why` reads or reaches: the error names both.
  void needRows(const Buffer& b, const std::string& role, kernels::RowRange needed, const std::string& why) const {
    if (needed.empty()) return;
    const kernels::RowRange held = rowsOf(b);
    if (needed.begin < held.begin || needed.end > held.end)
      fail(role + " '" + b.name() + "' holds rows " + rangeText(held) + ", " + why + " rows " + rangeText(needed));
  }
  // The rows a forward step computes: its result's.
  kernels::RowRange resultRows() const { return rowsOf(out(0)); }
  std::string resultRowsText() const { return "the result rows " + rangeText(resultRows()) + " read"; }
  // The rows of the output gradient `dy` a backward step propagates: its attribute `rows`
  // (inside the rows dy holds), or all of dy's rows.
  kernels::RowRange gradRows(const Buffer& dy) const {
    if (!findAttr(step_, "rows")) return rowsOf(dy);
    if (dy.shape_size() != 4)
      fail("attribute 'rows' needs an output gradient of rank 4, '" + dy.name() + "' is " + plan::bufferType(dy));
    const Shape r = ints("rows", 2, 0, mapOf(dy)[2]);
    if (r[0] > r[1]) fail("attribute 'rows' " + rangeText({r[0], r[1]}) + " is not a row range");
    needRows(dy, "output gradient", {r[0], r[1]}, "attribute 'rows' names");
    return {r[0], r[1]};
  }
  std::string gradRowsText(kernels::RowRange r) const { return "the output gradient rows " + rangeText(r) + " reach"; }

  // A training-mode BatchNorm step on row bands normalizes exactly the rows its bands hold:
  // input, result (and dy) hold the same rows, and `rows`, if given, is them.
  void sameRowsForStripStatistics(bool grad) const {
    const kernels::RowRange r = rowsOf(in(grad ? 1 : 0));
    auto same = [&](const Buffer& b, const char* what) {
      const kernels::RowRange h = rowsOf(b);
      if (h.begin != r.begin || h.end != r.end)
        fail(std::string("training-mode batch statistics on row bands: the ") + what + " '" + b.name() + "' (" +
             typeOf(b) + ") must hold the input's rows [" + std::to_string(r.begin) + ", " + std::to_string(r.end) + ")");
    };
    same(out(0), grad ? "input gradient" : "result");
    if (grad) {
      same(in(0), "output gradient");
      const kernels::RowRange g = gradRows(in(0));
      if (g.begin != r.begin || g.end != r.end)
        fail("training-mode batch statistics on row bands: rows must be the input's rows [" + std::to_string(r.begin) +
             ", " + std::to_string(r.end) + ")");
    }
  }


  // ---- the kernels ----
  void checkKernel(Kernel kernel) const {
    switch (kernel) {
      case Kernel::Conv2d: {
        counts(2, 3, 1);
        expectF32(in(0), "input", 4);
        expectF32(in(1), "weight", 4);
        const Shape x = mapOf(in(0)), w = shapeOf(in(1));
        if (step_.inputs_size() == 3) expect(in(2), "bias", plan::F32, {w[0]});
        const kernels::Conv2dParams p = convAttrs(w[2], w[3]);
        const Shape y = convOutput(x, w, p);
        expect(out(0), "result", plan::F32, y);
        const kernels::RowRange r = resultRows();
        needRows(in(0), "input", kernels::window_input_rows(p.h, r.begin, r.end, x[2]), resultRowsText());
        return expectConvScratch(p, x[1], y[3], r.size());
      }
      case Kernel::Conv2dGradInput: {
        counts(2, 2, 1);
        expectF32(in(0), "output gradient", 4);
        expectF32(in(1), "weight", 4);
        const Shape w = shapeOf(in(1)), x = shapeAttr("input_shape", 4);
        const kernels::Conv2dParams p = convAttrs(w[2], w[3]);
        const Shape y = convOutput(x, w, p);
        expect(in(0), "output gradient", plan::F32, y);
        expect(out(0), "result", plan::F32, x);
        const kernels::RowRange r = gradRows(in(0));
        needRows(out(0), "result", kernels::window_input_rows(p.h, r.begin, r.end, x[2]), gradRowsText(r));
        return expectConvScratch(p, x[1], y[3], r.size());
      }
      case Kernel::Conv2dGradWeight: {
        counts(2, 2, 1);
        expectF32(in(0), "output gradient", 4);
        expectF32(in(1), "input", 4);
        const Shape dy = mapOf(in(0)), x = mapOf(in(1));
        const Shape k = ints("kernel", 2, 1, kMaxWindow);
        const kernels::Conv2dParams p = convAttrs(k[0], k[1]);
        if (x[1] % p.group != 0)
          fail("group " + std::to_string(p.group) + " does not divide the input channels " + std::to_string(x[1]));
        const Shape w = {dy[1], x[1] / p.group, k[0], k[1]};
        expect(in(0), "output gradient", plan::F32, convOutput(x, w, p));
        expect(out(0), "result", plan::F32, w);
        const kernels::RowRange r = gradRows(in(0));
        needRows(in(1), "input", kernels::window_input_rows(p.h, r.begin, r.end, x[2]), gradRowsText(r));
        return expectConvScratch(p, x[1], dy[3], r.size());
      }
      case Kernel::ChannelSum:
        counts(1, 1, 1);
        expectF32(in(0), "operand", 4);
        gradRows(in(0));
        return expect(out(0), "result", plan::F32, {in(0).shape(1)});
      case Kernel::Relu:
        counts(1, 1, 1);
        expectF32(in(0), "operand", -1);
        expectSame(out(0), "result", in(0));
        if (byRows()) needRows(in(0), "operand", resultRows(), resultRowsText());
        return;
      case Kernel::ReluGrad: {
        counts(2, 2, 1);
        expectF32(in(0), "output gradient", -1);
        expectSame(in(1), "forward result", in(0));
        expectSame(out(0), "result", in(0));
        if (!byRows()) return;
        const kernels::RowRange r = gradRows(in(0));
        needRows(in(1), "forward result", r, gradRowsText(r));
        return needRows(out(0), "result", r, gradRowsText(r));
      }
      case Kernel::MaxPool:
      case Kernel::AveragePool: {
        counts(1, 1, 1);
        expectF32(in(0), "input", 4);
        const kernels::Pool2dParams p = poolAttrs(kernel == Kernel::AveragePool);
        expect(out(0), "result", plan::F32, poolOutput(mapOf(in(0)), p));
        const kernels::RowRange r = resultRows();
        return needRows(in(0), "input", kernels::window_input_rows(p.h, r.begin, r.end, mapOf(in(0))[2]), resultRowsText());
      }
      case Kernel::MaxPoolGrad: {
        counts(2, 2, 1);
        expectF32(in(1), "input", 4);
        const kernels::Pool2dParams p = poolAttrs(false);
        expect(in(0), "output gradient", plan::F32, poolOutput(mapOf(in(1)), p));
        expectSame(out(0), "result", in(1));
        const kernels::RowRange r = gradRows(in(0));
        const kernels::RowRange touched = kernels::window_input_rows(p.h, r.begin, r.end, mapOf(in(1))[2]);
        needRows(in(1), "input", touched, gradRowsText(r));
        return needRows(out(0), "result", touched, gradRowsText(r));
      }
      case Kernel::AveragePoolGrad: {
        counts(1, 1, 1);
        const kernels::Pool2dParams p = poolAttrs(true);
        const Shape x = shapeAttr("input_shape", 4);
        expect(in(0), "output gradient", plan::F32, poolOutput(x, p));
        expect(out(0), "result", plan::F32, x);
        const kernels::RowRange r = gradRows(in(0));
        return needRows(out(0), "result", kernels::window_input_rows(p.h, r.begin, r.end, x[2]), gradRowsText(r));
      }
      case Kernel::GlobalAvgPool: {
        counts(1, 1, 1);
        expectF32(in(0), "input", 4);
        const Shape x = shapeOf(in(0));
        return expect(out(0), "result", plan::F32, {x[0], x[1], 1, 1});
      }
      case Kernel::GlobalAvgPoolGrad: {
        counts(1, 1, 1);
        const Shape x = shapeAttr("input_shape", 4);
        expect(in(0), "output gradient", plan::F32, {x[0], x[1], 1, 1});
        return expect(out(0), "result", plan::F32, x);
      }
      case Kernel::Pad: {
        counts(1, 1, 1);
        expectF32(in(0), "input", 4);
        const Shape pads = ints("pads", 8, -kMaxElements, kMaxElements);
        if (std::isnan(number("value", -INFINITY, INFINITY))) fail("attribute 'value' is NaN");
        Shape y = mapOf(in(0));
        for (size_t i = 0; i < 4; ++i) {
          y[i] += pads[i] + pads[i + 4];
          if (y[i] <= 0)
            fail("the pads " + shapeText(pads) + " leave axis " + std::to_string(i) + " of " + typeOf(in(0)) +
                 " empty");
        }
        expect(out(0), "result", plan::F32, y);
        const kernels::RowRange r = resultRows();
        return needRows(in(0), "input", kernels::pad_input_rows(padParams(step_), r.begin, r.end, mapOf(in(0))[2]),
                        resultRowsText());
      }
      case Kernel::BatchNorm:
      case Kernel::BatchNormGrad: {
        const bool grad = kernel == Kernel::BatchNormGrad;
        counts(5, 5, grad ? 3 : 1);
        const Buffer& x = in(grad ? 1 : 0);
        expectF32(x, "input", -1);
        if (x.shape_size() < 2) fail("input '" + x.name() + "' is " + plan::bufferType(x) + ", expected rank >= 2");
        const Shape channel = {x.shape(1)};
        static const char* const forwardRoles[] = {"input", "scale", "bias", "running mean", "running variance"};
        static const char* const gradRoles[] = {"output gradient", "input", "scale", "running mean",
                                                "running variance"};
        for (int i = 0; i < 5; ++i)
          if (i != (grad ? 1 : 0))
            expect(in(i), (grad ? gradRoles : forwardRoles)[i], plan::F32, i == 0 ? mapOf(x) : channel);
        number("epsilon", 0, 1e30);
        if (!grad) number("momentum", 0, 1);
        const bool training = flag("training");
        // Training mode on bands (--bn strip): the statistics of exactly the band's rows.
        if (training && byRows()) sameRowsForStripStatistics(grad);
        if (!grad && training && findAttr(step_, "update_stats")) flag("update_stats");
        const int64_t perChannel = elementsOf(mapOf(x)) / x.shape(1);
        if (training && perChannel < 2)
          fail("training-mode batch statistics need at least 2 values per channel, " + plan::bufferType(x) + " has " +
               std::to_string(perChannel));
        expectSame(out(0), "result", x);
        // Training mode keeps the batch mean and inverse std (float) per channel.
        if (!grad && training) expectScratchBytes(static_cast<uint64_t>(8 * channel[0]), "the batch statistics");
        if (!grad) {
          if (byRows()) needRows(x, "input", resultRows(), resultRowsText());
          return;
        }
        expect(out(1), "scale gradient", plan::F32, channel);
        expect(out(2), "bias gradient", plan::F32, channel);
        if (byRows()) {
          const kernels::RowRange r = gradRows(in(0));
          needRows(x, "input", r, gradRowsText(r));
          needRows(out(0), "result", r, gradRowsText(r));
        }
        // Training mode recomputes the batch statistics: sum and sum of squares (double),
        // then mean and inverse std (float), per channel.
        if (training) expectScratchBytes(static_cast<uint64_t>(24 * channel[0]), "the batch statistics");
        return;
      }
      case Kernel::Add: {
        counts(2, 2, 1);
        expectF32(in(0), "operand", -1);
        expectF32(in(1), "operand", -1);
        const Shape a = mapOf(in(0)), b = mapOf(in(1));
        const size_t rank = std::max(a.size(), b.size());
        Shape y(rank);
        for (size_t i = 0; i < rank; ++i) {
          const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
          const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
          if (da != db && da != 1 && db != 1)
            fail("shapes " + shapeText(a) + " and " + shapeText(b) + " do not broadcast");
          y[i] = std::max(da, db);
        }
        expect(out(0), "result", plan::F32, y);
        if (!byRows()) return;
        // On rows, no broadcasting: both operands are of the result's map.
        for (int i = 0; i < 2; ++i) {
          expect(in(i), "operand", plan::F32, y);
          needRows(in(i), "operand", resultRows(), resultRowsText());
        }
        return;
      }
      case Kernel::SumTo: {
        counts(1, 1, 1);
        expectF32(in(0), "operand", -1);
        const Shape x = shapeOf(in(0));
        const Shape target = ints("shape", -1, 1, kMaxElements);
        if (target.size() > x.size()) fail("cannot sum " + shapeText(x) + " to the higher rank " + shapeText(target));
        const size_t offset = x.size() - target.size();
        for (size_t i = 0; i < target.size(); ++i)
          if (target[i] != 1 && target[i] != x[offset + i])
            fail("cannot sum " + shapeText(x) + " to " + shapeText(target));
        return expect(out(0), "result", plan::F32, target);
      }
      case Kernel::Flatten: {
        counts(1, 1, 1);
        const Shape x = shapeOf(in(0));
        const int64_t axis = integer("axis", 0, static_cast<int64_t>(x.size()));
        int64_t outer = 1, inner = 1;
        for (size_t i = 0; i < x.size(); ++i) (static_cast<int64_t>(i) < axis ? outer : inner) *= x[i];
        return expect(out(0), "result", in(0).dtype(), {outer, inner});
      }
      case Kernel::Reshape:
        counts(1, 1, 1);
        expect(out(0), "result", in(0).dtype(), ints("shape", -1, 1, kMaxElements));
        return expectElements(out(0), "result", in(0));
      case Kernel::Identity:
        counts(1, 1, 1);
        expectSame(out(0), "result", in(0));
        if (byRows()) needRows(in(0), "operand", resultRows(), resultRowsText());
        return;
      case Kernel::Gemm:
      case Kernel::MatMul: {
        const bool gemm = kernel == Kernel::Gemm;
        counts(2, gemm ? 3 : 2, 1);
        expectF32(in(0), "A", 2);
        expectF32(in(1), "B", 2);
        const Shape a = shapeOf(in(0)), b = shapeOf(in(1));
        bool transA = false, transB = false;
        if (gemm) {
          transA = flag("transA");
          transB = flag("transB");
          finite("alpha");
          finite("beta");
        }
        const int64_t m = transA ? a[1] : a[0], ka = transA ? a[0] : a[1];
        const int64_t kb = transB ? b[1] : b[0], n = transB ? b[0] : b[1];
        if (ka != kb)
          fail("inner dimensions differ: A " + shapeText(a) + (transA ? " (transposed)" : "") + ", B " + shapeText(b) +
               (transB ? " (transposed)" : ""));
        if (step_.inputs_size() == 3) {
          expectF32(in(2), "C", -1);
          const Shape c = shapeOf(in(2));
          bool ok = c.size() <= 2;
          for (size_t i = 0; ok && i < c.size(); ++i) ok = c[i] == 1 || c[i] == ((c.size() == 2 && i == 0) ? m : n);
          if (!ok) fail("C " + shapeText(c) + " does not broadcast to " + shapeText({m, n}));
        }
        return expect(out(0), "result", plan::F32, {m, n});
      }
      case Kernel::Softmax: {
        counts(1, 1, 1);
        expectF32(in(0), "operand", -1);
        const int64_t rank = in(0).shape_size();
        if (rank < 1) fail("operand '" + in(0).name() + "' is a scalar");
        integer("axis", 0, rank - 1);
        return expectSame(out(0), "result", in(0));
      }
      case Kernel::SoftmaxXent:
      case Kernel::SoftmaxXentGrad: {
        counts(2, 2, 1);
        expectF32(in(0), "logits", 2);
        expect(in(1), "labels", plan::I64, {in(0).shape(0)});
        if (kernel == Kernel::SoftmaxXent) return expect(out(0), "result", plan::F32, {});
        return expectSame(out(0), "result", in(0));
      }
      case Kernel::Dropout:
      case Kernel::DropoutGrad: {
        counts(1, 1, 1);
        expectF32(in(0), "operand", -1);
        number("ratio", 0, 1);
        integer("seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
        flag("training");
        expectSame(out(0), "result", in(0));
        if (!byRows()) return;
        if (kernel == Kernel::Dropout) return needRows(in(0), "operand", resultRows(), resultRowsText());
        const kernels::RowRange r = gradRows(in(0));
        return needRows(out(0), "result", r, gradRowsText(r));
      }
      case Kernel::RowsCopy:
      case Kernel::RowsSum:
        if (step_.inputs_size() < 1) fail("expects at least 1 operand, got 0");
        if (step_.outputs_size() != 1) fail("expects 1 result, got " + std::to_string(step_.outputs_size()));
        expectF32(out(0), "result", 4);
        for (int i = 0; i < step_.inputs_size(); ++i) expectSame(in(i), "source", out(0));
        return;
      case Kernel::SgdUpdate:
        counts(3, 3, 0);
        expectF32(in(0), "parameter", -1);
        expectSame(in(1), "gradient", in(0));
        expectSame(in(2), "momentum buffer", in(0));
        return;
    }
    fail("no checks for kernel '" + step_.kernel() + "'");
  }

  // Kernels never run in place: a result or the scratch must not share bytes with an
  // operand or with each other (the in-place updates of sgd_update and of the BatchNorm
  // running statistics are of operands, not results).
  void checkNoOverlap() const {
    std::vector<uint32_t> written(step_.outputs().begin(), step_.outputs().end());
    if (step_.scratch() >= 0) written.push_back(static_cast<uint32_t>(step_.scratch()));
    auto overlap = [&](uint32_t x, uint32_t y) { return overlaps(buffer(x), buffer(y)); };
    for (size_t i = 0; i < written.size(); ++i) {
      for (uint32_t operand : step_.inputs())
        if (overlap(written[i], operand))
          fail("result " + describe(written[i]) + " overlaps operand " + describe(operand) + " in the arena");
      for (size_t j = i + 1; j < written.size(); ++j)
        if (overlap(written[i], written[j]))
          fail("results " + describe(written[i]) + " and " + describe(written[j]) + " overlap in the arena");
    }
  }
};

class PlanValidator {
 public:
  PlanValidator(const plan::Plan& plan, uint64_t weightsBytes, const std::string& path, const Backend& backend)
      : plan_(plan), weightsBytes_(weightsBytes), path_(path), backend_(backend) {}

  void run() {
    if (plan_.version() != plan::kPlanVersion)
      fail("plan version " + std::to_string(plan_.version()) + ", this lrc-run reads version " +
           std::to_string(plan::kPlanVersion));
    if (plan_.arena_bytes() == 0) fail("arena_bytes is 0");
    buffers();
    io();
    inits();
    optimizer();
    program("train", plan_.train());
    program("eval", plan_.eval());
  }

 private:
  const plan::Plan& plan_;
  const uint64_t weightsBytes_;
  const std::string& path_;
  const Backend& backend_;
  std::vector<bool> initialized_;

  [[noreturn]] void fail(const std::string& what) const { throw std::runtime_error(path_ + ": " + what); }

  std::string describe(uint32_t index) const {
    return "buffer #" + std::to_string(index) + " '" + plan_.buffers(static_cast<int>(index)).name() + "'";
  }

  bool overlap(uint32_t x, uint32_t y) const {
    return overlaps(plan_.buffers(static_cast<int>(x)), plan_.buffers(static_cast<int>(y)));
  }

  void buffers() const {
    const uint64_t arena = plan_.arena_bytes();
    for (int i = 0; i < plan_.buffers_size(); ++i) {
      const Buffer& b = plan_.buffers(i);
      const std::string where = describe(static_cast<uint32_t>(i)) + ": ";
      if (!plan::DType_IsValid(b.dtype())) fail(where + "unknown dtype " + std::to_string(b.dtype()));
      if (!plan::Role_IsValid(b.role())) fail(where + "unknown role " + std::to_string(b.role()));
      if (b.shape_size() > kMaxRank)
        fail(where + "rank " + std::to_string(b.shape_size()) + " is over " + std::to_string(kMaxRank));
      int64_t elements = 1;
      for (int64_t d : b.shape()) {
        if (d <= 0) fail(where + "shape " + shapeText(shapeOf(b)) + " has a dimension that is not positive");
        if (elements > kMaxElements / d) fail(where + "shape " + shapeText(shapeOf(b)) + " has too many elements");
        elements *= d;
      }
      const uint64_t expected = static_cast<uint64_t>(elements) * (b.dtype() == plan::I64 ? 8 : 4);
      if (b.bytes() != expected)
        fail(where + "holds " + std::to_string(b.bytes()) + " bytes, its type " + plan::bufferType(b) + " needs " +
             std::to_string(expected));
      if (b.offset() % plan::kPlanAlignment != 0)
        fail(where + "offset " + std::to_string(b.offset()) + " is not " + std::to_string(plan::kPlanAlignment) +
             "-byte aligned");
      if (b.bytes() > arena || b.offset() > arena - b.bytes())
        fail(where + "bytes [" + std::to_string(b.offset()) + ", " + std::to_string(b.offset() + b.bytes()) +
             ") lie outside the arena of " + std::to_string(arena) + " bytes");
      band(b, where, elements);
    }
  }

  // Band geometry: none (height 0, row0 0), or rows [row0, row0 + shape[2]) of an f32 map of
  // rank 4 and the given height, whose elements stay countable.
  void band(const Buffer& b, const std::string& where, int64_t elements) const {
    if (b.height() < 0) fail(where + "band height " + std::to_string(b.height()) + " is negative");
    if (b.height() == 0) {
      if (b.row0() != 0) fail(where + "row0 " + std::to_string(b.row0()) + " without a band height");
      return;
    }
    if (b.dtype() != plan::F32 || b.shape_size() != 4)
      fail(where + "band height " + std::to_string(b.height()) + " on " + plan::bufferType(b) +
           ": only f32 maps of rank 4 are row bands");
    const int64_t rows = b.shape(2);
    if (b.row0() < 0 || b.row0() > b.height() - rows)
      fail(where + "band rows [" + std::to_string(b.row0()) + ", " + std::to_string(b.row0() + rows) +
           ") are not inside the map's rows [0, " + std::to_string(b.height()) + ")");
    if (b.height() > kMaxElements / (elements / rows))
      fail(where + "band height " + std::to_string(b.height()) + " makes a map of too many elements");
  }

  const Buffer& ioBuffer(uint32_t index, const char* field) const {
    if (index >= static_cast<uint32_t>(plan_.buffers_size()))
      fail(std::string("io.") + field + " is buffer #" + std::to_string(index) + ", which does not exist (" +
           std::to_string(plan_.buffers_size()) + " buffers)");
    const Buffer& b = plan_.buffers(static_cast<int>(index));
    if (b.height() > 0)
      fail(std::string("io.") + field + ": " + describe(index) + " is a row band (" + plan::bufferType(b) +
           plan::bandText(b) + "), expected a whole tensor");
    return b;
  }

  void ioExpect(uint32_t index, const char* field, DType dtype, const Shape& shape, const char* meaning) const {
    const Buffer& b = ioBuffer(index, field);
    if (b.dtype() != dtype || shapeOf(b) != shape)
      fail(std::string("io.") + field + ": " + describe(index) + " is " + plan::bufferType(b) + ", expected " +
           typeText(dtype, shape) + " (" + meaning + ")");
  }

  void io() const {
    const plan::Io& io = plan_.io();
    const Buffer& image = ioBuffer(io.image(), "image");
    if (image.dtype() != plan::F32 || image.shape_size() != 4)
      fail("io.image: " + describe(io.image()) + " is " + plan::bufferType(image) + ", expected f32[N,C,H,W]");
    const int64_t n = image.shape(0);
    ioExpect(io.labels(), "labels", plan::I64, {n}, "one label per image");
    ioExpect(io.loss(), "loss", plan::F32, {}, "a scalar");
    const Buffer& logits = ioBuffer(io.logits(), "logits");
    if (logits.dtype() != plan::F32 || logits.shape_size() != 2 || logits.shape(0) != n)
      fail("io.logits: " + describe(io.logits()) + " is " + plan::bufferType(logits) + ", expected f32[" +
           std::to_string(n) + ",K]");
    ioExpect(io.eval_logits(), "eval_logits", plan::F32, shapeOf(logits), "the shape of io.logits");
  }

  static bool isGlobal(plan::Role role) {
    return role == plan::PARAMETER || role == plan::STATE || role == plan::OPTIMIZER_STATE || role == plan::CONSTANT;
  }

  // Each init: of a global buffer, once, exactly its bytes from the weights section (in
  // increasing, non-overlapping ranges, as the runtime streams them) or zeros; no two
  // initialized buffers share arena bytes.
  void inits() {
    initialized_.assign(static_cast<size_t>(plan_.buffers_size()), false);
    uint64_t previousEnd = 0;  // where the previous range in the weights section ends
    std::vector<std::pair<uint64_t, int>> byOffset;  // arena offset, init index
    for (int i = 0; i < plan_.inits_size(); ++i) {
      const plan::Init& init = plan_.inits(i);
      const std::string where = "init #" + std::to_string(i) + ": ";
      if (init.buffer() >= static_cast<uint32_t>(plan_.buffers_size()))
        fail(where + "buffer #" + std::to_string(init.buffer()) + " does not exist (" +
             std::to_string(plan_.buffers_size()) + " buffers)");
      if (initialized_[init.buffer()]) fail(where + describe(init.buffer()) + " already has initial data");
      initialized_[init.buffer()] = true;
      const Buffer& b = plan_.buffers(static_cast<int>(init.buffer()));
      if (!isGlobal(b.role()))
        fail(where + describe(init.buffer()) +
             " is not a parameter, state, optimizer state or constant: only those have initial data");
      byOffset.emplace_back(b.offset(), i);
      if (init.bytes() == 0) continue;  // zeros
      if (init.bytes() != b.bytes())
        fail(where + describe(init.buffer()) + " gets " + std::to_string(init.bytes()) + " bytes, its type " +
             plan::bufferType(b) + " needs " + std::to_string(b.bytes()) + " (or none, for zeros)");
      const uint64_t start = init.weights_offset();
      const std::string range = "weights [" + std::to_string(start) + ", +" + std::to_string(init.bytes()) + ")";
      if (start > weightsBytes_ || init.bytes() > weightsBytes_ - start)
        fail(where + describe(init.buffer()) + ": " + range + " lie outside the weights section of " +
             std::to_string(weightsBytes_) + " bytes");
      if (start < previousEnd)
        fail(where + describe(init.buffer()) + ": " + range + " start before the previous init's end at " +
             std::to_string(previousEnd));
      previousEnd = start + init.bytes();
    }
    std::sort(byOffset.begin(), byOffset.end());
    for (size_t k = 1; k < byOffset.size(); ++k) {
      const plan::Init& a = plan_.inits(byOffset[k - 1].second);
      const plan::Init& b = plan_.inits(byOffset[k].second);
      if (overlap(a.buffer(), b.buffer()))
        fail("init #" + std::to_string(byOffset[k].second) + ": " + describe(b.buffer()) + " overlaps " +
             describe(a.buffer()) + " in the arena, which also has initial data");
    }
  }

  void optimizer() const {
    const plan::Optimizer& o = plan_.optimizer();
    const std::pair<const char*, double> values[] = {
        {"lr", o.lr()}, {"momentum", o.momentum()}, {"weight_decay", o.weight_decay()}};
    for (const auto& [name, value] : values)
      if (!std::isfinite(value) || value < 0)
        fail(std::string("optimizer ") + name + " = " + numberText(value) + ", expected a finite number >= 0");
  }

  void program(const std::string& name, const plan::Program& program) const {
    if (program.steps_size() == 0) fail("the " + name + " program has no steps");
    // What a step may read: data the run writes (images, labels, inits) and results of
    // earlier steps.
    std::vector<bool> defined = initialized_;
    defined[plan_.io().image()] = true;
    defined[plan_.io().labels()] = true;
    // What persists across steps (weights, state, momentum, the batch) is only ever
    // updated in place through operands; no result or scratch may land on it.
    std::vector<uint32_t> persistent;
    for (uint32_t b = 0; b < defined.size(); ++b)
      if (defined[b]) persistent.push_back(b);
    for (int i = 0; i < program.steps_size(); ++i) {
      const Step& step = program.steps(i);
      std::string where = name + " step #" + std::to_string(i) + " (" + step.kernel();
      if (!step.origin().empty()) where += " '" + step.origin() + "'";
      where += ")";
      StepChecker(plan_, step, where, path_).check(backend_);
      std::vector<uint32_t> written(step.outputs().begin(), step.outputs().end());
      if (step.scratch() >= 0) written.push_back(static_cast<uint32_t>(step.scratch()));
      for (uint32_t w : written)
        for (uint32_t p : persistent)
          if (overlap(w, p))
            fail(where + ": result " + describe(w) + " overlaps " + describe(p) + ", which persists across steps");
      for (uint32_t operand : step.inputs())
        if (!defined[operand])
          fail(where + ": reads " + describe(operand) + ", which no earlier step writes and which has no initial data");
      for (uint32_t result : step.outputs()) defined[result] = true;
    }
    const plan::Io& io = plan_.io();
    const std::vector<std::pair<uint32_t, const char*>> results =
        name == "train"
            ? std::vector<std::pair<uint32_t, const char*>>{{io.loss(), "io.loss"}, {io.logits(), "io.logits"}}
            : std::vector<std::pair<uint32_t, const char*>>{{io.eval_logits(), "io.eval_logits"}};
    for (const auto& [index, field] : results)
      if (!defined[index]) fail("the " + name + " program never writes " + field + " (" + describe(index) + ")");
  }
};

}  // namespace

void validatePlan(const plan::Plan& plan, uint64_t weightsBytes, const std::string& path, const Backend& backend) {
  PlanValidator(plan, weightsBytes, path, backend).run();
}

}  // namespace lrc::runtime
