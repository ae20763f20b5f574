#include "compiler/ConstantFolding.h"
#include "compiler/OnnxProto.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <set>

#include "ops/ListText.h"

namespace lrc::compiler {
namespace {

using ir::Error;
using onnx::TensorProto;
using Shape = std::vector<int64_t>;

// ONNX stores raw tensor bytes little-endian; they are read as they are.
static_assert(std::endian::native == std::endian::little,
              "constant folding assumes a little-endian host");

// Folding is for shape arithmetic. Anything larger is data: its node is left as it is, and
// a bad shape input cannot make the importer allocate gigabytes.
constexpr int64_t kMaxElements = int64_t{1} << 24;

// Thrown where a folded tensor would exceed kMaxElements; the node is then not folded.
struct TooLarge {};

std::string join(const Shape& v) { return ops::listText(v); }

std::string typeName(int64_t t) {
  return TensorProto::DataType_IsValid(static_cast<int>(t))
             ? TensorProto::DataType_Name(static_cast<TensorProto::DataType>(t))
             : std::to_string(t);
}

bool isDefaultDomain(const std::string& domain) { return domain.empty() || domain == "ai.onnx"; }
bool isReal(int64_t t) { return t == TensorProto::FLOAT || t == TensorProto::DOUBLE; }
bool isInteger(int64_t t) { return t == TensorProto::INT64 || t == TensorProto::INT32; }
bool isFoldableType(int64_t t) { return isReal(t) || isInteger(t) || t == TensorProto::BOOL; }

// ---------------------------------------------------------------------------------------
// Tensors

// Integer and boolean elements are kept as i64, floating-point ones as f64 (rounded to f32
// after every op on FLOAT data, so that f32 results are the ones ONNX defines).
struct Tensor {
  int32_t type = TensorProto::UNDEFINED;  // FLOAT, DOUBLE, INT64, INT32 or BOOL
  Shape shape;
  std::vector<int64_t> ints;
  std::vector<double> reals;
  bool real() const { return isReal(type); }
  size_t size() const { return real() ? reals.size() : ints.size(); }
  void append(const Tensor& from, size_t i) {
    if (real())
      reals.push_back(from.reals[i]);
    else
      ints.push_back(from.ints[i]);
  }
};

int64_t elementCount(const Shape& shape) {
  if (std::any_of(shape.begin(), shape.end(), [](int64_t d) { return d < 0; }))
    throw Error("shape " + join(shape) + " has a negative dimension");
  // The cap holds for the dimensions of empty tensors too, so that strides cannot overflow.
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d > kMaxElements / n) throw TooLarge{};
    n *= std::max<int64_t>(d, 1);
  }
  return std::count(shape.begin(), shape.end(), 0) ? 0 : n;
}

