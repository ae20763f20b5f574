// IR text: the printer and the parser are exact inverses, the format is pinned, and every
// malformed text gets an ir::Error at the offending token, never a crash.
#include <gtest/gtest.h>

#include <algorithm>

#include <cmath>
#include <limits>
#include <random>
#include <set>

#include "ir/IR.h"
#include "ir/Parser.h"
#include "ir/Printer.h"

namespace lrc::ir {
namespace {

using namespace std::string_literals;

TensorType f32(std::vector<int64_t> shape) { return {DType::F32, std::move(shape)}; }
TensorType i64(std::vector<int64_t> shape) { return {DType::I64, std::move(shape)}; }

std::string reprinted(const std::string& text) { return printModule(*parseModule(text)); }

// A module using every feature of the format and every op kind. Types are not consistent
// (the parser does not verify them), which keeps the module small.
std::unique_ptr<Module> buildKitchenSink() {
  auto m = std::make_unique<Module>();
  m->name = "kitchen sink/v1";
  Value* x = m->addInput("x", f32({2, 3, 8, 8}));
  m->addInput("data/labels", i64({2}));
  Value* w = m->addGlobal(ValueKind::Param, "conv1.weight", f32({4, 3, 3, 3}));
  Value* b = m->addGlobal(ValueKind::Param, "conv1.bias", f32({4}));
  Value* scale = m->addGlobal(ValueKind::Param, "bn.scale", f32({4}));
  Value* shift = m->addGlobal(ValueKind::Param, "bn.shift", f32({4}));
  Value* mean = m->addGlobal(ValueKind::State, "bn.running_mean", f32({4}));
  Value* var = m->addGlobal(ValueKind::State, "bn.running_var", f32({4}));
  var->floats = {1, 1, 1, 1};  // state data is never printed
  Value* shape = m->addGlobal(ValueKind::Const, "shape", i64({2}));
  shape->ints = {2, -1};
  Value* half = m->addGlobal(ValueKind::Const, "half", f32({}));
  half->floats = {0.5f};
  Value* odd = m->addGlobal(ValueKind::Const, "odd floats", f32({7}));
  odd->floats = {1e-05f, -0.0f, std::numeric_limits<float>::max(), -1.0f,
                 std::numeric_limits<float>::infinity(), std::numeric_limits<float>::denorm_min(),
                 std::numeric_limits<float>::quiet_NaN()};
  m->addGlobal(ValueKind::Const, "nodata", f32({3}));
  Value* fcw = m->addGlobal(ValueKind::Param, "fc/weight \"q\" \\x\nline", f32({10, 4}));
  Value* w2 = m->addGlobal(ValueKind::Param, "1", f32({10, 10}));

  Op* conv = m->addOp(OpKind::Conv2d, {x, w, b},
                      {{"dilation", IntList{1, 1}}, {"group", int64_t{1}},
                       {"pad", IntList{1, 1, 1, 1}}, {"stride", IntList{1, 1}}},
                      {{"/conv1/Conv_output_0", f32({2, 4, 8, 8})}});
  conv->origin = "/conv1/Conv \"main\"";
  Op* bn = m->addOp(OpKind::BatchNorm, {conv->result(), scale, shift, mean, var},
                    {{"epsilon", 1e-05}, {"momentum", 0.9}, {"training", int64_t{1}}},
                    {{"bn", f32({2, 4, 8, 8})}});
  Op* relu = m->addOp(OpKind::Relu, {bn->result()}, {}, {{"relu", f32({2, 4, 8, 8})}});
  Value* lnScale = m->addGlobal(ValueKind::Param, "ln_scale", f32({8}));
  Op* ln = m->addOp(OpKind::LayerNorm, {bn->result(), lnScale}, {{"axis", int64_t{3}}, {"end", int64_t{4}}, {"epsilon", 1e-06}},
                    {{"ln", f32({2, 4, 8, 8})}});
  Op* sigmoid = m->addOp(OpKind::Sigmoid, {bn->result()}, {}, {{"sigmoid", f32({2, 4, 8, 8})}});
  const Attrs hardSigmoidAttrs = {{"alpha", 1.0 / 6}, {"beta", 0.5}};
  Op* hardSigmoid = m->addOp(OpKind::HardSigmoid, {bn->result()}, hardSigmoidAttrs, {{"hsig", f32({2, 4, 8, 8})}});
  Op* hardSwish = m->addOp(OpKind::HardSwish, {bn->result()}, {}, {{"hswish", f32({2, 4, 8, 8})}});
  // An absent bound is infinite: the text reads it back.
  const Attrs clipAttrs = {{"max", 6.0}, {"min", -INFINITY}};
  Op* clip = m->addOp(OpKind::Clip, {bn->result()}, clipAttrs, {{"relu6", f32({2, 4, 8, 8})}});
  Op* erf = m->addOp(OpKind::Erf, {bn->result()}, {}, {{"erf", f32({2, 4, 8, 8})}});
  Op* sqrt = m->addOp(OpKind::Sqrt, {relu->result()}, {}, {{"sqrt", f32({2, 4, 8, 8})}});
  const Attrs powAttrs = {{"exponent", 2.0}};
  Op* pow = m->addOp(OpKind::Pow, {bn->result()}, powAttrs, {{"square", f32({2, 4, 8, 8})}});
  // The split training BatchNorm: a two-result op and a five-result gradient.
  Op* stats = m->addOp(OpKind::BatchNormStats, {conv->result(), mean, var},
                       {{"epsilon", 1e-05}, {"momentum", 0.9}, {"sync", int64_t{1}}},
                       {{"bn.mean", f32({4})}, {"bn.invstd", f32({4})}});
  Op* apply = m->addOp(OpKind::BatchNormApply, {conv->result(), scale, shift, stats->results[0], stats->results[1]}, {},
                       {{"bn.apply", f32({2, 4, 8, 8})}});
  Op* applyGrad = m->addOp(OpKind::BatchNormApplyGrad,
                           {apply->result(), conv->result(), scale, stats->results[0], stats->results[1]}, {},
                           {{"dapply", f32({2, 4, 8, 8})}, {"dapply.scale", f32({4})}, {"dapply.shift", f32({4})},
                            {"dapply.mean", f32({4})}, {"dapply.invstd", f32({4})}});
  m->addOp(OpKind::BatchNormStatsGrad,
           {conv->result(), stats->results[0], stats->results[1], applyGrad->results[3], applyGrad->results[4],
            applyGrad->result()},
           {}, {{"dstats", f32({2, 4, 8, 8})}});
  // With the ReLU fused (fuse-batchnorm-relu): the attribute, and the gradient's sixth operand.
  Op* applyRelu = m->addOp(OpKind::BatchNormApply, {conv->result(), scale, shift, stats->results[0], stats->results[1]},
                           {{"relu", int64_t{1}}}, {{"bn.relu", f32({2, 4, 8, 8})}});
  m->addOp(OpKind::BatchNormApplyGrad,
           {applyRelu->result(), conv->result(), scale, stats->results[0], stats->results[1], shift},
           {{"relu", int64_t{1}}},
           {{"dbnrelu", f32({2, 4, 8, 8})}, {"dbnrelu.scale", f32({4})}, {"dbnrelu.shift", f32({4})},
            {"dbnrelu.mean", f32({4})}, {"dbnrelu.invstd", f32({4})}});
  Op* pad = m->addOp(OpKind::Pad, {relu->result()},
                     {{"pads", IntList{0, 0, 1, 1, 0, 0, 1, 1}}, {"value", 0.0}},
                     {{"pad", f32({2, 4, 10, 10})}});
  Op* maxpool = m->addOp(OpKind::MaxPool, {pad->result()},
                         {{"ceil_mode", int64_t{0}}, {"dilation", IntList{1, 1}},
                          {"kernel", IntList{2, 2}}, {"pad", IntList{0, 0, 0, 0}},
                          {"stride", IntList{2, 2}}},
                         {{"mp", f32({2, 4, 5, 5})}});
  Op* avgpool = m->addOp(OpKind::AveragePool, {pad->result()},
                         {{"ceil_mode", int64_t{1}}, {"count_include_pad", int64_t{0}},
                          {"kernel", IntList{3, 3}}, {"pad", IntList{1, 1, 1, 1}},
                          {"stride", IntList{2, 2}}},
                         {{"ap", f32({2, 4, 5, 5})}});
  Op* up = m->addOp(OpKind::Resize, {maxpool->result()},
                    {{"coord", int64_t{0}}, {"mode", int64_t{1}}, {"nearest_mode", int64_t{0}},
                     {"scales", FloatList{2.0, 2.5}}, {"size", IntList{10, 12}}},
                    {{"up", f32({2, 4, 10, 12})}});
  Op* add = m->addOp(OpKind::Add, {maxpool->result(), avgpool->result()}, {},
                     {{"sum", f32({2, 4, 5, 5})}});
  Op* cat = m->addOp(OpKind::Concat, {maxpool->result(), avgpool->result()}, {{"axis", int64_t{1}}},
                     {{"cat", f32({2, 8, 5, 5})}});
  m->addOp(OpKind::Slice, {cat->result()}, {{"axis", int64_t{1}}, {"end", int64_t{6}}, {"start", int64_t{2}}},
           {{"cat.part", f32({2, 4, 5, 5})}});
  Op* shuffled = m->addOp(OpKind::ChannelShuffle, {cat->result()}, {{"groups", int64_t{2}}}, {{"shuffled", f32({2, 8, 5, 5})}});
  m->addOp(OpKind::Transpose, {shuffled->result()}, {{"perm", IntList{0, 2, 3, 1}}}, {{"nhwc", f32({2, 5, 5, 8})}});
  // The rest of the binary family, with a squeeze-and-excitation gate (mean over H, W).
  Op* se = m->addOp(OpKind::ReduceMean, {add->result()}, {{"axes", IntList{2, 3}}, {"keepdims", int64_t{1}}},
                    {{"se.mean", f32({2, 4, 1, 1})}});
  Op* gated = m->addOp(OpKind::Mul, {add->result(), se->result()}, {}, {{"se.gated", f32({2, 4, 5, 5})}});
  Op* centered = m->addOp(OpKind::Sub, {gated->result(), half}, {}, {{"centered", f32({2, 4, 5, 5})}});
  Op* halved = m->addOp(OpKind::Div, {centered->result(), half}, {}, {{"halved", f32({2, 4, 5, 5})}});
  Op* gap = m->addOp(OpKind::GlobalAvgPool, {halved->result()}, {}, {{"gap", f32({2, 4, 1, 1})}});
  Op* flat = m->addOp(OpKind::Flatten, {gap->result()}, {{"axis", int64_t{1}}},
                      {{"flat", f32({2, 4})}});
  Op* reshape = m->addOp(OpKind::Reshape, {flat->result()}, {{"shape", IntList{2, -1}}},
                         {{"/fc/Reshape:0", f32({2, 4})}});
  Op* gemm = m->addOp(OpKind::Gemm, {reshape->result(), fcw},
                      {{"alpha", 1.0}, {"beta", 0.1}, {"transA", int64_t{0}},
                       {"transB", int64_t{1}}},
                      {{"fc", f32({2, 10})}});
  Op* matmul = m->addOp(OpKind::MatMul, {gemm->result(), w2}, {}, {{"mm", f32({2, 10})}});
  Op* drop = m->addOp(OpKind::Dropout, {matmul->result()},
                      {{"ratio", 0.5}, {"seed", int64_t{-3}}, {"training", int64_t{0}}},
                      {{"drop", f32({2, 10})}});
  Op* pair = m->addOp(OpKind::Identity, {drop->result()}, {},
                      {{"a", f32({2, 10})}, {"b", i64({2})}});
  Op* softmax = m->addOp(OpKind::Softmax, {pair->results[0]}, {{"axis", int64_t{-1}}},
                         {{"probs", f32({2, 10})}});
  Value* wt = m->addGlobal(ValueKind::Param, "upt.weight", f32({4, 3, 2, 2}));
  Op* upT = m->addOp(OpKind::ConvTranspose2d, {conv->result(), wt},
                    {{"dilation", IntList{1, 1}}, {"group", int64_t{1}}, {"output_padding", IntList{0, 0}},
                     {"pad", IntList{0, 0, 0, 0}}, {"stride", IntList{2, 2}}},
                    {{"upt", f32({2, 3, 16, 16})}});
  // Training ops (the text form does not care that these types are not consistent);
  // sgd_update and adamw_update have no results and print without `=` and types.
  Value* labels = m->addInput("labels", i64({2}));
  Op* xent = m->addOp(OpKind::SoftmaxXent, {softmax->result(), labels}, {}, {{"loss", f32({})}});
  Op* dlogits = m->addOp(OpKind::SoftmaxXentGrad, {softmax->result(), labels}, {},
                         {{"dlogits", f32({2, 10})}});
  Value* pixelLabels = m->addInput("pixel_labels", i64({2, 8, 8}));
  m->addOp(OpKind::PixelXent, {conv->result(), pixelLabels}, {{"ignore_index", int64_t{255}}}, {{"ploss", f32({})}});
  m->addOp(OpKind::PixelXentGrad, {conv->result(), pixelLabels}, {{"ignore_index", int64_t{-100}}},
           {{"dplogits", f32({2, 4, 8, 8})}});
  Attrs convAttrs = conv->attrs;
  convAttrs["input_shape"] = IntList{2, 3, 8, 8};
  Op* dx = m->addOp(OpKind::Conv2dGradInput, {conv->result(), w}, convAttrs, {{"dx", f32({2, 3, 8, 8})}});
  convAttrs["kernel"] = IntList{3, 3};
  Op* dw = m->addOp(OpKind::Conv2dGradWeight, {conv->result(), x}, convAttrs, {{"dw", f32({4, 3, 3, 3})}});
  m->addOp(OpKind::ChannelSum, {conv->result()}, {}, {{"db", f32({4})}});
  Attrs upTAttrs = {{"dilation", IntList{1, 1}}, {"group", int64_t{1}}, {"pad", IntList{0, 0, 0, 0}},
                    {"stride", IntList{2, 2}}};
  m->addOp(OpKind::ConvTranspose2dGradInput, {upT->result(), wt}, upTAttrs, {{"dupt.x", f32({2, 4, 8, 8})}});
  upTAttrs["kernel"] = IntList{2, 2};
  m->addOp(OpKind::ConvTranspose2dGradWeight, {upT->result(), conv->result()}, upTAttrs, {{"dupt.w", f32({4, 3, 2, 2})}});
  m->addOp(OpKind::ReluGrad, {relu->result(), relu->result()}, {}, {{"drelu", f32({2, 4, 8, 8})}});
  m->addOp(OpKind::SigmoidGrad, {sigmoid->result(), sigmoid->result()}, {}, {{"dsigmoid", f32({2, 4, 8, 8})}});
  m->addOp(OpKind::HardSigmoidGrad, {hardSigmoid->result(), hardSigmoid->result()}, hardSigmoidAttrs,
           {{"dhsig", f32({2, 4, 8, 8})}});
  m->addOp(OpKind::HardSwishGrad, {hardSwish->result(), bn->result()}, {}, {{"dhswish", f32({2, 4, 8, 8})}});
  m->addOp(OpKind::ClipGrad, {clip->result(), clip->result()}, clipAttrs, {{"drelu6", f32({2, 4, 8, 8})}});
  m->addOp(OpKind::ErfGrad, {erf->result(), bn->result()}, {}, {{"derf", f32({2, 4, 8, 8})}});
  m->addOp(OpKind::SqrtGrad, {sqrt->result(), sqrt->result()}, {}, {{"dsqrt", f32({2, 4, 8, 8})}});
  m->addOp(OpKind::PowGrad, {pow->result(), bn->result()}, powAttrs, {{"dsquare", f32({2, 4, 8, 8})}});
  m->addOp(OpKind::MaxPoolGrad, {maxpool->result(), pad->result()}, maxpool->attrs, {{"dmax", f32({2, 4, 9, 9})}});
  m->addOp(OpKind::AveragePoolGrad, {avgpool->result()}, avgpool->attrs, {{"davg", f32({2, 4, 9, 9})}});
  Attrs upAttrs = up->attrs;
  upAttrs["input_shape"] = IntList{2, 4, 5, 5};
  m->addOp(OpKind::ResizeGrad, {up->result()}, upAttrs, {{"dup", f32({2, 4, 5, 5})}});
  m->addOp(OpKind::GlobalAvgPoolGrad, {gap->result()}, {{"input_shape", IntList{2, 4, 4, 4}}},
           {{"dgap", f32({2, 4, 4, 4})}});
  m->addOp(OpKind::BatchNormGrad, {bn->result(), conv->result(), scale, mean, var},
           {{"epsilon", 1e-5}, {"training", int64_t{1}}},
           {{"dbn", f32({2, 4, 8, 8})}, {"dscale", f32({4})}, {"dshift", f32({4})}});
  m->addOp(OpKind::LayerNormGrad, {ln->result(), bn->result(), lnScale}, ln->attrs,
           {{"dln", f32({2, 4, 8, 8})}, {"dln_scale", f32({8})}, {"dln_bias", f32({8})}});
  m->addOp(OpKind::DropoutGrad, {dlogits->result()}, drop->attrs, {{"ddrop", f32({2, 10})}});
  m->addOp(OpKind::SumTo, {dlogits->result()}, {{"shape", IntList{10}}}, {{"dbias", f32({10})}});
  m->addOp(OpKind::SliceGrad, {add->result()},
           {{"axis", int64_t{1}}, {"end", int64_t{6}}, {"input_shape", IntList{2, 8, 5, 5}}, {"start", int64_t{2}}},
           {{"dcat", f32({2, 8, 5, 5})}});
  m->addOp(OpKind::ReduceMeanGrad, {se->result()}, {{"axes", IntList{2, 3}}, {"input_shape", IntList{2, 4, 5, 5}}},
           {{"dse", f32({2, 4, 5, 5})}});
  int64_t operand = 0;
  for (OpKind grad : {OpKind::AddGrad, OpKind::SubGrad, OpKind::MulGrad, OpKind::DivGrad}) {
    m->addOp(grad, {gated->result(), add->result(), se->result()}, {{"operand", operand}},
             {{m->uniqueName("dbinary"), operand == 0 ? f32({2, 4, 5, 5}) : f32({2, 4, 1, 1})}});
    operand = 1 - operand;
  }
  m->addOp(OpKind::SgdUpdate, {w, dw->result(), w}, {}, {});
  m->addOp(OpKind::AdamwUpdate, {w, dw->result(), w, w, b}, {}, {});
  // The fused SGD form: the buffer scaled, a weight gradient added into it, the update.
  m->addOp(OpKind::SgdMomentumScale, {w}, {}, {});
  Attrs accumulate = dw->attrs;
  accumulate["accumulate"] = int64_t{1};
  m->addOp(OpKind::Conv2dGradWeight, {dw->operands[0], dw->operands[1], w}, accumulate, {});
  m->addOp(OpKind::SgdApply, {w, w}, {}, {});
  // Data parallel: a bucket of gradients averaged over the ranks (no results, like updates).
  m->addOp(OpKind::AllreduceStart, {dw->result(), dlogits->result()}, {{"bucket", int64_t{0}}}, {});
  m->addOp(OpKind::AllreduceWait, {dw->result(), dlogits->result()}, {{"bucket", int64_t{0}}}, {});
  // Row-plan ops: bands (band=[a,b,H]), a backward op's rows, a variadic pipeline_grad.
  Op* strip = m->addOp(OpKind::RowsCopy, {relu->result()}, {{"band", IntList{2, 5, 8}}},
                       {{"relu.s1", f32({2, 4, 3, 8})}});
  m->addOp(OpKind::RowsSum, {strip->result(), relu->result()}, {}, {{"relu.sum", f32({2, 4, 8, 8})}});
  m->addOp(OpKind::PipelineGrad, {relu->result(), x, w, b}, {{"grads", IntList{2, 3}}, {"pipeline", int64_t{0}}},
           {{"pw", f32({4, 3, 3, 3})}, {"pb", f32({4})}});
  (void)xent;
  (void)dx;
  // Every attribute value form, including floats that are easy to print wrongly.
  m->addOp(OpKind::Identity, {}, 
           {{"big", 3.4028234663852886e+38},
            {"tenth", 0.1},
            {"tiny", 5e-324},
            {"neg_inf", -std::numeric_limits<double>::infinity()},
            {"not_a_number", std::numeric_limits<double>::quiet_NaN()},
            {"neg_zero", -0.0},
            {"whole", 100.0},
            {"huge_whole", 1e22},
            {"ints", IntList{std::numeric_limits<int64_t>::min(), 0,
                             std::numeric_limits<int64_t>::max()}},
            {"empty", IntList{}},
            {"floats", FloatList{0.5, 1.0, -2.5e-10}},
            {"text", std::string("a\"b\\c\nd/e")},
            {"empty_text", std::string()},
            {"my key", int64_t{7}},
            {"9lives", int64_t{9}}},
           {{"consts", f32({})}});
  // Arena placements (mem on declarations and on some results of a multi-result op, scratch).
  x->offset = 0;
  w->offset = 4096;
  conv->result()->offset = 8192;
  conv->scratchOffset = 16384;
  conv->scratchBytes = 1024;
  pair->results[1]->offset = 64;
  m->outputs = {softmax->result(), pair->results[1]};
  return m;
}

// Compares what printing cannot hide: the parsed module has the same structure as the
// built one (printAttr is exact for every value, so comparing its text is exact too).
void expectSameModule(const Module& a, const Module& b) {
  ASSERT_EQ(a.name, b.name);
  auto sameValue = [](const Value* u, const Value* v) {
    EXPECT_EQ(u->name, v->name);
    EXPECT_EQ(u->kind, v->kind);
    EXPECT_EQ(u->type, v->type);
  };
  ASSERT_EQ(a.inputs.size(), b.inputs.size());
  for (size_t i = 0; i < a.inputs.size(); ++i) sameValue(a.inputs[i], b.inputs[i]);
  ASSERT_EQ(a.globals.size(), b.globals.size());
  for (size_t i = 0; i < a.globals.size(); ++i) {
    sameValue(a.globals[i], b.globals[i]);
    EXPECT_EQ(a.globals[i]->ints, b.globals[i]->ints);
  }
  ASSERT_EQ(a.ops.size(), b.ops.size());
  for (size_t i = 0; i < a.ops.size(); ++i) {
    const Op& p = *a.ops[i];
    const Op& q = *b.ops[i];
    EXPECT_EQ(p.kind, q.kind);
    EXPECT_EQ(p.origin, q.origin);
    ASSERT_EQ(p.operands.size(), q.operands.size());
    for (size_t k = 0; k < p.operands.size(); ++k) sameValue(p.operands[k], q.operands[k]);
    ASSERT_EQ(p.results.size(), q.results.size());
    for (size_t k = 0; k < p.results.size(); ++k) sameValue(p.results[k], q.results[k]);
    ASSERT_EQ(p.attrs.size(), q.attrs.size());
    for (const auto& [key, value] : p.attrs) {
      ASSERT_TRUE(q.has(key)) << key;
      EXPECT_EQ(value.index(), q.attrs.at(key).index()) << key;
      EXPECT_EQ(printAttr(value), printAttr(q.attrs.at(key))) << key;
    }
  }
  ASSERT_EQ(a.outputs.size(), b.outputs.size());
  for (size_t i = 0; i < a.outputs.size(); ++i) sameValue(a.outputs[i], b.outputs[i]);
}

TEST(IrText, RoundTripKitchenSink) {
  auto built = buildKitchenSink();
  std::string text = printModule(*built);
  auto parsed = parseModule(text);
  expectSameModule(*built, *parsed);
  EXPECT_EQ(printModule(*parsed), text);
}

TEST(IrText, KitchenSinkUsesEveryOpKind) {
  auto m = buildKitchenSink();
  std::set<OpKind> used;
  for (const auto& op : m->ops) used.insert(op->kind);
  for (int k = 0; k < lrc::ops::kOpCount; ++k)
    EXPECT_TRUE(used.count(static_cast<OpKind>(k))) << lrc::ops::kOps[static_cast<size_t>(k)].name;
  EXPECT_EQ(static_cast<int>(used.size()), lrc::ops::kOpCount);
}

TEST(IrText, FloatsPrintShortestAndAsFloats) {
  std::string text = printModule(*buildKitchenSink());
  for (const char* expected :
       {"epsilon=1e-05", "momentum=0.9", "beta=0.1", "alpha=1.0", "value=0.0",
        "big=3.4028234663852886e+38", "tiny=5e-324", "neg_inf=-inf", "not_a_number=nan",
        "neg_zero=-0.0", "whole=100.0", "huge_whole=1e+22", "floats=[0.5,1.0,-2.5e-10]",
        "empty=[]", "ints=[-9223372036854775808,0,9223372036854775807]", "seed=-3",
        "axis=-1", R"(text="a\"b\\c\nd/e")", R"(empty_text="")", R"("my key"=7)",
        R"("9lives"=9)"})
    EXPECT_NE(text.find(expected), std::string::npos) << expected;
  EXPECT_NE(text.find("const @\"odd floats\" : f32[7] = "
                      "[1e-05,-0.0,3.4028235e+38,-1.0,inf,1e-45,nan]"),
            std::string::npos);
}

TEST(IrText, ParsedValuesAreExact) {
  auto m = parseModule(printModule(*buildKitchenSink()));
  const Op& bn = *m->ops[1];
  EXPECT_EQ(bn.getFloat("epsilon"), 1e-05);
  const auto gemm = std::find_if(m->ops.begin(), m->ops.end(), [](const auto& op) { return op->kind == OpKind::Gemm; });
  ASSERT_NE(gemm, m->ops.end());
  EXPECT_EQ((*gemm)->getFloat("beta"), 0.1);
  const Op& consts = *m->ops.back();
  EXPECT_EQ(consts.getFloat("big"), 3.4028234663852886e+38);
  EXPECT_EQ(consts.getFloat("tiny"), 5e-324);
  EXPECT_TRUE(std::signbit(consts.getFloat("neg_zero")));
  EXPECT_TRUE(std::isnan(consts.getFloat("not_a_number")));
  EXPECT_TRUE(std::holds_alternative<IntList>(consts.attrs.at("empty")));
  EXPECT_TRUE(std::holds_alternative<FloatList>(consts.attrs.at("floats")));
  EXPECT_EQ(std::get<std::string>(consts.attrs.at("text")), "a\"b\\c\nd/e");

  Value* odd = m->lookup("odd floats");
  ASSERT_NE(odd, nullptr);
  ASSERT_EQ(odd->floats.size(), 7u);
  EXPECT_EQ(odd->floats[0], 1e-05f);
  EXPECT_TRUE(std::signbit(odd->floats[1]));
  EXPECT_EQ(odd->floats[2], std::numeric_limits<float>::max());
  EXPECT_EQ(odd->floats[5], std::numeric_limits<float>::denorm_min());
  EXPECT_TRUE(std::isnan(odd->floats[6]));
  EXPECT_EQ(m->lookup("shape")->ints, (std::vector<int64_t>{2, -1}));
  EXPECT_FALSE(m->lookup("bn.running_var")->hasData());  // state data is not printed
  EXPECT_FALSE(m->lookup("nodata")->hasData());
  EXPECT_NE(m->lookup("fc/weight \"q\" \\x\nline"), nullptr);
  EXPECT_EQ(m->lookup("x")->offset, 0);
  EXPECT_EQ(m->lookup("conv1.weight")->offset, 4096);
  EXPECT_EQ(m->ops[0]->result()->offset, 8192);
  EXPECT_EQ(m->ops[0]->scratchOffset, 16384);
  EXPECT_EQ(m->ops[0]->scratchBytes, 1024);
  EXPECT_EQ(m->lookup("relu")->offset, -1);  // unplanned values print no mem(...)
}

// The format itself, pinned: a change here is a change to every lit test.
constexpr const char* kTiny = R"(module @tiny {
  input %x : f32[1,2,4,4]
  param @w : f32[3,2,1,1]
  const @s : i64[2] = [1,-1]
  const @eps : f32[] = [1e-05]
  %y = conv2d(%x, @w) {dilation=[1,1], group=1, pad=[0,0,0,0], stride=[1,1]} : f32[1,3,4,4] loc("/conv")
  %"out/0" = reshape(%y) {shape=[1,-1]} : f32[1,48]
  %z = relu(%"out/0") : f32[1,48]
  return %z, %y
}
)";

