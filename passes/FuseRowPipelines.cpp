// fuse-row-pipelines (docs/row-plans.md step 1): groups maximal runs of row-local ops into
// row pipelines and marks every op of pipeline K with the integer attribute `pipeline=K`
// (K = 0, 1, ... in program order), so the IR text shows the grouping.
//
// Rules:
//  - a run is a maximal contiguous sequence, in program order, of ops for which
//    RowAnalysis::isRowLocal holds; any other op (global_avgpool, flatten, reshape, gemm,
//    matmul, softmax, training-mode batchnorm, ...) ends the current run;
//  - a run becomes a pipeline only if it holds at least one sliding-window op (conv2d,
//    maxpool, avgpool); a run of element-wise ops only (relu, add, frozen batchnorm, ...)
//    is left unmarked: there is nothing to gain from computing it in strips;
//  - residual blocks whose ops are all row-local end up whole in one pipeline because of
//    contiguity (the skip's add follows the block's other ops in program order);
//  - a pipeline has exactly one output map (a value read after it), which partition-rows
//    cuts strips on: a run with several is split into consecutive pieces, each the
//    longest prefix with one;
//  - on a training module (after append-loss / autodiff) only the ops before the first
//    loss are considered: the loss and everything after it (the backward and the
//    updates, whose element-wise adds are row-local too) are never marked; except that
//    the per-pixel loss `pixel_xent` (option `loss`, default on; off for layerwise plans) is
//    the run's last op when a row-local op computes its logits and only it reads them: the
//    logits are then dropped from the module outputs (the training program's logits are never
//    whole; io.logits becomes the evaluation's, docs/plan-format.md) and the pipeline's one
//    output is the scalar loss (docs/row-plans.md, "The loss inside a row pipeline");
//  - segment cuts, option `cut` (FuseRowPipelinesOptions): `none` (default) or `downsample`: a run also ends after
//    every sliding window with a row stride above 1 (VGG's pools, ResNet's stride-2
//    convs), so its result is a segment's output, kept whole, and the next segment starts
//    from it: halos (OverL) and boundary rows (2PS) then span one segment's layers, not the
//    whole stack, and every segment gets its own strips on its own output height; or a list
//    of those windows' ids (cut points, numbered 0, 1, ... in program order among the
//    forward ops, cutPoints: `cut=2`), each of which ends a segment (AlexNet's pool2, with
//    its stem and its 13-row tail on their own strips); an id past the last window is an
//    error;
//  - a recomputed reduction point (batchnorm_stats or an SE gate's reduce_mean with
//    `recompute=1`, RowAnalysis's isRecomputedPoint) does not end a run: the run goes on
//    through it, so the map it reads is computed strip by strip inside the pipeline; the op
//    itself and its gate ops (RowAnalysis's pointGates: the SE gate's 1x1 convolutions on
//    [N,C,1,1], computed once whole) get no mark. A point
//    whose pipeline cannot hold it that way (dropUnsupportedRecompute) loses `recompute`
//    and is kept, and the runs are marked again; of two points in a row one is kept, unless
//    option `chain` (--chain-points): then a BatchNorm point's upstream may hold other
//    recomputed BatchNorm points (lower-row-pipelines gives each depth a backward pass);
//  - option `remat` (--remat elementwise follows): a BatchNorm point whose recompute only
//    trades its map for a map its pipeline would then keep as its output (savedBytes <= 0:
//    a ResNet block's output) may stay kept; the points settle from every mark and with
//    those kept first, and the settling that keeps fewer bytes stands (settleTrades);
//  - an op that reads a whole operand (not row-indexed: a squeeze-and-excitation gate of
//    x * g) defined in the current run starts a new run, since the gate cannot be read by rows;
//  - scheduling: an element-wise op with one reader moves to right before it (sinkElementwise:
//    a residual add's operands join the add's run);
//  - shared element-wise chains, option `clone` (default on; layerwise plans pass 0): a chain
//    of element-wise ops left outside every pipeline whose result only pipelines read, two or
//    more of them (a U-Net skip map relu(apply(x)), read by the encoder's max pool and the
//    decoder's concat), is copied to right before its first reader in each pipeline but the
//    first; the original then has one reader and sinks to it, the runs are marked again, and
//    the map is never whole (cloneSharedElementwise);
//  - idempotent: existing `pipeline` attributes are removed first, then ops are marked;
//    the pass reports a change only when the marks differ from what was there.
#include <algorithm>
#include <map>
#include <set>

#include "passes/Pass.h"
#include "passes/RowAnalysis.h"

