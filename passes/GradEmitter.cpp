#include "passes/GradEmitter.h"

#include <sstream>

#include "passes/RowPipelines.h"

namespace lrc::passes {

namespace {

using ir::Attrs;
using ir::Error;
using ir::IntList;
using ir::Op;
using ir::OpKind;
using ir::TensorType;
using ir::Value;

// The attributes `keys` of `op`, copied.
Attrs pick(const Op& op, std::initializer_list<const char*> keys) {
  Attrs a;
  for (const char* k : keys) {
    auto it = op.attrs.find(k);
    if (it == op.attrs.end())
      throw Error(op.describe() + ": missing attribute '" + k + "'", op.loc);
    a[k] = it->second;
  }
  return a;
}

std::string formatNumber(double x) {
  std::ostringstream s;
  s << x;
  return s.str();
}

IntList shapeOf(const Value* v) { return {v->type.shape.begin(), v->type.shape.end()}; }

// Which rows of an operand a gradient covers on a strip: the strip's rows of dy (element-wise
// ops), the rows its window (or resize's sampling formula) reads (inputRows), or the whole
// value (not a map: weights, biases).
enum class Reach { SameRows, WindowRows, Whole };

// The gradient of one op, on whole maps or on one strip: what the two differ in.
class Grad {
 public:
  Grad(GradBuilder& b, const Op& op, Value* dy, const GradStrip* strip) : b_(b), op_(op), dy_(dy), strip_(strip) {}

