// The training flags of the command line, once for lrc-compile and lrc-run: the optimizer's
// hyper-parameters (lrc-compile writes them into the plan as defaults, lrc-run overrides
// them), and lrc-run's learning-rate schedule. Each flag's name, value range and the optimizer
// or schedule it belongs to are here; a bad flag throws std::invalid_argument with the
// one-line problem, which the tool prints as its usage error.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "runtime/LrSchedule.h"
#include "runtime/plan/Plan.h"

namespace lrc::tools {

// A flag's count: a non-negative (`allowZero`) or positive integer.
uint64_t countFlag(const std::string& flag, const std::string& text, bool allowZero);

// The optimizer flags given, in torch.optim's meaning: --lr X, --weight-decay X (both
// optimizers), --momentum X in [0, 1) and --nesterov (sgd), --beta1 X and --beta2 X in [0, 1)
// and --eps X (adamw); numbers finite and >= 0.
struct OptimizerFlags {
  std::optional<double> lr, weightDecay, momentum, beta1, beta2, eps;
  bool nesterov = false;
};

// Reads `flag` into `f` (its value from `value()`) when it is an optimizer flag; false when it
// is not one.
bool readOptimizerFlag(const std::string& flag, const std::function<std::string()>& value, OptimizerFlags& f);

// Overrides `o`'s hyper-parameters with the flags given. A flag of another optimizer than o's
// throws, naming it and `whose` optimizer o is ("--momentum is an sgd flag, and the plan's
// optimizer is adamw"), as does --nesterov without a momentum (torch.optim.SGD refuses it).
void applyOptimizerFlags(const OptimizerFlags& f, plan::Optimizer& o, const std::string& whose);

// lrc-run's schedule flags given: --lr-schedule constant|step|cosine, --warmup-steps N,
// --lr-step-size N and --lr-gamma G (step), --lr-min X (cosine).
struct ScheduleFlags {
  runtime::LrSchedule schedule;
  std::vector<std::string> given;  // the flags that belong to one schedule kind, as given
};

// Reads `flag` into `f` when it is a schedule flag; false when it is not one.
bool readScheduleFlag(const std::string& flag, const std::function<std::string()>& value, ScheduleFlags& f);

// The schedule the flags describe; throws when one of them belongs to another schedule kind
// than --lr-schedule's, or step lacks --lr-step-size.
runtime::LrSchedule scheduleOf(const ScheduleFlags& f);

}  // namespace lrc::tools
