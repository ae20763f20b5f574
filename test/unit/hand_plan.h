// One-step plans built by hand, for the tests that run single kernels through a backend
// (band_exec_test on the CPU, backend_conformance_test on every backend against the CPU):
// buffers packed in the arena, one step with its attributes, validated as the loader would
// validate it, then run with operands copied in and every buffer read back.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "cpu_kernels_test_util.h"
#include "runtime/Backend.h"
#include "runtime/PlanLoader.h"
#include "runtime/PreparedStep.h"
#include "runtime/cpu/CpuBackend.h"
#include "runtime/kernels/Window.h"

namespace lrc::runtime::testing {

using kernels::RowRange;

// An operand or result of a step: a whole tensor, or the band of rows `rows` of the map
// `shape` (rank 4). Operands carry the whole tensor's values (f32, or i64 `labels`); the
// band gets its rows.
struct Arg {
  Shape shape;
  const std::vector<float>* values = nullptr;
  std::optional<RowRange> rows;
  const std::vector<int64_t>* labels = nullptr;
};
inline Arg whole(const Shape& shape, const std::vector<float>& values) { return {shape, &values, std::nullopt}; }
inline Arg band(const Shape& shape, const std::vector<float>& values, RowRange rows) { return {shape, &values, rows}; }
inline Arg labels(const std::vector<int64_t>& values) {
  return {{static_cast<int64_t>(values.size())}, nullptr, std::nullopt, &values};
}
inline Arg result(const Shape& shape, std::optional<RowRange> rows = std::nullopt) {
  return {shape, nullptr, rows};
}

// Rows r of an N x C x H x W map (its values), as a band's [N][C][rows][W] values.
inline std::vector<float> cutRows(const std::vector<float>& map, const Shape& s, RowRange r) {
  cpu::testing::OwnedBand b = cpu::testing::sliceRows(map, s[0], s[1], s[2], s[3], r);
  return b.storage;
}

// `r` widened by up to `slack` rows on each side, clipped to [0, height): an operand band
// holding more rows than a step needs.
inline RowRange widened(RowRange r, int64_t slack, int64_t height) {
  return {std::max<int64_t>(r.begin - slack, 0), std::min<int64_t>(r.end + slack, height)};
}

// Ragged strips of [0, height): every strip non-empty, the middle one a single row.
inline std::vector<RowRange> raggedStrips(int64_t height) {
  const int64_t a = height / 3, b = a + 1;
  return {{0, a}, {a, b}, {b, height}};
}

using IntAttrs = std::vector<std::pair<std::string, std::vector<int64_t>>>;
// A float attribute's values: one number ({"alpha", 0.2}) or a list ({"scales", {2.0, 1.5}}).
struct FloatValues {
  std::vector<double> values;
  FloatValues(double v) : values{v} {}  // NOLINT(google-explicit-constructor): {"alpha", 0.2}
  FloatValues(std::initializer_list<double> v) : values(v) {}
};
using FloatAttrs = std::vector<std::pair<std::string, FloatValues>>;

inline IntAttrs convAttrs(std::vector<int64_t> stride, std::vector<int64_t> pad, std::vector<int64_t> dilation,
                          int64_t group) {
  return {{"stride", stride}, {"pad", pad}, {"dilation", dilation}, {"group", {group}}};
}

// Axis 0 (height) or 1 (width) of the window that `attrs` (stride, pad = [top, left, bottom,
// right], dilation if given) describe, for a kernel of extent `kernel` along it.
inline kernels::WindowAxis windowAxis(const IntAttrs& attrs, size_t axis, int64_t kernel) {
  std::vector<int64_t> stride, pad, dilation = {1, 1};
  for (const auto& [name, v] : attrs) {
    if (name == "stride") stride = v;
    if (name == "pad") pad = v;
    if (name == "dilation") dilation = v;
  }
  return {kernel, stride.at(axis), pad.at(axis), pad.at(axis + 2), dilation.at(axis)};
}

// A plan built by hand: buffers packed in the arena in order, and a train program. Validation
// adds the io a plan must have (a 1x1 image flattened into logits, their loss) around it.
class HandPlan {
 public:
  HandPlan() { plan_.set_version(plan::kPlanVersion); }

