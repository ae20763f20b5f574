// Small pieces every lrc tool needs: reading input, writing output without ever leaving a
// partial file, and printing one-line diagnostics.
#pragma once

#include <string>

#include "ir/IR.h"

namespace lrc::tools {

// Reads a whole file; throws ir::Error("PATH: cannot read: reason") on failure.
std::string readFile(const std::string& path);

// Writes to PATH.tmp then renames, so a failure never leaves a half-written PATH.
// "-" writes to stdout.
void writeOutput(const std::string& path, const std::string& content);

// `file:line:col: error: message`, or `file: error: message` when the error has no
// position. `lineOffset` shifts the line for chunks of a split input file.
std::string formatError(const std::string& file, const ir::Error& e, int lineOffset = 0);

}  // namespace lrc::tools
