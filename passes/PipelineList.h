// Per-pipeline settings as text: one grammar for partition-rows' options (keep, reuse, per,
// strategies) and lrc-compile's flags (--keep, --reuse-last, --pipeline-strips,
// --pipeline-strategy), which the plan search prints. Entries are separated by ':', each a
// pipeline id, followed by '/' and a value where the setting has one: "0:3" (ids),
// "0/4:3/8" (strip counts), "1/overl" (strategies). The parsers return nullopt for any text
// that does not follow the grammar (empty text included); callers name the option in the
// error.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "passes/PassOptions.h"

namespace lrc::passes {

std::optional<std::vector<int64_t>> parsePipelineIds(std::string_view text);
std::optional<std::map<int64_t, int64_t>> parsePipelineCounts(std::string_view text);          // counts >= 1
std::optional<std::map<int64_t, RowStrategy>> parsePipelineStrategies(std::string_view text);

// batchnorm-policy's `recompute` and lrc-compile's --recompute-points: "none", "all", or
// reduction-point ids in the same grammar ("0:3:5").
std::optional<RecomputePoints> parseRecomputePoints(std::string_view text);
std::string formatRecomputePoints(const RecomputePoints& points);

// fuse-row-pipelines' `cut` and lrc-compile's --cut: "none", "downsample", or cut point ids
// in the same grammar ("2", "1:2"; FuseRowPipelinesOptions::cutPoints). Sets `cut` and
// `cutPoints`; false for any other text.
bool parseSegmentCuts(std::string_view text, FuseRowPipelinesOptions& options);
std::string formatSegmentCuts(const FuseRowPipelinesOptions& options);

std::string formatPipelineIds(const std::vector<int64_t>& ids);
std::string formatPipelineCounts(const std::map<int64_t, int64_t>& counts);
std::string formatPipelineStrategies(const std::map<int64_t, RowStrategy>& strategies);

}  // namespace lrc::passes
