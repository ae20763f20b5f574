// `lrc-compile --emit rows`: the row pipelines of a module and their strips, as text.
#pragma once

#include <string>
#include <string_view>

#include "ir/IR.h"

namespace lrc::compiler {

// Reads the attributes runRowPipeline leaves (`pipeline`, `strategy`, `strips`, `bp_strips`,
// `work`, `fp_rows`, `bp_rows`, `fp_halo`, `fp_halo1`). Per pipeline: a header line, then
// one line per op (name, kind, output height, forward rows per strip and, for 2PS, the
// boundary rows read from the previous strip), then the backward rows per op. `strategy`,
// when not empty, replaces the strategy read from the module in the headers (layerwise
// plans are partitioned as one strip).
std::string printRowReport(const ir::Module& m, std::string_view strategy = {});

}  // namespace lrc::compiler