  void emit() {
    switch (op_.kind) {
      case OpKind::Conv2d: return conv(OpKind::Conv2dGradInput, OpKind::Conv2dGradWeight);
      case OpKind::ConvTranspose2d: return conv(OpKind::ConvTranspose2dGradInput, OpKind::ConvTranspose2dGradWeight);
      case OpKind::Relu:
        if (needs(0)) grad(OpKind::ReluGrad, {dy_, result()}, {}, 0, Reach::SameRows);
        return;
      case OpKind::Sigmoid:
        if (needs(0)) grad(OpKind::SigmoidGrad, {dy_, result()}, {}, 0, Reach::SameRows);
        return;
      case OpKind::HardSigmoid:
        if (needs(0)) grad(OpKind::HardSigmoidGrad, {dy_, result()}, pick(op_, {"alpha", "beta"}), 0, Reach::SameRows);
        return;
      case OpKind::HardSwish:  // from the input: x * hardsigmoid(x) is not one-to-one
        if (needs(0)) grad(OpKind::HardSwishGrad, {dy_, operand(0)}, {}, 0, Reach::SameRows);
        return;
      case OpKind::Clip:  // torch's hardtanh_backward: nothing passes at the bounds
        if (needs(0)) grad(OpKind::ClipGrad, {dy_, result()}, pick(op_, {"min", "max"}), 0, Reach::SameRows);
        return;
      case OpKind::Erf:
        if (needs(0)) grad(OpKind::ErfGrad, {dy_, operand(0)}, {}, 0, Reach::SameRows);
        return;
      case OpKind::Sqrt:
        if (needs(0)) grad(OpKind::SqrtGrad, {dy_, result()}, {}, 0, Reach::SameRows);
        return;
      case OpKind::Pow:  // from the input: an even power is not one-to-one
        if (needs(0)) grad(OpKind::PowGrad, {dy_, operand(0)}, pick(op_, {"exponent"}), 0, Reach::SameRows);
        return;
      case OpKind::MaxPool:
        if (needs(0))
          grad(OpKind::MaxPoolGrad, {dy_, operand(0)}, pick(op_, {"ceil_mode", "dilation", "kernel", "pad", "stride"}), 0,
               Reach::WindowRows);
        return;
      case OpKind::AveragePool:
        if (needs(0)) {
          Attrs a = pick(op_, {"ceil_mode", "count_include_pad", "kernel", "pad", "stride"});
          a["input_shape"] = shapeOf(op_.operands[0]);
          grad(OpKind::AveragePoolGrad, {dy_}, std::move(a), 0, Reach::WindowRows);
        }
        return;
      case OpKind::Resize:  // the adjoint: dy's rows scattered back onto the input rows they read
        if (needs(0)) {
          Attrs a = pick(op_, {"coord", "mode", "nearest_mode", "scales", "size"});
          a["input_shape"] = shapeOf(op_.operands[0]);
          grad(OpKind::ResizeGrad, {dy_}, std::move(a), 0, Reach::WindowRows);
        }
        return;
      case OpKind::Pad: return pad();
      case OpKind::BatchNorm: return batchNorm();
      case OpKind::LayerNorm: return layerNorm();
      case OpKind::BatchNormStats: return batchNormStats();
      case OpKind::BatchNormApply: return batchNormApply();
      case OpKind::Dropout:
        if (op_.getInt("training") != 0) {
          if (needs(0)) grad(OpKind::DropoutGrad, {dy_}, pick(op_, {"ratio", "seed", "training"}), 0, Reach::SameRows);
          return;
        }
        [[fallthrough]];  // inference dropout is the identity (canonicalize forwards it)
      case OpKind::Identity: return passThrough();
      case OpKind::Concat: return concat();
      case OpKind::Slice:
        if (needs(0)) {
          Attrs a = pick(op_, {"axis", "start", "end"});
          a["input_shape"] = shapeOf(op_.operands[0]);
          grad(OpKind::SliceGrad, {dy_}, std::move(a), 0, Reach::SameRows);
        }
        return;
      case OpKind::ChannelShuffle: return channelShuffle();
      case OpKind::Transpose:
        wholeMapsOnly();
        if (needs(0)) {
          const IntList perm = op_.getInts("perm");
          IntList inverse(perm.size());
          for (size_t d = 0; d < perm.size(); ++d) inverse[static_cast<size_t>(perm[d])] = static_cast<int64_t>(d);
          grad(OpKind::Transpose, {dy_}, {{"perm", inverse}}, 0, Reach::Whole);
        }
        return;
      case OpKind::Add:
        if (!strip_ || (isRowIndexed(op_, 0) && isRowIndexed(op_, 1))) return passThrough();
        return binary(OpKind::AddGrad);
      case OpKind::Sub: return binary(OpKind::SubGrad);
      case OpKind::Mul: return binary(OpKind::MulGrad);
      case OpKind::Div: return binary(OpKind::DivGrad);
      case OpKind::GlobalAvgPool:
        wholeMapsOnly();
        if (needs(0)) grad(OpKind::GlobalAvgPoolGrad, {dy_}, {{"input_shape", shapeOf(op_.operands[0])}}, 0, Reach::Whole);
        return;
      case OpKind::ReduceMean:
        wholeMapsOnly();
        if (needs(0)) {
          Attrs a = {{"axes", op_.getInts("axes")}, {"input_shape", shapeOf(op_.operands[0])}};
          if (op_.has("sum")) a["sum"] = op_.attrs.at("sum");  // ReduceSum: dy broadcast, not divided
          grad(OpKind::ReduceMeanGrad, {dy_}, std::move(a), 0, Reach::Whole);
        }
        return;
      case OpKind::Flatten:
      case OpKind::Reshape:
        wholeMapsOnly();
        if (needs(0)) grad(OpKind::Reshape, {dy_}, {{"shape", shapeOf(op_.operands[0])}}, 0, Reach::Whole);
        return;
      case OpKind::Gemm:
        wholeMapsOnly();
        return gemm(op_.getFloat("alpha"), op_.getInt("transA") != 0, op_.getInt("transB") != 0);
      case OpKind::MatMul: wholeMapsOnly(); return gemm(1.0, false, false);
      case OpKind::SoftmaxXent:
        // The loss seeds the backward (dy = 1, implied): only as the module's loss.
        if (dy_) return noGradient();
        wholeMapsOnly();
        if (needs(0)) grad(OpKind::SoftmaxXentGrad, {op_.operands[0], op_.operands[1]}, {}, 0, Reach::Whole);
        return;
      case OpKind::PixelXent:
        // On a strip (the loss ending a row pipeline): the gradient of the strip's logits band,
        // the labels whole, scaled by the global count (the kernel counts every label).
        if (dy_) return noGradient();
        if (needs(0))
          grad(OpKind::PixelXentGrad, {operand(0), op_.operands[1]}, pick(op_, {"ignore_index"}), 0,
               strip_ ? Reach::SameRows : Reach::Whole);
        return;
      // No gradient: softmax (only the fused loss trains), and the training and row-plan ops,
      // which are never differentiated again.
      case OpKind::Softmax:
      case OpKind::SoftmaxXentGrad:
      case OpKind::PixelXentGrad:
      case OpKind::Conv2dGradInput:
      case OpKind::Conv2dGradWeight:
      case OpKind::ConvTranspose2dGradInput:
      case OpKind::ConvTranspose2dGradWeight:
      case OpKind::ChannelSum:
      case OpKind::ReluGrad:
      case OpKind::SigmoidGrad:
      case OpKind::HardSigmoidGrad:
      case OpKind::HardSwishGrad:
      case OpKind::ClipGrad:
      case OpKind::ErfGrad:
      case OpKind::SqrtGrad:
      case OpKind::PowGrad:
      case OpKind::MaxPoolGrad:
      case OpKind::AveragePoolGrad:
      case OpKind::ResizeGrad:
      case OpKind::GlobalAvgPoolGrad:
      case OpKind::ReduceMeanGrad:
      case OpKind::AddGrad:
      case OpKind::SubGrad:
      case OpKind::MulGrad:
      case OpKind::DivGrad:
      case OpKind::BatchNormGrad:
      case OpKind::LayerNormGrad:
      case OpKind::BatchNormApplyGrad:
      case OpKind::BatchNormStatsGrad:
      case OpKind::DropoutGrad:
      case OpKind::SumTo:
      case OpKind::SliceGrad:
      case OpKind::SgdUpdate:
      case OpKind::AdamwUpdate:
      case OpKind::SgdMomentumScale:
      case OpKind::SgdApply:
      case OpKind::AllreduceStart:
      case OpKind::AllreduceWait:
      case OpKind::RowsCopy:
      case OpKind::RowsSum:
      case OpKind::PipelineGrad: return noGradient();
    }
    noGradient();  // not an OpKind
  }

