#include "tools/TrainingFlags.h"

#include <cmath>
#include <stdexcept>

namespace lrc::tools {

namespace {

[[noreturn]] void bad(const std::string& problem) { throw std::invalid_argument(problem); }

// A finite number >= 0, below `below` when given.
double number(const std::string& flag, const std::string& text, std::optional<double> below = std::nullopt) {
  double v = -1;
  try {
    size_t used = 0;
    v = std::stod(text, &used);
    if (used != text.size()) v = -1;
  } catch (const std::exception&) {
  }
  if (!std::isfinite(v) || v < 0 || (below && v >= *below))
    bad(flag + " expects " + (below ? "a number in [0, 1)" : "a non-negative number") + ", got '" + text + "'");
  return v;
}

std::string optimizerName(const plan::Optimizer& o) { return std::string(ops::info(plan::optimizerOf(o.kind())).name); }

}  // namespace

uint64_t countFlag(const std::string& flag, const std::string& text, bool allowZero) {
  try {
    size_t used = 0;
    if (!text.empty() && text[0] != '-') {
      const unsigned long long v = std::stoull(text, &used);
      if (used == text.size() && (allowZero || v > 0)) return v;
    }
  } catch (const std::exception&) {
  }
  bad(flag + " expects a " + (allowZero ? "non-negative" : "positive") + " integer, got '" + text + "'");
}

bool readOptimizerFlag(const std::string& flag, const std::function<std::string()>& value, OptimizerFlags& f) {
  if (flag == "--lr")
    f.lr = number(flag, value());
  else if (flag == "--weight-decay")
    f.weightDecay = number(flag, value());
  else if (flag == "--momentum")
    f.momentum = number(flag, value(), 1.0);  // at 1 or more the velocity never decays
  else if (flag == "--nesterov")
    f.nesterov = true;
  else if (flag == "--beta1")
    f.beta1 = number(flag, value(), 1.0);  // at 1 the bias correction divides by zero
  else if (flag == "--beta2")
    f.beta2 = number(flag, value(), 1.0);
  else if (flag == "--eps")
    f.eps = number(flag, value());
  else
    return false;
  return true;
}

void applyOptimizerFlags(const OptimizerFlags& f, plan::Optimizer& o, const std::string& whose) {
  const bool sgd = o.kind() == plan::SGD;
  auto only = [&](bool given, const char* flag, plan::OptimizerKind kind) {
    if (given && o.kind() != kind)
      bad(std::string(flag) + " is an " + (kind == plan::SGD ? "sgd" : "adamw") + " flag, and " + whose + " is " +
          optimizerName(o));
  };
  only(f.momentum.has_value(), "--momentum", plan::SGD);
  only(f.nesterov, "--nesterov", plan::SGD);
  only(f.beta1.has_value(), "--beta1", plan::ADAMW);
  only(f.beta2.has_value(), "--beta2", plan::ADAMW);
  only(f.eps.has_value(), "--eps", plan::ADAMW);
  if (f.lr) o.set_lr(*f.lr);
  if (f.weightDecay) o.set_weight_decay(*f.weightDecay);
  if (f.momentum) o.set_momentum(*f.momentum);
  if (f.nesterov) o.set_nesterov(true);
  if (f.beta1) o.set_beta1(*f.beta1);
  if (f.beta2) o.set_beta2(*f.beta2);
  if (f.eps) o.set_eps(*f.eps);
  if (sgd && o.nesterov() && o.momentum() == 0) bad("--nesterov needs a momentum above 0 (torch.optim.SGD's rule)");
}

bool readScheduleFlag(const std::string& flag, const std::function<std::string()>& value, ScheduleFlags& f) {
  runtime::LrSchedule& s = f.schedule;
  if (flag == "--lr-schedule") {
    const std::string text = value();
    const std::optional<runtime::LrSchedule::Kind> kind = runtime::parseLrScheduleKind(text);
    if (!kind) bad("--lr-schedule expects constant, step or cosine, got '" + text + "'");
    s.kind = *kind;
    return true;
  }
  if (flag == "--warmup-steps") {
    s.warmupSteps = static_cast<int64_t>(countFlag(flag, value(), true));
    return true;
  }
  if (flag == "--lr-step-size")
    s.stepSize = static_cast<int64_t>(countFlag(flag, value(), false));
  else if (flag == "--lr-gamma")
    s.gamma = number(flag, value());
  else if (flag == "--lr-min")
    s.lrMin = number(flag, value());
  else
    return false;
  f.given.push_back(flag);
  return true;
}

runtime::LrSchedule scheduleOf(const ScheduleFlags& f) {
  const runtime::LrSchedule::Kind kind = f.schedule.kind;
  for (const std::string& flag : f.given) {
    const runtime::LrSchedule::Kind needs =
        flag == "--lr-min" ? runtime::LrSchedule::Kind::Cosine : runtime::LrSchedule::Kind::Step;
    if (kind != needs)
      bad(flag + " belongs to --lr-schedule " + std::string(runtime::name(needs)) + ", not " +
          std::string(runtime::name(kind)));
  }
  if (kind == runtime::LrSchedule::Kind::Step && f.schedule.stepSize == 0)
    bad("--lr-schedule step needs --lr-step-size N");
  return f.schedule;
}

}  // namespace lrc::tools
