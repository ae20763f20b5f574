#include "compiler/PlanSearch.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <optional>
#include <stdexcept>

#include "compiler/EmitPlan.h"
#include "compiler/Work.h"
#include "ops/OpTable.h"
#include "passes/PipelineList.h"
#include "passes/RowAnalysis.h"

namespace lrc::compiler {

namespace {

std::string mib(int64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", static_cast<double>(bytes) / (1 << 20));
  return text;
}

// The most strips a count can mean, per segment cut: the tallest pipeline's output rows
// (partition-rows clamps a larger OverL count to them: the same plan again; a 2PS count may
// go up to the first op's rows, cut at the input side, but the search stops at the output
// rows too: on SqueezeNet 1.1 at 224², 16 and 32 strips keep more than 8 or 13), and at most
// the operands of one rows_copy (a pipeline's output is assembled from one band per strip).
// Per cut: the most forward strips (the tallest pipeline's output rows, at most the operands of
// one rows_copy, which assembles a pipeline's output from one band per strip), and the most
// backward strips (those rows: backward strips add into the input gradient, no rows_copy).
struct StripLimits {
  int64_t downsample = 0, none = 0;
  int64_t downsampleRows = 0, noneRows = 0;
  int64_t of(passes::SegmentCut cut) const { return cut == passes::SegmentCut::None ? none : downsample; }
  int64_t backwardOf(passes::SegmentCut cut) const {
    return cut == passes::SegmentCut::None ? noneRows : downsampleRows;
  }
};

StripLimits stripLimits(const ir::Module& shapes, const TrainingOptions& training) {
  auto tallest = [&](passes::SegmentCut cut) {
    RowOptions probe;
    probe.fuse.cut = cut;
    probe.partition.strategy = passes::RowStrategy::OverL;
    probe.partition.strips = probe.partition.bpStrips = std::numeric_limits<int32_t>::max();
    std::unique_ptr<ir::Module> m = shapes.clone();
    runRowPipeline(*m, probe, training.batchNorm);
    int64_t rows = 0;
    for (const auto& op : m->ops)
      if (op->has("strategy")) rows = std::max(rows, op->getInt("strips"));
    return rows;
  };
  const int64_t downsample = tallest(passes::SegmentCut::Downsample), none = tallest(passes::SegmentCut::None);
  const int64_t cap = ops::info(ops::OpKind::RowsCopy).maxOperands;
  return {std::min(downsample, cap), std::min(none, cap), downsample, none};
}

// The count after `n`: twice as many, or `limit` where that is fewer (0 past the limit).
int64_t nextCount(int64_t n, int64_t limit) { return n >= limit ? 0 : std::min(2 * n, limit); }

// Strip counts 2, 4, 8, ... up to `upTo`, the last one `limit` where that is fewer (a
// count past the tallest pipeline is the same plan again), and 2 always (a row plan).
std::vector<int64_t> stripCounts(int64_t upTo, int64_t limit) {
  std::vector<int64_t> counts{2};
  for (int64_t n = nextCount(2, limit); n > 0 && n <= upTo; n = nextCount(n, limit)) counts.push_back(n);
  return counts;
}

// Whether recomputing skip maps (--clone-skips) changes the row plan of the module: it has a
// pipeline output that a concat of a later pipeline reads too (a U-Net's skip maps), with
// every reduction point recomputed and chained (the candidates that try it).
bool hasSkipMaps(const ir::Module& shapes, const TrainingOptions& training) {
  auto ops = [&](bool skips) {
    RowOptions probe;
    probe.recompute.all = true;
    probe.fuse.chain = true;
    probe.fuse.skips = skips;
    std::unique_ptr<ir::Module> m = shapes.clone();
    runRowPipeline(*m, probe, training.batchNorm);
    return m->ops.size();
  };
  return ops(true) != ops(false);
}

std::vector<PlanCandidate> candidates(bool reductionPoints, bool skipMaps, const StripLimits& limits) {
  std::vector<PlanCandidate> list;
  for (passes::RematMode remat : {passes::RematMode::None, passes::RematMode::Elementwise}) {
    PlanCandidate layerwise;
    layerwise.rows.layerwise = true;
    layerwise.rows.remat = remat;
    list.push_back(layerwise);
    for (passes::SegmentCut cut : {passes::SegmentCut::Downsample, passes::SegmentCut::None})
      for (passes::RowStrategy strategy : {passes::RowStrategy::TwoPS, passes::RowStrategy::OverL})
        for (int64_t strips : stripCounts(16, limits.of(cut))) {
          PlanCandidate c;
          c.rows.fuse.cut = cut;
          c.rows.partition.strategy = strategy;
          c.rows.partition.strips = c.rows.partition.bpStrips = strips;
          c.rows.remat = remat;
          list.push_back(c);
        }
  }
  // Recomputed reduction points in strips (every point a pipeline can hold), with element-wise
  // remat: the least kept maps a row plan reaches on chains of conv-BN-ReLU (VGG-BN); 2 and 4
  // strips, doubled further only when nothing fits (extendStrips: at high resolution the
  // strips' workspace dominates, and more strips then keep less). Then the same with chained
  // points (--chain-points): points in a row held too, a backward pass each (more work, fewer
  // kept maps: VGG-BN's and U-Net's conv pairs). Then, where the module has skip maps, chained
  // with those recomputed in their later readers' pipelines (--clone-skips: a U-Net's
  // encoder levels recomputed in the decoder, no skip map or its gradient whole).
  for (int series : {0, 1, 2})
    for (passes::SegmentCut cut : {passes::SegmentCut::Downsample, passes::SegmentCut::None})
      for (passes::RowStrategy strategy : {passes::RowStrategy::TwoPS, passes::RowStrategy::OverL})
        for (int64_t strips : stripCounts(4, limits.of(cut))) {
          if (!reductionPoints || (series == 2 && !skipMaps)) break;
          PlanCandidate c;
          c.rows.fuse.chain = series > 0;
          c.rows.fuse.skips = series == 2;
          c.rows.fuse.cut = cut;
          c.rows.partition.strategy = strategy;
          c.rows.partition.strips = c.rows.partition.bpStrips = strips;
          c.rows.remat = passes::RematMode::Elementwise;
          c.rows.recompute.all = true;
          list.push_back(c);
        }
  // Block recompute acts on whole maps: with row pipelines their kept outputs stay anyway.
  // Every block input kept, or one in 2, 3 or 4 (the others recomputed from it, nested: about
  // one forward more; the best count depends on the maps' sizes along the network).
  for (int64_t every : {1, 2, 3, 4}) {
    PlanCandidate blocks;
    blocks.rows.layerwise = true;
    blocks.rows.remat = passes::RematMode::Blocks;
    blocks.rows.rematEvery = every;
    list.push_back(blocks);
  }
  return list;
}

void evaluate(PlanCandidate& c, const ir::Module& forward, const TrainingOptions& base, const CostTable& costs,
              TrainingPrograms* keep) {
  TrainingOptions options = base;
  options.rows = c.rows;
  if (c.winogradMaxBytes > 0) options.memory.winogradMaxBytes = c.winogradMaxBytes;
  TrainingPrograms programs = runTrainingPipeline(forward, options);
  c.evaluated = true;
  c.peakBytes = trainingArenaBytes(programs);
  c.memory = trainingMemoryReport(*programs.train);
  c.seconds = predictSeconds(*programs.train, costs);
  c.work = multiplyAdds(*programs.train);
  if (keep) *keep = std::move(programs);
}

// Past its listed counts (docs/plan-search.md "Candidates"): a series of evaluated candidates
// (one --remat, cut, strategy and --recompute-points) doubles its strips while its last doubling
// lowered the peak by at least an eighth and the count is within the cut's limit. Where
// halos, 2PS's kept boundary rows or the maps kept whole dominate the peak, more strips stop
// paying, so no fixed least strip height is needed. A series whose largest plan equals an
// earlier extended series' (same peak, time and work: --remat elementwise on a network
// without such maps) is not extended again. New counts go after their series.
void extendStrips(std::vector<PlanCandidate>& list, const StripLimits& limits, const ir::Module& shapes,
                  const TrainingOptions& training, const CostTable& costs) {
  auto sameSeries = [](const RowOptions& a, const RowOptions& b) {
    return !a.layerwise && !b.layerwise && a.recompute == b.recompute && a.fuse.chain == b.fuse.chain &&
           a.fuse.skips == b.fuse.skips && a.remat == b.remat &&
           a.fuse.cut == b.fuse.cut && a.fuse.cutPoints == b.fuse.cutPoints && a.partition.strategy == b.partition.strategy;
  };
  struct Outcome {
    int64_t peak, work;
    double seconds;
  };
  std::vector<Outcome> extended;
  for (size_t i = 1; i < list.size(); ++i) {
    const bool tail = sameSeries(list[i].rows, list[i - 1].rows) &&
                      (i + 1 == list.size() || !sameSeries(list[i].rows, list[i + 1].rows));
    if (!tail || !list[i].evaluated || !list[i - 1].evaluated) continue;
    const Outcome outcome{list[i].peakBytes, list[i].work, list[i].seconds};
    if (std::any_of(extended.begin(), extended.end(), [&](const Outcome& o) {
          return o.peak == outcome.peak && o.work == outcome.work && o.seconds == outcome.seconds;
        }))
      continue;
    extended.push_back(outcome);
    for (;;) {
      const PlanCandidate& last = list[i];
      const passes::SegmentCut cut = last.rows.fuse.cut;
      // Forward and backward strips double together up to the forward limit; past it (a tall
      // map, rows_copy's operands), the backward strips go on alone up to the pipeline's rows.
      const int64_t next = nextCount(last.rows.partition.strips, limits.of(cut));
      const int64_t nextBackward = nextCount(last.rows.partition.bpStrips, limits.backwardOf(cut));
      if ((next == 0 && nextBackward == 0) || last.peakBytes > list[i - 1].peakBytes / 8 * 7) break;
      PlanCandidate c;
      c.rows = last.rows;
      if (next > 0)
        c.rows.partition.strips = c.rows.partition.bpStrips = next;
      else
        c.rows.partition.bpStrips = nextBackward;
      evaluate(c, shapes, training, costs, nullptr);
      list.insert(list.begin() + static_cast<std::ptrdiff_t>(i) + 1, std::move(c));
      ++i;
    }
  }
}

}  // namespace

std::string winogradCap(int64_t maxBytes) {
  if (maxBytes <= 0) return "";
  return " --winograd-max-scratch " +
         (maxBytes % (int64_t{1} << 20) == 0 ? std::to_string(maxBytes >> 20) + "MiB" : std::to_string(maxBytes));
}

namespace {

// conv-scratch=winograd under a budget short of a candidate's Winograd scratch (the largest:
// the transformed weights of 512-channel 3x3 weight gradients, 72 MiB): the candidates over
// the budget that are faster than every one that fits (all, when none fits), fastest first,
// are tried again with Winograd left to the convolutions whose part of the scratch is at most
// a cap, the others on oneDNN's direct kernels (docs/plan-search.md "Winograd under a
// budget"). The cost model times a Winograd convolution as a direct one, so a capped
// candidate times as its uncapped one, and the first that fits is the fastest: it joins the
// list with the largest of 64, 32 and 16 MiB that fits (each Winograd part holds at least 6
// MiB of 2 MiB-aligned buffers; 16 MiB is the im2col scratch's cap). A candidate that does
// not fit at 16 MiB is not tried at more. When none fits, the smallest of those tried at 16
// MiB joins the list if it is smaller than every candidate (the least peak a refused budget
// names). Returns whether a candidate that fits was added.
bool addWinogradCapped(std::vector<PlanCandidate>& list, int64_t budgetBytes, const ir::Module& shapes,
                       const TrainingOptions& training, const CostTable& costs) {
  if (training.memory.convScratch != passes::ConvScratch::Winograd || training.memory.winogradMaxBytes > 0)
    return false;
  double fastestFit = std::numeric_limits<double>::infinity();
  int64_t smallestPeak = std::numeric_limits<int64_t>::max();
  for (const PlanCandidate& c : list) {
    if (c.evaluated && c.peakBytes <= budgetBytes) fastestFit = std::min(fastestFit, c.seconds);
    if (c.evaluated) smallestPeak = std::min(smallestPeak, c.peakBytes);
  }
  std::vector<size_t> order;
  for (size_t i = 0; i < list.size(); ++i)
    if (list[i].evaluated && list[i].peakBytes > budgetBytes && list[i].seconds < fastestFit) order.push_back(i);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return list[a].seconds < list[b].seconds; });
  std::optional<PlanCandidate> smallestMiss;
  for (const size_t i : order) {
    std::optional<PlanCandidate> fitting;
    for (const int64_t mib : {16, 32, 64}) {
      PlanCandidate t = list[i];
      t.winogradMaxBytes = int64_t{mib} << 20;
      evaluate(t, shapes, training, costs, nullptr);
      if (t.peakBytes > budgetBytes) {
        if (mib == 16 && (!smallestMiss || t.peakBytes < smallestMiss->peakBytes)) smallestMiss = t;
        break;
      }
      fitting = t;
    }
    if (fitting) {
      list.push_back(*fitting);
      return true;
    }
  }
  if (fastestFit == std::numeric_limits<double>::infinity() && smallestMiss && smallestMiss->peakBytes < smallestPeak)
    list.push_back(*smallestMiss);
  return false;
}

}  // namespace

