#include "ops/Shapes.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "ops/Checked.h"
#include "ops/Optimizer.h"
#include "ops/Window.h"

namespace lrc::ops {

std::string shapeText(const Shape& s) {
  // Built by appending: GCC 12 warns (-Wrestrict, a false positive) on "literal" + string&&.
  std::string text = "[";
  for (size_t i = 0; i < s.size(); ++i) text.append(i ? "," : "").append(std::to_string(s[i]));
  return text.append("]");
}

std::string typeText(DType dtype, const Shape& s) { return (dtype == DType::I64 ? "i64" : "f32") + shapeText(s); }

std::string sizeProblem(const Shape& s) {
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i] < 1) return "dimension " + std::to_string(i) + " is " + std::to_string(s[i]) + ", expected at least 1";
  const std::optional<int64_t> n = product(s).value();
  if (!n || *n > kMaxElements) return "more than " + std::to_string(kMaxElements) + " elements";
  return "";
}

bool isRowBroadcast(const Shape& x, const Shape& map) {
  if (map.size() != 4 || x.size() > 4) return false;
  const size_t offset = 4 - x.size();
  for (size_t i = 0; i < x.size(); ++i) {
    const size_t axis = offset + i;
    const bool ok = x[i] == 1 || (axis < 2 && x[i] == map[axis]);
    if (!ok) return false;
  }
  return true;
}

namespace {

std::string numberText(double x) {
  std::ostringstream s;
  s << x;
  return s.str();
}

// Of an operand or result inferShapes has checked with sizeProblem: no overflow.
int64_t elementsOf(const Shape& s) { return *product(s).value(); }

// The rules of one op: its operands and attributes, and the checks they share.
class Rule {
 public:
  Rule(OpKind kind, const std::vector<TensorDesc>& operands, const AttrReader& attrs)
      : kind_(kind), x_(operands), a_(attrs) {}

  [[noreturn]] static void fail(const std::string& what) { throw ShapeError(what); }

  const TensorDesc& in(size_t i) const { return x_[i]; }
  const Shape& shape(size_t i) const { return x_[i].shape; }
  size_t count() const { return x_.size(); }
  OpKind kind() const { return kind_; }

  // ---- operands ----
  std::string what(size_t i, const std::string& role) const {
    return role + " " + x_[i].name + " is " + typeText(x_[i].dtype, x_[i].shape);
  }
  void f32(size_t i, const std::string& role, int rank = -1) const {
    if (x_[i].dtype != DType::F32) fail(what(i, role) + ", expected f32");
    if (rank >= 0 && x_[i].shape.size() != static_cast<size_t>(rank))
      fail(what(i, role) + ", expected rank " + std::to_string(rank));
  }
  void expect(size_t i, const std::string& role, DType dtype, const Shape& shape) const {
    if (x_[i].dtype != dtype || x_[i].shape != shape) fail(what(i, role) + ", expected " + typeText(dtype, shape));
  }
  void expectLike(size_t i, const std::string& role, size_t like) const {
    expect(i, role, x_[like].dtype, x_[like].shape);
  }

  // ---- attributes ----
  Shape list(const std::string& key, int size, int64_t lo, int64_t hi) const {
    const std::vector<int64_t> v = a_.ints(key);
    if (size >= 0 && v.size() != static_cast<size_t>(size))
      fail("attribute '" + key + "' must have " + std::to_string(size) + " values, got " + std::to_string(v.size()));
    for (int64_t x : v) inRange(key, x, lo, hi);
    return v;
  }
  int64_t integer(const std::string& key, int64_t lo, int64_t hi) const {
    const int64_t v = a_.integer(key);
    inRange(key, v, lo, hi);
    return v;
  }
  bool flag(const std::string& key) const { return integer(key, 0, 1) != 0; }
  double number(const std::string& key, double lo, double hi) const {
    const double v = a_.number(key);
    if (!(v >= lo && v <= hi))
      fail("attribute '" + key + "' value " + numberText(v) + " is outside [" + numberText(lo) + ", " +
           numberText(hi) + "]");
    return v;
  }
  double finite(const std::string& key) const {
    constexpr double big = std::numeric_limits<double>::max();
    return number(key, -big, big);
  }
  bool has(const std::string& key) const { return a_.has(key); }