TEST(IrText, PrintsPinnedFormat) {
  Module m;
  m.name = "tiny";
  Value* x = m.addInput("x", f32({1, 2, 4, 4}));
  Value* w = m.addGlobal(ValueKind::Param, "w", f32({3, 2, 1, 1}));
  m.addGlobal(ValueKind::Const, "s", i64({2}))->ints = {1, -1};
  m.addGlobal(ValueKind::Const, "eps", f32({}))->floats = {1e-05f};
  Op* conv = m.addOp(OpKind::Conv2d, {x, w},
                     {{"stride", IntList{1, 1}}, {"pad", IntList{0, 0, 0, 0}},
                      {"group", int64_t{1}}, {"dilation", IntList{1, 1}}},
                     {{"y", f32({1, 3, 4, 4})}});
  conv->origin = "/conv";
  Op* reshape = m.addOp(OpKind::Reshape, {conv->result()}, {{"shape", IntList{1, -1}}},
                        {{"out/0", f32({1, 48})}});
  Op* relu = m.addOp(OpKind::Relu, {reshape->result()}, {}, {{"z", f32({1, 48})}});
  m.outputs = {relu->result(), conv->result()};
  EXPECT_EQ(printModule(m), kTiny);
  EXPECT_EQ(reprinted(kTiny), kTiny);
}