std::string PlanCandidate::label() const {
  std::string s(strategyName(rows));
  const std::string remat =
      (rows.remat == passes::RematMode::None ? "" : " --remat " + std::string(passes::name(rows.remat))) +
      (rows.rematEvery > 1 ? " --remat-every " + std::to_string(rows.rematEvery) : "");
  if (rows.layerwise) return s + remat + winogradCap(winogradMaxBytes);
  s += " --strips ";
  s += std::to_string(rows.partition.strips);
  if (rows.partition.bpStrips > 0 && rows.partition.bpStrips != rows.partition.strips)
    s += " --bp-strips " + std::to_string(rows.partition.bpStrips);
  s += " --cut ";
  s += passes::formatSegmentCuts(rows.fuse);
  // Per-pipeline settings, in passes/PipelineList.h's grammar (lrc-compile's flags).
  auto flag = [&](const char* name, const std::string& list) {
    if (list.empty()) return;
    s += name;
    s += list;
  };
  flag(" --pipeline-strategy ", passes::formatPipelineStrategies(rows.partition.strategies));
  flag(" --pipeline-strips ", passes::formatPipelineCounts(rows.partition.per));
  flag(" --reuse-last ", passes::formatPipelineIds(rows.partition.reuse));
  flag(" --keep ", passes::formatPipelineIds(rows.partition.keep));
  if (rows.recompute.any()) s += " --recompute-points " + passes::formatRecomputePoints(rows.recompute);
  if (rows.fuse.chain) s += " --chain-points";
  if (rows.fuse.skips) s += " --clone-skips";
  return s + remat + winogradCap(winogradMaxBytes);
}