namespace lrc::passes {

namespace {

using ir::Op;
using ir::OpKind;

constexpr const char* kPipeline = "pipeline";

// (A transposed convolution's stride upsamples: it is a window, but no downsampling cut.)
bool isSlidingWindow(const Op& op) {
  return op.kind == OpKind::Conv2d || op.kind == OpKind::ConvTranspose2d || op.kind == OpKind::MaxPool ||
         op.kind == OpKind::AveragePool;
}

// How many values defined by ops [a, b) are read outside them by forward ops (those before
// `forwardEnd`; backward ops read forward values too, but they do not shape the pipeline)
// or as module outputs: a pipeline must have exactly one such output map, the one strips
// are cut on.
// Neither a recomputed point nor its gate ops join a pipeline.
bool outsidePipelines(const Op& op, const std::map<const Op*, const Op*>& gates) {
  return isRecomputedPoint(op) || gates.count(&op) != 0;
}

size_t escapingValues(const ir::Module& m, size_t a, size_t b, size_t forwardEnd, const std::map<const Op*, const Op*>& gates) {
  ir::ValueSet inside, escaping;
  for (size_t i = a; i < b; ++i)
    if (!outsidePipelines(*m.ops[i], gates)) inside.insert(m.ops[i]->results.begin(), m.ops[i]->results.end());
  for (size_t i = 0; i < forwardEnd; ++i) {
    // A recomputed point reads strips; its gate ops read whole values only.
    if ((i >= a && i < b) || outsidePipelines(*m.ops[i], gates)) continue;
    for (const ir::Value* v : m.ops[i]->operands)
      if (inside.count(v)) escaping.insert(v);
  }
  for (const ir::Value* v : m.outputs)
    if (inside.count(v)) escaping.insert(v);
  return escaping.size();
}

class FuseRowPipelines : public Pass {
 public:
  std::string_view name() const override { return "fuse-row-pipelines"; }

  explicit FuseRowPipelines(const FuseRowPipelinesOptions& options)
      : cutAtDownsample_(options.cut == SegmentCut::Downsample),
        cutPoints_(options.cutPoints.begin(), options.cutPoints.end()), loss_(options.loss), clone_(options.clone),
        remat_(options.remat), chain_(options.chain), skips_(options.skips) {}

  bool transform(ir::Module& m) override {
    // The marks before the pass, to tell whether anything changed.
    std::map<const Op*, ir::Attr> before;
    for (auto& op : m.ops) {
      auto it = op->attrs.find(kPipeline);
      if (it == op->attrs.end()) continue;
      before.emplace(op.get(), it->second);
      op->attrs.erase(it);
    }

    // Forward part: the ops before the loss (all ops when there is none), and the per-pixel
    // loss when it joins the run of its logits (option `loss`): the logits are then no module
    // output, so the training program never assembles them whole.
    size_t end = 0;
    while (end < m.ops.size() && !ops::isLoss(m.ops[end]->kind)) ++end;
    if (loss_ && end < m.ops.size() && lossJoinsRun(m, end)) {
      std::erase(m.outputs, m.ops[end]->operands[0]);
      ++end;
    }

    if (!cutPoints_.empty()) {
      const auto windows = static_cast<int64_t>(cutPointOps(m).size());
      if (*cutPoints_.rbegin() >= windows)
        throw ir::Error("fuse-row-pipelines: cut point " + std::to_string(*cutPoints_.rbegin()) +
                        " does not exist: the module has " + std::to_string(windows) +
                        " downsampling windows" + (windows > 0 ? " (cut points 0 to " + std::to_string(windows - 1) + ")" : ""));
    }

    // Scheduling first: an element-wise op with one reader moves to right before it.
    bool moved = sinkElementwise(m, end);

    // A recomputed point that its pipeline cannot hold loses its mark (it is kept), and the
    // runs are marked again without it. The BatchNorm points settle first; then each marked SE
    // mean joins, in program order, only where it costs no point held so far (else it is kept).
    bool changed = moved;
    std::vector<Op*> asked;  // the BatchNorm points marked recomputed (batchnorm-policy)
    for (size_t i = 0; i < end; ++i)
      if (isRecomputedPoint(*m.ops[i]) && m.ops[i]->kind == OpKind::BatchNormStats) asked.push_back(m.ops[i].get());
    std::vector<Op*> means;
    for (size_t i = 0; i < end; ++i)
      if (isRecomputedPoint(*m.ops[i]) && m.ops[i]->kind != OpKind::BatchNormStats) {
        means.push_back(m.ops[i].get());
        m.ops[i]->attrs.erase("recompute");
      }
    changed |= remat_ ? settleTrades(m, end) : settle(m, end);
    for (Op* mean : means) {
      std::vector<Op*> held;
      for (size_t i = 0; i < end; ++i)
        if (isRecomputedPoint(*m.ops[i])) held.push_back(m.ops[i].get());
      mean->attrs["recompute"] = int64_t{1};
      settle(m, end);
      const bool lost = std::any_of(held.begin(), held.end(), [](const Op* p) { return !isRecomputedPoint(*p); });
      if (!lost && isRecomputedPoint(*mean)) continue;
      for (Op* p : held) p->attrs["recompute"] = int64_t{1};
      mean->attrs.erase("recompute");
      settle(m, end);
      changed = true;
    }

    // Element-wise chains computed whole only for the pipelines that read them (a U-Net
    // skip map's BatchNorm apply and ReLU, read by the encoder's max pool and the decoder's
    // concat) get a copy in each of those pipelines; the original then has one reader and
    // sinks to it, and the runs are marked again.
    if (clone_) {
      const size_t added = cloneSharedElementwise(m, end);
      if (added > 0) {
        end += added;
        sinkElementwise(m, end);
        settle(m, end);
        changed = true;
      }
    }

    // Skip maps read by later pipelines too are recomputed for each such reader (option
    // `skips`); the originals then have one reader, and the BatchNorm points settle again from
    // every mark asked for (a point upstream of a skip map could not be held while the skip
    // map was read outside its pipeline).
    // (A copy's maps are read inside it and by its concat only, so one round makes them all; a
    // few more are allowed for graphs where a copy holds a concat of its own.)
    for (int round = 0; skips_ && round < kSkipRounds; ++round) {
      const size_t added = cloneSkipMaps(m, end);
      if (added == 0) break;
      end += added;
      sinkElementwise(m, end);
      for (Op* point : asked) point->attrs["recompute"] = int64_t{1};
      remat_ ? settleTrades(m, end) : settle(m, end);
      changed = true;
    }

    for (auto& op : m.ops) {
      auto it = op->attrs.find(kPipeline);
      auto old = before.find(op.get());
      const bool had = old != before.end(), has = it != op->attrs.end();
      if (had != has || (had && !(old->second == it->second))) changed = true;
    }
    return changed;
  }

