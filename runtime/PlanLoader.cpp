// Loading a plan file: open, decode, check (runtime/PlanLoader.h).
#include "runtime/PlanLoader.h"

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
  return {image.shape(0), image.shape(1), image.shape(2), image.shape(3), logits.shape(1)};
}

}  // namespace lrc::runtime