TEST(IrText, ParsesTheDocumentedExample) {
  const std::string printed = R"(module @main {
  input %x : f32[1,3,224,224]
  param @conv1.weight : f32[64,3,7,7]
  param @conv1.bias : f32[64]
  state @bn1.running_mean : f32[64]
  const @shape : i64[2] = [1,-1]
  const @scale : f32[] = [0.5]
  %"/conv1/Conv_output_0" = conv2d(%x, @conv1.weight, @conv1.bias) {dilation=[1,1], group=1, pad=[3,3,3,3], stride=[2,2]} : f32[1,64,112,112] loc("/conv1/Conv")
  %1 = relu(%"/conv1/Conv_output_0") : f32[1,64,112,112]
  %a, %b = identity(%1) : f32[2], i64[2]
  return %1
}
)";
  const std::string text = R"(// comments run to end of line and are ignored by the parser
module @main {
  input %x : f32[1,3,224,224]
  param @conv1.weight : f32[64,3,7,7]
  param @conv1.bias : f32[64]
  state @bn1.running_mean : f32[64]
  const @shape : i64[2] = [1,-1]
  const @scale : f32[] = [0.5]
  %"/conv1/Conv_output_0" = conv2d(%x, @conv1.weight, @conv1.bias) {dilation=[1,1], group=1, pad=[3,3,3,3], stride=[2,2]} : f32[1,64,112,112] loc("/conv1/Conv")
  %1 = relu(%"/conv1/Conv_output_0") : f32[1,64,112,112]   // trailing comment
  %a, %b = identity(%1) : f32[2], i64[2]
  return %1
}
)";
  auto m = parseModule(text);
  EXPECT_EQ(printModule(*m), printed);
  ASSERT_EQ(m->ops.size(), 3u);
  EXPECT_EQ(m->ops[0]->origin, "/conv1/Conv");
  EXPECT_EQ(m->ops[0]->loc.line, 9);
  EXPECT_EQ(m->ops[0]->loc.col, 3);
  EXPECT_EQ(m->ops[2]->loc.line, 11);
  EXPECT_EQ(m->ops[2]->results.size(), 2u);
  EXPECT_EQ(m->ops[2]->results[1]->type, i64({2}));
  EXPECT_EQ(m->ops[0]->operands[1]->kind, ValueKind::Param);
  EXPECT_EQ(m->globals[2]->kind, ValueKind::State);
  EXPECT_EQ(m->lookup("scale")->floats, std::vector<float>{0.5f});
  EXPECT_EQ(m->outputs.at(0)->name, "1");
}

