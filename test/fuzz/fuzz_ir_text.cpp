// libFuzzer target: IR text (lrc-opt's input). Parsing and verifying arbitrary text must end
// in a located error or a module; a module that parses must print to text that parses back
// and prints the same (the printer is the parser's inverse, STYLE.md), and shape inference
// must then succeed or give a located error.
#include <cstdint>
#include <string>
#include <string_view>

#include "ir/Parser.h"
#include "ir/Printer.h"
#include "ir/Verifier.h"
#include "passes/Pass.h"
#include "test/fuzz/FuzzCommon.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  lrc::fuzz::expectCleanError("fuzz_ir_text", [&] {
    std::unique_ptr<lrc::ir::Module> m = lrc::ir::parseModule(text);
    lrc::ir::verifyModule(*m, /*checkTypes=*/false);
    const std::string printed = lrc::ir::printModule(*m);
    std::unique_ptr<lrc::ir::Module> again = lrc::ir::parseModule(printed);
    if (lrc::ir::printModule(*again) != printed) {
      std::fprintf(stderr, "fuzz_ir_text: printed text does not round-trip:\n%s\n", printed.c_str());
      std::abort();
    }
    lrc::passes::createPass("infer-shapes")->run(*m);
    lrc::ir::verifyModule(*m);
  });
  return 0;
}
