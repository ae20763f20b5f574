// The shape rule of every op kind, once: result types from operand types and attributes, with
// every check of operands and attributes. Shape inference (ir/ShapeInference) and the plan
// loader's step checks (runtime/PlanChecks) both call it, each with its own view of the
// attributes, so an IR op and a plan step are held to the same rule and the same messages.
// Plain integer vectors; depends on nothing of lrc's but the op table.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "ops/OpTable.h"
#include "ops/Resize.h"

namespace lrc::ops {

enum class DType { F32, I64 };
using Shape = std::vector<int64_t>;

// One operand as the rules see it: a row band is seen as the whole map it is part of (the
// rows it holds are the plan loader's and the row rules' business).
struct TensorDesc {
  DType dtype = DType::F32;
  Shape shape;
  std::string name;  // how messages name it: "%x" in the IR, "'x'" in a plan
  bool sameType(const TensorDesc& o) const { return dtype == o.dtype && shape == o.shape; }
};
std::string typeText(DType dtype, const Shape& shape);  // f32[2,3]
std::string shapeText(const Shape& shape);              // [2,3]

// Whether an operand of `shape`, broadcast to the 4-D map `map` (numpy rules, aligned on the
// right), is the same for every row: a per-channel tensor with H = W = 1 ([N,C,1,1], [C,1,1],
// [1]). The binary element-wise ops take such an operand whole on row bands (the SE gate of
// x * gate); the row rules and the plan loader read this one definition.
bool isRowBroadcast(const Shape& shape, const Shape& map);

// The attributes of one op as the rules read them. Each call throws (its own error type,
// naming the attribute) when the attribute is missing or of the wrong kind.
class AttrReader {
 public:
  virtual ~AttrReader() = default;
  virtual bool has(std::string_view key) const = 0;
  virtual int64_t integer(std::string_view key) const = 0;             // one integer
  virtual std::vector<int64_t> ints(std::string_view key) const = 0;   // a list of integers
  virtual double number(std::string_view key) const = 0;               // one number, an integer too
  virtual std::vector<double> numbers(std::string_view key) const = 0; // a list of numbers, integers too
};

// A rule broken: the message names what (without the op: callers prefix theirs).
class ShapeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Bounds that keep every size computation far from int64 overflow: each window parameter
// (kernel, stride, dilation, pad, group) and the elements of one tensor (whose bytes, at 8
// per element, then fit in int64 twice over). Sums of many sizes still need ops/Checked.h.
inline constexpr int64_t kMaxWindow = int64_t{1} << 30;
inline constexpr int64_t kMaxElements = int64_t{1} << 59;

// Why a tensor of shape `s` is not one lrc can hold (a dimension below 1, more than
// kMaxElements elements), as a phrase to follow its type: "dimension 0 is 0, expected at least 1".
// Empty when it is one. Every way a shape enters (model, IR text, plan, shape rule) asks.
std::string sizeProblem(const Shape& s);

// The two spatial axes of resize and resize_grad (ops/Resize.h) over an input map of shape `x`
// (4-D), from their attributes {coord, mode, nearest_mode, scales, size}, each checked
// (ShapeError naming the attribute). The shape rule, the row rule and the kernels' parameters
// read them here.
struct ResizeAxes {
  ResizeAxis h, w;
};
ResizeAxes resizeAxes(const AttrReader& attrs, const Shape& x);

// The result types of an op of `kind` (its operand count checked against the table too).
// pipeline_grad's results are its named operands' types.
std::vector<TensorDesc> inferShapes(OpKind kind, const std::vector<TensorDesc>& operands, const AttrReader& attrs);

}  // namespace lrc::ops