TEST(IrText, AcceptsLooseButEquivalentText) {
  // Other spacing, ints in a float list, an int for f32 data, empty braces: the printer
  // normalizes all of it.
  const char* text =
      "module @m{input %x:f32[2]\tconst @c:f32[2]=[1, 2.5]\n"
      "%y=dropout(%x){ratio=0.5,seed=1,\"k\"=[1,0.5]}:f32[2]  %z = relu(%y) {} : f32[2]\n"
      "return %z}";
  EXPECT_EQ(reprinted(text),
            "module @m {\n"
            "  input %x : f32[2]\n"
            "  const @c : f32[2] = [1.0,2.5]\n"
            "  %y = dropout(%x) {k=[1.0,0.5], ratio=0.5, seed=1} : f32[2]\n"
            "  %z = relu(%y) : f32[2]\n"
            "  return %z\n"
            "}\n");
}

TEST(IrText, EmptyReturnRoundTrips) {
  Module m;
  m.addInput("x", f32({1}));
  EXPECT_EQ(reprinted(printModule(m)), "module @main {\n  input %x : f32[1]\n  return\n}\n");
}

// --- errors ------------------------------------------------------------------------

struct ExpectedError {
  std::string message;
  int line, col;
};

ExpectedError errorOf(const std::string& text) {
  try {
    parseModule(text);
  } catch (const Error& e) {
    return {e.what(), e.location().line, e.location().col};
  }
  return {"<parsed without error>", 0, 0};
}

