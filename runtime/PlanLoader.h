// Loading a plan file and checking everything in it before anything runs (SPEC.md §4): a
// corrupt, truncated or inconsistent plan is a one-line error naming the plan and the
// buffer or step, never a crash (the weights' checksum is checked when the Executor streams
// them into its arena, also before any step). The checks are runtime/PlanChecks.h; decoding
// each step for the backends is runtime/PreparedStep.h.
#pragma once

#include <cstdint>
#include <string>

#include "runtime/Backend.h"
#include "runtime/PlanChecks.h"
#include "runtime/plan/Plan.h"
#include "runtime/plan/PlanFile.h"

namespace lrc::runtime {

// Opens a plan file, reads and decodes its payload (framing, sizes against the file's size,
// the payload's checksum) and validates it against the file's weights section; throws
// std::runtime_error with a one-line message that starts with `path`. The weights stay in the
// file: the Executor streams them into its arena and checks their checksum there.
plan::PlanFile loadPlan(const std::string& path, const Backend& backend);

// The batch and image shape and the classes of a validated plan.
// A segmentation plan (loss pixel_xent, logits [N,K,H,W]) takes a label map of the logits'
// labelHeight x labelWidth per sample, in which ignoreIndex marks pixels the loss leaves out;
// a classifier one label per sample (labelHeight = labelWidth = 0).
struct IoShape {
  int64_t batch = 0, channels = 0, height = 0, width = 0, classes = 0;
  int64_t labelHeight = 0, labelWidth = 0, ignoreIndex = -100;
  bool perPixel() const { return labelHeight > 0; }
  int64_t labelsPerSample() const { return perPixel() ? labelHeight * labelWidth : 1; }
};
IoShape ioShape(const plan::Plan& plan);

}  // namespace lrc::runtime
