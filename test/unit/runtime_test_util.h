// Helpers shared by the runtime tests (runtime_*_test.cpp): small ONNX models built in
// code, plans compiled from them with the compiler library (tests may link the compiler;
// the runtime itself does not), and running a plan on the CPU backend.
#pragma once

#include <onnx/onnx_pb.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "compiler/CompilePipeline.h"
#include "compiler/EmitPlan.h"
#include "compiler/OnnxImport.h"
#include "runtime/Executor.h"
#include "runtime/PlanLoader.h"
#include "runtime/cpu/CpuBackend.h"
#include "runtime/plan/PlanFile.h"

namespace lrc::runtime::testing {

namespace fs = std::filesystem;

// The README's example model (1x28x28, 10 classes, Conv-BN-ReLU-MaxPool x2, Conv-ReLU, Gemm).
inline std::string fashionModelPath() {
  return (fs::path(__FILE__).parent_path().parent_path().parent_path() / "examples" / "fashion_cnn.onnx").string();
}

// A folder of its own under the system temp folder, removed with the object.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    std::random_device rd;
    path_ = fs::temp_directory_path() / ("lrc-" + tag + "-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

// Builds an ONNX graph node by node: weights are seeded uniform values in +-scale.
class OnnxBuilder {
 public:
  explicit OnnxBuilder(int64_t opset, uint32_t seed = 1) : rng_(seed) {
    model_.set_ir_version(8);
    model_.set_producer_name("lrc runtime tests");
    auto* op = model_.add_opset_import();
    op->set_domain("");
    op->set_version(opset);
    model_.mutable_graph()->set_name("g");
  }

  void input(const std::string& name, const std::vector<int64_t>& shape) {
    valueInfo(*model_.mutable_graph()->add_input(), name, shape);
  }
  void output(const std::string& name, const std::vector<int64_t>& shape) {
    valueInfo(*model_.mutable_graph()->add_output(), name, shape);
  }

  std::string weight(const std::string& name, const std::vector<int64_t>& shape, float scale = 0.5f) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::uniform_real_distribution<float> dist(-scale, scale);
    std::vector<float> values(static_cast<size_t>(n));
    for (float& v : values) v = dist(rng_);
    return floats(name, shape, values);
  }
  std::string floats(const std::string& name, const std::vector<int64_t>& shape, const std::vector<float>& values) {
    onnx::TensorProto* t = model_.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : shape) t->add_dims(d);
    for (float v : values) t->add_float_data(v);
    return name;
  }
  std::string boolean(const std::string& name, bool value) {
    onnx::TensorProto* t = model_.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::BOOL);
    t->add_int32_data(value);
    return name;
  }
  std::string ints(const std::string& name, const std::vector<int64_t>& values) {
    onnx::TensorProto* t = model_.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(static_cast<int64_t>(values.size()));
    for (int64_t v : values) t->add_int64_data(v);
    return name;
  }

  onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& inputs, const std::string& output) {
    onnx::NodeProto* n = model_.mutable_graph()->add_node();
    n->set_op_type(op);
    n->set_name(output + "_node");
    for (const std::string& i : inputs) n->add_input(i);
    n->add_output(output);
    return *n;
  }
  static void intsAttr(onnx::NodeProto& n, const std::string& name, const std::vector<int64_t>& values) {
    onnx::AttributeProto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t v : values) a->add_ints(v);
  }
  static void intAttr(onnx::NodeProto& n, const std::string& name, int64_t value) {
    onnx::AttributeProto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(value);
  }
  static void floatAttr(onnx::NodeProto& n, const std::string& name, float value) {
    onnx::AttributeProto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(value);
  }

  std::string save(const std::string& path) const {
    std::ofstream out(path, std::ios::binary);
    model_.SerializeToOstream(&out);
    return path;
  }

 private:
  onnx::ModelProto model_;
  std::mt19937 rng_;

  static void valueInfo(onnx::ValueInfoProto& v, const std::string& name, const std::vector<int64_t>& shape) {
    v.set_name(name);
    auto* t = v.mutable_type()->mutable_tensor_type();
    t->set_elem_type(onnx::TensorProto::FLOAT);
    for (int64_t d : shape) t->mutable_shape()->add_dim()->set_dim_value(d);
  }
};

// A training plan as lrc-compile makes it: the plan (the file's payload) and the file's
// weights section.
struct CompiledPlan {
  plan::Plan plan;
  std::string weights;

  plan::MemoryWeights source() const { return plan::MemoryWeights(weights); }
  std::string fileBytes() const { return plan::encodePlanFile(plan, weights); }
};