 private:
  bool cutAtDownsample_;
  std::set<int64_t> cutPoints_;
  bool loss_;
  bool clone_;
  bool remat_;
  bool chain_;
  bool skips_;

  // Whether the loss at `i` can end the run before it: a pixel_xent (the one loss with a row
  // rule) whose logits a row-local forward op computes and only the loss reads.
  static bool lossJoinsRun(const ir::Module& m, size_t i) {
    const Op& loss = *m.ops[i];
    const ir::Value* logits = loss.operands.at(0);
    return isRowLocal(loss) && logits->def && isRowLocal(*logits->def) && m.users(logits).size() == 1;
  }

  void markPipelines(ir::Module& m, size_t end) const {
    const std::map<const Op*, const Op*> gates = pointGates(m);
    int64_t next = 0;
    size_t runBegin = 0;
    // A run whose values escape at several points (ResNet's max pool feeding both a block
    // and its shortcut, cut apart by training-mode BatchNorm) is split into consecutive
    // pieces, each the longest prefix with one escaping value; pieces with a sliding
    // window become pipelines.
    auto closeRun = [&](size_t runEnd) {
      for (size_t start = runBegin; start < runEnd;) {
        size_t stop = runEnd;
        while (stop > start + 1 && escapingValues(m, start, stop, end, gates) > 1) --stop;
        bool window = false;
        for (size_t i = start; i < stop; ++i) window |= isSlidingWindow(*m.ops[i]);
        if (window) {
          for (size_t i = start; i < stop; ++i)
            if (!outsidePipelines(*m.ops[i], gates)) m.ops[i]->attrs[kPipeline] = next;
          ++next;
        }
        start = stop;
      }
    };
    const std::set<const Op*> cuts = segmentCuts(m, end);
    for (size_t i = 0; i < end; ++i) {
      const bool cut = cuts.count(m.ops[i].get()) != 0;
      if (outsidePipelines(*m.ops[i], gates)) continue;  // the run goes on through it
      if (isRowLocal(*m.ops[i]) && readsWholeFromRun(m, runBegin, i, gates)) {
        closeRun(i);  // the gate's run ends before the op it feeds whole
        runBegin = i;
      }
      if (isRowLocal(*m.ops[i])) {
        if (!cut) continue;
        closeRun(i + 1);  // a segment cut: the run goes on from this op's result
      } else {
        closeRun(i);
      }
      runBegin = i + 1;
    }
    closeRun(end);
  }

  // The forward ops after which a segment ends (option `cut`): every downsampling window, or
  // those whose cut point id is listed.
  std::set<const Op*> segmentCuts(const ir::Module& m, size_t end) const {
    std::set<const Op*> cuts;
    int64_t windows = 0;  // the cut points before op i
    for (size_t i = 0; i < end; ++i) {
      if (!isDownsamplingWindow(*m.ops[i])) continue;
      if (cutAtDownsample_ || cutPoints_.count(windows) != 0) cuts.insert(m.ops[i].get());
      ++windows;
    }
    return cuts;
  }