  uint32_t buffer(const std::string& name, const Shape& shape, plan::Role role, std::optional<RowRange> rows = {},
                  plan::DType dtype = plan::F32) {
    plan::Buffer* b = plan_.add_buffers();
    b->set_name(name);
    b->set_dtype(dtype);
    for (size_t i = 0; i < shape.size(); ++i) b->add_shape(i == 2 && rows ? rows->size() : shape[i]);
    if (rows) {
      b->set_row0(rows->begin);
      b->set_height(shape[2]);
    }
    int64_t elements = 1;
    for (int64_t d : b->shape()) elements *= d;
    b->set_bytes(static_cast<uint64_t>(elements) * (dtype == plan::F32 ? 4 : 8));
    b->set_offset(top_);
    b->set_role(role);
    top_ += (b->bytes() + plan::kPlanAlignment - 1) / plan::kPlanAlignment * plan::kPlanAlignment;
    plan_.set_arena_bytes(std::max<uint64_t>(top_, 64));
    const auto index = static_cast<uint32_t>(plan_.buffers_size() - 1);
    if (role == plan::CONSTANT) plan_.add_inits()->set_buffer(index);  // read-only data: "initialized" (zeros)
    return index;
  }

  plan::Step& step(const std::string& kernel, const std::vector<uint32_t>& inputs, const std::vector<uint32_t>& outputs,
                   const IntAttrs& ints = {}, const FloatAttrs& floats = {}) {
    plan::Step* s = plan_.mutable_train()->add_steps();
    s->set_kernel(kernel);
    if (kernel == "adamw_update") plan_.mutable_optimizer()->set_kind(plan::ADAMW);  // the plan's optimizer's update
    for (uint32_t i : inputs) s->add_inputs(i);
    for (uint32_t o : outputs) s->add_outputs(o);
    for (const auto& [name, values] : ints) {
      plan::Attr* a = s->add_attrs();
      a->set_name(name);
      for (int64_t v : values) a->add_ints(v);
    }
    for (const auto& [name, value] : floats) {
      plan::Attr* a = s->add_attrs();
      a->set_name(name);
      a->set_is_float(true);
      for (double v : value.values) a->add_floats(v);
    }
    s->set_scratch(-1);
    return *s;
  }

  const plan::Plan& plan() const { return plan_; }
  plan::Plan& mutablePlan() { return plan_; }

