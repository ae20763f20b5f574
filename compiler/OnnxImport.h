// ONNX import: reads an ONNX model (opsets 9 to 18) through the ONNX protobuf classes and
// builds an IR module with every shape static and every attribute explicit.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ir/IR.h"

namespace onnx {
class ModelProto;
}

namespace lrc::compiler {

struct ImportOptions {
  // Overrides dim 0 of the 4-D image input (and of every input that shares its symbolic
  // batch dimension). Without it an unknown batch dimension becomes 1.
  std::optional<int64_t> batch;
  // C,H,W: overrides dims 1..3 of the (single) 4-D image input. C must match the model's.
  std::optional<std::vector<int64_t>> inputShape;
};

// Throws ir::Error with a one-line message that starts with `path`, e.g.
//   model.onnx: node '/conv1/Conv' (Conv, opset 13): kernel_shape [3,3] does not match ...
// A model with ops lrc does not import gets one message listing them all, in graph order of
// first appearance, with their counts:
//   model.onnx: unsupported ops: Concat (3), Mul (2), Resize (1); lrc supports Add, ...
// The returned module has passed ir::verifyModule.
std::unique_ptr<ir::Module> importOnnx(const std::string& path, const ImportOptions& options = {});

// Parses the model straight from the file (no copy of its bytes beside it, no string grown
// by doubling: a VGG-16 export is half a gigabyte). Throws ir::Error without the path.
void readOnnxModel(const std::string& path, onnx::ModelProto& model);

}  // namespace lrc::compiler