  // Whether op i reads a whole (not row-indexed) operand that row-local ops [runBegin, i)
  // define: a squeeze-and-excitation gate computed on [N,C,1,1] maps by 1x1 convolutions,
  // which a pipeline cannot read by rows. (A recomputed point's statistics, and its gate, are
  // whole values its pipeline computes from strips.)
  static bool readsWholeFromRun(const ir::Module& m, size_t runBegin, size_t i, const std::map<const Op*, const Op*>& gates) {
    const Op& op = *m.ops[i];
    for (size_t j = 0; j < op.operands.size(); ++j) {
      const Op* def = op.operands[j]->def;
      if (isRowIndexed(op, j) || !def || outsidePipelines(*def, gates)) continue;
      for (size_t k = runBegin; k < i; ++k)
        if (m.ops[k].get() == def) return true;
    }
    return false;
  }

  // Drops `recompute` from a recomputed point whose input map x its pipeline cannot
  // compute strip by strip (lower-row-pipelines' two backward passes need it so): x is
  // defined in a pipeline K and read only by the point and by K's ops (by one at least); no value of the ops of
  // K that x depends on (its upstream, recomputed for the statistics) is read outside that
  // upstream except x by K; the upstream reads no other recomputed point's results (a
  // BatchNorm's apply, an SE gate's multiply). Returns
  // whether one was dropped: the first in program order that fails, or, when it fails only
  // because another recomputed point is upstream of its map (two in a row), the one of the
  // two whose map is smaller (ties: the later), since the other saves more kept bytes, except
  // that of a BatchNorm and an SE mean the mean is dropped. A point
  // may become possible once another is kept, so this repeats until none fails.
  // Marks the runs, dropping unsupported points until every remaining one holds; returns
  // whether one was dropped.
  bool settle(ir::Module& m, size_t end) const {
    bool dropped = false;
    do {
      for (auto& op : m.ops) op->attrs.erase(kPipeline);
      markPipelines(m, end);
    } while (dropUnsupportedRecompute(m, end, chain_) && (dropped = true));
    return dropped;
  }

  static bool dropUnsupportedRecompute(ir::Module& m, size_t end, bool chain) {
    const std::map<const Op*, const Op*> gates = pointGates(m);
    for (size_t i = 0; i < end; ++i) {
      Op& stats = *m.ops[i];
      const Op* blocker = nullptr;
      if (!isRecomputedPoint(stats) || supported(m, stats, end, gates, chain, &blocker)) continue;
      // An SE mean yields to a BatchNorm: its map is mostly an activation of the BatchNorm's
      // output before it, which --remat elementwise recomputes anyway (MobileNetV3).
      const bool blockerMean = blocker && blocker->kind != OpKind::BatchNormStats;
      const bool statsMean = stats.kind != OpKind::BatchNormStats;
      const bool blockerSmaller = blocker && blocker->operands[0]->type.bytes() < stats.operands[0]->type.bytes();
      const Op* drop = blocker && blockerMean != statsMean ? (blockerMean ? blocker : &stats)
                                                          : blockerSmaller ? blocker : &stats;
      for (auto& op : m.ops)
        if (op.get() == drop) op->attrs.erase("recompute");
      return true;
    }
    return false;
  }

  // What recomputing the BatchNorm point `stats` saves: its map x's bytes, less those of the
  // largest map that it trades for. The chain of x: the maps that element-wise forward ops
  // (remat's kind: row rule Same, no side effect, no map broadcast) compute from chain maps and
  // maps that do not depend on x (its apply, a ReLU, SiLU's sigmoid and multiply, a residual
  // add of the skip). A chain map read by two or
  // more other forward ops (reduction points not counted: an SE mean is a point of its own) is
  // traded for: recomputed in strips, x's pipeline runs on through it, and it is the
  // pipeline's one output, kept whole; with x kept, --remat elementwise recomputes it from x in
  // backward. A ResNet block's output relu(apply(x) + skip) is such a map (read by the next
  // block's conv and residual add; the add reads another map, so it is not of the chain): a
  // basic block then keeps its bn2 map and recomputes bn1's in strips, rather than keeping
  // bn1's map and the block output.
  static const ir::Value* tradedMap(const ir::Module& m, const Op& stats, size_t end) {
    const ir::Value* x = stats.operands[0];
    std::set<const Op*> forward;
    for (size_t i = 0; i < end; ++i) forward.insert(m.ops[i].get());
    // The chain in program order (an op's operands are defined before it), and what depends
    // on x at all: a chain op's other maps do not (a residual add's skip), so the next
    // block's add, whose other map x's chain feeds through convolutions, is not of the chain.
    ir::ValueSet chain{x}, downstream{x};
    for (size_t i = 0; i < end; ++i) {
      const Op& op = *m.ops[i];
      bool reads = false, depends = false, other = false;
      for (const ir::Value* u : op.operands) {
        reads |= chain.count(u) > 0;
        depends |= downstream.count(u) > 0;
        other |= u->type.shape.size() == 4 && (u->type.shape != op.results.front()->type.shape ||
                                                (!chain.count(u) && downstream.count(u)));
      }
      if (depends) downstream.insert(op.results.begin(), op.results.end());
      if (reads && !other && op.results.size() == 1 && isRowLocal(op) &&
          ops::info(op.kind).rowRule == ops::RowRule::Same && !op.hasSideEffects())
        chain.insert(op.result());
    }
    const ir::Value* traded = nullptr;
    for (const ir::Value* v : chain) {
      if (v == x) continue;
      std::set<const Op*> others;
      for (const Op* r : m.users(v))
        if (forward.count(r) && !(r->results.size() == 1 && chain.count(r->result())) &&
            r->kind != OpKind::BatchNormStats && !isReductionPoint(*r))
          others.insert(r);
      if (others.size() > 1 && (!traded || v->type.bytes() > traded->type.bytes())) traded = v;
    }
    return traded;
  }

