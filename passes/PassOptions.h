// The typed options of the passes that take any, shared by the passes' factories
// (passes/Pass.h), the pipelines lrc-compile builds (compiler/CompilePipeline.h) and lrc-opt,
// whose `--passes=name{key=value}` parser is the one place pass options are read from text.
// Every enum has one `name` (its text in flags, pass options and the plan) and one
// `parse...`, its inverse (nullopt for any other text; callers word the error).
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string_view>
#include <vector>

#include "ops/Optimizer.h"

namespace lrc::passes {

// How partition-rows cuts a row pipeline into strips (docs/row-plans.md): 2PS computes each
// row once and caches boundary rows; OverL recomputes overlapping halos.
enum class RowStrategy { TwoPS, OverL };  // "2ps", "overl"
// The BatchNorm policy (SPEC.md §2 "BatchNorm", passes/BatchNormPolicy.cpp).
enum class BatchNormMode { Exact, Frozen, Strip };  // "exact", "frozen", "strip"
// fuse-row-pipelines' segment cuts: none, or after every downsampling sliding window.
enum class SegmentCut { None, Downsample };  // "none", "downsample"
// The remat pass (passes/Remat.cpp): which forward maps backward recomputes instead of keeping.
enum class RematMode { None, Elementwise, Blocks };  // "none", "elementwise", "blocks"

std::string_view name(RowStrategy strategy);
std::string_view name(BatchNormMode mode);
std::string_view name(SegmentCut cut);
std::string_view name(RematMode mode);
std::optional<RowStrategy> parseRowStrategy(std::string_view text);
std::optional<BatchNormMode> parseBatchNormMode(std::string_view text);
std::optional<SegmentCut> parseSegmentCut(std::string_view text);
std::optional<RematMode> parseRematMode(std::string_view text);

// Which reduction points (training BatchNorms, numbered 0, 1, ... in program order) mode exact
// marks for recompute (`recompute=1` on their batchnorm_stats): fuse-row-pipelines then runs
// a pipeline through those it can (docs/row-plans.md "Recomputed reduction points").
struct RecomputePoints {
  bool all = false;
  std::vector<int64_t> ids;  // when not all
  bool any() const { return all || !ids.empty(); }
  bool has(int64_t id) const { return all || std::find(ids.begin(), ids.end(), id) != ids.end(); }
  bool operator==(const RecomputePoints&) const = default;
};

struct BatchNormPolicyOptions {
  BatchNormMode mode = BatchNormMode::Exact;
  RecomputePoints recompute;  // none by default: every reduction point kept
};

struct FuseRowPipelinesOptions {
  SegmentCut cut = SegmentCut::None;
  // With cut none: the downsampling windows (fuse-row-pipelines' cut points: the sliding
  // windows with a row stride above 1, numbered 0, 1, ... in program order) after which a
  // segment ends all the same (--cut 2, docs/row-plans.md "Segment cuts").
  std::vector<int64_t> cutPoints;
  // Whether a per-pixel loss (pixel_xent) joins the run that computes its logits, so that a
  // fully convolutional net is one pipeline up to its loss (docs/row-plans.md); layerwise
  // plans (one strip) leave it out.
  bool loss = true;
  // Whether an element-wise chain computed whole only for several pipelines' readers (a
  // U-Net skip map's BatchNorm apply and ReLU, read by the encoder's max pool and the
  // decoder's concat) is cloned into each reader's pipeline, so that its map is never whole
  // (fuse-row-pipelines' cloneSharedElementwise); layerwise plans (one strip) leave it out.
  bool clone = true;
  // Whether --remat elementwise follows (option `remat`; lrc-compile sets it from --remat): a
  // BatchNorm point whose map recomputed in strips only trades for a map the pipeline then
  // keeps, one --remat elementwise would recompute (a ResNet block's output), may stay kept
  // (fuse-row-pipelines' settleTrades; docs/row-plans.md "Recomputed reduction points").
  bool remat = false;
  // Whether recomputed BatchNorm points may follow one another in a pipeline (option `chain`,
  // lrc-compile --chain-points): a point's upstream may then hold other recomputed BatchNorm
  // points, and its backward pass comes before theirs (a chain of k points: k + 1 backward
  // passes, each recomputing the strips upstream of the points it finishes). Off, of two
  // points in a row one is kept (docs/row-plans.md "Recomputed reduction points").
  bool chain = false;
  // Whether a pipeline's output map that later pipelines read too (a U-Net skip map: the
  // encoder's next max pool and the decoder's concat) is recomputed for each later reader
  // (option `skips`, lrc-compile --clone-skips): the ops it is computed from, back to the
  // maps whole anyway (the image, a segment cut's output), are copied right before that
  // reader, their BatchNorms applying the original statistics, so the map is never whole
  // (fuse-row-pipelines' cloneSkipMaps; docs/row-plans.md "Recomputed skip maps").
  bool skips = false;
};

// partition-rows (passes/PartitionRows.cpp's header has the rules).
struct PartitionRowsOptions {
  RowStrategy strategy = RowStrategy::TwoPS;
  int64_t strips = 4;                         // forward strips per pipeline, >= 1
  int64_t bpStrips = -1;                      // backward strips, >= 1; -1: same as `strips`
  std::vector<int64_t> keep;                  // pipelines left layerwise (unpartitioned)
  std::map<int64_t, int64_t> per;             // pipeline -> strips (forward and backward), overriding
  std::vector<int64_t> reuse;                 // 2PS pipelines whose backward reuses the last forward strip
  std::map<int64_t, RowStrategy> strategies;  // pipeline -> its own strategy
};

// append-loss: the label a pixel of the per-pixel loss carries to be left out (PyTorch's
// cross_entropy ignore_index, its default -100); the classifier loss has none.
struct AppendLossOptions {
  int64_t ignoreIndex = -100;
};

// autodiff: the optimizer whose update and state every parameter gets (ops/Optimizer.h;
// its name and parse are ops::info(o).name and ops::optimizerByName).
struct AutodiffOptions {
  ops::Optimizer optimizer = ops::Optimizer::Sgd;
};

struct RematOptions {
  RematMode mode = RematMode::Elementwise;
  int64_t every = 1;  // blocks: one block input kept in `every` (passes/Remat.cpp), >= 1
};

// data-parallel (passes/DataParallel.cpp): gradients averaged over the ranks in buckets of at
// least this many bytes (PyTorch DDP's 25 MiB), BatchNorm statistics over every rank's map.
struct DataParallelOptions {
  int64_t bucketBytes = int64_t{25} << 20;
  bool bnSync = false;
};

// Whom a convolution's scratch is sized for: the im2col kernels only (the default), or also
// the CPU backend's oneDNN convolutions (LRC_CPU_CONV=dnnl), whose blocked weights then get
// room beside the im2col columns (ops::convBlockedWeightsFloats); or, winograd, the
// convolutions oneDNN's Winograd kernels take (ops::convWinogradEligible) are marked
// `winograd=1` and their scratch holds those kernels' buffers too (ops::convWinogradFloats),
// the others keep the im2col rule.
enum class ConvScratch { Im2col, Dnnl, Winograd };
std::optional<ConvScratch> parseConvScratch(std::string_view text);  // "im2col", "dnnl" or "winograd"
std::string_view name(ConvScratch s);

struct PlanMemoryOptions {
  // A convolution's scratch: 0, the CPU kernels' row chunks under ops::kConvScratchCapBytes;
  // > 0, at most this many bytes of whole-band im2col columns (>= one image; the CUDA policy).
  int64_t convBatchBytes = 0;
  // conv-scratch=dnnl: each (non-transposed) convolution's scratch adds its blocked weights.
  ConvScratch convScratch = ConvScratch::Im2col;
  // conv-scratch=winograd: > 0, only convolutions whose Winograd part of the scratch
  // (ops::convWinogradFloats) is at most this many bytes run Winograd; the others keep the
  // im2col rule (lrc-compile --winograd-max-scratch; the plan search sets it where a budget
  // is short of a plan's full Winograd scratch).
  int64_t winogradMaxBytes = 0;
};

}  // namespace lrc::passes
