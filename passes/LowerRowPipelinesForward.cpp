// lower-row-pipelines, the forward strips (rules: the header of LowerRowPipelines.cpp): each
// op's rows of a strip into a band, operand bands assembled from saved boundary pieces (2PS),
// and the pieces forward keeps for backward.
#include <algorithm>

#include "ops/Scratch.h"
#include "passes/LowerRowPipelines.h"

namespace lrc::passes {

using ir::Attrs;
using ir::Op;
using ir::OpKind;
using ir::Value;
using ir::ValueMap;

namespace {

Attrs kernelAttrs(const Op& op) {
  Attrs a = op.attrs;
  std::erase_if(a, [](const auto& attr) { return isRowPlanAttr(attr.first); });
  return a;
}

}  // namespace

// A band of `whole` holding rows `need`: `current` if it does, else assembled from the
// saved pieces and `current`.
Value* PipelineLowering::assemble(const Value* whole, RowRange need, Value* current, const std::vector<Value*>& pieces,
                                  const std::string& name) {
  if (current && holds(rowsOf(current), need)) return current;
  // Pieces fill the rows above the current band (they come from earlier strips).
  RowRange fill = need;
  if (current && !intersect(rowsOf(current), need).empty()) fill.end = std::min(need.end, rowsOf(current).begin);
  std::vector<Value*> sources;
  RowRange covered{0, 0};
  for (Value* piece : pieces)
    if (!intersect(rowsOf(piece), fill).empty()) {
      sources.push_back(piece);
      covered = hull(covered, intersect(rowsOf(piece), need));
    }
  if (current && !intersect(rowsOf(current), need).empty()) {
    sources.push_back(current);
    covered = hull(covered, intersect(rowsOf(current), need));
  }
  if (covered != need)
    throw ir::Error(cat("lower-row-pipelines: pipeline ", std::to_string(p_.id), ": rows ", need.str(), " of %", whole->name,
                        " are not available (internal error: have ", covered.str(), ")"),
                    p_.ops.front()->loc);
  return emit(OpKind::RowsCopy, sources, {{"band", bandAttr(need, whole)}}, name, bandType(whole, need))->result();
}

// The rows of `v` that the readers in the pipeline need when they compute `rows[reader]`.
RowRange PipelineLowering::readersNeed(const Value* v, const Table& t, size_t j) const {
  RowRange need{0, 0};
  for (size_t k = 0; k < p_.ops.size(); ++k) {
    const Op& op = *p_.ops[k];
    if (t[k][j].empty()) continue;
    for (size_t i : mapOperands(op))
      if (op.operands[i] == v) need = hull(need, inputRows(op, i, t[k][j]));
  }
  return need;
}

// Computes one strip of the pipeline's forward (`t` = fp or bp rows), reading boundary rows
// from `pieces`. Returns the band of every value computed and records the operand bands
// each op read in `operandBands` (for the gradient ops).
ValueMap<Value*> PipelineLowering::computeStrip(const Table& t, size_t j, ValueMap<std::vector<Value*>>& pieces,
                                                const char* tag, std::vector<std::vector<Value*>>* operandBands,
                                                const std::vector<bool>* only) {
  ValueMap<Value*> band;
  ValueMap<std::vector<Value*>> assembled;  // operand bands made in this strip
  if (operandBands) operandBands->assign(p_.ops.size(), {});
  for (size_t k = 0; k < p_.ops.size(); ++k) {
    const Op& op = *p_.ops[k];
    const RowRange rows = t[k][j];
    if (rows.empty() || (only && !(*only)[k])) continue;
    std::vector<Value*> operands = op.operands;
    for (size_t i : mapOperands(op)) {
      Value* u = op.operands[i];
      if (!inPipeline(u)) continue;
      RowRange need = inputRows(op, i, rows);
      // A backward strip's assembled band also takes the rest of the strip's own band of u
      // when it needs some of it, so the gradient ops read it for u's result (resultBand) and
      // the own band is not held beside it.
      auto cur = band.find(u);
      if (operandBands && cur != band.end() && !holds(rowsOf(cur->second), need) &&
          !intersect(rowsOf(cur->second), need).empty())
        need = hull(need, rowsOf(cur->second));
      auto reuse = std::find_if(assembled[u].begin(), assembled[u].end(), [&](Value* b) { return holds(rowsOf(b), need); });
      if (reuse != assembled[u].end()) {
        operands[i] = *reuse;
        continue;
      }
      operands[i] = assemble(u, need, cur == band.end() ? nullptr : cur->second, pieces[u],
                             stripName(u, (std::string(tag) + "in").c_str(), j));
      assembled[u].push_back(operands[i]);
    }
    if (isStripBatchNorm(op) && rowsOf(operands[0]) != rows)
      operands[0] = copyRows(operands[0], rows, op.operands[0], stripName(op.operands[0], (std::string(tag) + "bn").c_str(), j));
    if (operandBands) (*operandBands)[k] = operands;
    Attrs attrs = kernelAttrs(op);
    // A loss ending the pipeline: the strip's share of it, a scalar (no band).
    const bool loss = ops::isLoss(op.kind);
    if (!loss) attrs["band"] = bandAttr(rows, op.result());
    // A recomputed strip must not update the running statistics a second time.
    if (isStripBatchNorm(op) && std::string(tag) == "r") attrs["update_stats"] = int64_t{0};
    band[op.result()] = emit(op.kind, operands, std::move(attrs), stripName(op.result(), tag, j),
                             loss ? op.result()->type : bandType(op.result(), rows))->result();
  }
  return band;
}

// Saves, from this strip's bands, `rows` of `v` into `pieces` (what later strips or the
// backward read), one piece per band that holds some of them; reuses an identical piece.
void PipelineLowering::save(ValueMap<std::vector<Value*>>& pieces, const Value* v, Value* band, RowRange rows, const char* tag) {
  const RowRange r = intersect(rowsOf(band), rows);
  if (r.empty()) return;
  auto same = [&](const Value* piece) { return rowsOf(piece) == r && piece->def->operands.front() == band; };
  if (std::any_of(pieces[v].begin(), pieces[v].end(), same)) return;
  auto forward = std::find_if(fpPieces_[v].begin(), fpPieces_[v].end(), same);
  if (forward != fpPieces_[v].end()) return pieces[v].push_back(*forward);
  pieces[v].push_back(copyRows(band, r, v, cat(v->name, ".", tag, std::to_string(r.begin), "_", std::to_string(r.end))));
}

// A recomputed reduction point's statistics, right before its batchnorm_stats or SE mean: the
// ops its map depends on run strip by strip over equal pieces of the map's rows (each strip
// computes what its piece needs, halos recomputed, from the pipeline's whole inputs). For
// batchnorm_stats the pieces are assembled into one whole map that only the statistics read
// (a forward transient; the map is not kept for backward). For an SE mean no whole map
// exists: each piece's sum over its rows (reduce_mean {sum=1} on the band) is added to the
// sum of the pieces before it, in row order (deterministic), and the mean divides that sum
// once by H*W (run(): the point becomes reduce_mean {input_shape} of the sum).
namespace {

// Whether conv2d `op` run whole needs at most its result's bytes more im2col scratch (one
// image, ops::kConvScratchCapBytes chunks) than run over `pieces` equal pieces of its rows.
bool wholeConvScratchFits(const Op& op, int64_t pieces) {
  const ir::IntList& stride = op.getInts("stride");
  const ir::IntList& pad = op.getInts("pad");
  const std::vector<int64_t>& w = op.operands[1]->type.shape;
  const std::vector<int64_t>& out = op.result()->type.shape;
  const ops::WindowAxis h{w[2], stride.at(0), pad.at(0), pad.at(2), 1}, wa{w[3], stride.at(1), pad.at(1), pad.at(3), 1};
  auto bytes = [&](int64_t rows) {
    return ops::convWorkspaceFloats(h, wa, op.getInt("group"), op.operands[0]->type.shape[1], out[3], rows,
                                    ops::kConvScratchCapBytes).value();
  };
  const std::optional<int64_t> whole = bytes(out[2]), strip = bytes((out[2] + pieces - 1) / std::max<int64_t>(pieces, 1));
  return whole && strip && (*whole - *strip) * 4 <= op.result()->type.bytes();
}

}  // namespace

void PipelineLowering::lowerStatistics(Op* stats) {
  Value* x = stats->operands[0];
  const bool mean = stats->kind != OpKind::BatchNormStats;
  // A BatchNorm map that one convolution computes from the pipeline's whole inputs (VGG's
  // first conv from the image) is computed whole, as layer by layer, for the statistics alone
  // to read: pieces and their whole copy would hold the map twice.
  // Only while the whole conv's im2col scratch (the CPU rule, ops/Scratch.h) exceeds a
  // strip's by no more than the copy it saves.
  const std::vector<bool> own = upstreamOf(x);
  if (!mean && std::count(own.begin(), own.end(), true) == 1 && x->def->kind == OpKind::Conv2d &&
      wholeConvScratchFits(*x->def, std::min<int64_t>(static_cast<int64_t>(p_.fp.front().size()), heightOf(x)))) {
    pos_ = 0;
    while (m_.ops[pos_].get() != stats) ++pos_;
    statsInputs_.emplace_back(stats, emit(x->def->kind, x->def->operands, kernelAttrs(*x->def), x->name + ".stats",
                                          x->type)->result());
    return;
  }
  const size_t n = std::min<size_t>(p_.fp.front().size(), static_cast<size_t>(heightOf(x)));
  Table t(p_.ops.size(), std::vector<RowRange>(n));
  for (size_t j = 0; j < n; ++j) {
    ValueMap<RowRange> need;
    const int64_t h = heightOf(x), jj = static_cast<int64_t>(j), nn = static_cast<int64_t>(n);
    need[x] = {jj * h / nn, (jj + 1) * h / nn};
    for (size_t k = p_.ops.size(); k-- > 0;) {
      const Op& op = *p_.ops[k];
      const RowRange rows = need[op.result()];
      t[k][j] = rows;
      if (rows.empty()) continue;
      for (size_t i : mapOperands(op))
        if (inPipeline(op.operands[i])) need[op.operands[i]] = hull(need[op.operands[i]], inputRows(op, i, rows));
    }
  }
  pos_ = 0;
  while (m_.ops[pos_].get() != stats) ++pos_;
  ValueMap<std::vector<Value*>> none;
  std::vector<Value*> pieces;
  ir::TensorType sumType = x->type;
  sumType.shape[2] = sumType.shape[3] = 1;
  Value* sum = nullptr;
  for (size_t j = 0; j < n; ++j) {
    Value* piece = computeStrip(t, j, none, "z", nullptr, &own).at(x);
    if (!mean) {
      pieces.push_back(piece);
      continue;
    }
    Attrs a = {{"axes", ir::IntList{2, 3}}, {"keepdims", int64_t{1}}, {"sum", int64_t{1}}};
    Value* partial = emit(OpKind::ReduceMean, {piece}, std::move(a), stripName(x, "zsum", j), sumType)->result();
    sum = sum ? emit(OpKind::Add, {sum, partial}, {}, stripName(x, "zacc", j), sumType)->result() : partial;
  }
  // The statistics read the copy (the mean the sum) once the backward is lowered (it
  // differentiates them at x).
  statsInputs_.emplace_back(stats, mean ? sum : emit(OpKind::RowsCopy, pieces, {}, x->name + ".stats", x->type)->result());
}

void PipelineLowering::lowerForward() {
  // After the last forward op of the pipeline: every input is defined by then.
  pos_ = 0;
  while (m_.ops[pos_].get() != p_.ops.back()) ++pos_;
  ++pos_;
  const size_t nFp = p_.fp.front().size(), nBp = p_.bp.front().size();
  std::vector<Value*> outputBands;
  for (size_t j = 0; j < nFp; ++j) {
    // The last forward strip is also backward's first (2PS, `reuse_last`): its bands and
    // operand bands stay alive instead of being recomputed.
    const bool keepForBackward = reuseLast() && j + 1 == nFp;
    ValueMap<Value*> band =
        computeStrip(p_.fp, j, fpPieces_, "s", keepForBackward ? &lastOperands_ : nullptr);
    if (keepForBackward) lastBands_ = band;
    for (auto& [v, b] : band) {
      if (v == p_.output) {
        outputBands.push_back(b);
        continue;
      }
      if (!p_.twoPs) continue;
      // Boundary rows the next forward strips read (2PS), then the rows backward strips
      // read from their previous strip.
      int64_t lo = rowsOf(b).end;
      for (size_t next = j + 1; next < nFp; ++next) {
        const RowRange need = readersNeed(v, p_.fp, next);
        if (!need.empty()) lo = std::min(lo, need.begin);
      }
      save(fpPieces_, v, b, {lo, rowsOf(b).end}, "b");
      if (!p_.grad) continue;
      for (size_t s = 1; s < nBp; ++s) {
        const RowRange own = p_.bp[p_.index.at(v)][s];
        const RowRange need = readersNeed(v, p_.bp, s);
        const int64_t ownBegin = own.empty() ? need.end : own.begin;
        if (!need.empty() && need.begin < ownBegin) save(keptPieces_, v, b, {need.begin, ownBegin}, "k");
      }
    }
  }
  Value* out = endsWithLoss() ? sumLoss(outputBands)
                              : emit(OpKind::RowsCopy, outputBands, {}, p_.output->name + ".rows", p_.output->type)->result();
  m_.replaceAllUses(p_.output, out);
}

// A pipeline ending with the per-pixel loss: each strip's loss is its rows' share of the mean
// (their terms over the count of every counted pixel), so the loss is their sum, in strip
// order. Every pixel's term must be in exactly one strip: the loss's forward and backward
// strips partition its rows (partition-rows makes them so; checked here).
Value* PipelineLowering::sumLoss(const std::vector<Value*>& partials) {
  const size_t k = p_.ops.size() - 1;
  for (const Table* t : {&p_.fp, &p_.bp}) {
    int64_t next = 0;
    for (const RowRange& r : (*t)[k]) {
      if (r.empty()) continue;
      if (r.begin != next)
        throw ir::Error(cat("lower-row-pipelines: pipeline ", std::to_string(p_.id), ": the strips of the loss ",
                            p_.ops[k]->describe(), " do not partition its rows: a strip starts at row ",
                            std::to_string(r.begin), ", expected ", std::to_string(next)),
                        p_.ops[k]->loc);
      next = r.end;
    }
    if (next != heightOf(p_.ops[k]->operands[0]))
      throw ir::Error(cat("lower-row-pipelines: pipeline ", std::to_string(p_.id), ": the strips of the loss ",
                          p_.ops[k]->describe(), " end at row ", std::to_string(next), " of ",
                          std::to_string(heightOf(p_.ops[k]->operands[0]))),
                      p_.ops[k]->loc);
  }
  Value* total = partials.front();
  for (size_t j = 1; j < partials.size(); ++j)
    total = emit(OpKind::Add, {total, partials[j]}, {}, p_.output->name + ".sum", p_.output->type)->result();
  return total;
}

}  // namespace lrc::passes
