#include "runtime/LrSchedule.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace lrc::runtime {

namespace {
constexpr LrSchedule::Kind kKinds[] = {LrSchedule::Kind::Constant, LrSchedule::Kind::Step, LrSchedule::Kind::Cosine};
}  // namespace

std::string_view name(LrSchedule::Kind kind) {
  switch (kind) {
    case LrSchedule::Kind::Constant: return "constant";
    case LrSchedule::Kind::Step: return "step";
    case LrSchedule::Kind::Cosine: return "cosine";
  }
  return "";
}

std::optional<LrSchedule::Kind> parseLrScheduleKind(std::string_view text) {
  for (LrSchedule::Kind k : kKinds)
    if (name(k) == text) return k;
  return std::nullopt;
}

std::string lrScheduleProblem(const LrSchedule& s, int64_t totalSteps) {
  if (s.kind == LrSchedule::Kind::Cosine && s.warmupSteps >= totalSteps)
    return "--warmup-steps " + std::to_string(s.warmupSteps) + " leaves no step for --lr-schedule cosine (the run has " +
           std::to_string(totalSteps) + " steps)";
  return "";
}

double scheduledLr(const LrSchedule& s, double baseLr, int64_t step, int64_t totalSteps) {
  const int64_t warmup = s.warmupSteps;
  if (step < warmup) return baseLr * static_cast<double>(step + 1) / static_cast<double>(warmup + 1);
  const int64_t k = step - warmup;  // the schedule's own step
  switch (s.kind) {
    case LrSchedule::Kind::Constant: return baseLr;
    case LrSchedule::Kind::Step: return baseLr * std::pow(s.gamma, static_cast<double>(k / std::max<int64_t>(s.stepSize, 1)));
    case LrSchedule::Kind::Cosine: {
      if (totalSteps <= warmup) return baseLr;  // lrScheduleProblem refuses it; no division by 0
      const double tMax = static_cast<double>(totalSteps - warmup);
      return s.lrMin + (baseLr - s.lrMin) * (1 + std::cos(M_PI * static_cast<double>(k) / tMax)) / 2;
    }
  }
  return baseLr;
}

std::string describeLrSchedule(const LrSchedule& s, int64_t totalSteps) {
  if (s.kind == LrSchedule::Kind::Constant && s.warmupSteps == 0) return "";
  std::ostringstream os;
  os << "lr schedule: " << name(s.kind);
  if (s.kind == LrSchedule::Kind::Step) os << " (x" << s.gamma << " every " << s.stepSize << " steps)";
  if (s.kind == LrSchedule::Kind::Cosine) os << " over " << totalSteps - s.warmupSteps << " steps to " << s.lrMin;
  if (s.warmupSteps > 0)
    os << ", after " << s.warmupSteps << " warm-up step" << (s.warmupSteps == 1 ? "" : "s") << " (linear from lr/"
       << s.warmupSteps + 1 << ")";
  os << "; per training step";
  return os.str();
}

}  // namespace lrc::runtime
