// Parses IR text into a module. Errors are ir::Error with the line and column of the
// offending token.
#pragma once

#include <memory>
#include <string_view>

#include "ir/IR.h"

namespace lrc::ir {

std::unique_ptr<Module> parseModule(std::string_view text);

}  // namespace lrc::ir
