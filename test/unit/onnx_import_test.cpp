// The ONNX importer against the models test/models/make_models.py writes (ctest fixture
// make_test_models): every valid model imports, verifies, round-trips through the IR text
// and has ONNX's own inferred shapes; every malformed one fails with a one-line error that
// starts with the path and names what is wrong.

// ONNX reaches this test only through lrc_compiler's link line, without the compile
// definitions the onnx target carries; they must match how libonnx was built.
#ifndef ONNX_NAMESPACE
#define ONNX_NAMESPACE onnx
#endif
#ifndef ONNX_ML
#define ONNX_ML 1
#endif

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include <unistd.h>

#include "compiler/ConstantFolding.h"
#include "compiler/OnnxImport.h"
#include "ir/Parser.h"
#include "ir/Printer.h"
#include "ir/Verifier.h"

namespace lrc::compiler {
namespace {

namespace fs = std::filesystem;
using Shape = std::vector<int64_t>;

std::string modelPath(const std::string& name) {
  return std::string(LRC_TEST_MODELS_DIR) + "/" + name;
}

// The models come from the fixture; a missing one is a failure, not a skip.
std::unique_ptr<ir::Module> importModel(const std::string& name,
                                        const ImportOptions& options = {}) {
  const std::string path = modelPath(name);
  if (!fs::exists(path))
    throw std::runtime_error(path +
                             " is missing: run the ctest fixture make_test_models "
                             "(test/models/make_models.py " LRC_TEST_MODELS_DIR ")");
  return importOnnx(path, options);
}

onnx::ModelProto loadProto(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  onnx::ModelProto model;
  if (!model.ParseFromIstream(&in)) throw std::runtime_error("cannot parse " + path);
  return model;
}

void setShape(onnx::ValueInfoProto& v, const Shape& shape) {
  auto* s = v.mutable_type()->mutable_tensor_type()->mutable_shape();
  s->clear_dim();
  for (int64_t d : shape) s->add_dim()->set_dim_value(d);
}

int64_t defaultOpset(const onnx::ModelProto& model) {
  for (const auto& import : model.opset_import())
    if (import.domain().empty() || import.domain() == "ai.onnx") return import.version();
  throw std::runtime_error("no default opset");
}

// Static shapes ONNX infers for the graph when its inputs have the IR's input shapes
// (so --batch and --input-shape overrides are inferred too). Declared intermediate and
// output shapes are dropped first: they are the exporter's, for the original input shape.
// Initializer data is never needed (no model here computes a shape from external data).
// Shape arithmetic is folded first, as the importer folds it: ONNX's inference cannot see
// through it (torch's Pad pads come from ConstantOfShape, Slice, Transpose, ...).
std::map<std::string, Shape> onnxInferredShapes(const std::string& name, const ir::Module& m) {
  onnx::ModelProto model = loadProto(modelPath(name));
  onnx::GraphProto& g = *model.mutable_graph();
  std::map<std::string, Shape> inputShapes;
  for (const ir::Value* in : m.inputs) inputShapes[in->name] = in->type.shape;
  foldConstants(g, defaultOpset(model), inputShapes);
  for (auto& in : *g.mutable_input())
    if (const ir::Value* v = m.lookup(in.name()); v && v->kind == ir::ValueKind::Input)
      setShape(in, v->type.shape);
  g.clear_value_info();
  for (auto& out : *g.mutable_output()) out.mutable_type()->mutable_tensor_type()->clear_shape();
  onnx::shape_inference::InferShapes(
      model, onnx::OpSchemaRegistry::Instance(),
      onnx::ShapeInferenceOptions(/*check_type=*/true, /*strict=*/1));
  std::map<std::string, Shape> shapes;
  auto record = [&](const onnx::ValueInfoProto& v) {
    Shape s;
    for (const auto& d : v.type().tensor_type().shape().dim()) {
      if (!d.has_dim_value()) return;
      s.push_back(d.dim_value());
    }
    if (v.type().tensor_type().has_shape()) shapes[v.name()] = s;
  };
  for (const auto& v : g.value_info()) record(v);
  for (const auto& v : g.output()) record(v);
  return shapes;
}

// Every value the IR keeps from a node output (op results, and the globals made from
// Constant nodes and from Identity of an initializer) has ONNX's inferred shape.
void expectOnnxShapes(const std::string& name, const ir::Module& m) {
  const auto onnxShapes = onnxInferredShapes(name, m);
  size_t compared = 0;
  auto compare = [&](const ir::Value& v) {
    auto it = onnxShapes.find(v.name);
    if (it == onnxShapes.end()) {
      ADD_FAILURE() << name << ": ONNX inferred no static shape for '" << v.name << "'";
      return;
    }
    EXPECT_EQ(v.type.shape, it->second) << name << ": shape of '" << v.name << "'";
    ++compared;
  };
  for (const auto& op : m.ops)
    for (const ir::Value* r : op->results) compare(*r);
  for (const ir::Value* g : m.globals)
    if (onnxShapes.count(g->name)) compare(*g);
  EXPECT_GE(compared, m.ops.size()) << name;
}

void expectRoundTrip(const ir::Module& m) {
  const std::string text = ir::printModule(m);
  std::unique_ptr<ir::Module> parsed = ir::parseModule(text);
  EXPECT_EQ(ir::printModule(*parsed), text);
}

std::vector<const ir::Op*> opsOf(const ir::Module& m, ir::OpKind kind) {
  std::vector<const ir::Op*> found;
  for (const auto& op : m.ops)
    if (op->kind == kind) found.push_back(op.get());
  return found;
}

const ir::Op& opNamed(const ir::Module& m, const std::string& result) {
  const ir::Value* v = m.lookup(result);
  if (!v || !v->def) throw std::runtime_error("no op result '" + result + "'");
  return *v->def;
}

size_t countGlobals(const ir::Module& m, ir::ValueKind kind) {
  return static_cast<size_t>(std::count_if(m.globals.begin(), m.globals.end(),
                                           [&](const ir::Value* g) { return g->kind == kind; }));
}

// ---------------------------------------------------------------------------------------
// Every valid model

const char* const kValidModels[] = {
    "tiny_op9.onnx",
    "tiny_op11.onnx",
    "tiny_op13.onnx",
    "tiny_op18.onnx",
    "features_op9.onnx",
    "features_op11.onnx",
    "features_op13.onnx",
    "features_op18.onnx",
    "gemm_op9.onnx",
    "gemm_op11.onnx",
    "gemm_op13.onnx",
    "gemm_op18.onnx",
    "external_data.onnx",
    "fold_op9.onnx",
    "fold_op11.onnx",
    "fold_op13.onnx",
    "fold_op18.onnx",
    "shape_value_info.onnx",
    "pad_torch_op13.onnx",
    "pad_torch_op17.onnx",
    "vgg16_train_op13.onnx",
    "vgg16_train_op17.onnx",
    "vgg16_eval_op13.onnx",
    "vgg16_eval_op17.onnx",
    "resnet50_train_op13.onnx",
    "resnet50_train_op17.onnx",
    "resnet50_eval_op13.onnx",
    "resnet50_eval_op17.onnx",
};

class ValidModel : public testing::TestWithParam<const char*> {};

// Inputs keep their declared dims, a symbolic batch becoming 1; initializers listed as
// graph inputs (tiny_op9 does, as exporters of that time did) are not inputs.
void expectDeclaredInputs(const std::string& name, const ir::Module& m) {
  const onnx::ModelProto proto = loadProto(modelPath(name));
  size_t checked = 0;
  for (const auto& in : proto.graph().input()) {
    const ir::Value* v = m.lookup(in.name());
    if (!v || v->kind != ir::ValueKind::Input) continue;
    Shape declared;
    for (const auto& d : in.type().tensor_type().shape().dim())
      declared.push_back(d.has_dim_value() ? d.dim_value() : 1);
    EXPECT_EQ(v->type.shape, declared) << in.name();
    ++checked;
  }
  EXPECT_EQ(checked, m.inputs.size());
  EXPECT_EQ(m.inputs.size(), 1u);
  EXPECT_EQ(m.outputs.size(), static_cast<size_t>(proto.graph().output_size()));
}

TEST_P(ValidModel, ImportsVerifiesRoundTripsAndHasOnnxShapes) {
  const std::string name = GetParam();
  std::unique_ptr<ir::Module> m = importModel(name);
  ir::verifyModule(*m);
  expectDeclaredInputs(name, *m);
  expectRoundTrip(*m);
  expectOnnxShapes(name, *m);
}

std::string paramName(const testing::TestParamInfo<const char*>& info) {
  std::string s = info.param;
  s = s.substr(0, s.find('.'));
  return s;
}

INSTANTIATE_TEST_SUITE_P(Models, ValidModel, testing::ValuesIn(kValidModels), paramName);

// ---------------------------------------------------------------------------------------
// Overrides

TEST(ImportOverrides, SymbolicBatchDefaultsToOneAndFollowsBatch) {
  EXPECT_EQ(importModel("tiny_op13.onnx")->inputs[0]->type.shape, (Shape{1, 3, 16, 16}));
  ImportOptions options;
  options.batch = 4;
  auto m = importModel("tiny_op13.onnx", options);
  EXPECT_EQ(m->inputs[0]->type.shape, (Shape{4, 3, 16, 16}));
  EXPECT_EQ(m->outputs[0]->type.shape, (Shape{4, 10}));
  expectOnnxShapes("tiny_op13.onnx", *m);
}

TEST(ImportOverrides, InputShapeFillsSymbolicHeightAndWidth) {
  ImportOptions options;
  options.inputShape = Shape{3, 20, 24};
  auto m = importModel("needs_input_shape.onnx", options);
  EXPECT_EQ(m->inputs[0]->type.shape, (Shape{1, 3, 20, 24}));
  expectOnnxShapes("needs_input_shape.onnx", *m);
}

TEST(ImportOverrides, Vgg16AtBatchTwo) {
  ImportOptions options;
  options.batch = 2;
  auto m = importModel("vgg16_train_op13.onnx", options);
  EXPECT_EQ(m->inputs[0]->type.shape, (Shape{2, 3, 224, 224}));
  EXPECT_EQ(m->outputs[0]->type.shape, (Shape{2, 1000}));
  expectOnnxShapes("vgg16_train_op13.onnx", *m);
  expectRoundTrip(*m);
}

TEST(ImportOverrides, ResNet50AtOtherImageSizeAndBatch) {
  for (const char* name : {"resnet50_train_op13.onnx", "resnet50_eval_op17.onnx"}) {
    ImportOptions options;
    options.batch = 2;
    options.inputShape = Shape{3, 160, 160};
    auto m = importModel(name, options);
    EXPECT_EQ(m->inputs[0]->type.shape, (Shape{2, 3, 160, 160})) << name;
    EXPECT_EQ(m->outputs[0]->type.shape, (Shape{2, 1000})) << name;
    expectOnnxShapes(name, *m);
  }
}

TEST(ImportOverrides, InputShapeOnSmallModel) {
  ImportOptions options;
  options.inputShape = Shape{3, 18, 20};  // keeps the 2x2 map MatMul needs
  auto m = importModel("features_op13.onnx", options);
  EXPECT_EQ(m->inputs[0]->type.shape, (Shape{2, 3, 18, 20}));
  expectOnnxShapes("features_op13.onnx", *m);
}

// ---------------------------------------------------------------------------------------
// What the importer makes of each op form

TEST(ImportOps, TrainingBatchNormAndUnusedInitializers) {
  for (const char* name : {"resnet50_train_op13.onnx", "resnet50_train_op17.onnx"}) {
    auto m = importModel(name);
    const auto bns = opsOf(*m, ir::OpKind::BatchNorm);
    ASSERT_EQ(bns.size(), 53u) << name;
    for (const ir::Op* bn : bns) {
      EXPECT_EQ(bn->getInt("training"), 1) << bn->origin;
      // ONNX's f32 0.9 and 1e-5, printed as such rather than as their double expansions.
      EXPECT_DOUBLE_EQ(bn->getFloat("momentum"), 0.9);
      EXPECT_DOUBLE_EQ(bn->getFloat("epsilon"), 1e-5);
      EXPECT_EQ(bn->operands[3]->kind, ir::ValueKind::State);
      EXPECT_EQ(bn->operands[4]->kind, ir::ValueKind::State);
      EXPECT_EQ(bn->operands[1]->kind, ir::ValueKind::Param);
    }
    // 53 conv weights, 53 BN scales and shifts, the fc weight and bias; the i64
    // num_batches_tracked initializers are unused and dropped.
    EXPECT_EQ(countGlobals(*m, ir::ValueKind::Param), 53u + 2 * 53u + 2u) << name;
    EXPECT_EQ(countGlobals(*m, ir::ValueKind::State), 2 * 53u) << name;
    EXPECT_EQ(countGlobals(*m, ir::ValueKind::Const), 0u) << name;
    EXPECT_EQ(m->lookup("bn1.num_batches_tracked"), nullptr);
    EXPECT_EQ(opNamed(*m, "/conv1/Conv_output_0").origin, "/conv1/Conv");
  }
}

TEST(ImportOps, BatchNormTrainingFormPerOpset) {
  EXPECT_EQ(opsOf(*importModel("tiny_op9.onnx"), ir::OpKind::BatchNorm).at(0)->getInt("training"),
            0);
  EXPECT_EQ(opsOf(*importModel("tiny_op11.onnx"), ir::OpKind::BatchNorm).at(0)->getInt("training"),
            1);
  EXPECT_EQ(opsOf(*importModel("tiny_op13.onnx"), ir::OpKind::BatchNorm).at(0)->getInt("training"),
            0);
  EXPECT_EQ(opsOf(*importModel("tiny_op18.onnx"), ir::OpKind::BatchNorm).at(0)->getInt("training"),
            1);
}

TEST(ImportOps, Vgg16DropoutAndTiedBiases) {
  auto train = importModel("vgg16_train_op13.onnx");
  const auto drops = opsOf(*train, ir::OpKind::Dropout);
  ASSERT_EQ(drops.size(), 2u);
  for (const ir::Op* d : drops) {
    EXPECT_EQ(d->getInt("training"), 1);
    EXPECT_DOUBLE_EQ(d->getFloat("ratio"), 0.5);
  }
  // The Dropout ratio and training_mode Constants became attributes, not globals.
  EXPECT_EQ(countGlobals(*train, ir::ValueKind::Const), 0u);
  EXPECT_EQ(countGlobals(*train, ir::ValueKind::Param), 32u);
  // Eval export merges equal biases through Identity; each layer keeps its own parameter.
  auto eval = importModel("vgg16_eval_op13.onnx");
  EXPECT_TRUE(opsOf(*eval, ir::OpKind::Identity).empty());
  EXPECT_EQ(countGlobals(*eval, ir::ValueKind::Param), 32u);
  const ir::Value* tied = eval->lookup("features.28.bias");
  ASSERT_NE(tied, nullptr);
  EXPECT_EQ(tied->kind, ir::ValueKind::Param);
  EXPECT_EQ(tied->floats, eval->lookup("features.17.bias")->floats);
}

TEST(ImportOps, WindowsPaddingAndConstantsResolved) {
  for (int opset : {9, 11, 13, 18}) {
    const std::string name = "features_op" + std::to_string(opset) + ".onnx";
    auto m = importModel(name);
    SCOPED_TRACE(name);
    EXPECT_EQ(opNamed(*m, "c1_out").getInts("stride"), (ir::IntList{2, 2}));
    EXPECT_EQ(opNamed(*m, "pad_out").getInts("pads"), (ir::IntList{0, 0, 1, 0, 0, 0, 2, 1}));
    EXPECT_DOUBLE_EQ(opNamed(*m, "pad_out").getFloat("value"), 0.5);
    EXPECT_EQ(opNamed(*m, "c2_out").getInts("dilation"), (ir::IntList{2, 2}));
    EXPECT_EQ(opNamed(*m, "c2_out").getInt("group"), 2);
    EXPECT_EQ(opNamed(*m, "c3_out").getInts("pad"), (ir::IntList{0, 0, 1, 1}));  // SAME_UPPER
    EXPECT_EQ(opNamed(*m, "c4_out").getInts("pad"), (ir::IntList{1, 1, 0, 0}));  // SAME_LOWER
    EXPECT_EQ(opNamed(*m, "c5_out").getInts("pad"), (ir::IntList{0, 0, 0, 0}));  // VALID
    EXPECT_EQ(opNamed(*m, "mp_out").getInt("ceil_mode"), opset >= 10 ? 1 : 0);
    EXPECT_EQ(opNamed(*m, "ap_out").getInt("count_include_pad"), 1);
    EXPECT_EQ(opNamed(*m, "flat_out").getInts("shape"), (ir::IntList{2, 32}));
    EXPECT_EQ(opNamed(*m, "probs").kind, ir::OpKind::Softmax);
    const ir::Op& drop = opNamed(*m, "drop_out");
    EXPECT_EQ(drop.getInt("training"), opset >= 12 ? 1 : 0);
    EXPECT_DOUBLE_EQ(drop.getFloat("ratio"), 0.25);
    EXPECT_EQ(drop.getInt("seed"), opset >= 12 ? 7 : 0);
    // The Constant feeding Add is a const global; those folded into attributes are gone.
    ASSERT_NE(m->lookup("fc_bias"), nullptr);
    EXPECT_EQ(m->lookup("fc_bias")->kind, ir::ValueKind::Const);
    EXPECT_EQ(m->lookup("fc_bias")->floats.size(), 10u);
    EXPECT_EQ(m->lookup("flat_shape"), nullptr);
    EXPECT_EQ(m->lookup("pad.pads"), nullptr);
    EXPECT_EQ(m->lookup("drop.ratio"), nullptr);
  }
}

TEST(ImportOps, FlattenGemmReshapeSoftmaxForms) {
  for (int opset : {9, 11, 13, 18}) {
    const std::string name = "gemm_op" + std::to_string(opset) + ".onnx";
    auto m = importModel(name);
    SCOPED_TRACE(name);
    EXPECT_EQ(opNamed(*m, "flatten_out").getInt("axis"), 1);  // -3 on rank 4 from opset 11
    const ir::Op& t = opNamed(*m, "gemm_t_out");
    EXPECT_EQ(t.getInt("transA"), 1);
    EXPECT_EQ(t.getInt("transB"), 1);
    EXPECT_DOUBLE_EQ(t.getFloat("alpha"), 0.5);
    EXPECT_DOUBLE_EQ(t.getFloat("beta"), 1.0);
    EXPECT_EQ(opNamed(*m, "reshape_out").getInts("shape"), (ir::IntList{8, 2}));
    EXPECT_DOUBLE_EQ(opNamed(*m, "gemm_out").getFloat("beta"), 2.0);
    EXPECT_EQ(m->lookup("cvec_out")->kind, ir::ValueKind::Const);
    EXPECT_EQ(m->lookup("cvec_out")->floats, (std::vector<float>{0.5f, -0.5f}));
    EXPECT_EQ(opNamed(*m, "probs").getInt("axis"), 1);
  }
}

TEST(ImportOps, ExternalDataIsLoaded) {
  // external_data.onnx is the opset-13 tiny net with the same seeded weights.
  auto ext = importModel("external_data.onnx");
  auto inline_ = importModel("tiny_op13.onnx");
  for (const char* w : {"conv1.weight", "bn1.running_var", "fc.bias"}) {
    ASSERT_NE(ext->lookup(w), nullptr) << w;
    EXPECT_FALSE(ext->lookup(w)->floats.empty()) << w;
    EXPECT_EQ(ext->lookup(w)->floats, inline_->lookup(w)->floats) << w;
  }
}

// ---------------------------------------------------------------------------------------
// Constant folding: shape arithmetic ends up in attributes, and makes no ops or globals.

TEST(ImportFolding, TorchZeroPad2dPads) {
  for (const char* name : {"pad_torch_op13.onnx", "pad_torch_op17.onnx"}) {
    SCOPED_TRACE(name);
    auto m = importModel(name);
    const auto pads = opsOf(*m, ir::OpKind::Pad);
    ASSERT_EQ(pads.size(), 1u);
    // nn.ZeroPad2d((left=1, right=0, top=2, bottom=1)) in ONNX's begin-then-end order.
    EXPECT_EQ(pads[0]->getInts("pads"), (ir::IntList{0, 0, 2, 1, 0, 0, 1, 0}));
    EXPECT_DOUBLE_EQ(pads[0]->getFloat("value"), 0.0);
    EXPECT_EQ(pads[0]->origin, "/pad/Pad");
    EXPECT_EQ(pads[0]->result()->type.shape, (Shape{2, 3, 12, 8}));
    std::vector<ir::OpKind> kinds;
    for (const auto& op : m->ops) kinds.push_back(op->kind);
    EXPECT_EQ(kinds, (std::vector<ir::OpKind>{ir::OpKind::Pad, ir::OpKind::Conv2d, ir::OpKind::Relu,
                                              ir::OpKind::Flatten, ir::OpKind::Gemm}));
    EXPECT_EQ(countGlobals(*m, ir::ValueKind::Const), 0u);
    EXPECT_EQ(countGlobals(*m, ir::ValueKind::Param), 4u);  // conv and fc weights and biases
  }
}

TEST(ImportFolding, EveryFoldableOpForm) {
  for (int opset : {9, 11, 13, 18}) {
    const std::string name = "fold_op" + std::to_string(opset) + ".onnx";
    SCOPED_TRACE(name);
    auto m = importModel(name);
    EXPECT_EQ(opNamed(*m, "pad_out").getInts("pads"), (ir::IntList{0, 0, 1, 1, 0, 0, 2, 1}));
    // Shape, Gather, Unsqueeze, Squeeze, Concat, Cast to int32 and back.
    EXPECT_EQ(opNamed(*m, "r1_out").getInts("shape"), (ir::IntList{2, 3, 110}));
    EXPECT_EQ(opNamed(*m, "r2_out").getInts("shape"), (ir::IntList{6, 110}));  // Slice
    EXPECT_EQ(opNamed(*m, "r3_out").getInts("shape"), (ir::IntList{12, 55}));  // Mul Div Add Sub
    EXPECT_EQ(opNamed(*m, "r4_out").getInts("shape"), (ir::IntList{15, 44}));  // Range, Mul
    EXPECT_EQ(opNamed(*m, "r5_out").getInts("shape"), (ir::IntList{20, 33}));  // Equal, Where
    EXPECT_EQ(opNamed(*m, "r6_out").getInts("shape"), (ir::IntList{4, 165}));  // Transpose
    EXPECT_EQ(opNamed(*m, "out").getInts("shape"), (ir::IntList{2, 330}));     // Squeeze
    EXPECT_EQ(opsOf(*m, ir::OpKind::Reshape).size(), 7u);
    EXPECT_EQ(m->ops.size(), 8u);
    EXPECT_TRUE(m->globals.empty());
  }
}

TEST(ImportFolding, ShapeOfTheInputFollowsBatch) {
  ImportOptions options;
  options.batch = 4;
  auto m = importModel("fold_op13.onnx", options);
  EXPECT_EQ(opNamed(*m, "r1_out").getInts("shape"), (ir::IntList{4, 3, 110}));
  EXPECT_EQ(opNamed(*m, "out").getInts("shape"), (ir::IntList{4, 330}));
  expectOnnxShapes("fold_op13.onnx", *m);
  auto pad = importModel("pad_torch_op17.onnx", options);
  EXPECT_EQ(opsOf(*pad, ir::OpKind::Pad).at(0)->result()->type.shape, (Shape{4, 3, 12, 8}));
}

// value_info holds the exporter's shapes, for the input shapes the model declares; with
// --batch it is stale, and the Shape folds from the shape the importer found for its map.
TEST(ImportFolding, ValueInfoShapesOnlyForDeclaredInputs) {
  auto m = importModel("shape_value_info.onnx");
  EXPECT_EQ(m->outputs[0]->type.shape, (Shape{2, 48}));
  ImportOptions options;
  options.batch = 4;
  EXPECT_EQ(importModel("shape_value_info.onnx", options)->outputs[0]->type.shape, (Shape{4, 48}));
}

// A Shape of a map nothing types (torch's x.view(x.size(0), -1), x.chunk) folds once the nodes
// before it are imported: bad_unknown_shape.onnx was refused ("unsupported ops: Shape (1)")
// before the importer gave the folder the shapes it found.
TEST(ImportFolding, ShapeOfAComputedMap) {
  auto m = importModel("bad_unknown_shape.onnx");
  EXPECT_EQ(m->outputs[0]->type.shape, (Shape{1, 192}));
  EXPECT_EQ(opsOf(*m, ir::OpKind::Reshape).size() + opsOf(*m, ir::OpKind::Flatten).size(), 1u);
}

// ---------------------------------------------------------------------------------------
// Errors: one line, starting with the path, naming what is wrong.

struct BadCase {
  const char* file;
  std::vector<std::string> mentions;
  ImportOptions options = {};
};

// Names the case in test listings (and so in ctest's test names) by its file.
void PrintTo(const BadCase& c, std::ostream* os) { *os << c.file; }

std::string importError(const std::string& path, const ImportOptions& options) {
  try {
    importOnnx(path, options);
  } catch (const ir::Error& e) {
    return e.what();
  }
  return "(no error)";
}

class BadModel : public testing::TestWithParam<BadCase> {};

TEST_P(BadModel, FailsWithOneLineError) {
  const BadCase& c = GetParam();
  const std::string path = modelPath(c.file);
  if (std::string(c.file).find("does_not_exist") == std::string::npos) {
    ASSERT_TRUE(fs::exists(path)) << path << " is missing: run the ctest fixture make_test_models";
  }
  const std::string message = importError(path, c.options);
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << message;
  for (const std::string& s : c.mentions)
    EXPECT_NE(message.find(s), std::string::npos) << "'" << s << "' not in: " << message;
}

ImportOptions withBatch(int64_t b) {
  ImportOptions o;
  o.batch = b;
  return o;
}

ImportOptions withInputShape(Shape s) {
  ImportOptions o;
  o.inputShape = std::move(s);
  return o;
}

const BadCase kBadCases[] = {
    {"does_not_exist.onnx", {"the file does not exist"}},
    {"bad_truncated.onnx", {"not a valid ONNX model"}},
    {"bad_missing_initializer.onnx", {"ONNX checker", "W_missing"}},
    {"bad_conv_weight_rank.onnx", {"node 'bad_node' (Conv, opset 13)", "rank 3"}},
    {"bad_gemm_rank.onnx", {"node 'bad_node' (Gemm, opset 13)", "rank 3"}},
    {"bad_unknown_op.onnx", {"unsupported ops: FancyConv (1); lrc supports ", "Conv, ConvTranspose, Div, Dropout"}},
    {"bad_lstm.onnx", {"unsupported ops: LSTM (1); lrc supports "}},
    {"bad_conv3d.onnx", {"node 'bad_node' (Conv, opset 13)", "only 2-D"}},
    {"bad_opset7.onnx", {"opset 7", "9 to 18"}},
    {"bad_maxpool_indices.onnx", {"node 'bad_node' (MaxPool, opset 13)", "Indices", "'idx'"}},
    {"bad_pad_reflect.onnx", {"node 'bad_node' (Pad, opset 13)", "'reflect'"}},
    {"bad_softmax_axis.onnx", {"node 'bad_node' (Softmax, opset 11)", "last axis"}},
    {"bad_double_initializer.onnx", {"node 'bad_node' (Add, opset 13)", "'D'", "DOUBLE"}},
    {"bad_dynamic_reshape.onnx", {"node 'bad_node' (Reshape, opset 13)", "'s'", "constant"}},
    {"bad_gather_index.onnx",
     {"node 'bad_node' (Gather, opset 13)", "index 5 is out of range for axis 0 of size 3"}},
    {"bad_external_missing.onnx", {"bad_external_missing.bin", "'conv1.weight'"}},
    {"needs_input_shape.onnx", {"graph input 'image'", "dimension 2 ('H')", "--input-shape"}},
    // Overrides the model cannot take.
    {"resnet50_eval_op13.onnx",
     {"--input-shape", "1 channels", "3"},
     withInputShape({1, 224, 224})},
    {"tiny_op13.onnx", {"--input-shape", "three positive"}, withInputShape({3, 16})},
    {"tiny_op13.onnx", {"--batch"}, withBatch(0)},
    // VGG-16's exported AveragePool has a fixed 7x7 output only for 224x224 images.
    {"vgg16_eval_op13.onnx",
     {"node '/classifier/classifier.0/Gemm' (Gemm, opset 13)"},
     withInputShape({3, 160, 160})},
};

std::string badCaseName(const testing::TestParamInfo<BadCase>& info) {
  std::string s = info.param.file;
  s = s.substr(0, s.find('.'));
  return s + "_" + std::to_string(info.index);
}

INSTANTIATE_TEST_SUITE_P(Models, BadModel, testing::ValuesIn(kBadCases), badCaseName);

// Bad inputs made here from a valid model, in a folder of their own.
class DamagedModel : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lrc_import_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    model_ = loadProto(modelPath("tiny_op13.onnx"));
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The error importing model_ written to the folder.
  std::string error(const ImportOptions& options = {}) {
    const std::string path = (dir_ / "m.onnx").string();
    std::ofstream(path, std::ios::binary) << model_.SerializeAsString();
    const std::string message = importError(path, options);
    EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    return message.substr(std::min(message.size(), path.size() + 2));
  }