 private:
  GradBuilder& b_;
  const Op& op_;
  Value* dy_;
  const GradStrip* strip_;

  bool needs(size_t i) const { return b_.needsGrad(op_.operands[i]); }
  // The values the gradient ops read: on a strip, the strip's bands.
  Value* operand(size_t i) const { return strip_ ? strip_->operands[i] : op_.operands[i]; }
  Value* result() const { return strip_ ? strip_->result : op_.result(); }

  std::string nameFor(const Value* x) const {
    return strip_ ? cat("d", x->name, ".", std::to_string(strip_->index)) : "d" + x->name;
  }

  [[noreturn]] void noGradient() const {
    if (strip_) throw Error(cat("lower-row-pipelines: no strip gradient for ", op_.describe()), op_.loc);
    throw Error("autodiff: cannot train through " + op_.describe() + ": it has no gradient rule", op_.loc);
  }
  void wholeMapsOnly() const {
    if (strip_) noGradient();
  }

  // The type of x's gradient of an element-wise op with parameter sums (batchnorm_apply,
  // layer_norm over the channels): on a strip the band of its rows, with `rows` and `band` in `a`.
  TensorType onStripRows(Attrs& a, const Value* x) const {
    if (!strip_) return x->type;
    a["rows"] = rowsAttr(strip_->rows);
    a["band"] = bandAttr(strip_->rows, x);
    return bandType(x, strip_->rows);
  }

  // Emits the gradient of operand `i` and reports it. On a strip the op gets `rows`, and the
  // gradient of a map is the band of the rows `reach` says.
  Value* grad(OpKind kind, std::vector<Value*> operands, Attrs attrs, size_t i, Reach reach) {
    const Value* x = op_.operands[i];
    TensorType type = x->type;
    if (strip_) {
      attrs["rows"] = rowsAttr(strip_->rows);
      if (reach != Reach::Whole) {
        const RowRange r = reach == Reach::WindowRows ? inputRows(op_, i, strip_->rows) : strip_->rows;
        attrs["band"] = bandAttr(r, x);
        type = bandType(x, r);
      }
    }
    Value* g = b_.emit(kind, std::move(operands), std::move(attrs), {{nameFor(x), std::move(type)}})->result();
    b_.contribute(op_, i, g);
    return g;
  }

  // Rows `rows` of the strip's dy as a band of the result (when dy holds more).
  Value* dyRows(const char* tag) {
    const Value* y = op_.result();
    const RowRange rows = strip_->rows;
    if (rowsOf(dy_) == rows) return dy_;
    return b_.emit(OpKind::RowsCopy, {dy_}, {{"band", bandAttr(rows, y)}},
                   {{cat("d", y->name, ".", tag, std::to_string(strip_->index)), bandType(y, rows)}})
        ->result();
  }

