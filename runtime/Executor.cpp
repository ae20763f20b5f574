#include "runtime/Executor.h"

#include <stdexcept>

namespace lrc::runtime {

RunSettings defaultSettings(const plan::Plan& plan) {
  return {plan.optimizer().lr(), plan.optimizer().momentum(), plan.optimizer().weight_decay(), 0};
}

Executor::Executor(const plan::Plan& plan, Backend& backend, const RunSettings& settings)
    : plan_(plan), backend_(backend), settings_(settings), shape_(ioShape(plan)) {
  backend_.allocateArena(plan_.arena_bytes());
  for (const plan::Init& init : plan_.inits()) {
    const plan::Buffer& b = buffer(init.buffer());
    if (init.data().empty())
      backend_.zero(b.offset(), b.bytes());
    else
      backend_.copyIn(b.offset(), init.data().data(), b.bytes());
  }
  backend_.synchronize();
}

void Executor::copyToBuffer(uint32_t index, const void* data) {
  const plan::Buffer& b = buffer(index);
  backend_.copyIn(b.offset(), data, b.bytes());
}

void Executor::runProgram(const plan::Program& program, const char* name) {
  RunContext context;
  context.plan = &plan_;
  context.step = stepsDone_;
  context.lr = static_cast<float>(settings_.lr);
  context.momentum = static_cast<float>(settings_.momentum);
  context.weightDecay = static_cast<float>(settings_.weightDecay);
  context.seed = settings_.seed;
  for (int i = 0; i < program.steps_size(); ++i) {
    const plan::Step& step = program.steps(i);
    try {
      backend_.run(step, context);
    } catch (const std::exception& e) {
      std::string where = std::string(name) + " step #" + std::to_string(i) + " (" + step.kernel();
      if (!step.origin().empty()) where += " '" + step.origin() + "'";
      throw std::runtime_error(where + "): " + e.what());
    }
  }
  backend_.synchronize();
}

float Executor::trainStep(const float* images, const int64_t* labels) {
  for (int64_t n = 0; n < shape_.batch; ++n)
    if (labels[n] < 0 || labels[n] >= shape_.classes)
      throw std::runtime_error("label " + std::to_string(labels[n]) + " of sample " + std::to_string(n) +
                               " of the batch is outside [0, " + std::to_string(shape_.classes) +
                               "), the plan's classes");
  copyToBuffer(plan_.io().image(), images);
  copyToBuffer(plan_.io().labels(), labels);
  runProgram(plan_.train(), "train");
  ++stepsDone_;
  float loss = 0;
  backend_.copyOut(buffer(plan_.io().loss()).offset(), &loss, sizeof loss);
  return loss;
}

void Executor::evaluate(const float* images, float* logits) {
  copyToBuffer(plan_.io().image(), images);
  runProgram(plan_.eval(), "eval");
  const plan::Buffer& b = buffer(plan_.io().eval_logits());
  backend_.copyOut(b.offset(), logits, b.bytes());
}

std::string Executor::readBuffer(uint32_t index) {
  const plan::Buffer& b = buffer(index);
  std::string bytes(b.bytes(), '\0');
  backend_.copyOut(b.offset(), bytes.data(), b.bytes());
  return bytes;
}

}  // namespace lrc::runtime
