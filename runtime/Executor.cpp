#include "runtime/Executor.h"

#include <algorithm>
#include <stdexcept>
#include <vector>

namespace lrc::runtime {

RunSettings defaultSettings(const plan::Plan& plan) {
  return {plan.optimizer().lr(), plan.optimizer().momentum(), plan.optimizer().weight_decay(), 0};
}

void writeInitialData(const plan::Plan& plan, const plan::WeightSource& weights, Backend& backend) {
  // The ranges to copy: where each lies in the weights section, and where it goes.
  struct Range {
    uint64_t start, end, arenaOffset;
  };
  std::vector<Range> ranges;
  for (const plan::Init& init : plan.inits()) {
    const plan::Buffer& b = plan.buffers(static_cast<int>(init.buffer()));
    if (init.bytes() == 0)
      backend.zero(b.offset(), b.bytes());
    else
      ranges.push_back({init.weights_offset(), init.weights_offset() + init.bytes(), b.offset()});
  }
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.start < b.start; });
  size_t first = 0;  // ranges before it ended in earlier chunks
  weights.stream([&](uint64_t at, const char* data, uint64_t bytes) {
    const uint64_t end = at + bytes;
    for (size_t i = first; i < ranges.size() && ranges[i].start < end; ++i) {
      const uint64_t from = std::max(at, ranges[i].start), to = std::min(end, ranges[i].end);
      if (from < to) backend.copyIn(ranges[i].arenaOffset + (from - ranges[i].start), data + (from - at), to - from);
    }
    while (first < ranges.size() && ranges[first].end <= end) ++first;
  });
  backend.synchronize();
}

Executor::Executor(const plan::Plan& plan, const plan::WeightSource& weights, Backend& backend,
                   const RunSettings& settings)
    : plan_(plan), backend_(backend), settings_(settings), shape_(ioShape(plan)) {
  backend_.allocateArena(plan_.arena_bytes());
  writeInitialData(plan_, weights, backend_);
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
