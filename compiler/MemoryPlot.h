// The memory picture (lrc-compile --memory-plot OUT.svg, docs/plan-search.md): the training
// program's arena over its steps as SVG. x: the op index in program order (forward, loss,
// backward, updates); y: the arena offset in MiB (KiB for an arena under 1 MiB). Each buffer
// is a rectangle over the ops it is live at and the bytes plan-memory placed it at, coloured
// by what it is (the roles of compiler/MemoryRoles.h; a row pipeline's strips, band buffers,
// have their own colour), so the picture is the plan's arena itself: its top is the predicted
// peak. The peak is marked (a line, and a label with its bytes and the op where the arena is
// fullest while its highest buffer is live); a legend gives each category's bytes at that op.
#pragma once

#include <cstdint>
#include <string>

#include "ir/IR.h"

namespace lrc::compiler {

// `train`: a training program after plan-memory. `title`: the picture's heading (the model
// and plan). `planArenaBytes`: the plan's arena (the larger of the training and evaluation
// programs'); when the evaluation program's is the larger the picture says so.
// The root element carries data-peak-bytes (the training program's arena), data-peak-op,
// data-ops and data-arena-bytes; each rectangle data-category, data-offset, data-bytes,
// data-first and data-last (ops).
std::string memoryPlotSvg(const ir::Module& train, const std::string& title, int64_t planArenaBytes);

}  // namespace lrc::compiler