  // The validation error of the plan with io added, or "" when it passes.
  std::string validationError() const {
    HandPlan p = *this;
    const uint32_t image = p.buffer("image", {1, 1, 1, 1}, plan::INPUT);
    const uint32_t labels = p.buffer("labels", {1}, plan::INPUT, {}, plan::I64);
    const uint32_t logits = p.buffer("logits", {1, 1}, plan::ACTIVATION);
    const uint32_t loss = p.buffer("loss", {}, plan::ACTIVATION);
    const uint32_t evalLogits = p.buffer("eval_logits", {1, 1}, plan::ACTIVATION);
    p.step("flatten", {image}, {logits}, {{"axis", {1}}});
    p.step("softmax_xent", {logits, labels}, {loss});
    plan::Step* e = p.plan_.mutable_eval()->add_steps();
    *e = p.plan_.train().steps(p.plan_.train().steps_size() - 2);
    e->set_outputs(0, evalLogits);
    plan::Io* io = p.plan_.mutable_io();
    io->set_image(image);
    io->set_labels(labels);
    io->set_logits(logits);
    io->set_loss(loss);
    io->set_eval_logits(evalLogits);
    CpuBackend backend;
    try {
      validatePlan(p.plan_, 0, "band.plan", backend);
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "";
  }

 private:
  plan::Plan plan_;
  uint64_t top_ = 0;
};

constexpr int64_t kScratchFloats = 1 << 16;

// A plan of one `kernel` step on `inputs` into `outputs` (each with its rows), with a scratch
// buffer. The scratch comes first in the arena, so that the highest byte a step writes (its
// measured peak) is in its results or operands, whatever scratch a backend's kernel uses.
inline HandPlan oneStepPlan(const std::string& kernel, const std::vector<Arg>& inputs, const std::vector<Arg>& outputs,
                            const IntAttrs& ints, const FloatAttrs& floats) {
  HandPlan p;
  const uint32_t scratch = p.buffer("scratch", {kScratchFloats}, plan::WORKSPACE);
  std::vector<uint32_t> in, out;
  for (size_t i = 0; i < inputs.size(); ++i)
    in.push_back(p.buffer("in" + std::to_string(i), inputs[i].shape, plan::CONSTANT, inputs[i].rows,
                          inputs[i].labels ? plan::I64 : plan::F32));
  for (size_t i = 0; i < outputs.size(); ++i)
    out.push_back(p.buffer("out" + std::to_string(i), outputs[i].shape, plan::ACTIVATION, outputs[i].rows));
  p.step(kernel, in, out, ints, floats).set_scratch(scratch);
  return p;
}

// What one step left in the arena: each result's buffer (a band's rows only), each f32
// operand's buffer (the in-place updates: BatchNorm's running statistics, an optimizer's
// parameter and state; an i64 operand's is empty), and the backend's measured peak.
struct StepRun {
  std::vector<std::vector<float>> results, operands;
  uint64_t peakBytes = 0;
};

// Copies `inputs` (each holding its rows of the whole tensor's values) into the operands of
// `p`'s one train step and runs the step on `backend`, which gets the plan's arena (a
// CpuBackend may be given another; a device backend allocates one once: give it a fresh
// one); `context` gives Dropout's step and seed and the optimizer's hyper-parameters.
// `then`: a kernel run after the step on the same operands and attributes (allreduce_wait
// after allreduce_start), before anything is read back.
inline StepRun runPlanStep(Backend& backend, const HandPlan& p, const std::vector<Arg>& inputs,
                           RunContext context = {}, const std::string& then = "") {
  const plan::Plan& plan = p.plan();
  const plan::Step& step = plan.train().steps(0);
  auto bufferOf = [&](uint32_t index) -> const plan::Buffer& { return plan.buffers(static_cast<int>(index)); };
  backend.allocateArena(plan.arena_bytes());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Arg& a = inputs[i];
    const uint64_t offset = bufferOf(step.inputs(static_cast<int>(i))).offset();
    if (a.labels) {
      backend.copyIn(offset, a.labels->data(), a.labels->size() * 8);
      continue;
    }
    if (a.values->size() != static_cast<size_t>(elementsOf(a.shape)))
      throw std::logic_error("operand " + std::to_string(i) + " has " + std::to_string(a.values->size()) +
                             " values, its shape " + std::to_string(elementsOf(a.shape)) + " elements");
    const std::vector<float> values = a.rows ? cutRows(*a.values, a.shape, *a.rows) : *a.values;
    backend.copyIn(offset, values.data(), values.size() * 4);
  }
  backend.run(prepareStep(plan, step), context);
  if (!then.empty()) {
    plan::Step next = step;
    next.set_kernel(then);
    backend.run(prepareStep(plan, next), context);
  }
  backend.synchronize();
  auto readBack = [&](uint32_t index) {
    const plan::Buffer& b = bufferOf(index);
    if (b.dtype() != plan::F32) return std::vector<float>();
    std::vector<float> values(b.bytes() / 4);
    backend.copyOut(b.offset(), values.data(), b.bytes());
    return values;
  };
  StepRun run;
  for (uint32_t o : step.outputs()) run.results.push_back(readBack(o));
  for (uint32_t i : step.inputs()) run.operands.push_back(readBack(i));
  run.peakBytes = backend.measuredPeakBytes();
  return run;
}

// Runs `kernel` once on `backend`, in a validated one-step plan, on `inputs` into `outputs`;
// returns each result's buffer (a band's rows only).
inline std::vector<std::vector<float>> runStep(Backend& backend, const std::string& kernel,
                                               const std::vector<Arg>& inputs, const std::vector<Arg>& outputs,
                                               const IntAttrs& ints = {}, const FloatAttrs& floats = {},
                                               RunContext context = {}) {
  const HandPlan p = oneStepPlan(kernel, inputs, outputs, ints, floats);
  const std::string error = p.validationError();
  EXPECT_EQ(error, "") << kernel;
  if (!error.empty()) return std::vector<std::vector<float>>(outputs.size());
  return runPlanStep(backend, p, inputs, context).results;
}

}  // namespace lrc::runtime::testing
