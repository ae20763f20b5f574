#include "runtime/Executor.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <stdexcept>
#include <vector>

namespace lrc::runtime {

kernels::OptimizerParams optimizerParams(const plan::Optimizer& o) {
  kernels::OptimizerParams p;
  p.lr = o.lr();
  p.weightDecay = o.weight_decay();
  p.momentum = o.momentum();
  p.nesterov = o.nesterov();
  p.beta1 = o.beta1();
  p.beta2 = o.beta2();
  p.eps = o.eps();
  return p;
}

RunSettings defaultSettings(const plan::Plan& plan) {
  RunSettings s;
  s.optimizer = optimizerParams(plan.optimizer());
  return s;
}

double Executor::stepLr() const {
  return scheduledLr(settings_.schedule, settings_.optimizer.lr, static_cast<int64_t>(stepsDone_), settings_.scheduleSteps);
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
    : plan_(plan), steps_(preparePlan(plan)), backend_(backend), settings_(settings), shape_(ioShape(plan)) {
  backend_.allocateArena(plan_.arena_bytes());
  writeInitialData(plan_, weights, backend_);
}

void Executor::copyToBuffer(uint32_t index, const void* data) {
  const plan::Buffer& b = buffer(index);
  backend_.copyIn(b.offset(), data, b.bytes());
}

void Executor::runProgram(const plan::Program& program, const std::vector<PreparedStep>& steps, const char* name,
                          std::vector<double>* seconds) {
  RunContext context;
  context.step = stepsDone_;
  context.optimizer = settings_.optimizer;
  context.optimizer.lr = stepLr();
  context.seed = settings_.seed;
  context.collective = settings_.collective;
  for (size_t i = 0; i < steps.size(); ++i) {
    try {
      if (!seconds) {
        backend_.run(steps[i], context);
      } else {
        const auto start = std::chrono::steady_clock::now();
        backend_.run(steps[i], context);
        backend_.synchronize();  // an asynchronous backend's kernel ends here
        (*seconds)[i] +=
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      }
    } catch (const std::exception& e) {
      const plan::Step& step = program.steps(static_cast<int>(i));
      std::string where = std::string(name) + " step #" + std::to_string(i) + " (" + step.kernel();
      if (!step.origin().empty()) where += " '" + step.origin() + "'";
      throw std::runtime_error(where + "): " + e.what());
    }
    if (context.collective) context.collective->progress();  // started averages advance under the next step
  }
  backend_.synchronize();
}

float Executor::trainStep(const float* images, const int64_t* labels) {
  const int64_t perSample = shape_.labelsPerSample();
  for (int64_t i = 0; i < shape_.batch * perSample; ++i)
    if ((labels[i] < 0 || labels[i] >= shape_.classes) && !(shape_.perPixel() && labels[i] == shape_.ignoreIndex))
      throw std::runtime_error("label " + std::to_string(labels[i]) + " of sample " + std::to_string(i / perSample) +
                               " of the batch is outside [0, " + std::to_string(shape_.classes) +
                               "), the plan's classes" +
                               (shape_.perPixel() ? ", and is not the ignore index " + std::to_string(shape_.ignoreIndex)
                                                  : std::string()));
  const bool timed = profiling_ && profile_.stepsSeen++ >= profile_.warmupSteps;
  const auto start = timed ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
  copyToBuffer(plan_.io().image(), images);
  copyToBuffer(plan_.io().labels(), labels);
  runProgram(plan_.train(), steps_.train, "train", timed ? &profile_.stepSeconds : nullptr);
  ++stepsDone_;
  float loss = 0;
  backend_.copyOut(buffer(plan_.io().loss()).offset(), &loss, sizeof loss);
  if (timed) {
    profile_.wallSeconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ++profile_.stepsTimed;
  }
  return loss;
}

void Executor::enableProfile(uint64_t warmupSteps) {
  profiling_ = true;
  profile_ = Profile{};
  profile_.warmupSteps = warmupSteps;
  profile_.stepSeconds.assign(static_cast<size_t>(plan_.train().steps_size()), 0.0);
}

void Executor::evaluate(const float* images, float* logits) {
  copyToBuffer(plan_.io().image(), images);
  runProgram(plan_.eval(), steps_.eval, "eval");
  const plan::Buffer& b = buffer(plan_.io().eval_logits());
  backend_.copyOut(b.offset(), logits, b.bytes());
}

std::string Executor::readBuffer(uint32_t index) {
  const plan::Buffer& b = buffer(index);
  std::string bytes(b.bytes(), '\0');
  backend_.copyOut(b.offset(), bytes.data(), b.bytes());
  return bytes;
}

void Executor::writeBuffer(uint32_t index, const std::string& bytes) {
  if (bytes.size() != buffer(index).bytes())
    throw std::runtime_error("buffer '" + buffer(index).name() + "' holds " + std::to_string(buffer(index).bytes()) +
                             " bytes, not " + std::to_string(bytes.size()));
  copyToBuffer(index, bytes.data());
  backend_.synchronize();
}

std::string Executor::firstNonFiniteParameter() {
  for (int i = 0; i < plan_.buffers_size(); ++i) {
    const plan::Buffer& b = plan_.buffers(i);
    if ((b.role() != plan::PARAMETER && b.role() != plan::STATE) || b.dtype() != plan::F32) continue;
    const std::string bytes = readBuffer(static_cast<uint32_t>(i));
    for (size_t at = 0; at + sizeof(float) <= bytes.size(); at += sizeof(float)) {
      float v;
      std::memcpy(&v, bytes.data() + at, sizeof v);
      if (!std::isfinite(v)) return b.onnx_name().empty() ? b.name() : b.onnx_name();
    }
  }
  return "";
}

std::vector<KernelTime> kernelTimes(const plan::Plan& plan, const Profile& profile) {
  std::map<std::string, KernelTime> byName;
  for (int i = 0; i < plan.train().steps_size(); ++i) {
    const std::string& kernel = plan.train().steps(i).kernel();
    KernelTime& k = byName[kernel];
    k.kernel = kernel;
    k.calls += profile.stepsTimed;
    if (static_cast<size_t>(i) < profile.stepSeconds.size()) k.seconds += profile.stepSeconds[static_cast<size_t>(i)];
  }
  std::vector<KernelTime> out;
  for (auto& [name, k] : byName) out.push_back(std::move(k));
  return out;
}

namespace {

std::string jsonNumber(double x) {
  if (!std::isfinite(x)) return "null";
  char text[64];
  std::snprintf(text, sizeof text, "%.9g", x);
  return text;
}

std::string jsonString(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      char text[8];
      std::snprintf(text, sizeof text, "\\u%04x", u);
      out += text;
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

}  // namespace

std::string profileJson(const plan::Plan& plan, const Profile& profile) {
  std::string out = "{\"steps_timed\": ";
  out += std::to_string(profile.stepsTimed);
  out += ", \"warmup_steps\": ";
  out += std::to_string(profile.warmupSteps);
  out += ", \"wall_seconds\": ";
  out += jsonNumber(profile.wallSeconds);
  out += ",\n \"kernels\": {";
  bool first = true;
  for (const KernelTime& k : kernelTimes(plan, profile)) {
    out += first ? "\n  " : ",\n  ";
    first = false;
    out += jsonString(k.kernel);
    out += ": {\"calls\": ";
    out += std::to_string(k.calls);
    out += ", \"seconds\": ";
    out += jsonNumber(k.seconds);
    out += "}";
  }
  out += "},\n \"per_step\": [";
  for (int i = 0; i < plan.train().steps_size(); ++i) {
    const plan::Step& step = plan.train().steps(i);
    const double seconds =
        static_cast<size_t>(i) < profile.stepSeconds.size() ? profile.stepSeconds[static_cast<size_t>(i)] : 0.0;
    out += i == 0 ? "\n  " : ",\n  ";
    out += "{\"index\": ";
    out += std::to_string(i);
    out += ", \"kernel\": ";
    out += jsonString(step.kernel());
    out += ", \"origin\": ";
    out += jsonString(step.origin());
    out += ", \"seconds\": ";
    out += jsonNumber(seconds);
    out += "}";
  }
  out += "]}\n";
  return out;
}

}  // namespace lrc::runtime