// The shortest decimal that reads back as v: 1e+30, not 1000000015047466219876688855040.0.
std::string number(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

double roundTo(int32_t type, double v) {
  return type == TensorProto::FLOAT ? static_cast<double>(static_cast<float>(v)) : v;
}

// The tensor's data, or nullopt for element types folding does not handle (and external
// data, which only initializers have, and the importer inlines).
std::optional<Tensor> decode(const TensorProto& t, const std::string& what) {
  if (t.data_location() == TensorProto::EXTERNAL || !isFoldableType(t.data_type()))
    return std::nullopt;
  Tensor c;
  c.type = t.data_type();
  c.shape.assign(t.dims().begin(), t.dims().end());
  readTensorValues(t, c.shape, what, c.reals, c.ints);
  return c;
}

// The typed fields the importer reads back (int32_data holds INT32 and BOOL).
TensorProto encode(const Tensor& c) {
  TensorProto t;
  t.set_data_type(c.type);
  for (int64_t d : c.shape) t.add_dims(d);
  switch (c.type) {
    case TensorProto::FLOAT:
      for (double v : c.reals) t.add_float_data(static_cast<float>(v));
      break;
    case TensorProto::DOUBLE:
      for (double v : c.reals) t.add_double_data(v);
      break;
    case TensorProto::INT64:
      for (int64_t v : c.ints) t.add_int64_data(v);
      break;
    default:  // INT32, BOOL
      for (int64_t v : c.ints) t.add_int32_data(static_cast<int32_t>(v));
      break;
  }
  return t;
}

// The value of a Constant node, in any of the attribute forms opsets 9-18 allow; nullopt
// for the forms folding does not read (sparse tensors, strings).
std::optional<Tensor> constantNodeValue(const onnx::NodeProto& node) {
  for (const auto& a : node.attribute()) {
    Tensor c;
    if (a.name() == "value") return decode(a.t(), "the value tensor");
    if (a.name() == "value_float" || a.name() == "value_floats") {
      c.type = TensorProto::FLOAT;
      if (a.name() == "value_float")
        c.reals = {a.f()};
      else
        c.reals.assign(a.floats().begin(), a.floats().end());
    } else if (a.name() == "value_int" || a.name() == "value_ints") {
      c.type = TensorProto::INT64;
      if (a.name() == "value_int")
        c.ints = {a.i()};
      else
        c.ints.assign(a.ints().begin(), a.ints().end());
    } else {
      continue;
    }
    if (a.name().back() == 's') c.shape = {static_cast<int64_t>(c.size())};
    return c;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------
// Attributes and inputs. The checker has matched every attribute's type to the op schema.

std::optional<Shape> intsAttr(const onnx::NodeProto& n, std::string_view name) {
  const auto* a = findAttr(n, name);
  if (!a) return std::nullopt;
  return Shape(a->ints().begin(), a->ints().end());
}

Shape requiredIntsAttr(const onnx::NodeProto& n, const std::string& name) {
  std::optional<Shape> v = intsAttr(n, name);
  if (!v) throw Error("the " + name + " attribute is missing");
  return *v;
}

// A node's inputs, all constant; absent optional ones are null.
struct Args {
  const onnx::NodeProto& node;
  std::vector<const Tensor*> in;
  int64_t opset;

  const Tensor* optional(size_t i) const { return i < in.size() ? in[i] : nullptr; }
  const Tensor& at(size_t i) const {
    if (!optional(i)) throw Error("input " + std::to_string(i) + " is missing");
    return *in[i];
  }
};

// Shapes, axes and indices: integer tensors of rank 0 or 1, as a list.
const Shape& intList(const Tensor& t, const std::string& role) {
  if (!isInteger(t.type))
    throw Error("the " + role + " input must hold int32 or int64, not " + typeName(t.type));
  if (t.shape.size() > 1)
    throw Error("the " + role + " input must be 1-D; it has shape " + join(t.shape));
  return t.ints;
}

int64_t normalizeAxis(int64_t axis, int64_t rank, const std::string& what) {
  if (axis < -rank || axis >= rank)
    throw Error(what + " " + std::to_string(axis) + " is out of range for rank " +
                std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

std::set<int64_t> normalizeAxes(const Shape& axes, int64_t rank) {
  std::set<int64_t> set;
  for (int64_t a : axes)
    if (!set.insert(normalizeAxis(a, rank, "axis")).second)
      throw Error("axes " + join(axes) + " name an axis twice");
  return set;
}

int64_t rankOf(const Tensor& t) { return static_cast<int64_t>(t.shape.size()); }

Shape stridesOf(const Shape& shape) {
  Shape strides(shape.size());
  int64_t k = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    strides[d] = k;
    k *= shape[d];
  }
  return strides;
}

// For every element of `shape`, in row-major order, the flat index `sourceOf(its index)`
// of the element it is read from.
template <typename SourceOf>
std::vector<size_t> indexMap(const Shape& shape, SourceOf sourceOf) {
  std::vector<size_t> from(static_cast<size_t>(elementCount(shape)));
  Shape idx(shape.size(), 0);
  for (size_t& f : from) {
    f = static_cast<size_t>(sourceOf(idx));
    for (size_t d = shape.size(); d-- > 0;) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return from;
}

// A tensor of x's element type and the given shape, its elements still to be appended.
Tensor emptyLike(const Tensor& x, Shape shape) {
  Tensor out;
  out.type = x.type;
  out.shape = std::move(shape);
  return out;
}

// The elements of `x` at `from`, with shape `shape`.
Tensor take(const Tensor& x, Shape shape, const std::vector<size_t>& from) {
  Tensor out = emptyLike(x, std::move(shape));
  for (size_t f : from) out.append(x, f);
  return out;
}

// Numpy's multidirectional broadcasting.
Shape broadcastShape(const std::vector<const Tensor*>& ins) {
  size_t rank = 0;
  for (const Tensor* t : ins) rank = std::max(rank, t->shape.size());
  Shape out(rank, 1);
  for (const Tensor* t : ins) {
    const size_t lead = rank - t->shape.size();
    for (size_t d = 0; d < t->shape.size(); ++d) {
      int64_t& o = out[lead + d];
      const int64_t v = t->shape[d];
      if (o == 1)
        o = v;
      else if (v != 1 && v != o)
        throw Error("input shapes do not broadcast (" + join(t->shape) + " against " + join(out) +
                    ")");
    }
  }
  return out;
}

// For every element of the broadcast shape `out`, the element of an input of shape `in`.
std::vector<size_t> broadcastFrom(const Shape& in, const Shape& out) {
  const Shape strides = stridesOf(in);
  const size_t lead = out.size() - in.size();
  return indexMap(out, [&](const Shape& idx) {
    int64_t f = 0;
    for (size_t d = 0; d < in.size(); ++d)
      if (in[d] != 1) f += idx[lead + d] * strides[d];
    return f;
  });
}

void requireSameType(const Tensor& a, const Tensor& b) {
  if (a.type != b.type)
    throw Error("inputs of element types " + typeName(a.type) + " and " + typeName(b.type) +
                " do not match");
}

// ---------------------------------------------------------------------------------------
// The ops. Each returns the node's output, or nullopt to leave the node as it is.

using Folded = std::optional<Tensor>;

Folded evalIdentity(const Args& a) { return a.at(0); }

Folded evalConstantOfShape(const Args& a) {
  Tensor fill;
  fill.type = TensorProto::FLOAT;
  fill.reals = {0.0};
  if (const auto* value = findAttr(a.node, "value")) {
    std::optional<Tensor> v = decode(value->t(), "the value tensor");
    if (!v)
      throw Error("a value of element type " + typeName(value->t().data_type()) +
                  " does not fold (lrc folds float, double, int64, int32 and bool)");
    if (v->size() != 1)
      throw Error("the value tensor holds " + std::to_string(v->size()) + " elements, not one");
    fill = *v;
  }
  Tensor out = emptyLike(fill, intList(a.at(0), "shape"));
  for (int64_t n = elementCount(out.shape); n > 0; --n) out.append(fill, 0);
  return out;
}

Folded evalConcat(const Args& a) {
  const Tensor& first = a.at(0);
  if (first.shape.empty()) throw Error("cannot concatenate scalars");
  const auto axis =
      static_cast<size_t>(normalizeAxis(intAttr(a.node, "axis", 0), rankOf(first), "axis"));
  Tensor out = emptyLike(first, first.shape);
  out.shape[axis] = 0;
  for (size_t i = 0; i < a.in.size(); ++i) {
    const Tensor& t = a.at(i);
    requireSameType(first, t);
    Shape other = t.shape, expected = first.shape;
    if (other.size() == expected.size()) other[axis] = expected[axis];
    if (other != expected)
      throw Error("input " + std::to_string(i) + " has shape " + join(t.shape) +
                  "; it must match " + join(first.shape) + " except on axis " +
                  std::to_string(axis));
    out.shape[axis] += t.shape[axis];
  }
  const int64_t outer =
      elementCount(Shape(first.shape.begin(), first.shape.begin() + static_cast<ptrdiff_t>(axis)));
  const int64_t inner = elementCount(
      Shape(first.shape.begin() + static_cast<ptrdiff_t>(axis) + 1, first.shape.end()));
  elementCount(out.shape);
  for (int64_t o = 0; o < outer; ++o)
    for (const Tensor* t : a.in) {
      const int64_t block = t->shape[axis] * inner;
      for (int64_t i = 0; i < block; ++i) out.append(*t, static_cast<size_t>(o * block + i));
    }
  return out;
}

Folded evalReshape(const Args& a) {
  Tensor out = a.at(0);
  out.shape =
      resolveReshape(out.shape, intList(a.at(1), "shape"), intAttr(a.node, "allowzero", 0) != 0);
  return out;
}

Folded evalTranspose(const Args& a) {
  const Tensor& x = a.at(0);
  Shape perm(x.shape.size());
  for (size_t i = 0; i < perm.size(); ++i) perm[i] = rankOf(x) - 1 - static_cast<int64_t>(i);
  perm = intsAttr(a.node, "perm").value_or(perm);
  Shape sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  bool isPermutation = sorted.size() == x.shape.size();
  for (size_t i = 0; i < sorted.size(); ++i)
    isPermutation = isPermutation && sorted[i] == static_cast<int64_t>(i);
  if (!isPermutation)
    throw Error("perm " + join(perm) + " is not a permutation of the " +
                std::to_string(x.shape.size()) + " axes");
  Shape shape(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) shape[i] = x.shape[static_cast<size_t>(perm[i])];
  const Shape strides = stridesOf(x.shape);
  return take(x, shape, indexMap(shape, [&](const Shape& idx) {
                int64_t f = 0;
                for (size_t i = 0; i < perm.size(); ++i)
                  f += idx[i] * strides[static_cast<size_t>(perm[i])];
                return f;
              }));
}

// How many of the positions start, start+step, ... lie before end (after end for a negative
// step), for start and end already clamped to an axis of size dim > 0.
int64_t sliceCount(int64_t start, int64_t end, int64_t step, int64_t dim) {
  const int64_t distance = step > 0 ? end - start : start - end;
  // Any stride beyond the axis takes one element; capping it keeps -step defined.
  const int64_t stride = std::min(step > 0 ? step : step < -dim ? dim : -step, dim);
  return distance <= 0 ? 0 : 1 + (distance - 1) / stride;
}

Folded evalSlice(const Args& a) {
  const Tensor& x = a.at(0);
  Shape starts, ends, steps;
  std::optional<Shape> axes;
  if (a.opset < 10) {  // starts, ends and axes are attributes, and there are no steps
    starts = requiredIntsAttr(a.node, "starts");
    ends = requiredIntsAttr(a.node, "ends");
    axes = intsAttr(a.node, "axes");
  } else {
    starts = intList(a.at(1), "starts");
    ends = intList(a.at(2), "ends");
    if (const Tensor* t = a.optional(3)) axes = intList(*t, "axes");
    if (const Tensor* t = a.optional(4)) steps = intList(*t, "steps");
  }
  Shape begin(x.shape.size(), 0), step(x.shape.size(), 1), shape = x.shape;
  for (const SliceAxis& s : resolveSlice(x.shape, starts, ends, axes, steps)) {
    const auto d = static_cast<size_t>(s.axis);
    begin[d] = s.start;
    step[d] = s.step;
    shape[d] = s.count;
  }
  const Shape strides = stridesOf(x.shape);
  return take(x, shape, indexMap(shape, [&](const Shape& idx) {
                int64_t f = 0;
                for (size_t d = 0; d < idx.size(); ++d)
                  f += (begin[d] + idx[d] * step[d]) * strides[d];
                return f;
              }));
}

Folded evalCast(const Args& a) {
  const Tensor& x = a.at(0);
  const int64_t to = intAttr(a.node, "to", TensorProto::UNDEFINED);
  if (!isFoldableType(to))
    throw Error("a Cast to " + typeName(to) +
                " does not fold (lrc folds float, double, int64, int32 and bool)");
  Tensor out;
  out.type = static_cast<int32_t>(to);
  out.shape = x.shape;
  for (size_t i = 0; i < x.size(); ++i) {
    if (isReal(to)) {
      out.reals.push_back(
          roundTo(out.type, x.real() ? x.reals[i] : static_cast<double>(x.ints[i])));
      continue;
    }
    if (to == TensorProto::BOOL) {
      out.ints.push_back(x.real() ? x.reals[i] != 0.0 : x.ints[i] != 0);
      continue;
    }
    int64_t v = 0;
    if (!x.real()) {
      v = x.ints[i];
    } else {
      const double r = std::trunc(x.reals[i]);
      // 2^63 is exact as a double; every double in [-2^63, 2^63) converts.
      if (!(r >= -0x1p63 && r < 0x1p63))
        throw Error("cannot cast " + number(x.reals[i]) + " to " + typeName(to));
      v = static_cast<int64_t>(r);
    }
    if (to == TensorProto::INT32) v = static_cast<int32_t>(v);  // wraps, as numpy's astype does
    out.ints.push_back(v);
  }
  return out;
}

// Squeeze and Unsqueeze take axes as an attribute before opset 13 and as an input from it.
std::optional<Shape> axesOf(const Args& a) {
  if (a.opset < 13) return intsAttr(a.node, "axes");
  if (const Tensor* t = a.optional(1)) return intList(*t, "axes");
  return std::nullopt;
}

Folded evalSqueeze(const Args& a) {
  Tensor out = a.at(0);
  const Shape in = out.shape;
  const std::optional<Shape> axes = axesOf(a);
  const std::set<int64_t> squeezed = axes ? normalizeAxes(*axes, rankOf(out)) : std::set<int64_t>{};
  out.shape.clear();
  for (size_t d = 0; d < in.size(); ++d) {
    const bool named = squeezed.count(static_cast<int64_t>(d)) > 0;
    if (named && in[d] != 1)
      throw Error("axis " + std::to_string(d) + " of shape " + join(in) + " has size " +
                  std::to_string(in[d]) + "; only size-1 axes can be squeezed");
    if (!(named || (!axes && in[d] == 1))) out.shape.push_back(in[d]);
  }
  return out;
}

Folded evalUnsqueeze(const Args& a) {
  Tensor out = a.at(0);
  const Shape in = out.shape;
  const std::optional<Shape> axes = axesOf(a);
  if (!axes) throw Error("the axes are missing");
  const auto rank = static_cast<int64_t>(in.size() + axes->size());
  const std::set<int64_t> inserted = normalizeAxes(*axes, rank);
  out.shape.clear();
  for (int64_t d = 0, next = 0; d < rank; ++d)
    out.shape.push_back(inserted.count(d) ? 1 : in[static_cast<size_t>(next++)]);
  return out;
}

Folded evalGather(const Args& a) {
  const Tensor& x = a.at(0);
  const Tensor& indices = a.at(1);
  if (!isInteger(indices.type))
    throw Error("the indices must be int32 or int64, not " + typeName(indices.type));
  if (x.shape.empty()) throw Error("cannot gather from a scalar");
  const auto axis =
      static_cast<size_t>(normalizeAxis(intAttr(a.node, "axis", 0), rankOf(x), "axis"));
  const int64_t dim = x.shape[axis];
  Shape index = indices.ints;
  for (int64_t& i : index) {
    if (i < -dim || i >= dim)
      throw Error("index " + std::to_string(i) + " is out of range for axis " +
                  std::to_string(axis) + " of size " + std::to_string(dim));
    if (i < 0) i += dim;
  }
  Shape shape(x.shape.begin(), x.shape.begin() + static_cast<ptrdiff_t>(axis));
  shape.insert(shape.end(), indices.shape.begin(), indices.shape.end());
  shape.insert(shape.end(), x.shape.begin() + static_cast<ptrdiff_t>(axis) + 1, x.shape.end());
  const Shape xStrides = stridesOf(x.shape), iStrides = stridesOf(indices.shape);
  const size_t q = indices.shape.size();
  return take(x, shape, indexMap(shape, [&](const Shape& idx) {
                int64_t f = 0, k = 0;
                for (size_t d = 0; d < axis; ++d) f += idx[d] * xStrides[d];
                for (size_t j = 0; j < q; ++j) k += idx[axis + j] * iStrides[j];
                f += index[static_cast<size_t>(k)] * xStrides[axis];
                for (size_t d = axis + 1; d < x.shape.size(); ++d)
                  f += idx[d + q - 1] * xStrides[d];
                return f;
              }));
}

enum class Arith : char { Add = '+', Sub = '-', Mul = '*', Div = '/' };

int64_t apply(Arith op, int64_t x, int64_t y, int32_t type) {
  int64_t r = 0;
  bool overflow = false;
  switch (op) {
    case Arith::Add:
      overflow = __builtin_add_overflow(x, y, &r);
      break;
    case Arith::Sub:
      overflow = __builtin_sub_overflow(x, y, &r);
      break;
    case Arith::Mul:
      overflow = __builtin_mul_overflow(x, y, &r);
      break;
    case Arith::Div:
      if (y == 0) throw Error("integer division by zero");
      // Truncating, as onnxruntime's integer Div.
      overflow = x == std::numeric_limits<int64_t>::min() && y == -1;
      r = overflow ? 0 : x / y;
      break;
  }
  if (type == TensorProto::INT32) overflow = overflow || r != static_cast<int32_t>(r);
  if (overflow) {
    std::string expr = std::to_string(x);
    expr += ' ';
    expr += static_cast<char>(op);
    expr += ' ';
    expr += std::to_string(y);
    throw Error(expr + " overflows " + typeName(type));
  }
  return r;
}

// Integers only: floating-point arithmetic is data (an Add of two float constants is
// imported as an add op, as before folding).
Folded evalArithmetic(const Args& a, Arith op) {
  const Tensor& x = a.at(0);
  const Tensor& y = a.at(1);
  if (!isInteger(x.type) || !isInteger(y.type)) return std::nullopt;
  requireSameType(x, y);
  Tensor out = emptyLike(x, broadcastShape({&x, &y}));
  const std::vector<size_t> fx = broadcastFrom(x.shape, out.shape);
  const std::vector<size_t> fy = broadcastFrom(y.shape, out.shape);
  for (size_t i = 0; i < fx.size(); ++i)
    out.ints.push_back(apply(op, x.ints[fx[i]], y.ints[fy[i]], x.type));
  return out;
}

Folded evalRange(const Args& a) {
  const Tensor& start = a.at(0);
  const Tensor& limit = a.at(1);
  const Tensor& delta = a.at(2);
  requireSameType(start, limit);
  requireSameType(start, delta);
  for (const Tensor* t : {&start, &limit, &delta})
    if (t->size() != 1 || t->type == TensorProto::BOOL)
      throw Error("start, limit and delta must be numeric scalars");
  Tensor out = emptyLike(start, {0});
  if (!start.real()) {
    const int64_t s = start.ints[0], d = delta.ints[0];
    int64_t distance = 0;
    if (d == 0) throw Error("delta is zero");
    if (__builtin_sub_overflow(limit.ints[0], s, &distance)) throw Error("limit - start overflows");
    // ceil(distance / d) elements when distance and d have the same sign, none otherwise.
    int64_t n = 0;
    if (d > 0 && distance > 0) n = 1 + (distance - 1) / d;
    if (d < 0 && distance < 0)
      n = d == std::numeric_limits<int64_t>::min() ? 1 : 1 + (-(distance + 1)) / -d;
    out.shape = {n};
    elementCount(out.shape);
    // Every element lies between start and limit, so s + i * d does not overflow.
    for (int64_t i = 0; i < n; ++i) out.ints.push_back(s + i * d);
    return out;
  }
  const double s = start.reals[0], l = limit.reals[0], d = delta.reals[0];
  const double n = std::ceil((l - s) / d);
  if (!std::isfinite(n) || d == 0.0)
    throw Error("start, limit and delta must be finite, and delta non-zero");
  if (n > static_cast<double>(kMaxElements)) throw TooLarge{};
  out.shape = {n > 0 ? static_cast<int64_t>(n) : 0};
  for (int64_t i = 0; i < out.shape[0]; ++i)
    out.reals.push_back(roundTo(out.type, s + static_cast<double>(i) * d));
  return out;
}

Folded evalEqual(const Args& a) {
  const Tensor& x = a.at(0);
  const Tensor& y = a.at(1);
  requireSameType(x, y);
  Tensor out;
  out.type = TensorProto::BOOL;
  out.shape = broadcastShape({&x, &y});
  const std::vector<size_t> fx = broadcastFrom(x.shape, out.shape);
  const std::vector<size_t> fy = broadcastFrom(y.shape, out.shape);
  for (size_t i = 0; i < fx.size(); ++i)
    out.ints.push_back(x.real() ? x.reals[fx[i]] == y.reals[fy[i]]
                                : x.ints[fx[i]] == y.ints[fy[i]]);
  return out;
}

Folded evalWhere(const Args& a) {
  const Tensor& cond = a.at(0);
  const Tensor& x = a.at(1);
  const Tensor& y = a.at(2);
  if (cond.type != TensorProto::BOOL)
    throw Error("the condition must be bool, not " + typeName(cond.type));
  requireSameType(x, y);
  Tensor out = emptyLike(x, broadcastShape({&cond, &x, &y}));
  const std::vector<size_t> fc = broadcastFrom(cond.shape, out.shape);
  const std::vector<size_t> fx = broadcastFrom(x.shape, out.shape);
  const std::vector<size_t> fy = broadcastFrom(y.shape, out.shape);
  for (size_t i = 0; i < fc.size(); ++i) {
    if (cond.ints[fc[i]])
      out.append(x, fx[i]);
    else
      out.append(y, fy[i]);
  }
  return out;
}

using Evaluator = Folded (*)(const Args&);

// The ops folded from their constant inputs. Constant and Shape, whose outputs do not
// depend on input data, are handled by Folder itself.
const std::map<std::string, Evaluator>& evaluators() {
  static const std::map<std::string, Evaluator> table = {
      {"Add", [](const Args& a) { return evalArithmetic(a, Arith::Add); }},
      {"Cast", evalCast},
      {"Concat", evalConcat},
      {"ConstantOfShape", evalConstantOfShape},
      {"Div", [](const Args& a) { return evalArithmetic(a, Arith::Div); }},
      {"Equal", evalEqual},
      {"Gather", evalGather},
      {"Identity", evalIdentity},
      {"Mul", [](const Args& a) { return evalArithmetic(a, Arith::Mul); }},
      {"Range", evalRange},
      {"Reshape", evalReshape},
      {"Slice", evalSlice},
      {"Squeeze", evalSqueeze},
      {"Sub", [](const Args& a) { return evalArithmetic(a, Arith::Sub); }},
      {"Transpose", evalTranspose},
      {"Unsqueeze", evalUnsqueeze},
      {"Where", evalWhere},
  };
  return table;
}

// ---------------------------------------------------------------------------------------
// The graph

class Folder {
 public:
  Folder(const onnx::GraphProto& graph, int64_t opset, const std::map<std::string, Shape>& valueShapes,
         const std::map<std::string, Shape>& inputShapes);

  // The node's output, when it folds.
  Folded evaluate(const onnx::NodeProto& node);
  void define(const std::string& name, Tensor value) { values_[name] = std::move(value); }
  const Tensor& value(const std::string& name) const { return values_.at(name); }

 private:
  const Tensor* constant(const std::string& name);
  std::optional<Shape> staticShape(const std::string& name);
  Folded evalShape(const onnx::NodeProto& node);

  const int64_t opset_;
  std::map<std::string, Tensor> values_;                    // decoded constants and folded outputs
  std::map<std::string, const TensorProto*> initializers_;  // not floating-point
  std::map<std::string, const onnx::NodeProto*> constantNodes_;  // decoded on first use
  std::map<std::string, Shape> shapes_;  // initializers, graph inputs, trusted value_info
};

Folder::Folder(const onnx::GraphProto& graph, int64_t opset, const std::map<std::string, Shape>& valueShapes,
               const std::map<std::string, Shape>& inputShapes)
    : opset_(opset) {
  for (const TensorProto& t : graph.initializer()) {
    shapes_[t.name()] = Shape(t.dims().begin(), t.dims().end());
    // Floating-point initializers are trainable parameters, not constants.
    if (!isReal(t.data_type())) initializers_[t.name()] = &t;
  }
  for (const auto& node : graph.node())
    if (node.op_type() == "Constant" && isDefaultDomain(node.domain()) && node.output_size() == 1)
      constantNodes_[node.output(0)] = &node;
  bool declaredShapesHold = true;
  for (const auto& in : graph.input()) {
    auto it = inputShapes.find(in.name());
    if (it == inputShapes.end()) continue;
    Shape declared;
    for (const auto& d : in.type().tensor_type().shape().dim())
      declared.push_back(d.has_dim_value() ? d.dim_value() : -1);
    declaredShapesHold = declaredShapesHold && declared == it->second;
    shapes_[in.name()] = it->second;
  }
  shapes_.insert(valueShapes.begin(), valueShapes.end());
  if (!declaredShapesHold) return;
  for (const auto& v : graph.value_info()) {
    if (!v.type().tensor_type().has_shape()) continue;
    Shape shape;
    for (const auto& d : v.type().tensor_type().shape().dim())
      if (d.has_dim_value()) shape.push_back(d.dim_value());
    if (static_cast<int>(shape.size()) == v.type().tensor_type().shape().dim_size())
      shapes_.emplace(v.name(), shape);
  }
}

const Tensor* Folder::constant(const std::string& name) {
  if (auto it = values_.find(name); it != values_.end()) return &it->second;
  std::optional<Tensor> value;
  if (auto it = constantNodes_.find(name); it != constantNodes_.end())
    value = constantNodeValue(*it->second);
  else if (auto init = initializers_.find(name); init != initializers_.end())
    value = decode(*init->second, "initializer '" + name + "'");
  if (!value) return nullptr;
  return &(values_[name] = std::move(*value));
}

std::optional<Shape> Folder::staticShape(const std::string& name) {
  if (auto it = shapes_.find(name); it != shapes_.end()) return it->second;
  if (const Tensor* t = constant(name)) return t->shape;
  return std::nullopt;
}

// Opset 15 adds start and end, which pick a range of the dimensions.
Folded Folder::evalShape(const onnx::NodeProto& node) {
  const std::optional<Shape> shape = staticShape(node.input(0));
  if (!shape) return std::nullopt;
  const auto rank = static_cast<int64_t>(shape->size());
  const auto clampToRank = [&](int64_t v) {
    return std::clamp<int64_t>(v < 0 ? v + rank : v, 0, rank);
  };
  const int64_t start = clampToRank(intAttr(node, "start", 0));
  const int64_t end = std::max(start, clampToRank(intAttr(node, "end", rank)));
  Tensor out;
  out.type = TensorProto::INT64;
  out.ints.assign(shape->begin() + start, shape->begin() + end);
  out.shape = {end - start};
  return out;
}

Folded Folder::evaluate(const onnx::NodeProto& node) {
  // Constant nodes are decoded when a foldable node reads them.
  if (!isFoldableOp(node) || node.op_type() == "Constant" || node.output_size() != 1)
    return std::nullopt;
  try {
    if (node.op_type() == "Shape") return evalShape(node);
    Args args{node, {}, opset_};
    for (const std::string& name : node.input()) {
      const Tensor* t = name.empty() ? nullptr : constant(name);
      if (!t && !name.empty()) return std::nullopt;
      args.in.push_back(t);
    }
    return evaluators().at(node.op_type())(args);
  } catch (const TooLarge&) {
    return std::nullopt;
  }
}

// A folded node's replacement: the same name and output, so that messages and the IR's
// origins still name it.
onnx::NodeProto constantNode(const onnx::NodeProto& folded, const Tensor& value) {
  onnx::NodeProto c;
  c.set_name(folded.name());
  c.set_op_type("Constant");
  c.add_output(folded.output(0));
  onnx::AttributeProto* a = c.add_attribute();
  a->set_name("value");
  a->set_type(onnx::AttributeProto::TENSOR);
  *a->mutable_t() = encode(value);
  return c;
}

}  // namespace

bool isFoldableOp(const onnx::NodeProto& node) {
  const std::string& op = node.op_type();
  return isDefaultDomain(node.domain()) &&
         (op == "Constant" || op == "Shape" || evaluators().count(op));
}

void foldConstants(onnx::GraphProto& graph, int64_t opset,
                   const std::map<std::string, std::vector<int64_t>>& inputShapes,
                   const std::map<std::string, std::vector<int64_t>>& valueShapes) {
  Folder folder(graph, opset, valueShapes, inputShapes);
  std::vector<int> folded;
  for (int i = 0; i < graph.node_size(); ++i) {
    const onnx::NodeProto& node = graph.node(i);
    try {
      Folded value = folder.evaluate(node);
      if (!value) continue;
      folder.define(node.output(0), std::move(*value));
      folded.push_back(i);
    } catch (const Error& e) {
      throw FoldError(i, e.what());
    }
  }
  for (int i : folded) {
    onnx::NodeProto& node = *graph.mutable_node(i);
    node = constantNode(node, folder.value(node.output(0)));
  }
}

std::vector<SliceAxis> resolveSlice(const std::vector<int64_t>& in, const std::vector<int64_t>& starts,
                                    const std::vector<int64_t>& ends, const std::optional<std::vector<int64_t>>& axesGiven,
                                    const std::vector<int64_t>& stepsGiven) {
  const auto rank = static_cast<int64_t>(in.size());
  Shape axes, steps = stepsGiven;
  if (axesGiven) axes = *axesGiven;
  else
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    throw Error("starts " + join(starts) + ", ends " + join(ends) + ", axes " + join(axes) + " and steps " +
                join(steps) + " must have the same length");
  normalizeAxes(axes, rank);
  std::vector<SliceAxis> result;
  for (size_t i = 0; i < axes.size(); ++i) {
    const int64_t d = normalizeAxis(axes[i], rank, "axis");
    const int64_t dim = in[static_cast<size_t>(d)], s = steps[i];
    if (s == 0) throw Error("steps " + join(steps) + " has a zero step");
    int64_t start = starts[i] < 0 ? starts[i] + dim : starts[i];
    int64_t end = ends[i] < 0 ? ends[i] + dim : ends[i];
    // ONNX clamps to [0, dim] going forward and to [-1, dim-1] (start: [0, dim-1]) backward.
    start = std::max<int64_t>(0, std::min(start, s > 0 ? dim : dim - 1));
    end = std::max<int64_t>(s > 0 ? 0 : -1, std::min(end, s > 0 ? dim : dim - 1));
    result.push_back({d, start, s, dim == 0 ? 0 : sliceCount(start, end, s, dim)});
  }
  return result;
}

std::vector<int64_t> resolveReshape(const std::vector<int64_t>& in,
                                    const std::vector<int64_t>& requested, bool allowZero) {
  std::vector<int64_t> shape = requested;
  int64_t inferred = -1, known = 1, total = 1;
  for (int64_t d : in) total *= d;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0 && !allowZero) {
      if (i >= in.size())
        throw Error("shape " + join(requested) + " copies a dimension the input lacks");
      shape[i] = in[i];
    }
    if (shape[i] == -1 && inferred < 0) {
      inferred = static_cast<int64_t>(i);
      continue;
    }
    if (shape[i] < 0) throw Error("shape " + join(requested) + " is not a valid Reshape target");
    if (__builtin_mul_overflow(known, shape[i], &known))
      throw Error("cannot reshape " + join(in) + " to " + join(requested));
  }
  if (inferred >= 0 && known != 0 && total % known == 0)
    shape[inferred] = total / known;
  else if (inferred >= 0 || known != total)
    throw Error("cannot reshape " + join(in) + " to " + join(requested));
  return shape;
}

}  // namespace lrc::compiler