  // The gradient of a value broadcast to dy's shape: dy summed back to the value's shape.
  Value* sumTo(const Value* x) {
    if (dy_->type.shape == x->type.shape) return dy_;
    return b_.emit(OpKind::SumTo, {dy_}, {{"shape", shapeOf(x)}}, {{nameFor(x), x->type}})->result();
  }

  // Add, identity, inference dropout: the gradient passes through (broadcast operands get it
  // summed back; on a strip, dy's rows `rows` exactly).
  void passThrough() {
    Value* band = nullptr;
    for (size_t i = 0; i < op_.operands.size(); ++i) {
      if (!needs(i)) continue;
      if (!strip_) {
        b_.contribute(op_, i, sumTo(op_.operands[i]));
        continue;
      }
      if (!band) band = dyRows("pass");
      b_.contribute(op_, i, band);
    }
  }

  // Each operand's gradient is its slice of dy along the axis. On a strip: the slices of dy's
  // rows `rows` (slice computes its result band's rows: no `rows` attribute).
  void concat() {
    const int64_t axis = op_.getInt("axis");
    Value* dy = strip_ ? dyRows("cat") : dy_;
    int64_t start = 0;
    for (size_t i = 0; i < op_.operands.size(); ++i) {
      const Value* x = op_.operands[i];
      const int64_t end = start + x->type.shape.at(static_cast<size_t>(axis));
      if (needs(i)) sameRows(OpKind::Slice, dy, {{"axis", axis}, {"start", start}, {"end", end}}, i);
      start = end;
    }
  }

  // A channel shuffle with g groups of C channels moves channel i*(C/g) + j to j*g + i; the
  // inverse moves j*g + i back, the shuffle with C/g groups. On a strip: of dy's rows `rows`
  // (channel_shuffle computes its result band's rows: no `rows` attribute).
  void channelShuffle() {
    if (!needs(0)) return;
    const int64_t groups = op_.operands[0]->type.shape.at(1) / op_.getInt("groups");
    sameRows(OpKind::ChannelShuffle, strip_ ? dyRows("shuffle") : dy_, {{"groups", groups}}, 0);
  }

  // Operand i's gradient as a forward op of the channels (slice, channel_shuffle) on dy; on a
  // strip, the band of the strip's rows, which the op computes from its result band (no `rows`).
  void sameRows(OpKind kind, Value* dy, Attrs a, size_t i) {
    const Value* x = op_.operands[i];
    TensorType type = x->type;
    if (strip_) {
      a["band"] = bandAttr(strip_->rows, x);
      type = bandType(x, strip_->rows);
    }
    b_.contribute(op_, i, b_.emit(kind, {dy}, std::move(a), {{nameFor(x), std::move(type)}})->result());
  }

  // The binary family (runtime/kernels/Binary.h has the formulas): one gradient kernel per
  // operand, reading dy and both operands, its result summed over the axes the operand was
  // broadcast along. On a strip a map operand's gradient is the band of dy's rows; a per-channel
  // operand (the SE gate) gets the sum over those rows, which the caller adds over strips.
  void binary(OpKind gradKind) {
    for (size_t i = 0; i < 2; ++i)
      if (needs(i))
        grad(gradKind, {dy_, operand(0), operand(1)}, {{"operand", static_cast<int64_t>(i)}}, i,
             !strip_ || isRowIndexed(op_, i) ? Reach::SameRows : Reach::Whole);
  }

  // A convolution and a transposed convolution (whose gradients are its equivalent
  // convolution's forward, dx, and weight gradient with x and dy swapped; on a strip both read
  // only dy's `rows`, and dx's band is the input rows those reach).
  void conv(OpKind gradInput, OpKind gradWeight) {
    const Value* w = op_.operands[1];
    if (needs(0)) {
      Attrs a = pick(op_, {"dilation", "group", "pad", "stride"});
      if (gradInput == OpKind::Conv2dGradInput) a["input_shape"] = shapeOf(op_.operands[0]);
      grad(gradInput, {dy_, op_.operands[1]}, std::move(a), 0, Reach::WindowRows);
    }
    if (needs(1)) {
      Attrs a = pick(op_, {"dilation", "group", "pad", "stride"});
      a["kernel"] = IntList{w->type.shape.at(2), w->type.shape.at(3)};
      grad(gradWeight, {dy_, operand(0)}, std::move(a), 1, Reach::Whole);
    }
    if (op_.operands.size() == 3 && needs(2)) grad(OpKind::ChannelSum, {dy_}, {}, 2, Reach::Whole);
  }