namespace {

// What a per-pipeline refinement optimizes: the predicted time within the budget (a plan
// that fits), or the peak (nothing fits: the least memory the search reaches).
enum class Objective { Time, Memory };

// Segment cuts for the least memory (docs/plan-search.md "The rule", 4), on a candidate
// without cuts or per-pipeline settings: each cut point alone (--cut K) is evaluated; of those
// with a smaller peak than `current`, the two smallest then get, on each of the two pipelines
// beside the cut (the one it ends and the next), the strategy and strip count of the least
// peak (ties: faster), and the smaller of the two replaces `current`. A cut keeps one map
// whole so that the layers before and after it get strips of their own: AlexNet's 55-row stem
// wants many OverL strips, its 13-row tail few 2PS ones, and no one count suits both. Returns
// whether `current` changed.
template <class Partitioned>
bool cutsSegments(PlanCandidate& current, const ir::Module& shapes, const TrainingOptions& training,
                  const CostTable& costs, Partitioned partitionedBy) {
  const passes::PartitionRowsOptions& p = current.rows.partition;
  if (current.rows.layerwise || current.rows.fuse.cut != passes::SegmentCut::None || !current.rows.fuse.cutPoints.empty() ||
      !p.per.empty() || !p.strategies.empty() || !p.keep.empty() || !p.reuse.empty() ||
      p.bpStrips > ops::info(ops::OpKind::RowsSum).maxOperands)  // a cut's map would sum them
    return false;
  const size_t points = passes::cutPointOps(*partitionedBy(current.rows)).size();
  auto smaller = [](const PlanCandidate& a, const PlanCandidate& b) {
    return a.peakBytes < b.peakBytes || (a.peakBytes == b.peakBytes && a.seconds < b.seconds);
  };
  std::vector<PlanCandidate> single;
  for (size_t k = 0; k < points; ++k) {
    PlanCandidate t;
    t.rows = current.rows;
    t.rows.fuse.cutPoints = {static_cast<int64_t>(k)};
    evaluate(t, shapes, training, costs, nullptr);
    single.push_back(std::move(t));
  }
  std::erase_if(single, [&](const PlanCandidate& t) { return !smaller(t, current); });
  std::stable_sort(single.begin(), single.end(), smaller);
  if (single.size() > 2) single.resize(2);
  std::optional<PlanCandidate> best;
  for (PlanCandidate& c : single) {
    const std::unique_ptr<ir::Module> m = partitionedBy(c.rows);
    const ir::Op* cut = passes::cutPointOps(*m).at(static_cast<size_t>(c.rows.fuse.cutPoints.front()));
    if (!cut->has("pipeline")) continue;
    // Each pipeline's strip counts: 2, 4, 8, 16 as the listed candidates, at most its output
    // rows (its last forward op's; more would be clamped to them) and rows_copy's operands.
    std::map<int64_t, int64_t> rows;
    for (const auto& op : m->ops)
      if (op->has("pipeline") && ops::info(op->kind).role != ops::Role::Backward) {
        rows[op->getInt("pipeline")] =
            std::min<int64_t>(passes::rowsValue(*op)->type.shape.at(2), ops::info(ops::OpKind::RowsCopy).maxOperands);
      }
    for (int64_t id = cut->getInt("pipeline"); id <= cut->getInt("pipeline") + 1 && rows.count(id); ++id) {
      PlanCandidate least = c;
      for (passes::RowStrategy strategy : {passes::RowStrategy::TwoPS, passes::RowStrategy::OverL})
        for (int64_t n : stripCounts(16, rows.at(id))) {
          PlanCandidate t;
          t.rows = c.rows;
          t.rows.partition.strategies[id] = strategy;
          t.rows.partition.per[id] = n;
          evaluate(t, shapes, training, costs, nullptr);
          if (smaller(t, least)) least = std::move(t);
        }
      c = std::move(least);
    }
    if (!best || smaller(c, *best)) best = c;
  }
  if (!best || !smaller(*best, current)) return false;
  current = *best;
  return true;
}

// Refines a row plan pipeline by pipeline (docs/plan-search.md "Candidates"): each
// pipeline's own strategy, then its own strip count, for 2PS backward reusing the last
// forward strip (Time only: it adds memory by construction), then pipelines left layer by
// layer, in the order of the gain per trial. A change is kept when it is better by
// `objective`: faster and still within `budgetBytes`, or a smaller peak (ties: faster).
// Returns whether any change was kept.
bool refine(PlanCandidate& current, Objective objective, int64_t budgetBytes, const ir::Module& shapes,
            const TrainingOptions& training, const CostTable& costs, const StripLimits& limits) {
  bool refined = false;
  auto better = [&](const PlanCandidate& t) {
    if (objective == Objective::Time) return t.peakBytes <= budgetBytes && t.seconds < current.seconds;
    return t.peakBytes < current.peakBytes || (t.peakBytes == current.peakBytes && t.seconds < current.seconds);
  };
  auto evaluateChange = [&](auto change) {
    PlanCandidate t;
    t.rows = current.rows;
    change(t.rows);
    evaluate(t, shapes, training, costs, nullptr);
    return t;
  };
  auto tryChange = [&](auto change) {
    PlanCandidate t = evaluateChange(change);
    if (!better(t)) return;
    current = t;
    refined = true;
  };
  // A kept pipeline has no strips: its other settings go.
  auto keepLayerwise = [](RowOptions& rows, int64_t id) {
    passes::PartitionRowsOptions& p = rows.partition;
    p.keep.push_back(id);
    std::sort(p.keep.begin(), p.keep.end());
    p.per.erase(id);
    p.strategies.erase(id);
    std::erase(p.reuse, id);
  };
  using passes::RowStrategy;
  auto partitionedBy = [&](const RowOptions& rows) {
    std::unique_ptr<ir::Module> m = shapes.clone();
    runRowPipeline(*m, rows, training.batchNorm);
    return m;
  };
  if (objective == Objective::Memory && cutsSegments(current, shapes, training, costs, partitionedBy)) refined = true;
  std::unique_ptr<ir::Module> partitioned = partitionedBy(current.rows);
  std::vector<int64_t> ids;
  for (const auto& op : partitioned->ops)
    if (op->has("strategy")) ids.push_back(op->getInt("pipeline"));
  // For memory only pipelines left layer by layer (below) are tried: a pipeline's own
  // strategy or strip count rarely lowers the peak of the smallest candidate, and trying
  // them for every pipeline made a refused budget take minutes on ResNet-50.
  if (objective == Objective::Time) {
    for (int64_t id : ids)
      tryChange([&](RowOptions& r) {
        r.partition.strategies[id] = r.partition.strategy == RowStrategy::TwoPS ? RowStrategy::OverL : RowStrategy::TwoPS;
      });
    const std::vector<int64_t> counts =
        stripCounts(std::max<int64_t>(16, current.rows.partition.strips), limits.of(current.rows.fuse.cut));
    for (int64_t id : ids)
      for (int64_t n : counts) {
        const passes::PartitionRowsOptions& p = current.rows.partition;
        auto own = p.per.find(id);
        if ((own == p.per.end() ? p.strips : own->second) == n) continue;
        tryChange([&](RowOptions& r) { r.partition.per[id] = n; });
      }
  }
  for (int64_t id : ids) {
    const passes::PartitionRowsOptions& p = current.rows.partition;
    auto own = p.strategies.find(id);
    if (objective == Objective::Time && (own == p.strategies.end() ? p.strategy : own->second) == RowStrategy::TwoPS)
      tryChange([&](RowOptions& r) { r.partition.reuse.push_back(id); });
  }
  // Keeping pipelines layer by layer, the most gain first: for time, the time saved per
  // byte added; for memory, the bytes saved, then the time (a pipeline away from the peak
  // step saves time at the same peak, and later ones may then lower it).
  struct Trial {
    int64_t id;
    double gain, then;
  };
  std::vector<Trial> order;
  for (int64_t id : ids) {
    const PlanCandidate t = evaluateChange([&](RowOptions& r) { keepLayerwise(r, id); });
    const double saved = current.seconds - t.seconds;
    const double added = static_cast<double>(std::max<int64_t>(t.peakBytes - current.peakBytes, 1));
    if (objective == Objective::Time && saved > 0) order.push_back({id, saved / added, 0});
    if (objective == Objective::Memory && better(t))
      order.push_back({id, static_cast<double>(current.peakBytes - t.peakBytes), saved});
  }
  std::stable_sort(order.begin(), order.end(),
                   [](const Trial& a, const Trial& b) { return a.gain != b.gain ? a.gain > b.gain : a.then > b.then; });
  for (const Trial& t : order) tryChange([&](RowOptions& r) { keepLayerwise(r, t.id); });
  return refined;
}

}  // namespace