  // ---- windows ----
  struct Window2d {
    WindowAxis h, w;
  };
  // stride, pad and (for all but average pooling) dilation around a kh x kw kernel.
  Window2d window(int64_t kh, int64_t kw, bool dilation) const {
    if (kh > kMaxWindow || kw > kMaxWindow)
      fail("kernel " + std::to_string(kh) + "x" + std::to_string(kw) + " is too large");
    const Shape stride = list("stride", 2, 1, kMaxWindow), pad = list("pad", 4, 0, kMaxWindow);
    const Shape d = dilation ? list("dilation", 2, 1, kMaxWindow) : Shape{1, 1};
    return {{kh, stride[0], pad[0], pad[2], d[0]}, {kw, stride[1], pad[1], pad[3], d[1]}};
  }
  Shape windowOutput(const Shape& x, int64_t channels, const Window2d& win, bool ceilMode) const {
    const int64_t oh = windowOutputSize(win.h, x[2], ceilMode), ow = windowOutputSize(win.w, x[3], ceilMode);
    if (oh <= 0 || ow <= 0)
      fail("window " + std::to_string(win.h.kernel) + "x" + std::to_string(win.w.kernel) +
           " does not fit the padded input " + typeText(DType::F32, x));
    return {x[0], channels, oh, ow};
  }
  // The convolution of an input of shape x with a weight of shape w ([K, C/group, kh, kw]).
  Shape convOutput(const Shape& x, const Shape& w) const {
    const int64_t group = integer("group", 1, kMaxWindow);
    if (x[1] % group != 0 || w[0] % group != 0)
      fail("group " + std::to_string(group) + " must divide input channels " + std::to_string(x[1]) +
           " and output channels " + std::to_string(w[0]));
    const std::optional<int64_t> channels = (Checked(w[1]) * group).value();
    if (channels != x[1])
      fail("weight " + shapeText(w) + " expects " +
           (channels ? std::to_string(*channels) : std::to_string(w[1]) + " x " + std::to_string(group)) +
           " input channels, the input " + shapeText(x) + " has " + std::to_string(x[1]));
    return windowOutput(x, w[0], window(w[2], w[3], true), false);
  }
  Shape poolOutput(const Shape& x, bool average) const {
    const Shape k = list("kernel", 2, 1, kMaxWindow);
    const bool ceilMode = flag("ceil_mode");
    if (average) flag("count_include_pad");
    // AveragePool has no dilation in ONNX opsets <= 18.
    return windowOutput(x, x[1], window(k[0], k[1], !average), ceilMode);
  }
  Shape shapeAttr(const std::string& key, int rank) const { return list(key, rank, 1, kMaxElements); }

  ResizeAxes resizeAxes(const Shape& x) const {
    const auto coord = static_cast<ResizeCoord>(integer("coord", 0, kResizeCoordCount - 1));
    const bool linear = flag("mode");
    const auto nearest = static_cast<ResizeNearest>(integer("nearest_mode", 0, kResizeNearestCount - 1));
    const Shape size = shapeAttr("size", 2);
    const std::vector<double> scales = a_.numbers("scales");
    if (scales.size() != 2) fail("attribute 'scales' must have 2 values, got " + std::to_string(scales.size()));
    for (double s : scales)
      if (!(s > 0 && s <= static_cast<double>(kMaxWindow)))
        fail("attribute 'scales' value " + numberText(s) + " is outside (0, " + std::to_string(kMaxWindow) + "]");
    return {{x[2], size[0], scales[0], coord, linear, nearest}, {x[3], size[1], scales[1], coord, linear, nearest}};
  }

 private:
  static void inRange(const std::string& key, int64_t v, int64_t lo, int64_t hi) {
    if (v < lo || v > hi)
      fail("attribute '" + key + "' value " + std::to_string(v) + " is outside [" + std::to_string(lo) + ", " +
           std::to_string(hi) + "]");
  }

