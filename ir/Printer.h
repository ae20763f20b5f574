// Prints a module as IR text (see docs/ir.md). The parser is its exact inverse.
#pragma once

#include <ostream>
#include <string>

#include "ir/IR.h"

namespace lrc::ir {

void printModule(const Module& m, std::ostream& os);
std::string printModule(const Module& m);
// The textual form of an attribute value and of a name (`%x`, `@"a/b"`), shared with
// other printed forms (pipelines, plans).
std::string printAttr(const Attr& a);
std::string printValueRef(const Value& v);

}  // namespace lrc::ir