PlanChoice choosePlan(const ir::Module& forward, const TrainingOptions& training, int64_t budgetBytes,
                      const std::string& budgetSource, const CostTable& costs, bool evaluateAll,
                      double maxSlowdown, const std::string& fixedFlags) {
  PlanChoice choice;
  // The other candidates are compiled without the weights' data (VGG-16 has 528 MiB of
  // them): memory planning and the cost model need only shapes.
  std::unique_ptr<ir::Module> shapesOnly;
  auto shapes = [&]() -> const ir::Module& {
    if (!shapesOnly) {
      shapesOnly = forward.clone();
      dropParameterData(*shapesOnly);
    }
    return *shapesOnly;
  };
  const StripLimits limits = stripLimits(shapes(), training);
  const bool exact = training.batchNorm.mode == passes::BatchNormMode::Exact;
  choice.candidates = candidates(exact, exact && hasSkipMaps(shapes(), training), limits);
  choice.budgetBytes = budgetBytes;
  choice.budgetSource = budgetSource;
  auto fits = [&](const PlanCandidate& c) { return c.evaluated && c.peakBytes <= budgetBytes; };

  evaluate(choice.candidates[0], forward, training, costs, &choice.programs);
  const bool leastMemory = maxSlowdown > 0;
  const bool layerwiseFits = fits(choice.candidates[0]) && !leastMemory;
  if (!layerwiseFits || evaluateAll)
    for (size_t i = 1; i < choice.candidates.size(); ++i) evaluate(choice.candidates[i], shapes(), training, costs, nullptr);
  // More strips only add time (per-strip calls, halos), so counts past 16 are tried when no
  // candidate fits, for the least memory within a time limit, or for --explain.
  const bool noneFits = std::none_of(choice.candidates.begin(), choice.candidates.end(), fits);
  if ((!layerwiseFits && noneFits) || leastMemory || evaluateAll)
    extendStrips(choice.candidates, limits, shapes(), training, costs);

  if (!layerwiseFits && !leastMemory) addWinogradCapped(choice.candidates, budgetBytes, shapes(), training, costs);

  // The fastest that fits (layerwise when it does: no recompute), ties to the smaller peak.
  std::optional<size_t> best;
  const double timeLimit = maxSlowdown * choice.candidates[0].seconds;
  for (size_t i = 0; i < choice.candidates.size() && leastMemory; ++i) {
    const PlanCandidate& c = choice.candidates[i];
    if (!fits(c) || c.seconds > timeLimit) continue;
    const PlanCandidate* b = best ? &choice.candidates[*best] : nullptr;
    if (!b || c.peakBytes < b->peakBytes || (c.peakBytes == b->peakBytes && c.seconds < b->seconds)) best = i;
  }
  for (size_t i = 0; i < choice.candidates.size() && !leastMemory; ++i) {
    const PlanCandidate& c = choice.candidates[i];
    if (!fits(c)) continue;
    if (layerwiseFits && i != 0) continue;
    const PlanCandidate* b = best ? &choice.candidates[*best] : nullptr;
    if (!b || c.seconds < b->seconds || (c.seconds == b->seconds && c.peakBytes < b->peakBytes)) best = i;
  }
  // No candidate fits: the least memory the search reaches is the smallest row candidate
  // refined per pipeline (leaving pipelines layer by layer can save more than their strips
  // do: a budget of that candidate's peak used to get a smaller plan than the error named),
  // or the smallest candidate if less. It does not depend on the budget, so every budget at
  // or above the peak it names is accepted and every one below refused. (Greedy: a larger
  // budget's refinement may still pass through a smaller plan.)
  bool leastRefined = false;
  if (!best && !leastMemory) {
    auto smallestOf = [&](bool rowsOnly) {
      std::optional<size_t> s;
      for (size_t i = 0; i < choice.candidates.size(); ++i)
        if ((!rowsOnly || !choice.candidates[i].rows.layerwise) &&
            (!s || choice.candidates[i].peakBytes < choice.candidates[*s].peakBytes))
          s = i;
      return s;
    };
    size_t smallest = *smallestOf(false);
    if (std::optional<size_t> rows = smallestOf(true)) {
      PlanCandidate least = choice.candidates[*rows];
      const bool refined = refine(least, Objective::Memory, budgetBytes, shapes(), training, costs, limits);
      if (refined && least.peakBytes < choice.candidates[smallest].peakBytes) {
        choice.candidates.push_back(least);
        smallest = choice.candidates.size() - 1;
        leastRefined = true;
      }
    }
    if (fits(choice.candidates[smallest])) best = smallest;
  }
  if (!best) {
    size_t smallest = 0;
    for (size_t i = 1; i < choice.candidates.size(); ++i)
      if (choice.candidates[i].peakBytes < choice.candidates[smallest].peakBytes) smallest = i;
    std::string message = "no plan fits the memory budget of ";
    message += std::to_string(budgetBytes);
    message += " bytes (";
    message += mib(budgetBytes);
    message += " MiB, ";
    message += budgetSource;
    message += "): the smallest predicted peak for this model and batch is ";
    message += mib(choice.candidates[smallest].peakBytes);
    message += " MiB (";
    message += std::to_string(choice.candidates[smallest].peakBytes);
    message += " bytes), with --strategy ";
    message += choice.candidates[smallest].label();
    message += fixedFlags;
    throw ir::Error(message);
  }
  // Refining the best row plan where memory allows (refine above): a change is kept when
  // the peak still fits and the predicted time goes down.
  bool refined = false;
  if (!layerwiseFits && !leastMemory && !choice.candidates[*best].rows.layerwise) {
    PlanCandidate current = choice.candidates[*best];
    refined = refine(current, Objective::Time, budgetBytes, shapes(), training, costs, limits);
    if (refined) {
      choice.candidates.push_back(current);
      best = choice.candidates.size() - 1;
    }
  }
  choice.chosen = *best;
  const PlanCandidate& chosen = choice.candidates[choice.chosen];
  for (size_t i = 0; i < choice.candidates.size(); ++i) {
    PlanCandidate& c = choice.candidates[i];
    if (i == choice.chosen && leastMemory)
      c.verdict = "chosen: the least memory within " + std::to_string(maxSlowdown).substr(0, 3) + "x layerwise's time";
    else if (i == choice.chosen)
      c.verdict = layerwiseFits ? "chosen: layerwise fits, no recompute"
                  : leastRefined && refined ? "chosen: the least memory (refined per pipeline), then refined for time"
                  : leastRefined            ? "chosen: the least memory, refined per pipeline"
                  : refined                 ? "chosen: the fastest that fits, refined per pipeline"
                                            : "chosen: the fastest that fits";
    else if (!c.evaluated) c.verdict = "not evaluated: layerwise fits";
    else if (!fits(c)) c.verdict = "over the budget";
    else if (leastMemory) c.verdict = c.seconds > timeLimit ? "over the time limit" : "more memory";
    else if (layerwiseFits) c.verdict = "fits, but layerwise needs no recompute";
    else c.verdict = c.seconds > chosen.seconds ? "slower" : "same time, larger peak";
  }
  if (choice.chosen != 0) evaluate(choice.candidates[choice.chosen], forward, training, costs, &choice.programs);
  return choice;
}

