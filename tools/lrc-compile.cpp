// lrc-compile MODEL.onnx [--emit ir] [-o OUT] [--batch N] [--input-shape C,H,W]
// Imports an ONNX model, runs the compile pipeline and prints what --emit asks for.
#include <iostream>
#include <sstream>
#include <string>

#include "compiler/CompilePipeline.h"
#include "compiler/OnnxImport.h"
#include "ir/Printer.h"
#include "tools/ToolSupport.h"

using namespace lrc;

namespace {

struct Options {
  std::string model;
  std::string emit;
  std::string output = "-";
  compiler::ImportOptions import;
};

[[noreturn]] void usage(const std::string& problem) {
  std::cerr << "lrc-compile: error: " << problem << "\n"
            << "usage: lrc-compile MODEL.onnx --emit ir [-o OUT] [--batch N] "
               "[--input-shape C,H,W]\n";
  std::exit(2);
}

int64_t parsePositive(const std::string& flag, const std::string& text) {
  try {
    size_t used = 0;
    long long v = std::stoll(text, &used);
    if (used == text.size() && v > 0) return v;
  } catch (const std::exception&) {
  }
  usage(flag + " expects a positive integer, got '" + text + "'");
}

std::vector<int64_t> parseShape(const std::string& text) {
  std::vector<int64_t> dims;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) dims.push_back(parsePositive("--input-shape", item));
  if (dims.size() != 3) usage("--input-shape expects C,H,W, got '" + text + "'");
  return dims;
}

Options parseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (++i >= argc) usage(a + " needs a value");
      return argv[i];
    };
    if (a == "--emit") {
      o.emit = value();
      if (o.emit != "ir") usage("--emit supports 'ir' (rows and plan come with the row and plan passes)");
    } else if (a == "-o") {
      o.output = value();
    } else if (a == "--batch") {
      o.import.batch = parsePositive(a, value());
    } else if (a == "--input-shape") {
      o.import.inputShape = parseShape(value());
    } else if (!a.empty() && a[0] == '-') {
      usage("unknown option '" + a + "'");
    } else if (o.model.empty()) {
      o.model = a;
    } else {
      usage("more than one model file");
    }
  }
  if (o.model.empty()) usage("no model file");
  if (o.emit.empty()) usage("plan emission is not implemented yet: pass --emit ir");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parseArgs(argc, argv);
  try {
    std::unique_ptr<ir::Module> m = compiler::importOnnx(o.model, o.import);  // errors name the file
    try {
      compiler::runImportPipeline(*m);
    } catch (const ir::Error& e) {
      throw ir::Error(o.model + ": " + e.what());
    }
    tools::writeOutput(o.output, ir::printModule(*m));
  } catch (const ir::Error& e) {
    std::cerr << "lrc-compile: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "lrc-compile: internal error: " << o.model << ": " << e.what() << "\n";
    return 1;
  }
  return 0;
}