  fs::path dir_;
  onnx::ModelProto model_;
};

TEST_F(DamagedModel, DirectoryIsNotAModel) {
  const std::string path = dir_.string();
  EXPECT_EQ(importError(path, {}), path + ": this is a directory, not an ONNX file");
}

// The data file's range is checked without computing offset + length, which may wrap; the
// message gives the tensor, the figures of the model and the file's size.
TEST_F(DamagedModel, ExternalDataPastTheEndOfItsFile) {
  onnx::TensorProto& t = *model_.mutable_graph()->mutable_initializer(0);
  t.clear_raw_data();
  t.clear_float_data();
  t.set_data_location(onnx::TensorProto::EXTERNAL);
  auto add = [&](const std::string& key, const std::string& value) {
    auto* kv = t.add_external_data();
    kv->set_key(key);
    kv->set_value(value);
  };
  add("location", "w.bin");
  add("offset", "18446744073709551600");
  add("length", "32");
  std::ofstream(dir_ / "w.bin", std::ios::binary) << std::string(100, '\0');
  EXPECT_EQ(error(), "external data file '" + (dir_ / "w.bin").string() + "' of initializer '" + t.name() +
                         "': offset 18446744073709551600 and length 32 reach past the end of the file, which has "
                         "100 bytes");
}

// Shapes are counted with overflow checks: a model's or a flag's dimension below 1 or too
// many elements is an error naming the input, never a wrapped size.
TEST_F(DamagedModel, InputDimensionsMustBePositive) {
  setShape(*model_.mutable_graph()->mutable_input(0), {2, 3, 0, 16});
  EXPECT_EQ(error(), "graph input 'image' has shape [2,3,0,16]: dimension 2 is 0, expected at least 1");
}

TEST_F(DamagedModel, InputTooLargeToCount) {
  EXPECT_EQ(error(withBatch(int64_t{1} << 62)),
            "graph input 'image' has shape [4611686018427387904,3,16,16] with --batch 4611686018427387904: more "
            "than 576460752303423488 elements");
  EXPECT_EQ(error(withInputShape({3, int64_t{1} << 32, int64_t{1} << 32})),
            "graph input 'image' has shape [1,3,4294967296,4294967296] with --input-shape "
            "[3,4294967296,4294967296]: more than 576460752303423488 elements");
}

// Every unsupported op type once, in graph order of first appearance, with its count; a
// foldable op (Cast) that does not fold is one of them, listed where it comes.
TEST_F(DamagedModel, ListsEveryUnsupportedOpInGraphOrder) {
  for (onnx::NodeProto& node : *model_.mutable_graph()->mutable_node()) {
    if (node.op_type() == "Relu") {
      node.set_op_type("Cast");
      onnx::AttributeProto* to = node.add_attribute();
      to->set_name("to");
      to->set_type(onnx::AttributeProto::INT);
      to->set_i(onnx::TensorProto::FLOAT);
    }
    if (node.op_type() == "GlobalAveragePool" || node.op_type() == "Flatten") {
      node.set_op_type("Tanh");
      node.clear_attribute();
    }
  }
  EXPECT_EQ(error().rfind("unsupported ops: Cast (1), Tanh (2); lrc supports Add, ", 0), 0u) << error();
}

// ---------------------------------------------------------------------------------------
// The activations: tiny_opN.onnx (conv-bn-relu-...) with its ReLU replaced.

class Activation : public DamagedModel {
 protected:
  // model_ is tiny_op<opset>.onnx; its ReLU node becomes `opType`, reading `inputs` after x.
  onnx::NodeProto& replaceRelu(int opset, const std::string& opType, const std::vector<std::string>& inputs = {}) {
    model_ = loadProto(modelPath("tiny_op" + std::to_string(opset) + ".onnx"));
    for (onnx::NodeProto& node : *model_.mutable_graph()->mutable_node()) {
      if (node.op_type() != "Relu") continue;
      node.set_op_type(opType);
      for (const std::string& in : inputs) node.add_input(in);
      return node;
    }
    throw std::runtime_error("tiny_op" + std::to_string(opset) + ".onnx has no Relu");
  }
  void addAttr(onnx::NodeProto& node, const std::string& name, float value) {
    onnx::AttributeProto* a = node.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(value);
  }
  void addScalar(const std::string& name, float value) {
    onnx::TensorProto* t = model_.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    t->add_float_data(value);
  }
  // The one op of `kind` in model_ imported (into imported_), which round-trips through the
  // IR text.
  const ir::Op& imported(ir::OpKind kind) {
    const std::string path = (dir_ / "m.onnx").string();
    std::ofstream(path, std::ios::binary) << model_.SerializeAsString();
    imported_ = importOnnx(path, {});
    const std::string text = ir::printModule(*imported_);
    EXPECT_EQ(ir::printModule(*ir::parseModule(text)), text);
    EXPECT_TRUE(opsOf(*imported_, ir::OpKind::Relu).empty());
    const auto ops = opsOf(*imported_, kind);
    if (ops.size() != 1) throw std::runtime_error("expected one op of the kind");
    return *ops[0];
  }
  std::unique_ptr<ir::Module> imported_;
};

TEST_F(Activation, Sigmoid) {
  replaceRelu(13, "Sigmoid");
  EXPECT_TRUE(imported(ir::OpKind::Sigmoid).attrs.empty());
}

TEST_F(Activation, HardSigmoidAttributesAndDefaults) {
  onnx::NodeProto& node = replaceRelu(13, "HardSigmoid");
  const ir::Op& defaults = imported(ir::OpKind::HardSigmoid);
  EXPECT_DOUBLE_EQ(defaults.getFloat("alpha"), 0.2);
  EXPECT_DOUBLE_EQ(defaults.getFloat("beta"), 0.5);
  addAttr(node, "alpha", 1.0f / 6);  // torch's F.hardsigmoid
  const ir::Op& torch = imported(ir::OpKind::HardSigmoid);
  EXPECT_EQ(torch.getFloat("alpha"), 0.16666667);  // the shortest decimal of the float
  EXPECT_DOUBLE_EQ(torch.getFloat("beta"), 0.5);
}

TEST_F(Activation, HardSwishAtOpset18) {
  replaceRelu(18, "HardSwish");
  EXPECT_TRUE(imported(ir::OpKind::HardSwish).attrs.empty());
}

// Clip's bounds: attributes before opset 11, constant inputs from it; an absent one is inf.
TEST_F(Activation, ClipBoundsAsAttributesAtOpset9) {
  onnx::NodeProto& node = replaceRelu(9, "Clip");
  addAttr(node, "min", 0.0f);
  const ir::Op& minOnly = imported(ir::OpKind::Clip);
  EXPECT_EQ(minOnly.getFloat("min"), 0.0);
  EXPECT_EQ(minOnly.getFloat("max"), INFINITY);
  addAttr(node, "max", 6.0f);
  EXPECT_EQ(imported(ir::OpKind::Clip).getFloat("max"), 6.0);
}

TEST_F(Activation, ClipBoundsAsInputsAtOpset13) {
  replaceRelu(13, "Clip", {"lo", "hi"});
  addScalar("lo", 0.0f);
  addScalar("hi", 6.0f);
  const ir::Op& relu6 = imported(ir::OpKind::Clip);
  EXPECT_EQ(relu6.getFloat("min"), 0.0);
  EXPECT_EQ(relu6.getFloat("max"), 6.0);
}

TEST_F(Activation, ClipWithoutMinAtOpset13) {
  replaceRelu(13, "Clip", {"", "hi"});
  addScalar("hi", 6.0f);
  const ir::Op& clip = imported(ir::OpKind::Clip);
  EXPECT_EQ(clip.getFloat("min"), -INFINITY);
  EXPECT_EQ(clip.getFloat("max"), 6.0);
}

TEST_F(Activation, ClipBoundMustBeConstant) {
  onnx::NodeProto& node = replaceRelu(13, "Clip", {"image"});
  EXPECT_EQ(error(), "node '" + node.name() +
                         "' (Clip, opset 13): the min input 'image' must be a constant (an initializer or a "
                         "Constant node output)");
}

// The binary family and ReduceMean, in models made here: numpy broadcasting (a per-channel
// gate and parameter, a scalar), ReduceMean's axes (opset 13's attribute, negative axes,
// keepdims 0 as torch's x.mean([2, 3]) exports; none: every axis), and a bad broadcast: one
// line naming the node.
class BinaryModel : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lrc_import_binary_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  onnx::ModelProto model(int64_t opset) const {
    onnx::ModelProto m;
    m.set_ir_version(8);
    m.add_opset_import()->set_version(opset);
    onnx::GraphProto& g = *m.mutable_graph();
    g.set_name("binary");
    onnx::ValueInfoProto& x = *g.add_input();
    x.set_name("x");
    x.mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
    setShape(x, {2, 4, 5, 5});
    return m;
  }
  static void floats(onnx::GraphProto& g, const std::string& name, const Shape& shape) {
    onnx::TensorProto& t = *g.add_initializer();
    t.set_name(name);
    t.set_data_type(onnx::TensorProto::FLOAT);
    int64_t n = 1;
    for (int64_t d : shape) {
      t.add_dims(d);
      n *= d;
    }
    for (int64_t i = 0; i < n; ++i) t.add_float_data(0.5f);
  }
  static onnx::NodeProto& node(onnx::GraphProto& g, const std::string& type, std::vector<std::string> in,
                               const std::string& out) {
    onnx::NodeProto& n = *g.add_node();
    n.set_op_type(type);
    n.set_name(out);
    for (const std::string& i : in) n.add_input(i);
    n.add_output(out);
    return n;
  }
  static void output(onnx::GraphProto& g, const std::string& name, const Shape& shape) {
    onnx::ValueInfoProto& out = *g.add_output();
    out.set_name(name);
    out.mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
    setShape(out, shape);
  }
  std::string write(const onnx::ModelProto& m) const {
    const std::string path = (dir_ / "m.onnx").string();
    std::ofstream(path, std::ios::binary) << m.SerializeAsString();
    return path;
  }