  OpKind kind_;
  const std::vector<TensorDesc>& x_;
  const AttrReader& a_;
};

using Results = std::vector<TensorDesc>;
TensorDesc f32(Shape s) { return {DType::F32, std::move(s), {}}; }
TensorDesc same(const TensorDesc& t) { return {t.dtype, t.shape, {}}; }

Results conv(const Rule& r) {
  r.f32(0, "input", 4);
  r.f32(1, "weight", 4);
  const Shape& w = r.shape(1);
  if (r.count() == 3) r.expect(2, "bias", DType::F32, {w[0]});
  return {f32(r.convOutput(r.shape(0), w))};
}

Results convGradInput(const Rule& r) {
  r.f32(0, "output gradient", 4);
  r.f32(1, "weight", 4);
  const Shape x = r.shapeAttr("input_shape", 4);
  r.expect(0, "output gradient", DType::F32, r.convOutput(x, r.shape(1)));
  return {f32(x)};
}

Results convGradWeight(const Rule& r) {
  r.f32(0, "output gradient", 4);
  r.f32(1, "input", 4);
  const Shape& x = r.shape(1);
  const Shape k = r.list("kernel", 2, 1, kMaxWindow);
  const int64_t group = r.integer("group", 1, kMaxWindow);
  if (x[1] % group != 0)
    Rule::fail("group " + std::to_string(group) + " must divide input channels " + std::to_string(x[1]));
  const Shape w = {r.shape(0)[1], x[1] / group, k[0], k[1]};
  r.expect(0, "output gradient", DType::F32, r.convOutput(x, w));
  return {f32(w)};
}

// The transposed convolution: its output is the input of the convolution the attributes and
// the weight describe, the one that maps it back to x (output_padding < stride keeps that exact).
Results convTranspose(const Rule& r) {
  r.f32(0, "input", 4);
  r.f32(1, "weight", 4);
  const Shape &x = r.shape(0), &w = r.shape(1);
  const int64_t group = r.integer("group", 1, kMaxWindow);
  if (w[0] != x[1] || x[1] % group != 0)
    Rule::fail("weight " + shapeText(w) + " needs " + std::to_string(w[0]) + " input channels divisible by group " +
               std::to_string(group) + ", the input " + shapeText(x) + " has " + std::to_string(x[1]));
  const auto win = r.window(w[2], w[3], true);
  const Shape extra = r.list("output_padding", 2, 0, kMaxWindow);
  if (extra[0] >= win.h.stride || extra[1] >= win.w.stride)
    Rule::fail("output_padding " + shapeText(extra) + " must be smaller than the stride");
  const int64_t oh = ops::transposedOutputSize(win.h, x[2], extra[0]), ow = ops::transposedOutputSize(win.w, x[3], extra[1]);
  if (oh <= 0 || ow <= 0) Rule::fail("the pads leave no output of the input " + shapeText(x));
  const Shape y{x[0], (Checked(w[1]) * group).value().value_or(-1), oh, ow};
  if (y[1] < 1) Rule::fail("weight " + shapeText(w) + " times group " + std::to_string(group) + " is too many channels");
  if (r.count() == 3) r.expect(2, "bias", DType::F32, {y[1]});
  return {f32(y)};
}

// dx: the convolution of dy (ConvTranspose's output) by the same weight.
Results convTransposeGradInput(const Rule& r) {
  r.f32(0, "output gradient", 4);
  r.f32(1, "weight", 4);
  return {f32(r.convOutput(r.shape(0), r.shape(1)))};
}

Results convTransposeGradWeight(const Rule& r) {
  r.f32(0, "output gradient", 4);
  r.f32(1, "input", 4);
  const Shape &dy = r.shape(0), &x = r.shape(1);
  const Shape k = r.list("kernel", 2, 1, kMaxWindow);
  const int64_t group = r.integer("group", 1, kMaxWindow);
  if (dy[1] % group != 0)
    Rule::fail("group " + std::to_string(group) + " must divide output channels " + std::to_string(dy[1]));
  const Shape w = {x[1], dy[1] / group, k[0], k[1]};
  r.expect(1, "input", DType::F32, r.convOutput(dy, w));
  return {f32(w)};
}

Results pool(const Rule& r) {
  r.f32(0, "input", 4);
  return {f32(r.poolOutput(r.shape(0), r.kind() == OpKind::AveragePool))};
}

Results poolGrad(const Rule& r) {
  r.f32(0, "output gradient", 4);
  Shape x;
  if (r.kind() == OpKind::MaxPoolGrad) {
    r.f32(1, "input", 4);
    x = r.shape(1);
  } else {
    x = r.shapeAttr("input_shape", 4);
  }
  const Shape y = r.kind() == OpKind::GlobalAvgPoolGrad ? Shape{x[0], x[1], 1, 1}
                                                        : r.poolOutput(x, r.kind() == OpKind::AveragePoolGrad);
  r.expect(0, "output gradient", DType::F32, y);
  return {f32(x)};
}

// resize (x) -> [N, C, size]; resize_grad (dy) {input_shape} -> the input's shape, dy being
// the resize of it.
Results resize(const Rule& r) {
  r.f32(0, r.kind() == OpKind::Resize ? "input" : "output gradient", 4);
  const Shape x = r.kind() == OpKind::Resize ? r.shape(0) : r.shapeAttr("input_shape", 4);
  const ResizeAxes a = r.resizeAxes(x);
  const Shape y = {x[0], x[1], a.h.outSize, a.w.outSize};
  if (r.kind() == OpKind::Resize) return {f32(y)};
  r.expect(0, "output gradient", DType::F32, y);
  return {f32(x)};
}

Results pad(const Rule& r) {
  r.f32(0, "input");
  const Shape& x = r.shape(0);
  const size_t rank = x.size();
  const Shape pads = r.list("pads", static_cast<int>(2 * rank), -kMaxElements, kMaxElements);
  if (std::isnan(r.number("value", -INFINITY, INFINITY))) Rule::fail("attribute 'value' is NaN");
  Shape y = x;
  for (size_t i = 0; i < rank; ++i) {
    y[i] += pads[i] + pads[i + rank];
    if (y[i] <= 0) Rule::fail("the pads " + shapeText(pads) + " leave axis " + std::to_string(i) + " of " +
                              typeText(DType::F32, x) + " empty");
  }
  return {f32(y)};
}

// BatchNorm (x, scale, bias, mean, var) and its gradient (dy, x, scale, mean, var).
Results batchNorm(const Rule& r) {
  const bool grad = r.kind() == OpKind::BatchNormGrad;
  const size_t xi = grad ? 1 : 0;
  r.f32(xi, "input");
  const Shape& x = r.shape(xi);
  if (x.size() < 2) Rule::fail(r.what(xi, "input") + ", expected rank >= 2");
  static const char* const forwardRoles[] = {"input", "scale", "bias", "running mean", "running variance"};
  static const char* const gradRoles[] = {"output gradient", "input", "scale", "running mean", "running variance"};
  for (size_t i = 0; i < 5; ++i)
    if (i != xi) r.expect(i, (grad ? gradRoles : forwardRoles)[i], DType::F32, i == 0 ? x : Shape{x[1]});
  r.number("epsilon", 0, 1e30);
  if (!grad) r.number("momentum", 0, 1);
  const bool training = r.flag("training");
  if (!grad && r.has("update_stats")) r.flag("update_stats");
  if (training && elementsOf(x) / x[1] < 2)
    Rule::fail("training-mode batch statistics need at least 2 values per channel, " + typeText(DType::F32, x) +
               " has " + std::to_string(elementsOf(x) / x[1]));
  if (!grad) return {f32(x)};
  return {f32(x), f32({x[1]}), f32({x[1]})};
}

// layer_norm (x, scale[, bias]) {axis, epsilon[, end]}: scale and bias of x's shape from `axis`
// on; with `end` (canonicalize's form of a channels-last LayerNorm) over the axes [axis, end),
// which must be the channels of an N x C x H x W map (axis=1, end=2). Its gradient (dy, x,
// scale) -> (dx, dscale, dbias).
Results layerNorm(const Rule& r) {
  const bool grad = r.kind() == OpKind::LayerNormGrad;
  const size_t xi = grad ? 1 : 0;
  r.f32(xi, "input");
  const Shape& x = r.shape(xi);
  if (x.empty()) Rule::fail(r.what(xi, "input") + ", expected rank >= 1");
  const auto axis = static_cast<size_t>(r.integer("axis", 0, static_cast<int64_t>(x.size()) - 1));
  const auto end = static_cast<size_t>(r.integer("end", static_cast<int64_t>(axis) + 1, static_cast<int64_t>(x.size())));
  if (end != x.size() && (axis != 1 || end != 2 || x.size() != 4))
    Rule::fail(r.what(xi, "input") + ": layer_norm normalizes the axes from 'axis' to the last (end = rank), or "
               "the channels of an N x C x H x W map (axis=1, end=2)");
  const Shape normalized(x.begin() + static_cast<std::ptrdiff_t>(axis), x.begin() + static_cast<std::ptrdiff_t>(end));
  r.number("epsilon", 0, 1e30);
  if (grad) {
    r.expect(0, "output gradient", DType::F32, x);
    r.expect(2, "scale", DType::F32, normalized);
    return {f32(x), f32(normalized), f32(normalized)};
  }
  r.expect(1, "scale", DType::F32, normalized);
  if (r.count() == 3) r.expect(2, "bias", DType::F32, normalized);
  return {f32(x)};
}

// The split training BatchNorm (SPEC.md section 5): statistics (x, running mean, running var),
// apply (x, scale, bias, mean, invstd), and their gradients. x is [N, C, ...] with at least
// two values per channel; every vector is [C].
Results batchNormSplit(const Rule& r) {
  const OpKind k = r.kind();
  const size_t xi = k == OpKind::BatchNormApplyGrad ? 1 : 0;
  r.f32(xi, "input");
  const Shape& x = r.shape(xi);
  if (x.size() < 2) Rule::fail(r.what(xi, "input") + ", expected rank >= 2");
  const Shape c{x[1]};
  auto vectors = [&](std::initializer_list<std::pair<size_t, const char*>> roles) {
    for (const auto& [i, role] : roles) r.expect(i, role, DType::F32, c);
  };
  if (k == OpKind::BatchNormStats) {
    vectors({{1, "running mean"}, {2, "running variance"}});
    r.number("epsilon", 0, 1e30);
    r.number("momentum", 0, 1);
    if (r.has("sync")) r.flag("sync");
    if (elementsOf(x) / x[1] < 2)
      Rule::fail("training-mode batch statistics need at least 2 values per channel, " + typeText(DType::F32, x) +
                 " has " + std::to_string(elementsOf(x) / x[1]));
    return {f32(c), f32(c)};
  }
  if (k == OpKind::BatchNormApply) {
    vectors({{1, "scale"}, {2, "bias"}, {3, "mean"}, {4, "inverse std"}});
    if (r.has("relu")) r.flag("relu");
    return {f32(x)};
  }
  if (k == OpKind::BatchNormApplyGrad) {
    r.expect(0, "output gradient", DType::F32, x);
    vectors({{2, "scale"}, {3, "mean"}, {4, "inverse std"}});
    // A fused ReLU's mask is recomputed from the apply's operands: the bias too.
    const bool relu = r.has("relu") && r.flag("relu");
    if (relu != (r.count() == 6))
      Rule::fail(relu ? "relu=1 needs the bias as operand 5 (the ReLU's mask is recomputed from it)"
                      : "operand 5 (the bias) is only for relu=1");
    if (relu) vectors({{5, "bias"}});
    return {f32(x), f32(c), f32(c), f32(c), f32(c)};
  }
  // batchnorm_stats_grad
  vectors({{1, "mean"}, {2, "inverse std"}, {3, "mean gradient"}, {4, "inverse std gradient"}});
  if (r.count() == 6) r.expect(5, "accumulated gradient", DType::F32, x);
  return {f32(x)};
}

// Numpy-style broadcasting of two shapes.
Shape broadcastShape(const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape y(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      Rule::fail("shapes " + typeText(DType::F32, a) + " and " + typeText(DType::F32, b) + " do not broadcast");
    y[i] = std::max(da, db);
  }
  return y;
}

// The binary element-wise family: (a, b) -> the broadcast shape.
Results broadcast(const Rule& r) {
  r.f32(0, "operand");
  r.f32(1, "operand");
  return {f32(broadcastShape(r.shape(0), r.shape(1)))};
}

// Its gradients: (dy, a, b) {operand} -> the gradient of that operand, of its shape.
Results binaryGrad(const Rule& r) {
  const int64_t operand = r.integer("operand", 0, 1);
  r.f32(1, "first operand");
  r.f32(2, "second operand");
  r.expect(0, "output gradient", DType::F32, broadcastShape(r.shape(1), r.shape(2)));
  return {same(r.in(static_cast<size_t>(1 + operand)))};
}

// reduce_mean (x) {axes, keepdims[, sum][, input_shape]}: axes sorted, distinct, of x; sum 0 or
// 1; x of input_shape's reduced shape when given. The gradient (dy) {axes, input_shape[, sum]}:
// dy has the reduced shape, kept or dropped axes alike.
Shape reducedShape(const Rule& r, const Shape& x, bool keepdims) {
  const Shape axes = r.list("axes", -1, 0, static_cast<int64_t>(x.size()) - 1);
  if (axes.empty()) Rule::fail("attribute 'axes' is empty");
  for (size_t i = 1; i < axes.size(); ++i)
    if (axes[i] <= axes[i - 1]) Rule::fail("attribute 'axes' must be sorted and distinct, got " + shapeText(axes));
  Shape y;
  for (size_t d = 0; d < x.size(); ++d) {
    const bool reduced = std::find(axes.begin(), axes.end(), static_cast<int64_t>(d)) != axes.end();
    if (!reduced) y.push_back(x[d]);
    else if (keepdims) y.push_back(1);
  }
  return y;
}
Results reduceMean(const Rule& r) {
  r.f32(0, "input");
  if (r.has("sum")) r.flag("sum");
  if (r.kind() == OpKind::ReduceMean) {
    const bool keepdims = r.flag("keepdims");
    const Shape y = reducedShape(r, r.shape(0), keepdims);
    // input_shape: x holds the sums over `axes` of a map of that shape (a recomputed SE mean).
    if (r.has("input_shape") && reducedShape(r, r.shapeAttr("input_shape", -1), keepdims) != y)
      Rule::fail(r.what(0, "input") + ", expected the sum of " + shapeText(r.shapeAttr("input_shape", -1)) + " over its axes");
    return {f32(y)};
  }
  const Shape x = r.shapeAttr("input_shape", -1);
  if (r.shape(0) != reducedShape(r, x, true) && r.shape(0) != reducedShape(r, x, false))
    Rule::fail(r.what(0, "output gradient") + ", expected the mean of " + shapeText(x) + " over its axes");
  return {f32(x)};
}

Results flatten(const Rule& r) {
  const Shape& x = r.shape(0);
  const int64_t axis = r.integer("axis", 0, static_cast<int64_t>(x.size()));
  int64_t outer = 1, inner = 1;
  for (size_t i = 0; i < x.size(); ++i) (static_cast<int64_t>(i) < axis ? outer : inner) *= x[i];
  return {{r.in(0).dtype, {outer, inner}, {}}};
}

Results reshape(const Rule& r) {
  const Shape shape = r.list("shape", -1, 1, kMaxElements);
  int64_t n = 1;
  for (int64_t d : shape) {
    if (n > kMaxElements / d) Rule::fail("attribute 'shape' " + shapeText(shape) + " has too many elements");
    n *= d;
  }
  if (n != elementsOf(r.shape(0)))
    Rule::fail("cannot reshape " + typeText(r.in(0).dtype, r.shape(0)) + " to " + shapeText(shape));
  return {{r.in(0).dtype, shape, {}}};
}

Results gemm(const Rule& r) {
  const bool isGemm = r.kind() == OpKind::Gemm;
  r.f32(0, "A", 2);
  r.f32(1, "B", 2);
  const Shape &a = r.shape(0), &b = r.shape(1);
  bool ta = false, tb = false;
  if (isGemm) {
    ta = r.flag("transA");
    tb = r.flag("transB");
    r.finite("alpha");
    r.finite("beta");
  }
  const int64_t m = ta ? a[1] : a[0], ka = ta ? a[0] : a[1];
  const int64_t kb = tb ? b[1] : b[0], n = tb ? b[0] : b[1];
  if (ka != kb)
    Rule::fail("inner dimensions differ: A " + shapeText(a) + (ta ? " (transposed)" : "") + ", B " + shapeText(b) +
               (tb ? " (transposed)" : ""));
  if (r.count() == 3) {
    r.f32(2, "C");
    // C broadcasts unidirectionally to [M, N].
    const Shape& c = r.shape(2);
    bool ok = c.size() <= 2;
    for (size_t i = 0; ok && i < c.size(); ++i) ok = c[i] == 1 || c[i] == ((c.size() == 2 && i == 0) ? m : n);
    if (!ok) Rule::fail("C " + shapeText(c) + " does not broadcast to " + shapeText({m, n}));
  }
  return {f32({m, n})};
}

// An element-wise unary op and its gradient kernel (dy, and the forward's result or input:
// `saved`), with the attributes of the ops that have some.
Results unary(const Rule& r) {
  r.f32(0, "operand");
  return {same(r.in(0))};
}
Results unaryGrad(const Rule& r, const std::string& saved) {
  r.f32(0, "output gradient");
  r.expectLike(1, saved, 0);
  return {same(r.in(0))};
}
void hardSigmoidAttrs(const Rule& r) {
  r.finite("alpha");
  r.finite("beta");
}
void clipAttrs(const Rule& r) {  // an infinite bound is no bound
  r.number("min", -INFINITY, INFINITY);
  r.number("max", -INFINITY, INFINITY);
}

Results dropout(const Rule& r) {
  r.f32(0, "operand");
  const double ratio = r.number("ratio", 0, 1);
  if (ratio >= 1) Rule::fail("attribute 'ratio' value 1 is outside [0, 1)");
  r.integer("seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
  r.flag("training");
  return {same(r.in(0))};
}

Results softmax(const Rule& r) {
  r.f32(0, "operand");
  const int64_t rank = static_cast<int64_t>(r.shape(0).size());
  if (rank < 1) Rule::fail(r.what(0, "operand") + ", expected rank >= 1");
  r.integer("axis", 0, rank - 1);
  return {same(r.in(0))};
}

Results softmaxXent(const Rule& r) {
  r.f32(0, "logits", 2);
  r.expect(1, "labels", DType::I64, {r.shape(0)[0]});
  if (r.kind() == OpKind::SoftmaxXent) return {f32({})};
  return {same(r.in(0))};
}

// The per-pixel loss: logits [N,K,H,W], labels i64[N,H,W], any int64 ignore_index.
Results pixelXent(const Rule& r) {
  r.f32(0, "logits", 4);
  const Shape& x = r.shape(0);
  r.expect(1, "labels", DType::I64, {x[0], x[2], x[3]});
  r.integer("ignore_index", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
  if (r.kind() == OpKind::PixelXent) return {f32({})};
  return {same(r.in(0))};
}

// concat: f32 operands of one rank, equal but on `axis`, joined along it.
Results concat(const Rule& r) {
  r.f32(0, "operand 0");
  const Shape& first = r.shape(0);
  const int64_t rank = static_cast<int64_t>(first.size());
  const auto axis = static_cast<size_t>(r.integer("axis", 0, rank - 1));
  Shape y = first;
  for (size_t i = 1; i < r.count(); ++i) {
    r.f32(i, "operand " + std::to_string(i));
    Shape x = r.shape(i);
    if (x.size() == first.size()) x[axis] = first[axis];
    if (x != first)
      Rule::fail(r.what(i, "operand " + std::to_string(i)) + ", which does not match " + typeText(DType::F32, first) +
                 " but on axis " + std::to_string(axis));
    y[axis] += r.shape(i)[axis];
  }
  return {f32(y)};
}

// slice / slice_grad: [start, end) of `axis` of a tensor of `whole` shape. Returns the slice's shape.
Shape sliceOf(const Rule& r, const Shape& whole) {
  const int64_t rank = static_cast<int64_t>(whole.size());
  const auto axis = static_cast<size_t>(r.integer("axis", 0, rank - 1));
  const int64_t start = r.integer("start", 0, whole[axis] - 1);
  const int64_t end = r.integer("end", start + 1, whole[axis]);
  Shape y = whole;
  y[axis] = end - start;
  return y;
}

Results slice(const Rule& r) {
  r.f32(0, "operand");
  if (r.shape(0).empty()) Rule::fail(r.what(0, "operand") + ", expected rank 1 or more");
  return {f32(sliceOf(r, r.shape(0)))};
}

// (dy) {axis, start, end, input_shape}: the gradient of slice, of the input's shape.
Results sliceGrad(const Rule& r) {
  const Shape x = r.list("input_shape", -1, 1, kMaxElements);
  if (x.empty()) Rule::fail("attribute 'input_shape' must have at least 1 value");
  r.expect(0, "output gradient", DType::F32, sliceOf(r, x));
  return {f32(x)};
}

// channel_shuffle [N,C,H,W] {groups}: a permutation of the channels, C a multiple of groups.
Results channelShuffle(const Rule& r) {
  r.f32(0, "input", 4);
  const int64_t c = r.shape(0)[1];
  const int64_t groups = r.integer("groups", 1, c);
  if (c % groups != 0)
    Rule::fail(r.what(0, "input") + ": its " + std::to_string(c) + " channels are not a multiple of groups=" +
               std::to_string(groups));
  return {same(r.in(0))};
}

// transpose {perm}: a permutation of x's axes (rank 1 to 8, the strided loops' limit,
// runtime/kernels/Strided.h); y's axis d is x's axis perm[d].
Results transpose(const Rule& r) {
  constexpr int kMaxTransposeRank = 8;
  r.f32(0, "input");
  const Shape& x = r.shape(0);
  if (x.empty() || x.size() > static_cast<size_t>(kMaxTransposeRank))
    Rule::fail(r.what(0, "input") + ", expected rank 1 to " + std::to_string(kMaxTransposeRank));
  const Shape perm = r.list("perm", static_cast<int>(x.size()), 0, static_cast<int64_t>(x.size()) - 1);
  Shape y;
  for (size_t d = 0; d < perm.size(); ++d) {
    if (std::find(perm.begin(), perm.begin() + static_cast<std::ptrdiff_t>(d), perm[d]) != perm.begin() + static_cast<std::ptrdiff_t>(d))
      Rule::fail("attribute 'perm' " + shapeText(perm) + " is not a permutation");
    y.push_back(x[static_cast<size_t>(perm[d])]);
  }
  return {f32(y)};
}

Results sumTo(const Rule& r) {
  r.f32(0, "operand");
  const Shape& x = r.shape(0);
  const Shape target = r.list("shape", -1, 1, kMaxElements);
  if (target.size() > x.size()) Rule::fail("cannot sum " + typeText(DType::F32, x) + " to the higher rank " + shapeText(target));
  const size_t offset = x.size() - target.size();
  for (size_t i = 0; i < target.size(); ++i)
    if (target[i] != 1 && target[i] != x[offset + i])
      Rule::fail("cannot sum " + typeText(DType::F32, x) + " to " + shapeText(target));
  return {f32(target)};
}

// rows_copy / rows_sum: bands (or whole maps) of one map.
Results rows(const Rule& r) {
  r.f32(0, "source", 4);
  for (size_t i = 1; i < r.count(); ++i) r.expectLike(i, "source", 0);
  return {same(r.in(0))};
}

// An optimizer's update (ops/Optimizer.h): the gradient and each state of the parameter's
// type, a step count f32[]; no results (all but the gradient are updated in place).
Results optimizerUpdate(const Rule& r) {
  const OptimizerInfo& o = info(*optimizerOfUpdate(r.kind()));
  r.f32(0, "parameter");
  r.expectLike(1, "gradient", 0);
  for (int i = 0; i < o.stateCount; ++i) {
    const OptimizerState& state = o.state[static_cast<size_t>(i)];
    const size_t operand = static_cast<size_t>(2 + i);
    if (state.scalar)
      r.expect(operand, std::string(state.role), DType::F32, {});
    else
      r.expectLike(operand, std::string(state.role), 0);
  }
  return {};
}

// The fused form's steps (ops/Optimizer.h): sgd_momentum_scale (state 0), sgd_apply
// (param, state 0 of its type); no results.
Results fusedOptimizerStep(const Rule& r) {
  if (r.count() == 1) {
    r.f32(0, "optimizer state");
    return {};
  }
  r.f32(0, "parameter");
  r.expectLike(1, "optimizer state", 0);
  return {};
}

// allreduce_start / allreduce_wait: f32 tensors of any shape, averaged in place; no results.
Results collective(const Rule& r, size_t operands) {
  r.integer("bucket", 0, std::numeric_limits<int32_t>::max());
  for (size_t i = 0; i < operands; ++i) r.f32(i, "tensor");
  return {};
}

// pipeline_grad: result r is the gradient of operand grads[r] (operand 0 is dy).
Results pipelineGrad(const Rule& r) {
  Results types;
  for (int64_t i : r.list("grads", -1, 1, static_cast<int64_t>(r.count()) - 1))
    types.push_back(same(r.in(static_cast<size_t>(i))));
  return types;
}

}  // namespace

namespace {

Results resultsOf(OpKind kind, const Rule& r) {
  switch (kind) {
    case OpKind::Conv2d: return conv(r);
    case OpKind::ConvTranspose2d: return convTranspose(r);
    case OpKind::Conv2dGradInput: return convGradInput(r);
    case OpKind::Conv2dGradWeight: return convGradWeight(r);
    case OpKind::ConvTranspose2dGradInput: return convTransposeGradInput(r);
    case OpKind::ConvTranspose2dGradWeight: return convTransposeGradWeight(r);
    case OpKind::MaxPool:
    case OpKind::AveragePool: return pool(r);
    case OpKind::MaxPoolGrad:
    case OpKind::AveragePoolGrad:
    case OpKind::GlobalAvgPoolGrad: return poolGrad(r);
    case OpKind::Resize:
    case OpKind::ResizeGrad: return resize(r);
    case OpKind::GlobalAvgPool:
      r.f32(0, "input", 4);
      return {f32({r.shape(0)[0], r.shape(0)[1], 1, 1})};
    case OpKind::ReduceMean:
    case OpKind::ReduceMeanGrad: return reduceMean(r);
    case OpKind::Pad: return pad(r);
    case OpKind::BatchNorm:
    case OpKind::BatchNormGrad: return batchNorm(r);
    case OpKind::LayerNorm:
    case OpKind::LayerNormGrad: return layerNorm(r);
    case OpKind::BatchNormStats:
    case OpKind::BatchNormApply:
    case OpKind::BatchNormApplyGrad:
    case OpKind::BatchNormStatsGrad: return batchNormSplit(r);
    case OpKind::Add:
    case OpKind::Sub:
    case OpKind::Mul:
    case OpKind::Div: return broadcast(r);
    case OpKind::Concat: return concat(r);
    case OpKind::Slice: return slice(r);
    case OpKind::ChannelShuffle: return channelShuffle(r);
    case OpKind::Transpose: return transpose(r);
    case OpKind::Flatten: return flatten(r);
    case OpKind::Reshape: return reshape(r);
    case OpKind::Gemm:
    case OpKind::MatMul: return gemm(r);
    case OpKind::Dropout:
    case OpKind::DropoutGrad: return dropout(r);
    case OpKind::Relu:
    case OpKind::Sigmoid:
    case OpKind::HardSwish: return unary(r);
    case OpKind::HardSigmoid: hardSigmoidAttrs(r); return unary(r);
    case OpKind::Clip: clipAttrs(r); return unary(r);
    case OpKind::Erf:
    case OpKind::Sqrt: return unary(r);
    case OpKind::Pow: r.finite("exponent"); return unary(r);
    case OpKind::Identity: return {same(r.in(0))};
    case OpKind::Softmax: return softmax(r);
    case OpKind::SoftmaxXent:
    case OpKind::SoftmaxXentGrad: return softmaxXent(r);
    case OpKind::PixelXent:
    case OpKind::PixelXentGrad: return pixelXent(r);
    case OpKind::ChannelSum:
      r.f32(0, "operand", 4);
      return {f32({r.shape(0)[1]})};
    case OpKind::ReluGrad:
    case OpKind::SigmoidGrad: return unaryGrad(r, "forward result");
    case OpKind::HardSigmoidGrad: hardSigmoidAttrs(r); return unaryGrad(r, "forward result");
    case OpKind::HardSwishGrad: return unaryGrad(r, "forward input");
    case OpKind::ClipGrad: clipAttrs(r); return unaryGrad(r, "forward result");
    case OpKind::ErfGrad: return unaryGrad(r, "forward input");
    case OpKind::SqrtGrad: return unaryGrad(r, "forward result");
    case OpKind::PowGrad: r.finite("exponent"); return unaryGrad(r, "forward input");
    case OpKind::SumTo: return sumTo(r);
    case OpKind::SliceGrad: return sliceGrad(r);
    case OpKind::AddGrad:
    case OpKind::SubGrad:
    case OpKind::MulGrad:
    case OpKind::DivGrad: return binaryGrad(r);
    case OpKind::SgdUpdate:
    case OpKind::AdamwUpdate: return optimizerUpdate(r);
    case OpKind::SgdMomentumScale:
    case OpKind::SgdApply: return fusedOptimizerStep(r);
    case OpKind::RowsCopy:
    case OpKind::RowsSum: return rows(r);
    case OpKind::PipelineGrad: return pipelineGrad(r);
    case OpKind::AllreduceStart:
    case OpKind::AllreduceWait: return collective(r, r.count());
  }
  Rule::fail("no shape rule");
}

}  // namespace

ResizeAxes resizeAxes(const AttrReader& attrs, const Shape& x) {
  const std::vector<TensorDesc> none;
  return Rule(OpKind::Resize, none, attrs).resizeAxes(x);
}

std::vector<TensorDesc> inferShapes(OpKind kind, const std::vector<TensorDesc>& operands, const AttrReader& attrs) {
  const OpInfo& op = info(kind);
  const int n = static_cast<int>(operands.size());
  if (n < op.minOperands || n > op.maxOperands)
    Rule::fail("expects " +
               (op.minOperands == op.maxOperands ? std::to_string(op.minOperands)
                                                 : std::to_string(op.minOperands) + " to " + std::to_string(op.maxOperands)) +
               " operands, got " + std::to_string(n));
  for (const TensorDesc& x : operands)
    if (const std::string p = sizeProblem(x.shape); !p.empty())
      Rule::fail("operand " + x.name + " is " + typeText(x.dtype, x.shape) + ": " + p);
  std::vector<TensorDesc> results = resultsOf(kind, Rule(kind, operands, attrs));
  for (const TensorDesc& y : results)
    if (const std::string p = sizeProblem(y.shape); !p.empty())
      Rule::fail("the result would be " + typeText(y.dtype, y.shape) + ": " + p);
  return results;
}

}  // namespace lrc::ops
