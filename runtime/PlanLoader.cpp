// Loading a plan file: open, decode, check (runtime/PlanLoader.h).
#include "runtime/PlanLoader.h"

#include "runtime/PreparedStep.h"
#include "runtime/plan/PlanFile.h"
#include "runtime/plan/QuietProtobuf.h"

namespace lrc::runtime {

using plan::Buffer;

plan::PlanFile loadPlan(const std::string& path, const Backend& backend) {
  // A corrupt payload is our one-line error, not also Protobuf's log lines on stderr.
  LRC_QUIET_PROTOBUF;
  plan::PlanFile file(path);
  validatePlan(file.plan(), file.size(), path, backend);
  return file;
}

IoShape ioShape(const plan::Plan& plan) {
  const Buffer& image = plan.buffers(static_cast<int>(plan.io().image()));
  const Buffer& logits = plan.buffers(static_cast<int>(plan.io().logits()));
  IoShape s{image.shape(0), image.shape(1), image.shape(2), image.shape(3), logits.shape(1)};
  if (logits.shape_size() == 4) {
    s.labelHeight = logits.shape(2);
    s.labelWidth = logits.shape(3);
    for (const plan::Step& step : plan.train().steps())
      if (kernelByName(step.kernel()) == Kernel::PixelXent) s.ignoreIndex = attrInt(step, "ignore_index");
  }
  return s;
}

}  // namespace lrc::runtime