  fs::path dir_;
};

TEST_F(BinaryModel, BroadcastingAndReduceMeanForms) {
  // Opset 18's axes input: the ONNX library lrc links (its checker) knows ReduceMean up to
  // opset 13 only, so that form is not built here.
  onnx::ModelProto m = model(13);
  onnx::GraphProto& g = *m.mutable_graph();
  floats(g, "gate", {1, 4, 1, 1});
  floats(g, "shift", {4, 1, 1});
  floats(g, "two", {});
  onnx::NodeProto& mean = node(g, "ReduceMean", {"x"}, "mean");
  onnx::AttributeProto* keep = mean.add_attribute();
  keep->set_name("keepdims");
  keep->set_type(onnx::AttributeProto::INT);
  keep->set_i(0);
  onnx::AttributeProto* axes = mean.add_attribute();
  axes->set_name("axes");
  axes->set_type(onnx::AttributeProto::INTS);
  axes->add_ints(-1);  // negative axes are counted from the end
  axes->add_ints(2);
  node(g, "Mul", {"x", "gate"}, "gated");
  node(g, "Sub", {"shift", "gated"}, "shifted");
  node(g, "Div", {"shifted", "two"}, "halved");
  node(g, "ReduceMean", {"halved"}, "all");  // no axes: every axis, keepdims 1
  output(g, "mean", {2, 4});
  output(g, "all", {1, 1, 1, 1});
  const std::unique_ptr<ir::Module> im = importOnnx(write(m));
  EXPECT_EQ(opNamed(*im, "mean").kind, ir::OpKind::ReduceMean);
  EXPECT_EQ(opNamed(*im, "mean").getInts("axes"), (ir::IntList{2, 3}));
  EXPECT_EQ(opNamed(*im, "mean").getInt("keepdims"), 0);
  EXPECT_EQ(im->lookup("mean")->type.shape, Shape({2, 4}));
  EXPECT_EQ(opNamed(*im, "gated").kind, ir::OpKind::Mul);
  EXPECT_EQ(opNamed(*im, "shifted").kind, ir::OpKind::Sub);
  EXPECT_EQ(opNamed(*im, "halved").kind, ir::OpKind::Div);
  for (const char* v : {"gated", "shifted", "halved"}) EXPECT_EQ(im->lookup(v)->type.shape, Shape({2, 4, 5, 5}));
  EXPECT_EQ(opNamed(*im, "all").getInts("axes"), (ir::IntList{0, 1, 2, 3}));
  EXPECT_EQ(im->lookup("all")->type.shape, Shape({1, 1, 1, 1}));
  EXPECT_EQ(im->lookup("gate")->kind, ir::ValueKind::Param);
}