  static int64_t savedBytes(const ir::Module& m, const Op& stats, size_t end) {
    const ir::Value* traded = tradedMap(m, stats, end);
    return static_cast<int64_t>(stats.operands[0]->type.bytes()) - (traded ? static_cast<int64_t>(traded->type.bytes()) : 0);
  }

  // The bytes the BatchNorm points keep whole as the marks stand: a kept point's map, and the
  // map each recomputed one trades for (once, where two trade for the same block output).
  static int64_t keptBytes(const ir::Module& m, size_t end) {
    int64_t bytes = 0;
    ir::ValueSet traded;
    for (size_t i = 0; i < end; ++i) {
      const Op& op = *m.ops[i];
      if (op.kind != OpKind::BatchNormStats) continue;
      if (!isRecomputedPoint(op)) {
        bytes += static_cast<int64_t>(op.operands[0]->type.bytes());
      } else if (const ir::Value* v = tradedMap(m, op, end); v && traded.insert(v).second) {
        bytes += static_cast<int64_t>(v->type.bytes());
      }
    }
    return bytes;
  }

  // settle() with --remat elementwise (option `remat`): the BatchNorm points settle from every
  // mark, and again with the marks that save no bytes (savedBytes <= 0) dropped first; the
  // second is taken where it keeps fewer bytes (keptBytes). In a ResNet basic block the
  // greedy conflict rule pairs the previous block's bn2 with this block's bn1 and keeps bn1's
  // map, recomputing bn2's, which trades for the block output: 16 maps kept in ResNet-18.
  // With bn2 (and the downsample's BatchNorm) kept first, each bn1 is recomputed: 11.
  // Where dropping them frees no other point (RegNetY's last BatchNorm of a block, whose
  // neighbours are SE means), both keep the same bytes and the first stands: keeping the map
  // would only add --remat elementwise's transient copies of the block output.
  bool settleTrades(ir::Module& m, size_t end) const {
    std::vector<Op*> marked;
    for (size_t i = 0; i < end; ++i)
      if (isRecomputedPoint(*m.ops[i]) && m.ops[i]->kind == OpKind::BatchNormStats) marked.push_back(m.ops[i].get());
    std::vector<bool> saving;  // the marks that save bytes: the second settling's
    for (const Op* p : marked) saving.push_back(savedBytes(m, *p, end) > 0);
    const bool dropped = settle(m, end);
    if (std::all_of(saving.begin(), saving.end(), [](bool s) { return s; })) return dropped;
    std::vector<bool> first;
    for (const Op* p : marked) first.push_back(isRecomputedPoint(*p));
    const int64_t firstBytes = keptBytes(m, end);
    setMarks(marked, saving);
    settle(m, end);
    if (keptBytes(m, end) < firstBytes) return true;
    setMarks(marked, first);
    settle(m, end);
    return dropped;
  }

  // Marks each of `points` recomputed (true) or kept (false).
  static void setMarks(const std::vector<Op*>& points, const std::vector<bool>& recompute) {
    for (size_t k = 0; k < points.size(); ++k) {
      if (recompute[k])
        points[k]->attrs["recompute"] = int64_t{1};
      else
        points[k]->attrs.erase("recompute");
    }
  }

