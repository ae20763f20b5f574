// libFuzzer target: ONNX models (lrc-compile's input). Importing arbitrary bytes as a model
// file must end in a one-line error or a verified module; an imported module then goes
// through the import pipeline (shape inference, canonicalisation) and the layerwise
// training pipeline to its placed programs, as `lrc-compile MODEL` does, and must give a
// module or a one-line error there too.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include "compiler/CompilePipeline.h"
#include "compiler/OnnxImport.h"
#include "runtime/plan/QuietProtobuf.h"
#include "test/fuzz/FuzzCommon.h"

namespace {

// The importer reads a path (it maps external data beside the model); one file per process.
const std::string& modelPath() {
  static const std::string path = [] {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir && *dir ? dir : "/tmp") + "/lrc-fuzz-" + std::to_string(getpid()) + ".onnx";
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  LRC_QUIET_PROTOBUF;
  {
    std::ofstream out(modelPath(), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  lrc::fuzz::expectCleanError("fuzz_onnx_import", [] {
    std::unique_ptr<lrc::ir::Module> m = lrc::compiler::importOnnx(modelPath());
    lrc::compiler::runImportPipeline(*m);
    lrc::compiler::runTrainingPipeline(*m);
  });
  return 0;
}