  // The gradient of a constant pad is a crop: pad by the negated amounts. On a strip it
  // computes the input rows dy's rows map to (no `rows` attribute: pad computes its whole
  // result band), and nothing when they are all padding.
  void pad() {
    if (!needs(0)) return;
    const Value* x = op_.operands[0];
    IntList pads = op_.getInts("pads");
    for (int64_t& p : pads) p = -p;
    Attrs a = {{"pads", pads}, {"value", 0.0}};
    TensorType type = x->type;
    if (strip_) {
      const RowRange r = inputRows(op_, 0, strip_->rows);
      if (r.empty()) return;
      a["band"] = bandAttr(r, x);
      type = bandType(x, r);
    }
    b_.contribute(op_, 0, b_.emit(OpKind::Pad, {dy_}, std::move(a), {{nameFor(x), std::move(type)}})->result());
  }

  // One op gives all three gradients; the ones nobody needs stay unused. On a strip: frozen
  // BatchNorm, or per-strip statistics (then dy holds exactly the strip's rows).
  void batchNorm() {
    const Value* x = op_.operands[0];
    const Value* scale = op_.operands[1];
    const Value* bias = op_.operands[2];
    Value* dy = dy_;
    Attrs a = pick(op_, {"epsilon", "training"});
    TensorType xType = x->type;
    if (strip_) {
      if (isStripBatchNorm(op_)) dy = dyRows("bn");
      a["rows"] = rowsAttr(strip_->rows);
      a["band"] = bandAttr(strip_->rows, x);
      xType = bandType(x, strip_->rows);
    }
    Op* g = b_.emit(OpKind::BatchNormGrad, {dy, operand(0), op_.operands[1], op_.operands[3], op_.operands[4]}, std::move(a),
                    {{nameFor(x), xType}, {nameFor(scale), scale->type}, {nameFor(bias), bias->type}});
    for (size_t i = 0; i < 3; ++i)
      if (needs(i)) b_.contribute(op_, i, g->results[i]);
  }

  // layer_norm (x, scale[, bias]): one op gives the three gradients (dbias also without a bias:
  // nothing reads it then). On a strip (over the channels only: row-local) it propagates the
  // strip's rows of dy, and dscale and dbias cover those rows (added over strips like weight
  // gradients).
  void layerNorm() {
    bool any = false;
    for (size_t i = 0; i < op_.operands.size(); ++i) any |= needs(i);
    if (!any) return;
    const Value* x = op_.operands[0];
    const Value* scale = op_.operands[1];
    const std::string bias = op_.operands.size() == 3 ? nameFor(op_.operands[2]) : nameFor(scale) + ".bias";
    Attrs a = pick(op_, {"axis", "end", "epsilon"});
    const TensorType xType = onStripRows(a, x);
    Op* g = b_.emit(OpKind::LayerNormGrad, {dy_, operand(0), op_.operands[1]}, std::move(a),
                    {{nameFor(x), xType}, {nameFor(scale), scale->type}, {bias, scale->type}});
    for (size_t i = 0; i < op_.operands.size(); ++i)
      if (needs(i)) b_.contribute(op_, i, g->results[i]);
  }

  // batchnorm_apply (x, scale, bias, mean, invstd): one op gives the five gradients, in operand
  // order; on a strip it propagates the strip's rows of dy and its sums cover those rows only
  // (the caller adds them over strips, like weight gradients). With a fused ReLU (relu=1,
  // passes/FuseBatchNormRelu.cpp) the gradient op masks dy by it, recomputing the mask from x and
  // the bias (operand 5): it reads no map the unfused relu_grad and batchnorm_apply_grad did not.
  void batchNormApply() {
    bool any = false;
    for (size_t i = 0; i < 5; ++i) any |= needs(i);
    if (!any) return;
    const Value* x = op_.operands[0];
    Attrs a;
    const TensorType xType = onStripRows(a, x);
    std::vector<std::pair<std::string, TensorType>> results = {{nameFor(x), xType}};
    for (size_t i = 1; i < 5; ++i) results.emplace_back(nameFor(op_.operands[i]), op_.operands[i]->type);
    std::vector<Value*> operands = {dy_, operand(0), op_.operands[1], op_.operands[3], op_.operands[4]};
    if (op_.has("relu") && op_.getInt("relu") != 0) {
      operands.push_back(op_.operands[2]);
      a["relu"] = int64_t{1};
    }
    Op* g = b_.emit(OpKind::BatchNormApplyGrad, std::move(operands), std::move(a), std::move(results));
    for (size_t i = 0; i < 5; ++i)
      if (needs(i)) b_.contribute(op_, i, g->results[i]);
  }