  // `blocker`: set when the only reason is another recomputed point upstream of x. With
  // `chain` (option `chain`), a BatchNorm point's upstream may hold other recomputed
  // BatchNorm points (a chain: lower-row-pipelines gives each a backward pass of its own): its
  // walk stops at their statistics, and their maps may be read by their statistics.
  static bool supported(const ir::Module& m, const Op& stats, size_t end, const std::map<const Op*, const Op*>& gates,
                        bool chain, const Op** blocker) {
    const bool bn = stats.kind == OpKind::BatchNormStats;
    auto chained = [&](const Op& point) {
      return chain && bn && point.kind == OpKind::BatchNormStats && isRecomputedPoint(point);
    };
    const ir::Value* x = stats.operands[0];
    if (!x->def || !x->def->has(kPipeline)) return false;
    const ir::Attr k = x->def->attrs.at(kPipeline);
    auto inK = [&](const Op* op) { return op->has(kPipeline) && op->attrs.at(kPipeline) == k; };
    if (std::find(m.outputs.begin(), m.outputs.end(), x) != m.outputs.end()) return false;
    bool readInK = false;
    for (const Op* r : m.users(x)) {
      if (r != &stats && !inK(r)) return false;
      readInK |= r != &stats;
    }
    if (!readInK) return false;  // the pipeline would have no output (a mean that ends the forward)
    // The upstream of x in K, walked back from its definition.
    std::set<const Op*> upstream;
    std::vector<const Op*> todo = {x->def};
    while (!todo.empty()) {
      const Op* op = todo.back();
      todo.pop_back();
      if (!upstream.insert(op).second) continue;
      for (const ir::Value* v : op->operands) {
        if (!v->def) continue;
        auto gate = gates.find(v->def);
        // (A point whose map another pipeline computes is a whole input here: a recomputed
        // skip map's copied apply reads the encoder's statistics.)
        const Op* pointMap = isRecomputedPoint(*v->def) ? v->def->operands[0]->def : nullptr;
        if ((pointMap && inK(pointMap) && !chained(*v->def)) || gate != gates.end()) {  // another recomputed point upstream
          *blocker = gate != gates.end() ? gate->second : v->def;
          return false;
        }
        if (inK(v->def)) todo.push_back(v->def);
      }
    }
    std::map<const Op*, size_t> position;
    for (size_t i = 0; i < m.ops.size(); ++i) position[m.ops[i].get()] = i;
    for (const Op* op : upstream)
      for (const ir::Value* v : op->results) {
        if (std::find(m.outputs.begin(), m.outputs.end(), v) != m.outputs.end()) return false;
        for (const Op* r : m.users(v)) {
          if (position.at(r) >= end || upstream.count(r)) continue;  // backward readers do not count
          if (v == x && (r == &stats || inK(r))) continue;
          if (chained(*r) && r->operands[0] == v) continue;  // a chained point's map, read by its statistics
          return false;
        }
      }
    return true;
  }

  // A row-local element-wise forward op (row rule Same, no side effect) whose result has one
  // reader, later in the forward part and not a module output, moves to right before that
  // reader, so the run holding the reader holds it too: a ResNet stage's first block computes
  // bn3's apply before its downsample branch (torchvision's order), and the add that reads
  // both then starts one pipeline with both applies. Later ops first, so chains move together.
  static bool sinkElementwise(ir::Module& m, size_t end) {
    bool moved = false;
    for (size_t i = end; i-- > 0;) {
      Op& op = *m.ops[i];
      if (!isRowLocal(op) || ops::info(op.kind).rowRule != ops::RowRule::Same || op.hasSideEffects() ||
          op.results.size() != 1)
        continue;
      const ir::Value* v = op.result();
      if (std::find(m.outputs.begin(), m.outputs.end(), v) != m.outputs.end()) continue;
      const std::vector<Op*> readers = m.users(v);
      if (readers.size() != 1) continue;
      size_t reader = i + 1;
      while (reader < end && m.ops[reader].get() != readers.front()) ++reader;
      if (reader >= end || reader == i + 1) continue;
      std::unique_ptr<Op> owned = std::move(m.ops[i]);
      m.ops.erase(m.ops.begin() + static_cast<std::ptrdiff_t>(i));
      m.ops.insert(m.ops.begin() + static_cast<std::ptrdiff_t>(reader - 1), std::move(owned));
      moved = true;
    }
    return moved;
  }

  static const ir::Value* mapOperand(const Op& op) {
    for (size_t j = 0; j < op.operands.size(); ++j)
      if (isRowIndexed(op, j)) return op.operands[j];
    return nullptr;
  }

  // An op a pipeline can recompute on its own rows: row-local, element-wise (row rule Same),
  // no side effect, one result, and exactly one operand read by rows (the map; the others
  // are whole: parameters, a BatchNorm's statistics), of the result's size (not a channel
  // slice: its readers would then read the larger map whole).
  static bool cloneable(const Op& op) {
    if (!isRowLocal(op) || ops::info(op.kind).rowRule != ops::RowRule::Same || op.hasSideEffects() ||
        op.results.size() != 1)
      return false;
    size_t maps = 0;
    for (size_t j = 0; j < op.operands.size(); ++j) maps += isRowIndexed(op, j) ? 1 : 0;
    return maps == 1 && mapOperand(op)->type.bytes() == op.result()->type.bytes();
  }

