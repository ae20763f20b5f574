// `lrc-compile --emit rows`: the row pipelines of a module and their strips, as text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ir/IR.h"

namespace lrc::compiler {

// Reads the attributes runRowPipeline leaves (`pipeline`, `strategy`, `strips`, `bp_strips`,
// `work`, `fp_rows`, `bp_rows`, `fp_halo`, `fp_halo1`). Per pipeline: a header line, then
// one line per op (name, kind, output height, forward rows per strip and, for 2PS, the
// boundary rows read from the previous strip), then the backward rows per op. `strategy`,
// when not empty, replaces the strategy read from the module in the headers (layerwise
// plans are partitioned as one strip).
std::string printRowReport(const ir::Module& m, std::string_view strategy = {});

// One row pipeline, from the attributes partition-rows leaves on its first op: lrc-compile's
// summary and --report. A pipeline left layer by layer (--keep, or every pipeline of a
// layerwise plan: `layerwise`) is "layerwise" with one strip each way.
struct PipelineSummary {
  int64_t id = 0;
  std::string strategy;  // "2ps", "overl" or "layerwise"
  int64_t strips = 1, bpStrips = 1;
  int64_t ops = 0;
  bool clamped = false;  // fewer strips than asked for: the pipeline's output has fewer rows
};
std::vector<PipelineSummary> summarizePipelines(const ir::Module& m, bool layerwise);

}  // namespace lrc::compiler