void expectError(const std::string& text, const std::string& message, int line, int col) {
  ExpectedError e = errorOf(text);
  EXPECT_EQ(e.message, message) << text;
  EXPECT_EQ(e.line, line) << text;
  EXPECT_EQ(e.col, col) << text;
}

// Lines 1-3; the line under test is line 4.
const std::string kHead = "module @m {\n  input %x : f32[1,4]\n  param @w : f32[4]\n";
std::string withOp(const std::string& line) { return kHead + line + "\n  return %x\n}\n"; }

TEST(IrTextErrors, UnexpectedToken) {
  expectError("module @m {\n  input %x f32[1]\n  return %x\n}\n",
              "expected ':' after value name, found 'f32'", 2, 12);
  expectError(withOp("  %y = relu(%x : f32[1,4]"), "expected ')' after the operands, found ':'",
              4, 16);
  expectError(withOp("  %y = relu(%x) {k 1} : f32[1,4]"),
              "expected '=' after the attribute name, found '1'", 4, 20);
}

TEST(IrTextErrors, NegativeArenaPlacement) {
  expectError(withOp("  %y = relu(%x) : f32[1,4] mem(-8)"), "arena offset must not be negative", 4, 32);
  expectError(withOp("  %y = relu(%x) : f32[1,4] scratch(0,-1)"), "scratch size must not be negative",
              4, 38);
}