  // Inserts a copy of `ops` (program order, one result each) at `pos`, each reading the copies
  // of the earlier ones' results; returns original result -> copy.
  static ir::ValueMap<ir::Value*> insertCopy(ir::Module& m, size_t pos, const std::vector<const Op*>& ops) {
    ir::ValueMap<ir::Value*> copyOf;
    for (const Op* op : ops) {
      std::vector<ir::Value*> operands;
      for (ir::Value* u : op->operands) {
        auto it = copyOf.find(u);
        operands.push_back(it == copyOf.end() ? u : it->second);
      }
      const ir::Value* r = op->result();
      Op* copy = m.insertOp(pos++, op->kind, std::move(operands), op->attrs, {{m.uniqueName(r->name + ".copy"), r->type}});
      copy->origin = op->origin;
      copy->loc = op->loc;
      copyOf.emplace(op->results.front(), copy->result());
    }
    return copyOf;
  }

  // Clones shared element-wise chains into their readers' pipelines; returns how many ops
  // it inserted. A chain is a run of cloneable forward ops outside every pipeline, each
  // reading the previous one's result as its map (the first reads a map that is whole
  // anyway: a pipeline's output, a kept reduction point's map, an input), every result but
  // the last read only by the next op, the last one's result v read by rows by forward ops of
  // two or more pipelines and by nothing else (not a module output). Left so, v is a whole
  // map beside the one it is computed from (in backward too: the pipelines recompute their
  // strips from it); cloned, each pipeline computes its strip's rows of v from the first
  // map, and v is never whole. The pipeline of v's first reader keeps the original chain
  // (sinkElementwise moves it there); the others get a copy right before their first reader.
  // Autodiff sums the copies' gradients as those of any value with several readers.
  static size_t cloneSharedElementwise(ir::Module& m, size_t end) {
    std::map<const Op*, size_t> position;
    for (size_t i = 0; i < end; ++i) position[m.ops[i].get()] = i;
    auto forward = [&](const Op* op) { return position.count(op) != 0; };
    struct Chain {
      std::vector<const Op*> ops;                 // program order, the last computes v
      std::vector<std::vector<Op*>> copiesFor;    // per pipeline after the first: its readers
    };
    std::vector<Chain> chains;
    for (size_t i = 0; i < end; ++i) {
      const Op& op = *m.ops[i];
      if (op.has(kPipeline) || !cloneable(op)) continue;
      const ir::Value* v = op.result();
      if (std::find(m.outputs.begin(), m.outputs.end(), v) != m.outputs.end()) continue;
      std::map<int64_t, std::vector<Op*>> byPipeline;  // readers per pipeline
      std::vector<int64_t> order;                       // pipelines by their first reader
      bool ok = true;
      for (Op* r : m.users(v)) {
        if (!forward(r) || !r->has(kPipeline)) {
          ok = false;
          break;
        }
        for (size_t j = 0; j < r->operands.size(); ++j)
          if (r->operands[j] == v && !isRowIndexed(*r, j)) ok = false;
        const int64_t k = r->getInt(kPipeline);
        if (!byPipeline.count(k)) order.push_back(k);
        byPipeline[k].push_back(r);
      }
      if (!ok || byPipeline.size() < 2) continue;
      std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
        return position.at(byPipeline[a].front()) < position.at(byPipeline[b].front());
      });
      Chain c;
      c.ops.push_back(&op);
      for (;;) {
        const ir::Value* u = mapOperand(*c.ops.front());
        const Op* d = u->def;
        if (!d || !forward(d) || d->has(kPipeline) || !cloneable(*d) || m.users(u).size() != 1 ||
            std::find(m.outputs.begin(), m.outputs.end(), u) != m.outputs.end())
          break;
        c.ops.insert(c.ops.begin(), d);
      }
      for (size_t k = 1; k < order.size(); ++k) c.copiesFor.push_back(byPipeline[order[k]]);
      chains.push_back(std::move(c));
    }
    size_t added = 0;
    for (const Chain& c : chains)
      for (const std::vector<Op*>& readers : c.copiesFor) {
        size_t pos = 0;
        while (m.ops[pos].get() != readers.front()) ++pos;
        const ir::ValueMap<ir::Value*> copyOf = insertCopy(m, pos, c.ops);
        added += c.ops.size();
        ir::Value* v = c.ops.back()->results.front();
        for (Op* r : readers)
          for (ir::Value*& operand : r->operands)
            if (operand == v) operand = copyOf.at(v);
      }
    return added;
  }