// ReduceSum is reduce_mean {sum=1}: opset 13's axes input (a constant, negative axes),
// noop_with_empty_axes (the identity), no axes (every axis), and opset 11's axes attribute.
TEST_F(BinaryModel, ReduceSumForms) {
  onnx::ModelProto m = model(13);
  onnx::GraphProto& g = *m.mutable_graph();
  onnx::TensorProto& hw = *g.add_initializer();
  hw.set_name("hw");
  hw.set_data_type(onnx::TensorProto::INT64);
  hw.add_dims(2);
  hw.add_int64_data(-1);
  hw.add_int64_data(2);
  node(g, "ReduceSum", {"x", "hw"}, "sum");  // keepdims 1 by default
  onnx::AttributeProto* noop = node(g, "ReduceSum", {"x"}, "same").add_attribute();
  noop->set_name("noop_with_empty_axes");
  noop->set_type(onnx::AttributeProto::INT);
  noop->set_i(1);
  onnx::AttributeProto* drop = node(g, "ReduceSum", {"x"}, "total").add_attribute();
  drop->set_name("keepdims");
  drop->set_type(onnx::AttributeProto::INT);
  drop->set_i(0);
  output(g, "sum", {2, 4, 1, 1});
  output(g, "same", {2, 4, 5, 5});
  output(g, "total", {});
  const std::unique_ptr<ir::Module> im = importOnnx(write(m));
  EXPECT_EQ(opNamed(*im, "sum").kind, ir::OpKind::ReduceMean);
  EXPECT_EQ(opNamed(*im, "sum").getInt("sum"), 1);
  EXPECT_EQ(opNamed(*im, "sum").getInts("axes"), (ir::IntList{2, 3}));
  EXPECT_EQ(im->lookup("sum")->type.shape, Shape({2, 4, 1, 1}));
  EXPECT_EQ(opNamed(*im, "same").kind, ir::OpKind::Identity);
  EXPECT_EQ(opNamed(*im, "total").getInts("axes"), (ir::IntList{0, 1, 2, 3}));
  EXPECT_EQ(im->lookup("total")->type.shape, Shape({}));

  onnx::ModelProto old = model(11);
  onnx::GraphProto& g11 = *old.mutable_graph();
  onnx::NodeProto& channels = node(g11, "ReduceSum", {"x"}, "channels");
  onnx::AttributeProto* axes = channels.add_attribute();
  axes->set_name("axes");
  axes->set_type(onnx::AttributeProto::INTS);
  axes->add_ints(1);
  output(g11, "channels", {2, 1, 5, 5});
  const std::unique_ptr<ir::Module> im11 = importOnnx(write(old));
  EXPECT_EQ(opNamed(*im11, "channels").getInt("sum"), 1);
  EXPECT_EQ(opNamed(*im11, "channels").getInts("axes"), (ir::IntList{1}));
  EXPECT_EQ(im11->lookup("channels")->type.shape, Shape({2, 1, 5, 5}));
}

TEST_F(BinaryModel, BadBroadcastNamesTheNode) {
  onnx::ModelProto m = model(13);
  onnx::GraphProto& g = *m.mutable_graph();
  floats(g, "w", {3, 1, 1});
  node(g, "Mul", {"x", "w"}, "bad_mul");
  output(g, "bad_mul", {2, 4, 5, 5});
  const std::string path = write(m);
  const std::string message = importError(path, {});
  EXPECT_EQ(message, path + ": node 'bad_mul' (Mul, opset 13): mul 'bad_mul': shapes f32[2,4,5,5] and f32[3,1,1] do not broadcast");
}

}  // namespace
}  // namespace lrc::compiler