TEST(IrTextErrors, UnexpectedCharacter) {
  expectError(withOp("  %y = relu(%x) $ : f32[1,4]"), "unexpected character '$'", 4, 17);
  expectError(std::string("module @m {\x01}"), "unexpected character '\\x01'", 1, 12);
  expectError(withOp("  %y = relu(% x) : f32[1,4]"), "expected a name after '%'", 4, 13);
}

TEST(IrTextErrors, UnterminatedString) {
  expectError(withOp("  %y = relu(%x) : f32[1,4] loc(\"/relu"), "unterminated string", 4, 32);
  expectError("module @\"abc", "unterminated string", 1, 9);
  expectError("module @\"abc\\", "unterminated string", 1, 9);
  expectError(withOp("  %y = relu(%x) {s=\"a\\tb\"} : f32[1,4]"),
              "unknown escape '\\t' in string", 4, 22);
}

TEST(IrTextErrors, UnknownOp) {
  expectError(withOp("  %y = conv3d(%x, @w) : f32[1,4]"), "unknown op 'conv3d'", 4, 8);
}

TEST(IrTextErrors, UnknownDtype) {
  expectError(withOp("  %y = relu(%x) : f16[1,4]"), "unknown dtype 'f16'", 4, 19);
  expectError("module @m {\n  input %x : float[1]\n", "unknown dtype 'float'", 2, 14);
}