// The plan file framing (runtime/plan/PlanFile.h) around any payload and weights bytes, with
// right checksums: damage that gets past the framing.
inline std::string framePlanFile(std::string_view payload, std::string_view weights) {
  std::string out("LRCPLAN", 8);
  auto put = [&](uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  auto crc = [](std::string_view bytes) {
    return crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size()));
  };
  put(plan::kPlanVersion, 4);
  put(payload.size(), 8);
  put(weights.size(), 8);
  out += payload;
  put(crc(payload), 4);
  out += weights;
  put(crc(weights), 4);
  return out;
}

// The training plan lrc-compile would write for `onnxPath` (layerwise unless `training`
// says otherwise).
inline CompiledPlan compilePlan(const std::string& onnxPath, int64_t batch,
                                const plan::Optimizer& optimizer = compiler::defaultOptimizer(),
                                const compiler::TrainingOptions& training = {}) {
  compiler::ImportOptions options;
  options.batch = batch;
  std::unique_ptr<ir::Module> m = compiler::importOnnx(onnxPath, options);
  compiler::runImportPipeline(*m);
  compiler::TrainingPrograms programs = compiler::runTrainingPipeline(*m, training);
  CompiledPlan c;
  c.plan = compiler::emitPlan(programs, onnxPath, optimizer, c.weights);
  return c;
}

// A model with a kernel of every family the fashion CNN lacks: stride-2 convolution
// without bias, Pad (asymmetric), AveragePool with count_include_pad, ceil-mode MaxPool,
// training-mode BatchNorm and Dropout, Flatten, MatMul and a broadcast Add of a bias,
// GlobalAveragePool on a residual branch. Image 2x9x11, 5 classes.
inline std::string writeMixedModel(const std::string& path, bool dropout = true) {
  OnnxBuilder b(15, 7);
  b.input("image", {4, 2, 9, 11});
  auto& c1 = b.node("Conv", {"image", b.weight("c1.w", {4, 2, 3, 3})}, "c1");
  OnnxBuilder::intsAttr(c1, "strides", {2, 2});
  OnnxBuilder::intsAttr(c1, "pads", {1, 0, 1, 1});  // -> 5x5
  auto& bn = b.node("BatchNormalization",
                    {"c1", b.weight("bn.scale", {4}), b.weight("bn.bias", {4}), b.floats("bn.mean", {4}, {0, 0, 0, 0}),
                     b.floats("bn.var", {4}, {1, 1, 1, 1})},
                    "bn");
  OnnxBuilder::intAttr(bn, "training_mode", 1);
  b.node("Relu", {"bn"}, "r1");
  b.node("Pad", {"r1", b.ints("pads", {0, 0, 1, 0, 0, 0, 0, 2})}, "pad");  // -> 6x7
  auto& ap = b.node("AveragePool", {"pad"}, "ap");
  OnnxBuilder::intsAttr(ap, "kernel_shape", {3, 3});
  OnnxBuilder::intsAttr(ap, "pads", {1, 1, 1, 1});
  OnnxBuilder::intAttr(ap, "count_include_pad", 1);  // -> 6x7
  auto& mp = b.node("MaxPool", {"ap"}, "mp");
  OnnxBuilder::intsAttr(mp, "kernel_shape", {2, 2});
  OnnxBuilder::intsAttr(mp, "strides", {2, 2});
  OnnxBuilder::intAttr(mp, "ceil_mode", 1);    // -> 3x4
  b.node("GlobalAveragePool", {"mp"}, "gap");  // [4,4,1,1]
  b.node("Add", {"mp", "gap"}, "res");         // broadcast over H, W
  std::string last = "res";
  if (dropout) {
    b.node("Dropout", {"res", b.floats("ratio", {}, {0.25f}), b.boolean("training", true)}, "drop");
    last = "drop";
  }
  auto& fl = b.node("Flatten", {last}, "flat");
  OnnxBuilder::intAttr(fl, "axis", 1);
  b.node("MatMul", {"flat", b.weight("fc.w", {48, 5})}, "mm");
  b.node("Add", {"mm", b.weight("fc.b", {5})}, "logits");
  b.output("logits", {4, 5});
  return b.save(path);
}

// Deterministic batch data for a plan: images in [0, 1), labels spread over the classes.
struct Batch {
  std::vector<float> images;
  std::vector<int64_t> labels;
};
inline Batch makeBatch(const IoShape& s, uint32_t seed) {
  Batch batch;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(0.0f, 1.0f);
  batch.images.resize(static_cast<size_t>(s.batch * s.channels * s.height * s.width));
  for (float& v : batch.images) v = dist(rng);
  for (int64_t n = 0; n < s.batch; ++n) batch.labels.push_back((n * 7 + seed) % s.classes);
  return batch;
}

}  // namespace lrc::runtime::testing
