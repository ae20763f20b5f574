// Row analysis (passes/RowAnalysis.h): row ranges through small modules built with the
// ir::Module API, the row-locality of every op kind, and a brute-force check of the window
// formula against the rows that window taps actually read.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <ostream>
#include <random>

#include "ir/IR.h"
#include "ir/ShapeInference.h"
#include "passes/RowAnalysis.h"
#include "runtime/kernels/Window.h"

using namespace lrc::ir;
using lrc::passes::inputRows;
using lrc::passes::isRowLocal;
using lrc::passes::isRowIndexed;
using lrc::passes::RowRange;
using lrc::passes::holds;
using lrc::passes::hull;
using lrc::passes::intersect;

namespace lrc::passes {
void PrintTo(const RowRange& r, std::ostream* os) { *os << r.str(); }
}  // namespace lrc::passes

namespace {

TensorType f32(std::vector<int64_t> shape) { return {DType::F32, std::move(shape)}; }

// Appends an op and gives its result the type shape inference computes.
Op* add(Module& m, OpKind kind, std::vector<Value*> operands, Attrs attrs) {
  Op* op = m.addOp(kind, std::move(operands), std::move(attrs), {{m.uniqueName("t"), f32({})}});
  op->result()->type = inferResultTypes(*op).at(0);
  return op;
}

Op* conv(Module& m, Value* x, int64_t cout, int64_t kh, IntList pad = {1, 1, 1, 1}, int64_t stride = 1,
         int64_t dilation = 1) {
  Value* w = m.addGlobal(ValueKind::Param, m.uniqueName("w"), f32({cout, x->type.shape[1], kh, 3}));
  Value* b = m.addGlobal(ValueKind::Param, m.uniqueName("b"), f32({cout}));
  return add(m, OpKind::Conv2d, {x, w, b},
             {{"dilation", IntList{dilation, 1}}, {"group", int64_t{1}}, {"pad", pad}, {"stride", IntList{stride, 1}}});
}

Op* maxpool(Module& m, Value* x, int64_t k, int64_t s, IntList pad = {0, 0, 0, 0}, bool ceil = false,
            int64_t dilation = 1) {
  return add(m, OpKind::MaxPool, {x},
             {{"ceil_mode", int64_t{ceil}},
              {"dilation", IntList{dilation, 1}},
              {"kernel", IntList{k, 2}},
              {"pad", pad},
              {"stride", IntList{s, 2}}});
}

Op* avgpool(Module& m, Value* x, int64_t k, int64_t s, IntList pad, bool ceil = false) {
  return add(m, OpKind::AveragePool, {x},
             {{"ceil_mode", int64_t{ceil}},
              {"count_include_pad", int64_t{0}},
              {"kernel", IntList{k, 2}},
              {"pad", pad},
              {"stride", IntList{s, 2}}});
}

Op* pad(Module& m, Value* x, IntList pads) { return add(m, OpKind::Pad, {x}, {{"pads", pads}, {"value", 0.0}}); }

Op* batchnorm(Module& m, Value* x, int64_t training) {
  std::vector<Value*> ops{x};
  for (const char* n : {"scale", "shift", "mean", "var"})
    ops.push_back(m.addGlobal(ValueKind::Param, m.uniqueName(n), f32({x->type.shape[1]})));
  return add(m, OpKind::BatchNorm, ops,
             {{"epsilon", 1e-5}, {"momentum", 0.9}, {"training", training}});
}

RowRange rr(int64_t a, int64_t b) { return {a, b}; }

// (1) conv 3x3 pad 1 -> relu -> conv 3x3 pad 1 -> maxpool 2x2 stride 2, by hand.
TEST(RowAnalysis, VggBlock) {
  Module m;
  Value* x = m.addInput("x", f32({1, 3, 16, 16}));
  Op* c1 = conv(m, x, 4, 3);
  Op* r = add(m, OpKind::Relu, {c1->result()}, {});
  Op* c2 = conv(m, r->result(), 4, 3);
  Op* p = maxpool(m, c2->result(), 2, 2);
  ASSERT_EQ(p->result()->type.shape, (std::vector<int64_t>{1, 4, 8, 8}));
  for (Op* op : {c1, r, c2, p}) EXPECT_TRUE(isRowLocal(*op)) << op->describe();

  auto back = [&](RowRange out) {  // pool output rows -> x rows, through the chain
    RowRange c2rows = inputRows(*p, 0, out);
    RowRange rrows = inputRows(*c2, 0, c2rows);
    RowRange c1rows = inputRows(*r, 0, rrows);
    EXPECT_EQ(c1rows, rrows);  // relu is element-wise
    return std::vector<RowRange>{c2rows, rrows, inputRows(*c1, 0, c1rows)};
  };
  EXPECT_EQ(back(rr(0, 2)), (std::vector<RowRange>{rr(0, 4), rr(0, 5), rr(0, 6)}));
  EXPECT_EQ(back(rr(3, 5)), (std::vector<RowRange>{rr(6, 10), rr(5, 11), rr(4, 12)}));
  EXPECT_EQ(back(rr(7, 8)), (std::vector<RowRange>{rr(14, 16), rr(13, 16), rr(12, 16)}));
  EXPECT_EQ(back(rr(0, 8)), (std::vector<RowRange>{rr(0, 16), rr(0, 16), rr(0, 16)}));
  // Empty output ranges need nothing.
  EXPECT_EQ(inputRows(*c1, 0, rr(3, 3)), rr(0, 0));
  EXPECT_TRUE(inputRows(*p, 0, rr(5, 4)).empty());
}

// (2) stride-2 conv with asymmetric pads.
TEST(RowAnalysis, StridedConvAsymmetricPads) {
  Module m;
  Value* x = m.addInput("x", f32({1, 2, 9, 9}));
  Op* a = conv(m, x, 2, 3, {0, 1, 1, 1}, 2);  // top 0, bottom 1
  ASSERT_EQ(a->result()->type.shape[2], 4);
  EXPECT_EQ(inputRows(*a, 0, rr(0, 1)), rr(0, 3));
  EXPECT_EQ(inputRows(*a, 0, rr(1, 3)), rr(2, 7));
  EXPECT_EQ(inputRows(*a, 0, rr(3, 4)), rr(6, 9));
  Op* b = conv(m, x, 2, 3, {1, 1, 0, 1}, 2);  // top 1, bottom 0
  ASSERT_EQ(b->result()->type.shape[2], 4);
  EXPECT_EQ(inputRows(*b, 0, rr(0, 1)), rr(0, 2));
  EXPECT_EQ(inputRows(*b, 0, rr(1, 4)), rr(1, 8));
  EXPECT_EQ(inputRows(*b, 0, rr(3, 4)), rr(5, 8));
  Op* c = conv(m, x, 2, 3, {2, 1, 0, 1}, 2);  // top 2, bottom 0
  ASSERT_EQ(c->result()->type.shape[2], 5);
  EXPECT_EQ(inputRows(*c, 0, rr(0, 1)), rr(0, 1));
  EXPECT_EQ(inputRows(*c, 0, rr(4, 5)), rr(6, 9));
}

// A transposed convolution (k3 s2 p1 output_padding 1, ConvTranspose2d with PyTorch's
// upsampling settings): input rows i reach output rows 2i-1 .. 2i+1; strips at any start,
// on the stride's grid or off it, get exactly the input rows whose taps land in them.
TEST(RowAnalysis, TransposedConvAnyStart) {
  Module m;
  Value* x = m.addInput("x", f32({1, 2, 4, 4}));
  Value* w = m.addGlobal(ValueKind::Param, "wt", f32({2, 3, 3, 3}));
  Op* up = add(m, OpKind::ConvTranspose2d, {x, w},
               {{"dilation", IntList{1, 1}}, {"group", int64_t{1}}, {"output_padding", IntList{1, 1}},
                {"pad", IntList{1, 1, 1, 1}}, {"stride", IntList{2, 2}}});
  ASSERT_EQ(up->result()->type.shape, (std::vector<int64_t>{1, 3, 8, 8}));
  EXPECT_TRUE(isRowLocal(*up));
  EXPECT_EQ(inputRows(*up, 0, rr(0, 1)), rr(0, 1));  // row 0: i = 0, tap 1
  EXPECT_EQ(inputRows(*up, 0, rr(1, 2)), rr(0, 2));  // row 1: i = 0 (tap 2) and i = 1 (tap 0)
  EXPECT_EQ(inputRows(*up, 0, rr(2, 3)), rr(1, 2));
  EXPECT_EQ(inputRows(*up, 0, rr(3, 6)), rr(1, 4));
  EXPECT_EQ(inputRows(*up, 0, rr(7, 8)), rr(3, 4));  // output_padding's row: i = 3, tap 2
  EXPECT_EQ(inputRows(*up, 0, rr(0, 8)), rr(0, 4));
  EXPECT_THROW(inputRows(*up, 1, rr(0, 1)), Error);  // the weight is not row-indexed
}

// (3) dilated conv: the hull of the taps, which may include unread rows.
TEST(RowAnalysis, DilatedConv) {
  Module m;
  Value* x = m.addInput("x", f32({1, 2, 10, 10}));
  Op* a = conv(m, x, 2, 3, {2, 1, 2, 1}, 1, 2);
  ASSERT_EQ(a->result()->type.shape[2], 10);
  EXPECT_EQ(inputRows(*a, 0, rr(0, 1)), rr(0, 3));  // taps -2, 0, 2
  EXPECT_EQ(inputRows(*a, 0, rr(3, 5)), rr(1, 7));
  EXPECT_EQ(inputRows(*a, 0, rr(9, 10)), rr(7, 10));
  Op* b = conv(m, x, 2, 3, {0, 1, 0, 1}, 2, 3);  // k 3, d 3, s 2: span 7
  ASSERT_EQ(b->result()->type.shape[2], 2);
  EXPECT_EQ(inputRows(*b, 0, rr(0, 1)), rr(0, 7));
  EXPECT_EQ(inputRows(*b, 0, rr(1, 2)), rr(2, 9));
}

// (4) ceil_mode max pool whose last window overhangs the input.
TEST(RowAnalysis, CeilModeMaxPool) {
  Module m;
  Value* x = m.addInput("x", f32({1, 2, 7, 8}));
  Op* ceil = maxpool(m, x, 2, 2, {0, 0, 0, 0}, true);
  Op* floor = maxpool(m, x, 2, 2, {0, 0, 0, 0}, false);
  ASSERT_EQ(ceil->result()->type.shape[2], 4);
  ASSERT_EQ(floor->result()->type.shape[2], 3);
  EXPECT_EQ(inputRows(*ceil, 0, rr(3, 4)), rr(6, 7));  // window rows 6, 7: row 7 is past the map
  EXPECT_EQ(inputRows(*ceil, 0, rr(0, 4)), rr(0, 7));
  EXPECT_EQ(inputRows(*floor, 0, rr(2, 3)), rr(4, 6));
  Value* y = m.addInput("y", f32({1, 2, 8, 8}));
  Op* k3 = maxpool(m, y, 3, 2, {0, 0, 0, 0}, true);
  ASSERT_EQ(k3->result()->type.shape[2], 4);
  EXPECT_EQ(inputRows(*k3, 0, rr(3, 4)), rr(6, 8));
  EXPECT_EQ(inputRows(*k3, 0, rr(1, 3)), rr(2, 7));
  // Requesting rows past the result is an error, not a silent clip.
  EXPECT_THROW(inputRows(*floor, 0, rr(2, 4)), Error);
  EXPECT_THROW(inputRows(*floor, 0, rr(-1, 1)), Error);
}

// (5) padded average pool (no dilation attribute at all).
TEST(RowAnalysis, PaddedAvgPool) {
  Module m;
  Value* x = m.addInput("x", f32({1, 2, 8, 8}));
  Op* a = avgpool(m, x, 3, 1, {1, 1, 1, 1});
  ASSERT_FALSE(a->has("dilation"));
  ASSERT_EQ(a->result()->type.shape[2], 8);
  EXPECT_TRUE(isRowLocal(*a));
  EXPECT_EQ(inputRows(*a, 0, rr(0, 1)), rr(0, 2));
  EXPECT_EQ(inputRows(*a, 0, rr(7, 8)), rr(6, 8));
  EXPECT_EQ(inputRows(*a, 0, rr(2, 5)), rr(1, 6));
  Op* b = avgpool(m, x, 3, 2, {1, 1, 1, 1});
  ASSERT_EQ(b->result()->type.shape[2], 4);
  EXPECT_EQ(inputRows(*b, 0, rr(1, 2)), rr(1, 4));
  EXPECT_EQ(inputRows(*b, 0, rr(3, 4)), rr(5, 8));
}

// (6) pad shifts rows by the top pad; negative pads crop.
TEST(RowAnalysis, Pad) {
  Module m;
  Value* x = m.addInput("x", f32({1, 2, 6, 6}));
  Op* p = pad(m, x, {0, 0, 2, 1, 0, 0, 1, 1});  // top 2, bottom 1
  ASSERT_EQ(p->result()->type.shape[2], 9);
  EXPECT_TRUE(isRowLocal(*p));
  EXPECT_EQ(inputRows(*p, 0, rr(0, 2)), rr(0, 0));  // only padding
  EXPECT_EQ(inputRows(*p, 0, rr(0, 3)), rr(0, 1));
  EXPECT_EQ(inputRows(*p, 0, rr(2, 8)), rr(0, 6));
  EXPECT_EQ(inputRows(*p, 0, rr(7, 9)), rr(5, 6));
  EXPECT_EQ(inputRows(*p, 0, rr(8, 9)), rr(0, 0));  // bottom padding
  EXPECT_EQ(inputRows(*p, 0, rr(0, 9)), rr(0, 6));
  Op* crop = pad(m, x, {0, 0, -1, 0, 0, 0, -2, 0});  // crop 1 top, 2 bottom
  ASSERT_EQ(crop->result()->type.shape[2], 3);
  EXPECT_EQ(inputRows(*crop, 0, rr(0, 3)), rr(1, 4));
  EXPECT_EQ(inputRows(*crop, 0, rr(0, 1)), rr(1, 2));
  EXPECT_EQ(inputRows(*crop, 0, rr(2, 3)), rr(3, 4));
  // A pad that adds channels or images is not row-local, and has no row dependency.
  Op* chan = pad(m, x, {0, 1, 1, 0, 0, 0, 1, 0});
  Op* batch = pad(m, x, {0, 0, 0, 0, 1, 0, 0, 0});
  EXPECT_FALSE(isRowLocal(*chan));
  EXPECT_FALSE(isRowLocal(*batch));
  EXPECT_THROW(inputRows(*chan, 0, rr(0, 1)), Error);
}

// (7) a residual block: both Add operands are rows-aligned.
TEST(RowAnalysis, ResidualAdd) {
  Module m;
  Value* x = m.addInput("x", f32({1, 4, 8, 8}));
  Op* c1 = conv(m, x, 4, 3);
  Op* bn = batchnorm(m, c1->result(), 0);
  Op* r = add(m, OpKind::Relu, {bn->result()}, {});
  Op* c2 = conv(m, r->result(), 4, 3);
  Op* sum = add(m, OpKind::Add, {x, c2->result()}, {});
  for (Op* op : {c1, bn, r, c2, sum}) EXPECT_TRUE(isRowLocal(*op)) << op->describe();
  RowRange out = rr(2, 4);
  EXPECT_EQ(inputRows(*sum, 0, out), rr(2, 4));
  EXPECT_EQ(inputRows(*sum, 1, out), rr(2, 4));
  RowRange branch = inputRows(*c1, 0, inputRows(*bn, 0, inputRows(*r, 0, inputRows(*c2, 0, rr(2, 4)))));
  EXPECT_EQ(branch, rr(0, 6));
  EXPECT_EQ(inputRows(*sum, 1, rr(7, 8)), rr(7, 8));
  // Parameters are not row-indexed.
  EXPECT_THROW(inputRows(*c1, 1, out), Error);
  EXPECT_THROW(inputRows(*c1, 2, out), Error);
  EXPECT_THROW(inputRows(*c1, 3, out), Error);
  for (size_t i = 1; i < 5; ++i) EXPECT_THROW(inputRows(*bn, i, out), Error) << i;
  // Broadcasting over rows is not row-local (a per-channel operand is: SEGate below), and
  // training-mode BatchNorm is not.
  Value* v3 = m.addGlobal(ValueKind::Const, "v3", f32({4, 8, 8}));
  EXPECT_FALSE(isRowLocal(*add(m, OpKind::Add, {x, v3}, {})));
  Value* row = m.addGlobal(ValueKind::Const, "row", f32({1, 4, 1, 8}));
  EXPECT_FALSE(isRowLocal(*add(m, OpKind::Mul, {x, row}, {})));
  Op* bnTrain = batchnorm(m, x, 1);
  EXPECT_FALSE(isRowLocal(*bnTrain));
  EXPECT_THROW(inputRows(*bnTrain, 0, out), Error);
}

// (7b) a squeeze-and-excitation gate: x * g with g per channel ([N,C,1,1] or [C,1,1]) is
// row-local; g is a whole operand (not row-indexed), x is read by rows. Two per-channel
// operands are not (the result is no map of theirs).
TEST(RowAnalysis, SEGate) {
  Module m;
  Value* x = m.addInput("x", f32({2, 4, 8, 8}));
  Value* g = m.addGlobal(ValueKind::Param, "g", f32({2, 4, 1, 1}));
  Value* c = m.addGlobal(ValueKind::Param, "c", f32({4, 1, 1}));
  Value* s = m.addGlobal(ValueKind::Param, "s", f32({}));
  Value* n = m.addGlobal(ValueKind::Param, "n", f32({2, 1, 1, 1}));
  for (OpKind kind : {OpKind::Add, OpKind::Sub, OpKind::Mul, OpKind::Div}) {
    Op* gx = add(m, kind, {g, x}, {});
    Op* xc = add(m, kind, {x, c}, {});
    Op* xs = add(m, kind, {x, s}, {});
    for (Op* op : {gx, xc, xs}) EXPECT_TRUE(isRowLocal(*op)) << op->describe();
    EXPECT_EQ(inputRows(*gx, 1, rr(2, 5)), rr(2, 5));
    EXPECT_THROW(inputRows(*gx, 0, rr(2, 5)), Error);
    EXPECT_EQ(inputRows(*xc, 0, rr(2, 5)), rr(2, 5));
    EXPECT_THROW(inputRows(*xc, 1, rr(2, 5)), Error);
    EXPECT_FALSE(isRowIndexed(*gx, 0));
    EXPECT_TRUE(isRowIndexed(*gx, 1));
    EXPECT_FALSE(isRowLocal(*add(m, kind, {n, c}, {})));  // [2,4,1,1] from two per-channel operands
  }
}

// (8) every op kind of Ops.def is classified. A new kind fails here until it is added.
TEST(RowAnalysis, EveryOpKindClassified) {
  std::vector<OpKind> all;
  for (int k = 0; k < lrc::ops::kOpCount; ++k) all.push_back(static_cast<OpKind>(k));
  // Whether a typical instance over 4-D maps is row-local.
  const std::map<OpKind, bool> expected = {
      {OpKind::Conv2d, true},           {OpKind::ConvTranspose2d, true},
      {OpKind::Relu, true},
      {OpKind::Sigmoid, true},          {OpKind::HardSigmoid, true},
      {OpKind::HardSwish, true},        {OpKind::Clip, true},
      {OpKind::Erf, true},              {OpKind::Sqrt, true},
      {OpKind::Pow, true},
      {OpKind::MaxPool, true},          {OpKind::AveragePool, true},
      {OpKind::Resize, true},
      {OpKind::GlobalAvgPool, false},   {OpKind::Pad, true},
      {OpKind::BatchNorm, true},  // frozen (training=0); training=1 is checked below
      {OpKind::BatchNormStats, false},  {OpKind::BatchNormApply, true},
      {OpKind::BatchNormApplyGrad, false}, {OpKind::BatchNormStatsGrad, false},
      {OpKind::Add, true},              {OpKind::Sub, true},
      {OpKind::Mul, true},              {OpKind::Div, true},
      {OpKind::Concat, true},  // along channels (axis 1)
      {OpKind::Slice, true},            {OpKind::SliceGrad, false},
      {OpKind::ChannelShuffle, true},   {OpKind::Transpose, false},
      {OpKind::ReduceMean, false},      {OpKind::ReduceMeanGrad, false},
      {OpKind::AddGrad, false},         {OpKind::SubGrad, false},
      {OpKind::MulGrad, false},         {OpKind::DivGrad, false},
      {OpKind::Flatten, false},
      {OpKind::Reshape, false},         {OpKind::Gemm, false},
      {OpKind::MatMul, false},          {OpKind::Dropout, true},
      {OpKind::Identity, true},         {OpKind::Softmax, false},
      {OpKind::SoftmaxXent, false},     {OpKind::SoftmaxXentGrad, false},
      {OpKind::PixelXent, true} /* the loss ending a row pipeline */, {OpKind::PixelXentGrad, false},
      {OpKind::Conv2dGradInput, false}, {OpKind::Conv2dGradWeight, false},
      {OpKind::ConvTranspose2dGradInput, false}, {OpKind::ConvTranspose2dGradWeight, false},
      {OpKind::ChannelSum, false},      {OpKind::ReluGrad, false},
      {OpKind::SigmoidGrad, false},     {OpKind::HardSigmoidGrad, false},
      {OpKind::HardSwishGrad, false},   {OpKind::ClipGrad, false},
      {OpKind::ErfGrad, false},         {OpKind::SqrtGrad, false},
      {OpKind::PowGrad, false},
      {OpKind::MaxPoolGrad, false},     {OpKind::AveragePoolGrad, false},
      {OpKind::ResizeGrad, false},
      {OpKind::GlobalAvgPoolGrad, false}, {OpKind::BatchNormGrad, false},
      {OpKind::LayerNorm, true},  // over the channels (axis=1, end=2); trailing axes: below
      {OpKind::LayerNormGrad, false},
      {OpKind::DropoutGrad, false},     {OpKind::SumTo, false},
      {OpKind::SgdUpdate, false},       {OpKind::AdamwUpdate, false},
      {OpKind::SgdMomentumScale, false}, {OpKind::SgdApply, false},
      {OpKind::RowsCopy, false},        {OpKind::RowsSum, false},
      {OpKind::PipelineGrad, false},
      {OpKind::AllreduceStart, false},  {OpKind::AllreduceWait, false},
  };
  // Attributes that make the row-local kinds well formed.
  const Attrs window = {{"ceil_mode", int64_t{0}}, {"count_include_pad", int64_t{0}},
                        {"dilation", IntList{1, 1}}, {"group", int64_t{1}},
                        {"kernel", IntList{3, 3}},   {"pad", IntList{1, 1, 1, 1}},
                        {"stride", IntList{1, 1}}};
  size_t checked = 0;
  for (OpKind kind : all) {
    auto it = expected.find(kind);
    if (it == expected.end()) {
      ADD_FAILURE() << "op kind '" << opName(kind) << "' is not classified by this test";
      continue;
    }
    Module m;
    Value* x = m.addInput("x", f32({2, 3, 8, 8}));
    std::vector<Value*> operands{x};
    OpArity arity = opArity(kind);
    for (int i = 1; i < arity.minOperands; ++i) {
      std::vector<int64_t> shape = {2, 3, 8, 8};
      if (kind == OpKind::Conv2d || kind == OpKind::ConvTranspose2d) shape = {3, 3, 3, 3};
      if (kind == OpKind::BatchNorm || kind == OpKind::BatchNormApply || kind == OpKind::BatchNormStats) shape = {3};
      operands.push_back(m.addGlobal(ValueKind::Param, std::string("p").append(std::to_string(i)), f32(shape)));
    }
    Attrs attrs = window;
    attrs["pads"] = IntList{0, 0, 1, 1, 0, 0, 1, 1};
    attrs["value"] = 0.0;
    attrs["training"] = int64_t{0};
    attrs["ratio"] = 0.5;
    attrs["seed"] = int64_t{0};
    attrs["axis"] = int64_t{1};
    attrs["start"] = int64_t{0};
    attrs["end"] = int64_t{2};
    attrs["alpha"] = 0.2;
    attrs["beta"] = 0.5;
    attrs["min"] = 0.0;
    attrs["max"] = 6.0;
    attrs["coord"] = int64_t{0};
    attrs["mode"] = int64_t{1};
    attrs["nearest_mode"] = int64_t{0};
    attrs["scales"] = FloatList{1.0, 1.0};
    attrs["size"] = IntList{8, 8};
    attrs["exponent"] = 2.0;
    std::vector<std::pair<std::string, TensorType>> results;
    for (int i = 0; i < arity.results; ++i) results.push_back({std::string("r").append(std::to_string(i)), f32({2, 3, 8, 8})});
    Op* op = m.addOp(kind, operands, attrs, results);
    EXPECT_EQ(isRowLocal(*op), it->second) << opName(kind);
    if (!it->second) {
      EXPECT_THROW(inputRows(*op, 0, rr(0, 1)), Error) << opName(kind);
    }
    ++checked;
    // Element-wise kinds over non-map operands are not row-local.
    if (lrc::ops::isUnaryPointwise(kind) || kind == OpKind::Dropout) {
      Module m2;
      Value* v = m2.addInput("v", f32({2, 3}));
      EXPECT_FALSE(isRowLocal(*m2.addOp(kind, {v}, attrs, {{"r", f32({2, 3})}}))) << opName(kind);
    }
  }
  EXPECT_EQ(checked, expected.size());
}

// layer_norm is row-local over the channels only (`end`: each pixel's group lies in one row);
// over trailing axes (a group spans rows) it ends a pipeline.
TEST(RowAnalysis, LayerNormOverChannelsOnly) {
  Module m;
  Value* x = m.addInput("x", f32({2, 3, 8, 8}));
  Value* c = m.addGlobal(ValueKind::Param, "c", f32({3}));
  Value* hw = m.addGlobal(ValueKind::Param, "hw", f32({3, 8, 8}));
  Op* channels = m.addOp(OpKind::LayerNorm, {x, c}, {{"axis", int64_t{1}}, {"end", int64_t{2}}, {"epsilon", 1e-5}},
                         {{"y", f32({2, 3, 8, 8})}});
  Op* trailing = m.addOp(OpKind::LayerNorm, {x, hw}, {{"axis", int64_t{1}}, {"end", int64_t{4}}, {"epsilon", 1e-5}},
                            {{"z", f32({2, 3, 8, 8})}});
  EXPECT_TRUE(isRowLocal(*channels));
  EXPECT_EQ(inputRows(*channels, 0, rr(2, 5)), rr(2, 5));
  EXPECT_FALSE(isRowIndexed(*channels, 1));
  EXPECT_FALSE(isRowLocal(*trailing));
  EXPECT_THROW(inputRows(*trailing, 0, rr(2, 5)), Error);
}

// (8b) concat and slice are row-local along channels only; each concat operand's rows are the
// result's rows.
TEST(RowAnalysis, ConcatAndSliceAlongChannels) {
  Module m;
  Value* a = m.addInput("a", f32({2, 3, 8, 8}));
  Value* b = m.addInput("b", f32({2, 5, 8, 8}));
  Op* cat = m.addOp(OpKind::Concat, {a, b, a}, {{"axis", int64_t{1}}}, {{"cat", f32({2, 11, 8, 8})}});
  ASSERT_TRUE(isRowLocal(*cat));
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(inputRows(*cat, i, rr(2, 5)), rr(2, 5));
  Op* byRows = m.addOp(OpKind::Concat, {a, a}, {{"axis", int64_t{2}}}, {{"tall", f32({2, 3, 16, 8})}});
  EXPECT_FALSE(isRowLocal(*byRows));
  Op* part = m.addOp(OpKind::Slice, {b}, {{"axis", int64_t{1}}, {"start", int64_t{1}}, {"end", int64_t{4}}},
                     {{"part", f32({2, 3, 8, 8})}});
  EXPECT_TRUE(isRowLocal(*part));
  EXPECT_EQ(inputRows(*part, 0, rr(0, 3)), rr(0, 3));
  Op* cols = m.addOp(OpKind::Slice, {b}, {{"axis", int64_t{3}}, {"start", int64_t{1}}, {"end", int64_t{4}}},
                     {{"cols", f32({2, 5, 8, 3})}});
  EXPECT_FALSE(isRowLocal(*cols));
  Value* flat = m.addInput("flat", f32({2, 6}));
  EXPECT_FALSE(isRowLocal(*m.addOp(OpKind::Concat, {flat, flat}, {{"axis", int64_t{1}}}, {{"wide", f32({2, 12})}})));
}

// (9) brute force: the formula against the rows the window taps read.
TEST(RowAnalysis, BruteForceWindows) {
  std::mt19937 rng(12345);
  auto uni = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  int geometries = 0;
  for (int trial = 0; trial < 4000; ++trial) {
    const int64_t H = uni(1, 20), k = uni(1, 5), s = uni(1, 3), pt = uni(0, 3), pb = uni(0, 3);
    const bool ceil = uni(0, 1) == 1;
    const int64_t which = uni(0, 2);  // 0 conv (no ceil_mode), 1 maxpool, 2 avgpool (no dilation)
    const int64_t d = which == 2 ? 1 : uni(1, 3);
    const OpKind kind = which == 0 ? OpKind::Conv2d : which == 1 ? OpKind::MaxPool : OpKind::AveragePool;
    const bool useCeil = kind != OpKind::Conv2d && ceil;
    const int64_t outH = slidingOutputSize(H, k, s, pt, pb, d, useCeil);
    if (outH <= 0) continue;
    Module m;
    Value* x = m.addInput("x", f32({1, 1, H, 1}));
    Op* op = nullptr;
    const IntList padAttr = {pt, 0, pb, 0};
    if (kind == OpKind::Conv2d) {
      Value* w = m.addGlobal(ValueKind::Param, "w", f32({1, 1, k, 1}));
      op = m.addOp(kind, {x, w},
                   {{"dilation", IntList{d, 1}}, {"group", int64_t{1}}, {"pad", padAttr}, {"stride", IntList{s, 1}}},
                   {{"y", f32({})}});
    } else {
      Attrs attrs = {{"ceil_mode", int64_t{useCeil}}, {"kernel", IntList{k, 1}}, {"pad", padAttr},
                     {"stride", IntList{s, 1}}};
      if (kind == OpKind::MaxPool) attrs["dilation"] = IntList{d, 1};
      else attrs["count_include_pad"] = int64_t{0};
      op = m.addOp(kind, {x}, attrs, {{"y", f32({})}});
    }
    op->result()->type = inferResultTypes(*op).at(0);
    ASSERT_EQ(op->result()->type.shape[2], outH);
    ASSERT_TRUE(isRowLocal(*op));
    ++geometries;
    const lrc::kernels::WindowAxis axis{k, s, pt, pb, d};
    for (int64_t a = 0; a <= outH; ++a) {
      for (int64_t b = a; b <= outH; ++b) {
        int64_t tapMin = INT64_MAX, tapMax = INT64_MIN, readMin = INT64_MAX, readMax = INT64_MIN;
        std::vector<int64_t> read;
        for (int64_t o = a; o < b; ++o)
          for (int64_t i = 0; i < k; ++i) {
            const int64_t t = o * s - pt + i * d;
            tapMin = std::min(tapMin, t);
            tapMax = std::max(tapMax, t);
            if (t < 0 || t >= H) continue;
            read.push_back(t);
            readMin = std::min(readMin, t);
            readMax = std::max(readMax, t);
          }
        const RowRange got = inputRows(*op, 0, {a, b});
        const std::string where = std::string(opName(kind)) + " H=" + std::to_string(H) + " k=" +
                                  std::to_string(k) + " s=" + std::to_string(s) + " pads=" + std::to_string(pt) +
                                  "," + std::to_string(pb) + " d=" + std::to_string(d) +
                                  " ceil=" + std::to_string(useCeil) + " out=[" + std::to_string(a) + "," +
                                  std::to_string(b) + ")";
        // The hull of every tap, clipped to the map (SPEC's formula), by enumeration.
        RowRange hull{0, 0};
        if (a < b && std::max<int64_t>(tapMin, 0) < std::min(tapMax + 1, H))
          hull = {std::max<int64_t>(tapMin, 0), std::min(tapMax + 1, H)};
        ASSERT_EQ(got, hull) << where;
        for (int64_t t : read) ASSERT_TRUE(got.contains(t)) << where << " reads row " << t;
        // Without dilation and with overlapping or abutting windows, the taps cover their
        // hull: the range is exactly the rows read.
        if (d == 1 && s <= k) {
          const RowRange exact = read.empty() ? RowRange{0, 0} : RowRange{readMin, readMax + 1};
          ASSERT_EQ(got, exact) << where;
        }
        // The compiler and the runtime's kernels agree on the band.
        const lrc::kernels::RowRange rt = lrc::kernels::window_input_rows(axis, a, b, H);
        ASSERT_EQ(got, (RowRange{rt.begin, rt.end})) << where;
      }
    }
  }
  EXPECT_GT(geometries, 1500);
}

}  // namespace

TEST(RowAnalysis, RangeHelpers) {
  EXPECT_EQ(hull({2, 4}, {6, 9}), (RowRange{2, 9}));
  EXPECT_EQ(hull({0, 0}, {6, 9}), (RowRange{6, 9}));
  EXPECT_EQ(hull({3, 5}, {0, 0}), (RowRange{3, 5}));
  EXPECT_EQ(intersect({2, 6}, {4, 9}), (RowRange{4, 6}));
  EXPECT_EQ(intersect({2, 4}, {4, 9}), (RowRange{0, 0}));
  EXPECT_TRUE(holds({2, 8}, {3, 8}));
  EXPECT_TRUE(holds({2, 8}, {0, 0}));
  EXPECT_FALSE(holds({2, 8}, {1, 3}));
  EXPECT_FALSE(holds({2, 8}, {7, 9}));
}
