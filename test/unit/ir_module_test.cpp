// The Module API, the verifier's checks and shape inference, built without text.
#include <gtest/gtest.h>

#include "ir/IR.h"
#include "ir/ShapeInference.h"
#include "ir/Verifier.h"

using namespace lrc::ir;

namespace {

TensorType f32(std::vector<int64_t> shape) { return {DType::F32, std::move(shape)}; }

Attrs convAttrs(IntList pad = {1, 1, 1, 1}, IntList stride = {1, 1}) {
  return {{"dilation", IntList{1, 1}}, {"group", int64_t{1}}, {"pad", pad}, {"stride", stride}};
}

// x -> conv -> relu, returning relu.
struct ConvRelu {
  Module m;
  Value* x;
  Value* w;
  Op* conv;
  Op* relu;
  ConvRelu() {
    x = m.addInput("x", f32({2, 3, 8, 8}));
    w = m.addGlobal(ValueKind::Param, "w", f32({4, 3, 3, 3}));
    conv = m.addOp(OpKind::Conv2d, {x, w}, convAttrs(), {{"c", f32({2, 4, 8, 8})}});
    relu = m.addOp(OpKind::Relu, {conv->result()}, {}, {{"r", f32({2, 4, 8, 8})}});
    m.outputs = {relu->result()};
  }
};

std::string verifyError(const Module& m) {
  try {
    verifyModule(m);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Module, NamesAreUniqueAndLookedUp) {
  ConvRelu g;
  EXPECT_EQ(g.m.lookup("c"), g.conv->result());
  EXPECT_EQ(g.m.lookup("nope"), nullptr);
  EXPECT_EQ(g.m.uniqueName("r"), "r0");
  EXPECT_EQ(g.m.uniqueName("fresh"), "fresh");
  EXPECT_THROW(g.m.addInput("w", f32({1})), Error);
}

TEST(Module, ReplaceAllUsesCoversOperandsAndOutputs) {
  ConvRelu g;
  Op* id = g.m.addOp(OpKind::Identity, {g.relu->result()}, {}, {{"i", f32({2, 4, 8, 8})}});
  g.m.outputs = {id->result()};
  g.m.replaceAllUses(g.conv->result(), g.x);
  EXPECT_EQ(g.relu->operands[0], g.x);
  g.m.replaceAllUses(id->result(), g.relu->result());
  EXPECT_EQ(g.m.outputs[0], g.relu->result());
  EXPECT_TRUE(g.m.users(id->result()).empty());
}

TEST(Module, EraseDeadOpsKeepsSideEffectsAndDropsUnreadGlobals) {
  ConvRelu g;
  Value* unused = g.m.addGlobal(ValueKind::Param, "unused", f32({3}));
  (void)unused;
  std::vector<Value*> bnParams;
  for (const char* n : {"g", "b"}) bnParams.push_back(g.m.addGlobal(ValueKind::Param, n, f32({4})));
  for (const char* n : {"mean", "var"}) bnParams.push_back(g.m.addGlobal(ValueKind::State, n, f32({4})));
  Attrs bn = {{"epsilon", 1e-5}, {"momentum", 0.9}, {"training", int64_t{1}}};
  g.m.addOp(OpKind::BatchNorm, {g.conv->result(), bnParams[0], bnParams[1], bnParams[2], bnParams[3]},
            bn, {{"bn", f32({2, 4, 8, 8})}});
  Op* dead = g.m.addOp(OpKind::Relu, {g.conv->result()}, {}, {{"dead", f32({2, 4, 8, 8})}});
  g.m.addOp(OpKind::Relu, {dead->result()}, {}, {{"dead2", f32({2, 4, 8, 8})}});
  EXPECT_EQ(g.m.eraseDeadOps(), 2u);
  EXPECT_EQ(g.m.ops.size(), 3u);  // conv, relu, training batchnorm
  EXPECT_EQ(g.m.lookup("unused"), nullptr);
  EXPECT_NE(g.m.lookup("mean"), nullptr);
  EXPECT_EQ(g.m.lookup("dead"), nullptr);
  EXPECT_EQ(verifyError(g.m), "");
}

TEST(Module, EraseOpRefusesUsedResults) {
  ConvRelu g;
  EXPECT_THROW(g.m.eraseOp(g.conv), Error);
}

TEST(Module, EraseOpsTogetherWhenOnlyTheyReadEachOther) {
  ConvRelu g;
  Op* a = g.m.addOp(OpKind::Relu, {g.conv->result()}, {}, {{"a", f32({2, 4, 8, 8})}});
  Op* b = g.m.addOp(OpKind::Relu, {a->result()}, {}, {{"b", f32({2, 4, 8, 8})}});
  EXPECT_THROW(g.m.eraseOps({a}), Error);  // b still reads a
  EXPECT_EQ(g.m.ops.size(), 4u);           // nothing erased
  EXPECT_THROW(g.m.eraseOps({g.conv, a, b}), Error);  // the output relu reads conv
  g.m.eraseOps({b, a});
  EXPECT_EQ(g.m.ops.size(), 2u);
  EXPECT_EQ(g.m.lookup("a"), nullptr);
  EXPECT_EQ(g.m.lookup("b"), nullptr);
  EXPECT_EQ(verifyError(g.m), "");
}

TEST(Verifier, AcceptsAWellFormedModule) {
  ConvRelu g;
  EXPECT_EQ(verifyError(g.m), "");
}

TEST(Verifier, RejectsStaleResultType) {
  ConvRelu g;
  g.relu->result()->type = f32({2, 4, 8, 9});
  EXPECT_EQ(verifyError(g.m), "relu %r: result %r has type f32[2,4,8,9] but the op produces f32[2,4,8,8]");
  EXPECT_NO_THROW(verifyModule(g.m, /*checkTypes=*/false));
}

TEST(Verifier, RejectsUseBeforeDefinition) {
  ConvRelu g;
  std::swap(g.m.ops[0], g.m.ops[1]);
  EXPECT_EQ(verifyError(g.m), "relu %r: uses %c before it is defined");
}

TEST(Verifier, RejectsMissingOutputsAndBadArity) {
  ConvRelu g;
  g.m.outputs.clear();
  EXPECT_EQ(verifyError(g.m), "module @main has no outputs");
  g.m.outputs = {g.relu->result()};
  g.relu->operands.push_back(g.x);
  EXPECT_EQ(verifyError(g.m), "relu %r: expects 1 operands, got 2");
}

TEST(Verifier, RejectsConstDataOfWrongSize) {
  ConvRelu g;
  Value* c = g.m.addGlobal(ValueKind::Const, "k", {DType::I64, {2}});
  c->ints = {1, 2, 3};
  EXPECT_EQ(verifyError(g.m), "@k: data does not match its type i64[2]");
}

TEST(Verifier, UsesOriginInMessages) {
  ConvRelu g;
  g.conv->origin = "/features/0/Conv";
  g.conv->attrs["group"] = int64_t{2};
  EXPECT_EQ(verifyError(g.m),
            "conv2d '/features/0/Conv': group 2 must divide input channels 3 and output channels 4");
}

TEST(ShapeInference, SlidingWindowArithmetic) {
  // floor and ceil modes, padding, dilation
  EXPECT_EQ(slidingOutputSize(224, 3, 1, 1, 1, 1, false), 224);
  EXPECT_EQ(slidingOutputSize(224, 7, 2, 3, 3, 1, false), 112);
  EXPECT_EQ(slidingOutputSize(112, 3, 2, 1, 1, 1, false), 56);
  EXPECT_EQ(slidingOutputSize(8, 3, 2, 0, 0, 1, false), 3);
  EXPECT_EQ(slidingOutputSize(8, 3, 2, 0, 0, 1, true), 4);
  EXPECT_EQ(slidingOutputSize(6, 2, 2, 1, 1, 1, true), 4);  // the 5th window would start in the end padding
  EXPECT_EQ(slidingOutputSize(9, 3, 1, 2, 2, 2, false), 9);
  EXPECT_EQ(slidingOutputSize(2, 5, 1, 0, 0, 1, false), 0);  // does not fit
}

TEST(ShapeInference, GroupedConvAndGemmBias) {
  Module m;
  Value* x = m.addInput("x", f32({1, 4, 5, 5}));
  Value* w = m.addGlobal(ValueKind::Param, "w", f32({6, 2, 3, 3}));
  Attrs a = convAttrs({0, 0, 0, 0}, {2, 2});
  a["group"] = int64_t{2};
  Op* conv = m.addOp(OpKind::Conv2d, {x, w}, a, {{"c", f32({1})}});
  EXPECT_EQ(inferResultTypes(*conv)[0], f32({1, 6, 2, 2}));

  Value* in = m.addInput("in", f32({3, 5}));
  Value* b = m.addGlobal(ValueKind::Param, "b", f32({7, 5}));
  Value* bias = m.addGlobal(ValueKind::Param, "bias", f32({1, 7}));
  Attrs g = {{"alpha", 1.0}, {"beta", 1.0}, {"transA", int64_t{0}}, {"transB", int64_t{1}}};
  Op* gemm = m.addOp(OpKind::Gemm, {in, b, bias}, g, {{"y", f32({1})}});
  EXPECT_EQ(inferResultTypes(*gemm)[0], f32({3, 7}));
  bias->type = f32({2, 7});
  EXPECT_THROW(inferResultTypes(*gemm), Error);
}

}  // namespace

namespace {

TEST(Module, CloneIsDeepAndIndependent) {
  ConvRelu g;
  g.w->floats.assign(4 * 3 * 3 * 3, 0.5f);
  g.conv->result()->offset = 128;
  g.conv->scratchBytes = 64;
  g.conv->origin = "/conv";
  std::unique_ptr<Module> c = g.m.clone();
  ASSERT_EQ(c->ops.size(), 2u);
  EXPECT_NE(c->ops[0].get(), g.conv);
  EXPECT_EQ(c->ops[0]->operands[1], c->lookup("w"));
  EXPECT_EQ(c->lookup("w")->floats, g.w->floats);
  EXPECT_EQ(c->ops[0]->result()->offset, 128);
  EXPECT_EQ(c->ops[0]->scratchBytes, 64);
  EXPECT_EQ(c->ops[0]->origin, "/conv");
  EXPECT_EQ(c->outputs[0], c->ops[1]->result());
  c->ops[0]->attrs["group"] = int64_t{3};
  EXPECT_EQ(g.conv->getInt("group"), 1);
  EXPECT_EQ(verifyError(*c), "conv2d '/conv': group 3 must divide input channels 3 and output channels 4");
}

}  // namespace