std::string explainChoice(const PlanChoice& choice) {
  const PlanCandidate& layerwise = choice.candidates[0];
  // Sizes in MiB, or KiB for small models; times in milliseconds.
  const bool kib = layerwise.peakBytes < (int64_t{64} << 20);
  const double unit = kib ? 1024.0 : 1024.0 * 1024.0;
  auto size = [&](uint64_t bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f", static_cast<double>(bytes) / unit);
    return std::string(text);
  };
  std::string out = "plan candidates (";
  if (choice.budgetBytes == std::numeric_limits<int64_t>::max()) {
    out += "no memory budget";
  } else {
    out += "memory budget ";
    out += mib(choice.budgetBytes);
    out += " MiB";
  }
  out += ", ";
  out += choice.budgetSource;
  out += "; sizes in ";
  out += kib ? "KiB" : "MiB";
  out += "; time: the cost model's prediction for one training step)\n";
  char line[512];
  const char* format = "  %-36s %10s %9s %9s %9s %9s %10s %7s %7s  %s\n";
  std::snprintf(line, sizeof line, format, "plan", "peak", "kept act", "act grad", "workspace", "par grad", "time ms",
                "vs lw", "work", "verdict");
  out += line;
  for (size_t i = 0; i < choice.candidates.size(); ++i) {
    const PlanCandidate& c = choice.candidates[i];
    std::string name = (i == choice.chosen ? "* " : "  ") + c.label();
    if (!c.evaluated) {
      std::snprintf(line, sizeof line, format, name.c_str(), "-", "-", "-", "-", "-", "-", "-", "-", c.verdict.c_str());
    } else {
      char ms[32], vs[32], work[32];
      std::snprintf(ms, sizeof ms, "%.1f", c.seconds * 1e3);
      std::snprintf(vs, sizeof vs, "%.2fx", layerwise.seconds > 0 ? c.seconds / layerwise.seconds : 1.0);
      std::snprintf(work, sizeof work, "%.2fx",
                    layerwise.work > 0 ? static_cast<double>(c.work) / static_cast<double>(layerwise.work) : 1.0);
      std::snprintf(line, sizeof line, format, name.c_str(), size(static_cast<uint64_t>(c.peakBytes)).c_str(),
                    size(c.memory.activations()).c_str(), size(c.memory.activation_gradients()).c_str(),
                    size(c.memory.workspace()).c_str(), size(c.memory.gradients()).c_str(), ms, vs, work,
                    c.verdict.c_str());
    }
    out += line;
  }
  return out;
}

int64_t availableMemoryBytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  int64_t kib = 0;
  std::string unit;
  while (in >> key >> kib >> unit)
    if (key == "MemAvailable:") return kib * 1024;
  return 0;
}

int64_t parseByteSize(const std::string& text) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  std::string unit = text.substr(used);
  double scale = 0;
  if (unit.empty() || unit == "B") scale = 1;
  else if (unit == "k" || unit == "K" || unit == "KiB") scale = 1024.0;
  else if (unit == "M" || unit == "MiB") scale = 1024.0 * 1024;
  else if (unit == "G" || unit == "GiB") scale = 1024.0 * 1024 * 1024;
  if (used == 0 || scale == 0 || !(value > 0) || value * scale > 9.0e18)
    throw std::invalid_argument("expects a positive size such as 1500MiB, 1.5GiB or 123456 (bytes), got '" + text + "'");
  return static_cast<int64_t>(std::llround(value * scale));
}

}  // namespace lrc::compiler
