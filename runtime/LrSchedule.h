// Learning-rate schedules (lrc-run --lr-schedule), stepped once per training step: the lr of
// step k (0 first) of a run of T steps is the lr torch.optim.lr_scheduler gives the optimizer
// for step k when scheduler.step() follows every optimizer.step():
//  - constant: the base lr.
//  - step: StepLR(step_size, gamma): base * gamma^floor(k / step_size).
//  - cosine: CosineAnnealingLR(T_max = T, eta_min): eta_min + (base - eta_min) * (1 + cos(pi k / T_max)) / 2.
//  - N warm-up steps (any schedule): LinearLR(start_factor = 1 / (N + 1), end_factor = 1,
//    total_iters = N) first, base * (k + 1) / (N + 1) for k < N, chained as
//    SequentialLR([warm-up, schedule], milestones=[N]): the schedule starts at its own step 0
//    on step N (cosine's T_max is then T - N). The first step trains at base / (N + 1), never 0.
// These are torch's closed forms; its recursive forms agree within float64 rounding
// (test/e2e/lr_schedule.py compares lrc-run's per-step lr with torch's). A pure function of
// the step, so a resumed run gets the same lr.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lrc::runtime {

struct LrSchedule {
  enum class Kind { Constant, Step, Cosine };  // "constant", "step", "cosine"
  Kind kind = Kind::Constant;
  int64_t warmupSteps = 0;
  int64_t stepSize = 0;  // step: > 0
  double gamma = 0.1;    // step (torch's default)
  double lrMin = 0;      // cosine: eta_min
};

std::string_view name(LrSchedule::Kind kind);
std::optional<LrSchedule::Kind> parseLrScheduleKind(std::string_view text);

// What keeps `s` from scheduling a run of `totalSteps` (cosine needs a step after the warm-up),
// or "".
std::string lrScheduleProblem(const LrSchedule& s, int64_t totalSteps);

// The lr of step `step` (0-based) of a run of `totalSteps`, from the base lr.
double scheduledLr(const LrSchedule& s, double baseLr, int64_t step, int64_t totalSteps);

// One line for the run's start: "lr schedule: cosine over 95 steps to 0, after 5 warm-up steps
// (linear from lr/6)"; "" for a constant lr without warm-up.
std::string describeLrSchedule(const LrSchedule& s, int64_t totalSteps);

}  // namespace lrc::runtime
