// Plan loading and validation (runtime/PlanLoader, runtime/plan/PlanFile): a compiled plan
// passes; each kind of damage to it, in the file's framing or in the plan, is a one-line
// error that names the plan, the buffer or step, and what was expected.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "runtime_test_util.h"

namespace lrc::runtime {
namespace {

using testing::compilePlan;
using testing::CompiledPlan;
using testing::fashionModelPath;
using testing::TempDir;

const CompiledPlan& fashion() {
  static const CompiledPlan plan = compilePlan(fashionModelPath(), 2);
  return plan;
}
const plan::Plan& fashionPlan() { return fashion().plan; }

// The validation error for `p` (with the fashion plan's weights section), or "" when it
// passes.
std::string validationError(const plan::Plan& p, const Backend& backend) {
  try {
    validatePlan(p, fashion().weights.size(), "test.plan", backend);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}
std::string validationError(const plan::Plan& p) {
  CpuBackend backend;
  return validationError(p, backend);
}

// Index of the first step of `program` running `kernel`.
int stepOf(const plan::Program& program, const std::string& kernel) {
  for (int i = 0; i < program.steps_size(); ++i)
    if (program.steps(i).kernel() == kernel) return i;
  throw std::runtime_error("no " + kernel + " step");
}

plan::Attr* attrOf(plan::Step* step, const std::string& name) {
  for (plan::Attr& a : *step->mutable_attrs())
    if (a.name() == name) return &a;
  throw std::runtime_error("no attribute " + name);
}

#define EXPECT_ERROR(plan, text)                             \
  do {                                                       \
    const std::string error = validationError(plan);         \
    EXPECT_NE(error.find(text), std::string::npos) << error; \
    EXPECT_EQ(error.rfind("test.plan: ", 0), 0u) << error;   \
    EXPECT_EQ(error.find('\n'), std::string::npos) << error; \
  } while (0)

TEST(PlanLoader, CompiledPlansPass) {
  EXPECT_EQ(validationError(fashionPlan()), "");
  TempDir dir("loader");
  const CompiledPlan mixed = compilePlan(testing::writeMixedModel(dir.file("mixed.onnx")), 4);
  CpuBackend backend;
  EXPECT_NO_THROW(validatePlan(mixed.plan, mixed.weights.size(), "mixed.plan", backend));
}

TEST(PlanLoader, LoadsAPlanFile) {
  TempDir dir("loader");
  const std::string path = dir.file("f.plan");
  std::ofstream(path, std::ios::binary) << fashion().fileBytes();
  CpuBackend backend;
  const plan::PlanFile file = loadPlan(path, backend);
  EXPECT_EQ(file.path(), path);
  EXPECT_EQ(file.plan().SerializeAsString(), fashionPlan().SerializeAsString());
  EXPECT_EQ(file.size(), fashion().weights.size());
  std::string streamed;
  file.stream([&](uint64_t at, const char* data, uint64_t bytes) {
    EXPECT_EQ(at, streamed.size());
    streamed.append(data, bytes);
  });
  EXPECT_EQ(streamed, fashion().weights);
}

// The weights section holds the parameters' and running statistics' nonzero initial data,
// each init's range after the previous one; momentum and all-zero data are zero-filled.
TEST(PlanLoader, WeightsSectionLayout) {
  uint64_t next = 0;
  int zeroFilled = 0;
  for (const plan::Init& init : fashionPlan().inits()) {
    const plan::Buffer& b = fashionPlan().buffers(static_cast<int>(init.buffer()));
    if (b.role() == plan::OPTIMIZER_STATE) {
      EXPECT_EQ(init.bytes(), 0u) << b.name();
    }
    if (init.bytes() == 0) {
      ++zeroFilled;
      continue;
    }
    EXPECT_EQ(init.weights_offset(), next) << b.name();
    EXPECT_EQ(init.bytes(), b.bytes()) << b.name();
    EXPECT_NE(fashion().weights.substr(init.weights_offset(), init.bytes()), std::string(b.bytes(), '\0'));
    next = init.weights_offset() + init.bytes();
  }
  EXPECT_EQ(next, fashion().weights.size());
  EXPECT_GT(zeroFilled, 0);
}

TEST(PlanLoader, MissingFile) {
  CpuBackend backend;
  try {
    loadPlan("/nonexistent/dir/missing.plan", backend);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "/nonexistent/dir/missing.plan: cannot read: No such file or directory");
  }
}

TEST(PlanLoader, FramingErrorsNameThePlan) {
  TempDir dir("loader");
  CpuBackend backend;
  const std::string good = fashion().fileBytes();
  const std::string path = dir.file("bad.plan");
  auto errorFor = [&](const std::string& bytes) -> std::string {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
    try {
      loadPlan(path, backend);
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "";
  };
  const std::string size = std::to_string(good.size());
  EXPECT_EQ(errorFor(good), "");
  EXPECT_EQ(errorFor("hello"), path + ": not an lrc plan (no LRCPLAN header)");
  EXPECT_EQ(errorFor(good.substr(0, 20)), path + ": truncated plan (header cut short)");
  EXPECT_EQ(errorFor(good.substr(0, 1000)), path + ": truncated plan (1000 bytes, the header announces " + size + ")");
  EXPECT_EQ(errorFor(good.substr(0, good.size() - 1)),
            path + ": truncated plan (" + std::to_string(good.size() - 1) + " bytes, the header announces " + size + ")");
  EXPECT_EQ(errorFor(good + "x"),
            path + ": trailing bytes after the plan (" + std::to_string(good.size() + 1) + " bytes, the header announces " +
                size + ")");
  std::string version = good;
  version[8] = 1;
  EXPECT_EQ(errorFor(version), path + ": plan format version 1, this lrc-run reads version " +
                                   std::to_string(plan::kPlanVersion) + ": recompile the model");
  std::string huge = good;
  for (int i = 12; i < 28; ++i) huge[i] = '\xff';  // both sizes: far past the file's end
  EXPECT_NE(errorFor(huge).find(": truncated plan (" + size + " bytes, the header announces 18446744073709551615)"),
            std::string::npos);
  // The payload's checksum is checked before it is decoded (a flip in it, or in its CRC).
  for (size_t at : {size_t{28}, size_t{500}, good.size() - fashion().weights.size() - 5}) {
    std::string flipped = good;
    flipped[at] ^= 0x10;
    EXPECT_EQ(errorFor(flipped), path + ": corrupt plan (checksum mismatch)") << at;
  }
  // A payload that is not a plan, with right checksums.
  EXPECT_EQ(errorFor(testing::framePlanFile("\xff\xff\xff", "")), path + ": corrupt plan (undecodable payload)");
}

TEST(PlanLoader, UnreadableFiles) {
  CpuBackend backend;
  const std::string dir = std::filesystem::temp_directory_path().string();
  try {
    loadPlan(dir, backend);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), dir + ": cannot read: Is a directory");
  }
}

TEST(PlanLoader, Header) {
  plan::Plan p = fashionPlan();
  p.set_version(plan::kPlanVersion + 1);
  EXPECT_ERROR(p, "plan version " + std::to_string(plan::kPlanVersion + 1) + ", this lrc-run reads version " +
                      std::to_string(plan::kPlanVersion));
  p = fashionPlan();
  p.set_arena_bytes(0);
  EXPECT_ERROR(p, "arena_bytes is 0");
}

TEST(PlanLoader, Buffers) {
  plan::Plan p = fashionPlan();
  p.mutable_buffers(2)->set_dtype(static_cast<plan::DType>(7));
  EXPECT_ERROR(p, "buffer #2 'features.0.weight': unknown dtype 7");

  p = fashionPlan();
  p.mutable_buffers(2)->set_shape(0, 0);
  EXPECT_ERROR(p, "buffer #2 'features.0.weight': shape [0,1,3,3]: dimension 0 is 0, expected at least 1");

  p = fashionPlan();
  p.mutable_buffers(2)->set_shape(0, int64_t{1} << 40);
  p.mutable_buffers(2)->set_shape(1, int64_t{1} << 40);
  EXPECT_ERROR(p, "buffer #2 'features.0.weight': shape [1099511627776,1099511627776,3,3]: more than 576460752303423488 elements");

  p = fashionPlan();
  p.mutable_buffers(2)->set_bytes(100);
  EXPECT_ERROR(p, "buffer #2 'features.0.weight': holds 100 bytes, its type f32[16,1,3,3] needs 576");

  p = fashionPlan();
  p.mutable_buffers(2)->set_offset(p.buffers(2).offset() + 4);
  EXPECT_ERROR(p, "is not 64-byte aligned");

  p = fashionPlan();
  p.mutable_buffers(2)->set_offset(p.arena_bytes() / 64 * 64);
  EXPECT_ERROR(p, "buffer #2 'features.0.weight': bytes [");
  EXPECT_ERROR(p, ") lie outside the arena of " + std::to_string(p.arena_bytes()) + " bytes");

  p = fashionPlan();
  p.mutable_buffers(2)->set_offset(uint64_t{1} << 63);  // offset + bytes would wrap
  EXPECT_ERROR(p, "lie outside the arena");

  // The message gives the figures of the plan, not a wrapped end (512).
  p = fashionPlan();
  p.mutable_buffers(2)->set_offset(~uint64_t{0} / 64 * 64);
  EXPECT_ERROR(p, "buffer #2 'features.0.weight': bytes [18446744073709551552, +576) lie outside the arena");
}

// Band geometry (docs/plan-format.md, "Row bands"): only rank-4 f32 maps, rows inside the
// map's height; a band only where a kernel takes one, and never for the io.
TEST(PlanLoader, RowBands) {
  plan::Plan p = fashionPlan();
  p.mutable_buffers(2)->set_height(-1);
  EXPECT_ERROR(p, "buffer #2 'features.0.weight': band height -1 is negative");

  p = fashionPlan();
  p.mutable_buffers(2)->set_row0(1);
  EXPECT_ERROR(p, "buffer #2 'features.0.weight': row0 1 without a band height");

  p = fashionPlan();
  p.mutable_buffers(2)->set_height(2);
  EXPECT_ERROR(p, "buffer #2 'features.0.weight': band rows [0, 3) are not inside the map's rows [0, 2)");

  p = fashionPlan();
  p.mutable_buffers(2)->set_height(5);
  p.mutable_buffers(2)->set_row0(3);
  EXPECT_ERROR(p, "buffer #2 'features.0.weight': band rows [3, 6) are not inside the map's rows [0, 5)");

  p = fashionPlan();
  p.mutable_buffers(1)->set_height(4);
  EXPECT_ERROR(p, "buffer #1 'labels': band height 4 on i64[2]: only f32 maps of rank 4 are row bands");

  // Well-formed geometry, but a convolution's weight is a whole tensor.
  p = fashionPlan();
  p.mutable_buffers(2)->set_height(5);
  EXPECT_ERROR(p, "(conv2d '/features/features.0/Conv'): kernel 'conv2d' takes no row band as operand 1: #2 "
                  "'features.0.weight' is f32[16,1,3,3] rows [0,3) of 5");

  p = fashionPlan();
  p.mutable_buffers(0)->set_height(30);
  EXPECT_ERROR(p, "io.image: buffer #0 'image' is a row band (f32[2,1,28,28] rows [0,28) of 30), expected a whole "
                  "tensor");
}

TEST(PlanLoader, StepKernelsAndIndices) {
  plan::Plan p = fashionPlan();
  p.mutable_train()->mutable_steps(0)->set_kernel("conv3d");
  EXPECT_ERROR(p, "train step #0 (conv3d '/features/features.0/Conv'): unknown kernel 'conv3d'");

  p = fashionPlan();
  p.mutable_train()->mutable_steps(0)->set_inputs(1, 9999);
  EXPECT_ERROR(p, "train step #0 (conv2d '/features/features.0/Conv'): operand buffer #9999 does not exist");

  p = fashionPlan();
  p.mutable_train()->mutable_steps(0)->set_outputs(0, 9999);
  EXPECT_ERROR(p, "result buffer #9999 does not exist");

  p = fashionPlan();
  p.mutable_train()->mutable_steps(0)->set_scratch(9999);
  EXPECT_ERROR(p, "scratch buffer #9999 does not exist");

  p = fashionPlan();
  p.mutable_train()->mutable_steps(0)->mutable_inputs()->RemoveLast();
  p.mutable_train()->mutable_steps(0)->mutable_inputs()->RemoveLast();
  EXPECT_ERROR(p, "expects 2 to 3 operands, got 1");

  p = fashionPlan();
  p.mutable_train()->mutable_steps(0)->add_outputs(3);
  EXPECT_ERROR(p, "expects 1 results, got 2");
}

// A backend that lacks a kernel: the plan names the backend and the kernel.
class NoConvBackend : public CpuBackend {
 public:
  std::string name() const override { return "partial"; }
  bool supports(Kernel kernel) const override { return kernel != Kernel::Conv2d; }
};

TEST(PlanLoader, KernelTheBackendLacks) {
  NoConvBackend backend;
  const std::string error = validationError(fashionPlan(), backend);
  EXPECT_NE(error.find("the partial backend has no kernel 'conv2d'"), std::string::npos) << error;
}

TEST(PlanLoader, Attributes) {
  plan::Plan p = fashionPlan();
  plan::Step* conv = p.mutable_train()->mutable_steps(0);
  conv->mutable_attrs()->erase(conv->mutable_attrs()->begin() + 3);  // stride (sorted by name)
  EXPECT_ERROR(p, "missing attribute 'stride'");

  p = fashionPlan();
  attrOf(p.mutable_train()->mutable_steps(0), "stride")->mutable_ints()->RemoveLast();
  EXPECT_ERROR(p, "attribute 'stride' must have 2 values, got 1");

  p = fashionPlan();
  attrOf(p.mutable_train()->mutable_steps(0), "stride")->set_ints(0, 0);
  EXPECT_ERROR(p, "attribute 'stride' value 0 is outside [1, ");

  p = fashionPlan();
  *p.mutable_train()->mutable_steps(0)->add_attrs() = p.train().steps(0).attrs(0);
  EXPECT_ERROR(p, "attribute 'dilation' is given twice");

  p = fashionPlan();
  plan::Attr* eps = attrOf(p.mutable_train()->mutable_steps(stepOf(p.train(), "batchnorm_stats")), "epsilon");
  eps->set_floats(0, -1);
  EXPECT_ERROR(p, "attribute 'epsilon' value -1 is outside [0, ");

  p = fashionPlan();
  attrOf(p.mutable_train()->mutable_steps(stepOf(p.train(), "batchnorm_stats")), "momentum")->set_floats(0, NAN);
  EXPECT_ERROR(p, "attribute 'momentum' value nan is outside [0, 1]");

  p = fashionPlan();
  attrOf(p.mutable_eval()->mutable_steps(stepOf(p.eval(), "batchnorm")), "training")->set_ints(0, 2);  // the evaluation program's frozen one
  EXPECT_ERROR(p, "attribute 'training' value 2 is outside [0, 1]");
}

TEST(PlanLoader, ShapesConsistentWithKernels) {
  // conv2d: the result must be what the window formula gives.
  plan::Plan p = fashionPlan();
  plan::Attr* stride = attrOf(p.mutable_train()->mutable_steps(0), "stride");
  stride->set_ints(0, 2);
  stride->set_ints(1, 2);
  EXPECT_ERROR(p, "result '/features/features.0/Conv_output_0' is f32[2,16,28,28], expected f32[2,16,14,14]");

  // conv2d: the scratch must hold the im2col matrix (conv2d_workspace_floats).
  p = fashionPlan();
  p.mutable_train()->mutable_steps(0)->set_scratch(-1);
  EXPECT_ERROR(p, "needs 28224 bytes of scratch (the convolution's im2col matrix), the plan gives none");
  p = fashionPlan();
  p.mutable_train()->mutable_steps(0)->set_scratch(3);  // features.0.bias: 64 bytes
  EXPECT_ERROR(p, "scratch #3 'features.0.bias' holds 64 bytes, the convolution's im2col matrix needs 28224");

  // conv2d: weight channels against the input's.
  p = fashionPlan();
  p.mutable_train()->mutable_steps(0)->set_inputs(1, 8);  // features.4.weight f32[32,16,3,3]
  p.mutable_train()->mutable_steps(0)->set_inputs(2, 9);
  EXPECT_ERROR(p, "weight [32,16,3,3] expects 16 input channels, the input [2,1,28,28] has 1");

  // gemm: inner dimensions.
  p = fashionPlan();
  attrOf(p.mutable_train()->mutable_steps(stepOf(p.train(), "gemm")), "transB")->set_ints(0, 0);
  EXPECT_ERROR(p, "inner dimensions differ: A [2,1568], B [10,1568]");

  // sgd_update (the first: classifier.bias's, whose sum_to has no accumulating form):
  // parameter, gradient and momentum of one shape.
  p = fashionPlan();
  plan::Step* update = p.mutable_train()->mutable_steps(stepOf(p.train(), "sgd_update"));
  update->set_inputs(2, 28);  // classifier.weight.momentum f32[10,1568]
  EXPECT_ERROR(p, "momentum buffer 'classifier.weight.momentum' is f32[10,1568], expected f32[10]");
  // The fused form: sgd_apply's buffer of its parameter's type; an accumulating step adds
  // into a tensor of its result's type, and has no result; only kernels with that form.
  p = fashionPlan();
  p.mutable_train()->mutable_steps(stepOf(p.train(), "sgd_apply"))->set_inputs(1, 29);  // classifier.weight's
  EXPECT_ERROR(p, "(sgd_apply): optimizer state 'classifier.bias.momentum' is f32[10], expected f32[10,1568]");
  p = fashionPlan();
  plan::Step* accumulating = p.mutable_train()->mutable_steps(stepOf(p.train(), "sgd_momentum_scale") + 1);
  ASSERT_EQ(accumulating->kernel(), "gemm");
  EXPECT_EQ(accumulating->inputs(accumulating->inputs_size() - 1), 28u);
  accumulating->set_inputs(accumulating->inputs_size() - 1, 29);
  EXPECT_ERROR(p, "result 'classifier.bias.momentum' is f32[10], expected f32[10,1568]");
  p = fashionPlan();
  accumulating = p.mutable_train()->mutable_steps(stepOf(p.train(), "sgd_momentum_scale") + 1);
  accumulating->add_outputs(28);
  EXPECT_ERROR(p, "(gemm): an accumulating step has no results: it adds into its last operand");
  p = fashionPlan();
  accumulating = p.mutable_train()->mutable_steps(stepOf(p.train(), "sgd_momentum_scale") + 1);
  accumulating->set_kernel("matmul");
  EXPECT_ERROR(p, "(matmul): kernel 'matmul' has no accumulating form (attribute 'accumulate')");

  // batchnorm_apply: its statistics are per channel of its input.
  p = fashionPlan();
  const int apply = stepOf(p.train(), "batchnorm_apply");
  p.mutable_train()->mutable_steps(apply)->set_inputs(3, 9);  // features.4.bias f32[32] as the 16-channel one's mean
  EXPECT_ERROR(p, "mean 'features.4.bias' is f32[32], expected f32[16]");

  // softmax_xent: labels i64[N].
  p = fashionPlan();
  p.mutable_train()->mutable_steps(stepOf(p.train(), "softmax_xent"))->set_inputs(1, 17);
  EXPECT_ERROR(p, "labels 'classifier.bias' is f32[10], expected i64[2]");
}

TEST(PlanLoader, SoftmaxAxisInRange) {
  plan::Plan p = fashionPlan();
  const uint32_t logits = p.io().eval_logits();
  plan::Buffer* probs = p.add_buffers();
  *probs = p.buffers(static_cast<int>(logits));
  probs->set_name("probs");
  probs->set_offset((p.arena_bytes() + 63) / 64 * 64);
  p.set_arena_bytes(probs->offset() + probs->bytes());
  plan::Step* softmax = p.mutable_eval()->add_steps();
  softmax->set_kernel("softmax");
  softmax->add_inputs(logits);
  softmax->add_outputs(static_cast<uint32_t>(p.buffers_size() - 1));
  softmax->set_scratch(-1);
  plan::Attr* axis = softmax->add_attrs();
  axis->set_name("axis");
  axis->add_ints(1);
  EXPECT_EQ(validationError(p), "");
  axis->set_ints(0, 0);
  EXPECT_EQ(validationError(p), "");
  axis->set_ints(0, 2);
  EXPECT_ERROR(p, "attribute 'axis'");
}

TEST(PlanLoader, DataflowAndOverlap) {
  // A step that reads a buffer nothing wrote.
  plan::Plan p = fashionPlan();
  plan::Buffer* ghost = p.add_buffers();
  *ghost = p.buffers(0);
  ghost->set_name("ghost");
  p.mutable_train()->mutable_steps(0)->set_inputs(0, static_cast<uint32_t>(p.buffers_size() - 1));
  EXPECT_ERROR(p, "train step #0 (conv2d '/features/features.0/Conv'): reads buffer #" +
                      std::to_string(p.buffers_size() - 1) +
                      " 'ghost', which no earlier step writes and which has no initial data");

  // A result placed over its operand.
  p = fashionPlan();
  p.mutable_buffers(static_cast<int>(p.train().steps(0).outputs(0)))->set_offset(p.buffers(2).offset());
  EXPECT_ERROR(p, "result #30 '/features/features.0/Conv_output_0' overlaps operand #2 'features.0.weight'");

  // An evaluation result placed over a weight it does not read.
  p = fashionPlan();
  p.mutable_buffers(static_cast<int>(p.eval().steps(0).outputs(0)))->set_offset(p.buffers(14).offset());
  EXPECT_ERROR(p, "eval step #0 (conv2d '/features/features.0/Conv'): result buffer #" +
                      std::to_string(p.eval().steps(0).outputs(0)) +
                      " 'eval//features/features.0/Conv_output_0' overlaps buffer #14 'features.8.weight', which "
                      "persists across steps");

  // A program that never writes the loss.
  p = fashionPlan();
  p.mutable_train()->mutable_steps()->erase(p.mutable_train()->mutable_steps()->begin() +
                                            stepOf(p.train(), "softmax_xent"));
  EXPECT_ERROR(p, "the train program never writes io.loss");

  p = fashionPlan();
  p.mutable_eval()->clear_steps();
  EXPECT_ERROR(p, "the eval program has no steps");
}

TEST(PlanLoader, Io) {
  plan::Plan p = fashionPlan();
  p.mutable_io()->set_image(9999);
  EXPECT_ERROR(p, "io.image is buffer #9999, which does not exist");

  p = fashionPlan();
  p.mutable_io()->set_image(2);
  // A 4-D f32 buffer passes as an image; its batch then disagrees with the labels'.
  EXPECT_ERROR(p, "io.labels: buffer #1 'labels' is i64[2], expected i64[16] (one label per image)");

  p = fashionPlan();
  p.mutable_io()->set_image(p.io().labels());
  EXPECT_ERROR(p, "io.image: buffer #1 'labels' is i64[2], expected f32[N,C,H,W]");

  p = fashionPlan();
  p.mutable_io()->set_labels(0);
  EXPECT_ERROR(p, "io.labels: buffer #0 'image' is f32[2,1,28,28], expected i64[2]");

  // (lrc-compile's training program returns the loss only: io.logits is the evaluation's.)
  p = fashionPlan();
  ASSERT_EQ(p.io().logits(), p.io().eval_logits());
  p.mutable_io()->set_loss(p.io().logits());
  EXPECT_ERROR(p, "io.loss: buffer #" + std::to_string(p.io().logits()) +
                      " 'eval/logits' is f32[2,10], expected f32[] (a scalar)");

  p = fashionPlan();
  p.mutable_io()->set_logits(p.io().loss());
  EXPECT_ERROR(p, "io.logits: buffer #" + std::to_string(p.io().loss()) + " 'loss' is f32[], expected f32[2,K] or f32[2,K,H,W]");

  p = fashionPlan();
  p.mutable_io()->set_eval_logits(p.io().image());
  EXPECT_ERROR(p, "io.eval_logits: buffer #0 'image' is f32[2,1,28,28], expected f32[2,10]");
}

// Index of the first init with data after init 0.
int secondDataInit(const plan::Plan& p) {
  for (int i = 1; i < p.inits_size(); ++i)
    if (p.inits(i).bytes() > 0) return i;
  throw std::runtime_error("no second init with data");
}

TEST(PlanLoader, Inits) {
  const uint64_t weights = fashion().weights.size();
  ASSERT_GT(fashionPlan().inits(0).bytes(), 0u);
  plan::Plan p = fashionPlan();
  p.mutable_inits(0)->set_buffer(9999);
  EXPECT_ERROR(p, "init #0: buffer #9999 does not exist");

  p = fashionPlan();
  p.mutable_inits(0)->set_bytes(3);
  EXPECT_ERROR(
      p, "init #0: buffer #2 'features.0.weight' gets 3 bytes, its type f32[16,1,3,3] needs 576 (or none, for zeros)");

  p = fashionPlan();
  *p.add_inits() = p.inits(0);
  EXPECT_ERROR(p, "buffer #2 'features.0.weight' already has initial data");

  // Ranges: inside the weights section, in increasing order, not overlapping.
  p = fashionPlan();
  p.mutable_inits(0)->set_weights_offset(weights - 500);
  EXPECT_ERROR(p, "init #0: buffer #2 'features.0.weight': weights [" + std::to_string(weights - 500) +
                      ", +576) lie outside the weights section of " + std::to_string(weights) + " bytes");
  p = fashionPlan();
  p.mutable_inits(0)->set_weights_offset(std::numeric_limits<uint64_t>::max() - 100);
  EXPECT_ERROR(p, "lie outside the weights section");
  p = fashionPlan();
  const int second = secondDataInit(p);
  p.mutable_inits(second)->set_weights_offset(500);
  EXPECT_ERROR(p, "init #" + std::to_string(second) + ": buffer #" + std::to_string(p.inits(second).buffer()) +
                      " '" + p.buffers(static_cast<int>(p.inits(second).buffer())).name() +
                      "': weights [500, +" + std::to_string(p.inits(second).bytes()) +
                      ") start before the previous init's end at 576");
  p = fashionPlan();
  std::swap(*p.mutable_inits(0), *p.mutable_inits(second));
  EXPECT_ERROR(p, "start before the previous init's end");

  // Only globals get initial data, and no two initialized buffers share arena bytes.
  p = fashionPlan();
  p.mutable_inits(0)->set_buffer(p.io().image());
  EXPECT_ERROR(p, "init #0: buffer #0 'image' is not a parameter, state, optimizer state or constant");
  p = fashionPlan();
  p.mutable_buffers(static_cast<int>(p.inits(second).buffer()))->set_offset(p.buffers(2).offset());
  EXPECT_ERROR(p, "overlaps buffer #2 'features.0.weight' in the arena, which also has initial data");
}

TEST(PlanLoader, Optimizer) {
  plan::Plan p = fashionPlan();
  p.mutable_optimizer()->set_lr(-1);
  EXPECT_ERROR(p, "optimizer lr = -1, expected a finite number >= 0");
  p = fashionPlan();
  p.mutable_optimizer()->set_momentum(INFINITY);
  EXPECT_ERROR(p, "optimizer momentum = inf, expected a finite number >= 0");
  p = fashionPlan();
  p.mutable_optimizer()->set_weight_decay(NAN);
  EXPECT_ERROR(p, "optimizer weight_decay = nan");
  p = fashionPlan();
  p.mutable_optimizer()->set_kind(static_cast<plan::OptimizerKind>(7));
  EXPECT_ERROR(p, "optimizer kind 7 is not one this lrc-run knows (sgd, adamw)");
  p = fashionPlan();
  p.mutable_optimizer()->set_momentum(0);
  p.mutable_optimizer()->set_nesterov(true);
  EXPECT_ERROR(p, "optimizer nesterov needs sgd with a momentum above 0");
}

// An AdamW plan: its betas below 1 (at 1 the bias correction divides by zero), and its
// update steps those of its optimizer: an SGD plan's record on AdamW's updates, or the
// reverse, is refused at the first update.
TEST(PlanLoader, OptimizerOfTheUpdates) {
  compiler::TrainingOptions training;
  training.autodiff.optimizer = ops::Optimizer::AdamW;
  const CompiledPlan adamw =
      compilePlan(fashionModelPath(), 2, compiler::defaultOptimizer(ops::Optimizer::AdamW), training);
  EXPECT_EQ(validationError(adamw.plan), "");
  plan::Plan p = adamw.plan;
  p.mutable_optimizer()->set_beta2(1.0);
  EXPECT_ERROR(p, "optimizer beta2 = 1, expected a number in [0, 1)");
  p = adamw.plan;
  p.mutable_optimizer()->set_kind(plan::SGD);
  EXPECT_ERROR(p, "(adamw_update): an update of adamw, but the plan's optimizer is sgd");
  p = fashionPlan();
  p.mutable_optimizer()->set_kind(plan::ADAMW);
  EXPECT_ERROR(p, "(sgd_momentum_scale): a step of sgd's fused update, but the plan's optimizer is adamw");
  // A fused sgd plan cannot run Nesterov momentum (lrc-compile --no-fuse-sgd-grads can).
  p = fashionPlan();
  p.mutable_optimizer()->set_nesterov(true);
  EXPECT_ERROR(p, "(sgd_momentum_scale): Nesterov momentum needs the gradient apart from the momentum buffer, and "
                  "this plan adds it into the buffer (compile it with lrc-compile --no-fuse-sgd-grads)");
  EXPECT_TRUE(fusesOptimizerGrads(fashionPlan()));
  EXPECT_FALSE(fusesOptimizerGrads(adamw.plan));
}

}  // namespace
}  // namespace lrc::runtime