TEST(IrTextErrors, UndefinedValue) {
  expectError(withOp("  %y = add(%x, %foo) : f32[1,4]"), "use of undefined value %foo", 4, 16);
  expectError(withOp("  %y = relu(%y) : f32[1,4]"), "use of undefined value %y", 4, 13);
  expectError(withOp("  %y = relu(@\"a b\") : f32[1,4]"), "use of undefined value @\"a b\"", 4,
              13);
  expectError(kHead + "  return %nope\n}\n", "use of undefined value %nope", 4, 10);
}

TEST(IrTextErrors, ValueDefinedTwice) {
  expectError(withOp("  %x = relu(%x) : f32[1,4]"), "value %x is defined twice", 4, 3);
  expectError(withOp("  %w = relu(%x) : f32[1,4]"), "value %w is defined twice", 4, 3);
  expectError(withOp("  %a, %a = identity(%x) : f32[1,4], f32[1,4]"),
              "value %a is defined twice", 4, 7);
  expectError(kHead + "  const @x : f32[]\n", "value @x is defined twice", 4, 9);
}

TEST(IrTextErrors, WrongSigil) {
  expectError(withOp("  %y = relu(%w) : f32[1,4]"), "%w is a param; write @w", 4, 13);
  expectError(withOp("  %y = relu(@x) : f32[1,4]"), "@x is an input; write %x", 4, 13);
  expectError("module @m {\n  input @x : f32[1]\n", "input is named with '%', found '@x'", 2,
              9);
  expectError("module @m {\n  state %s : f32[1]\n", "state is named with '@', found '%s'", 2,
              9);
  expectError(withOp("  @y = relu(%x) : f32[1,4]"), "op result is named with '%', found '@y'", 4,
              3);
  expectError("module %m {\n", "expected a module name '@name' after 'module', found '%m'", 1, 8);
}

TEST(IrTextErrors, ResultTypeCountMismatch) {
  expectError(withOp("  %a, %b = identity(%x) : f32[1,4]"), "op has 2 results but 1 types", 4,
              27);
  expectError(withOp("  %a = identity(%x) : f32[1,4], f32[1]"), "op has 1 results but 2 types",
              4, 23);
}

TEST(IrTextErrors, BadNumbers) {
  expectError("module @m {\n  input %x : f32[1x]\n", "bad number '1x'", 2, 18);
  expectError("module @m {\n  input %x : f32[1.5]\n", "expected an integer, found '1.5'", 2, 18);
  expectError("module @m {\n  input %x : f32[99999999999999999999]\n",
              "integer 99999999999999999999 is out of range", 2, 18);
  expectError(withOp("  %y = relu(%x) {a=1e999} : f32[1,4]"), "number 1e999 is out of range",
              4, 20);
  expectError(withOp("  %y = relu(%x) {a=1e} : f32[1,4]"), "bad number '1e'", 4, 20);
  expectError(withOp("  %y = relu(%x) {a=[1,2.5.1]} : f32[1,4]"), "bad number '2.5.1'", 4, 23);
  expectError(withOp("  %y = relu(%x) {a=-} : f32[1,4]"), "unexpected character '-'", 4, 20);
  expectError(kHead + "  const @c : i64[2] = [1,2.0]\n", "expected an integer, found '2.0'", 4,
              26);
  expectError(kHead + "  const @c : f32[1] = [1e39]\n", "number 1e39 is out of range", 4, 24);
}