  // batchnorm_stats (x, running mean, running var) -> (mean, invstd): x's gradient through the
  // statistics, the per-channel correction of SPEC.md section 5, with x's gradient so far added in.
  // On a strip (a recomputed reduction point's second backward pass, lower-row-pipelines): the
  // term on the strip's rows of x (a band of the result, no `rows`), dmean and dinvstd complete.
  void batchNormStats() {
    if (!needs(0)) return;
    Value* dmean = b_.resultGrad(op_.results[0]);
    Value* dinvstd = b_.resultGrad(op_.results[1]);
    if (!dmean && !dinvstd) return;
    if (!dmean || !dinvstd)
      throw Error("autodiff: " + op_.describe() + ": only one of its results has a gradient (internal error)", op_.loc);
    std::vector<Value*> operands = {operand(0), op_.results[0], op_.results[1], dmean, dinvstd};
    if (Value* acc = b_.takeGrad(op_.operands[0])) operands.push_back(acc);
    if (!strip_) {
      grad(OpKind::BatchNormStatsGrad, std::move(operands), {}, 0, Reach::Whole);
      return;
    }
    const Value* x = op_.operands[0];
    Value* g = b_.emit(OpKind::BatchNormStatsGrad, std::move(operands), {{"band", bandAttr(strip_->rows, x)}},
                       {{nameFor(x), bandType(x, strip_->rows)}})->result();
    b_.contribute(op_, 0, g);
  }

  // Y = alpha * op(A) op(B) + beta * C, op(X) = X or X^T. With A' = op(A), B' = op(B):
  // dA' = alpha dY B'^T and dB' = alpha A'^T dY; transposing back where A or B was
  // transposed gives
  //   dA = gemm(dY, B) {transA=0, transB=!tB}   if !tA     (alpha dY B'^T)
  //   dA = gemm(B, dY) {transA=tB, transB=1}    if tA      (alpha B' dY^T)
  //   dB = gemm(A, dY) {transA=!tA, transB=0}   if !tB     (alpha A'^T dY)
  //   dB = gemm(dY, A) {transA=1, transB=tA}    if tB      (alpha dY^T A')
  // (each checked against finite differences for all four combinations).
  void gemm(double alpha, bool tA, bool tB) {
    Value* a = op_.operands[0];
    Value* b = op_.operands[1];
    auto product = [&](Value* lhs, Value* rhs, bool transL, bool transR, size_t gradOf) {
      Attrs attrs = {{"alpha", alpha}, {"beta", 0.0}, {"transA", int64_t{transL}}, {"transB", int64_t{transR}}};
      grad(OpKind::Gemm, {lhs, rhs}, std::move(attrs), gradOf, Reach::Whole);
    };
    if (needs(0)) tA ? product(b, dy_, tB, true, 0) : product(dy_, b, false, !tB, 0);
    if (needs(1)) tB ? product(dy_, a, true, tA, 1) : product(a, dy_, !tA, false, 1);
    if (op_.operands.size() < 3 || !needs(2)) return;
    const double beta = op_.getFloat("beta");
    if (beta == 0.0) return;  // C does not reach the output
    if (beta != 1.0)
      throw Error("autodiff: " + op_.describe() + ": beta=" + formatNumber(beta) +
                      " with a trainable C is not supported in training (only 0 or 1)",
                  op_.loc);
    b_.contribute(op_, 2, sumTo(op_.operands[2]));
  }
};

}  // namespace

void emitGrad(GradBuilder& b, const Op& op, Value* dy, const GradStrip* strip) { Grad(b, op, dy, strip).emit(); }

}  // namespace lrc::passes