  // The most ops one skip map's copy may hold (cloneSkipMaps): a U-Net's deepest skip copied
  // from the image is 27 (4 levels of two conv-BN-ReLU and 3 pools).
  static constexpr size_t kMaxSkipCopy = 64;
  static constexpr int kSkipRounds = 4;

  // Recomputes skip maps (option `skips`); returns how many ops it inserted. A skip map is a
  // pipeline op's result v, neither a module output nor a segment cut's output, read by rows
  // by forward ops of two or more pipelines, a concat among them, and by nothing else (a U-Net
  // encoder level's output, read by the next max pool and by the decoder's concat). The
  // pipeline of its first reader keeps it; each concat in another pipeline gets its own copy,
  // right before it, of the pipeline ops v is computed from, back to values whole anyway:
  // module inputs and globals, a BatchNorm's statistics (which the copies' applies read as
  // they are: the copy computes the very same map), a segment cut's output. Any other value
  // outside the pipelines on the way (an SE gate) leaves v as it is. Concats only: an
  // inception block's or a residual's shared input, read by convolutions of other pipelines,
  // would copy whole stems for little. A copy per concat, not per pipeline, so that every
  // copied op is upstream of the same recomputed points as its concat (lower-row-pipelines'
  // depth): the concat's backward pass runs the copy's gradients, and no gradient of the map
  // is carried between passes or held whole. Autodiff sums the copies' parameter gradients and hands the statistics'
  // gradients of a copied apply to the pipeline that computes them (pipeline_grad's `seeds`).
  // Not done where an op to copy has a side effect, or the copy would pass kMaxSkipCopy ops.
  size_t cloneSkipMaps(ir::Module& m, size_t end) const {
    std::map<const Op*, size_t> position;
    for (size_t i = 0; i < end; ++i) position[m.ops[i].get()] = i;
    const std::set<const Op*> cuts = segmentCuts(m, end);
    struct Copy {
      std::vector<const Op*> ops;  // program order, the last computes v
      Op* reader;
    };
    std::vector<Copy> copies;
    for (size_t i = 0; i < end; ++i) {
      const Op& op = *m.ops[i];
      if (!op.has(kPipeline) || op.results.size() != 1 || cuts.count(&op)) continue;
      const ir::Value* v = op.result();
      if (std::find(m.outputs.begin(), m.outputs.end(), v) != m.outputs.end()) continue;
      std::vector<Op*> readers = m.users(v);
      bool ok = true;
      std::set<int64_t> pipelines;
      bool concat = false;
      for (Op* r : readers) {
        ok = ok && position.count(r) && r->has(kPipeline);
        concat |= r->kind == OpKind::Concat;
        for (size_t j = 0; ok && j < r->operands.size(); ++j) ok = r->operands[j] != v || isRowIndexed(*r, j);
        if (ok) pipelines.insert(r->getInt(kPipeline));
      }
      if (!ok || !concat || pipelines.size() < 2) continue;
      std::set<const Op*> upstream;
      for (std::vector<const Op*> todo = {&op}; ok && !todo.empty();) {
        const Op* o = todo.back();
        todo.pop_back();
        if (!upstream.insert(o).second) continue;
        ok = !o->hasSideEffects() && upstream.size() <= kMaxSkipCopy;
        for (const ir::Value* u : o->operands) {
          const Op* d = u->def;
          if (!d || cuts.count(d) || d->kind == OpKind::BatchNormStats) continue;  // whole anyway
          ok = ok && position.count(d) && d->has(kPipeline);  // not an SE gate's value, say
          if (ok) todo.push_back(d);
        }
      }
      if (!ok) continue;
      std::vector<const Op*> ordered(upstream.begin(), upstream.end());
      std::sort(ordered.begin(), ordered.end(), [&](const Op* a, const Op* b) { return position.at(a) < position.at(b); });
      std::sort(readers.begin(), readers.end(), [&](const Op* a, const Op* b) { return position.at(a) < position.at(b); });
      const int64_t first = readers.front()->getInt(kPipeline);
      for (Op* r : readers)
        if (r->getInt(kPipeline) != first && r->kind == OpKind::Concat) copies.push_back({ordered, r});
    }
    size_t added = 0;
    for (const Copy& c : copies) {
      size_t pos = 0;
      while (m.ops[pos].get() != c.reader) ++pos;
      const ir::ValueMap<ir::Value*> copyOf = insertCopy(m, pos, c.ops);
      added += c.ops.size();
      ir::Value* v = c.ops.back()->results.front();
      for (ir::Value*& operand : c.reader->operands)
        if (operand == v) operand = copyOf.at(v);
    }
    return added;
  }
};

}  // namespace

std::unique_ptr<Pass> createFuseRowPipelinesPass(const FuseRowPipelinesOptions& options) {
  return std::make_unique<FuseRowPipelines>(options);
}

}  // namespace lrc::passes