TEST(IrTextErrors, MissingReturn) {
  expectError(kHead + "  %y = relu(%x) : f32[1,4]\n}\n", "missing 'return' before '}'", 5, 1);
  expectError(kHead, "expected an op '%name = ...' or 'return', found end of input", 4, 1);
}

TEST(IrTextErrors, DeclarationAfterOp) {
  expectError(withOp("  %y = relu(%x) : f32[1,4]\n  param @v : f32[1]"),
              "declarations must come before the first op", 5, 3);
}

TEST(IrTextErrors, DataOnlyOnConsts) {
  expectError(kHead + "  param @v : f32[1] = [1.0]\n", "only const declarations carry data", 4,
              21);
}

TEST(IrTextErrors, TextAfterClosingBrace) {
  expectError(withOp("") + "extra", "expected end of input after '}', found 'extra'", 7, 1);
  expectError(withOp("") + "}", "expected end of input after '}', found '}'", 7, 1);
}

TEST(IrTextErrors, ConstDataCountMismatch) {
  expectError(kHead + "  const @c : i64[2] = [1,2,3]\n",
              "const @c has 3 values but its type i64[2] holds 2", 4, 23);
  expectError(kHead + "  const @c : f32[] = []\n",
              "const @c has 0 values but its type f32[] holds 1", 4, 22);
}

// A type is one whose elements and bytes can be counted (passes compute with them unchecked):
// dimensions of at least 1 and at most 2^59 elements, whatever the text says.
TEST(IrTextErrors, TypeSizes) {
  expectError(kHead + "  const @c : f32[-1] = [1.0]\n", "f32[-1]: dimension 0 is -1, expected at least 1", 4, 14);
  expectError(kHead + "  input %z : f32[2,0]\n", "f32[2,0]: dimension 1 is 0, expected at least 1", 4, 14);
  expectError(kHead + "  param @big : f32[4611686018427387904,4]\n",
              "f32[4611686018427387904,4]: more than 576460752303423488 elements", 4, 16);
  // 2^64 + 2^32 elements: the product wraps int64 to 2^32.
  expectError(withOp("  %y = relu(%x) : f32[641,6700417,4294967296]"),
              "f32[641,6700417,4294967296]: more than 576460752303423488 elements", 4, 19);
  // offset + bytes must be countable too (liveness and the verifier compute it).
  expectError(withOp("  %y = relu(%x) : f32[1,4] mem(9223372036854775800)"),
              "arena offset 9223372036854775800 plus 16 bytes is past the largest offset int64 holds", 4, 32);
  expectError(withOp("  %y = relu(%x) : f32[1,4] scratch(9223372036854775800,64)"),
              "arena offset 9223372036854775800 plus 64 bytes is past the largest offset int64 holds", 4, 36);
}

TEST(IrTextErrors, DuplicateAttribute) {
  expectError(withOp("  %y = relu(%x) {a=1, a=2} : f32[1,4]"), "attribute 'a' is given twice", 4,
              23);
}

TEST(IrTextErrors, EmptyAndTruncatedInput) {
  expectError("", "expected 'module' at the start of the text, found end of input", 1, 1);
  expectError("  // only a comment\n", "expected 'module' at the start of the text, found end of input",
              2, 1);
  expectError("module @m {\n  input %x : f32[1,", "expected an integer, found end of input", 2,
              20);
  expectError("modul @m {}", "expected 'module' at the start of the text, found 'modul'", 1, 1);
}

// --- robustness --------------------------------------------------------------------

// Parses or throws ir::Error; anything else (another exception, a crash) fails the test.
void parseOrError(const std::string& text) {
  try {
    auto m = parseModule(text);
    printModule(*m);
  } catch (const Error& e) {
    std::string message = e.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    EXPECT_GE(e.location().line, 1) << message;
    EXPECT_GE(e.location().col, 1) << message;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "non-ir::Error exception " << e.what() << " for: " << text;
  }
}

TEST(IrTextRobustness, EveryPrefixParsesOrFails) {
  std::string text = printModule(*buildKitchenSink());
  int parsed = 0;
  for (size_t n = 0; n <= text.size(); ++n) {
    std::string prefix = text.substr(0, n);
    try {
      parseModule(prefix);
      ++parsed;
    } catch (const Error&) {
    }
    parseOrError(prefix);
  }
  // Only the whole text and the text missing (part of) its final newline parse.
  EXPECT_EQ(parsed, 2);
}

TEST(IrTextRobustness, MutatedTextParsesOrFails) {
  std::string text = printModule(*buildKitchenSink());
  std::mt19937 rng(1234);
  const std::string interesting = "%@\"\\{}[](),:=-.e0 \n/\x00\xff"s;
  for (size_t i = 0; i < text.size(); ++i) {
    std::string mutated = text;
    mutated[i] = interesting[rng() % interesting.size()];
    parseOrError(mutated);
    parseOrError(text.substr(0, i) + text.substr(i + 1));
  }
}

TEST(IrTextRobustness, RandomBytesFail) {
  std::mt19937 rng(99);
  for (int i = 0; i < 2000; ++i) {
    std::string bytes(rng() % 64, '\0');
    for (char& c : bytes) c = static_cast<char>(rng() % 256);
    if (i % 2) bytes = "module @m {\n" + bytes;
    parseOrError(bytes);
  }
}

}  // namespace
}  // namespace lrc::ir
