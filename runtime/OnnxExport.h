// --save-onnx: the plan's source model (plan.onnx_model, whose initializers the plan holds
// with their data stripped) with every such initializer filled from its buffer, so the
// trained weights and BatchNorm running statistics go back into a model any ONNX tool loads.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "runtime/plan/Plan.h"

namespace lrc::runtime {

// The bytes of a plan buffer (Executor::readBuffer).
using BufferReader = std::function<std::string(uint32_t index)>;

// Checks, before any training, that the plan's model can be written back: it parses, and
// every buffer with an onnx_name names an initializer of the model with the buffer's number
// of elements and a type its values convert to (float, double, int32, int64). Throws
// std::runtime_error("plan PATH's ONNX model: ...") otherwise.
void checkOnnxExport(const plan::Plan& plan, const std::string& planPath);

// The serialized model with those initializers set (raw_data, little-endian) from `read`.
std::string exportOnnx(const plan::Plan& plan, const std::string& planPath, const BufferReader& read);

// Writes `content` to PATH.tmp and renames it to PATH, so that no partial PATH is ever left;
// the temporary is removed on failure. Throws std::runtime_error("PATH: cannot write: ...").
void writeFileAtomically(const std::string& path, const std::string& content);

}  // namespace lrc::runtime
