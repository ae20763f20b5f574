#include "compiler/CompilePipeline.h"

#include <algorithm>

#include "ir/Verifier.h"
#include "passes/Pass.h"

namespace lrc::compiler {

namespace {

// Runs the passes in order, verifying after each.
template <class... Pipeline>
void runPasses(ir::Module& m, Pipeline... pipeline) {
  auto run = [&](std::unique_ptr<passes::Pass> pass) {
    pass->run(m);
    ir::verifyModule(m);
  };
  (run(std::move(pipeline)), ...);
}

// Declares every input and global of `train` in `eval` at the same place, so the evaluation
// step reads the trained weights where the training step left them and its own buffers
// stay clear of everything that persists between steps (optimizer state included).
void shareTrainingPlaces(const ir::Module& train, ir::Module& eval) {
  for (const ir::Value* v : train.inputs) {
    ir::Value* e = eval.lookup(v->name);
    (e ? e : eval.addInput(v->name, v->type))->offset = v->offset;
  }
  for (const ir::Value* v : train.globals) {
    ir::Value* e = eval.lookup(v->name);
    (e ? e : eval.addGlobal(v->kind, v->name, v->type))->offset = v->offset;
  }
}

}  // namespace

void runImportPipeline(ir::Module& m) {
  runPasses(m, passes::createCanonicalizePass(),  // Identity, inference Dropout, Reshape-as-Flatten
            passes::createInferShapesPass());
}

std::string_view strategyName(const RowOptions& rows) {
  return rows.layerwise ? "layerwise" : passes::name(rows.partition.strategy);
}

namespace {

// Marks the row pipelines and cuts them into strips (partition-rows resolves bp-strips -1).
void partition(ir::Module& m, passes::FuseRowPipelinesOptions fuse, const passes::PartitionRowsOptions& strips,
               passes::RematMode remat = passes::RematMode::None) {
  fuse.remat = remat == passes::RematMode::Elementwise;  // points that only trade a map stay kept
  runPasses(m, passes::createFuseRowPipelinesPass(fuse),   // pipeline=K on maximal runs of row-local ops
            passes::createPartitionRowsPass(strips));  // per op: fp_rows, bp_rows, fp_halo; work
}

// The BatchNorm policy of a plan with these row options: recomputed reduction points only in
// row plans with exact BatchNorm.
passes::BatchNormPolicyOptions withRecompute(passes::BatchNormPolicyOptions batchNorm, const RowOptions& rows) {
  if (!rows.layerwise && batchNorm.mode == passes::BatchNormMode::Exact) batchNorm.recompute = rows.recompute;
  return batchNorm;
}

}  // namespace

void runRowPipeline(ir::Module& m, const RowOptions& o, const passes::BatchNormPolicyOptions& batchNorm) {
  runPasses(m, passes::createBatchNormPolicyPass(withRecompute(batchNorm, o)));
  // A segmentation net's per-pixel loss can join its last pipeline (fuse-row-pipelines'
  // option `loss`), as in the training program: the rows described are then those.
  const bool perPixel = m.outputs.size() == 1 && m.outputs[0]->type.shape.size() == 4 &&
                        std::none_of(m.ops.begin(), m.ops.end(), [](const auto& op) { return ops::isLoss(op->kind); });
  if (!o.layerwise && o.fuse.loss && perPixel) runPasses(m, passes::createAppendLossPass({}));
  if (!o.layerwise) return partition(m, o.fuse, o.partition, o.remat);
  // Layerwise: every pipeline is one strip of the whole map (OverL with one strip has no
  // halo: every op computes all its rows once).
  passes::PartitionRowsOptions whole = o.partition;
  whole.strategy = passes::RowStrategy::OverL;
  whole.strips = whole.bpStrips = 1;
  partition(m, {.cut = passes::SegmentCut::None, .cutPoints = {}, .loss = false, .clone = false}, whole);
}

void dropParameterData(ir::Module& m) {
  for (ir::Value* g : m.globals)
    if (g->kind == ir::ValueKind::Param) std::vector<float>().swap(g->floats);
}

TrainingPrograms runTrainingPipeline(const ir::Module& forward, const TrainingOptions& o) {
  TrainingPrograms p{forward.clone(), forward.clone()};
  dropParameterData(*p.eval);  // the plan's weights are the training program's
  const bool rows = !o.rows.layerwise;
  runPasses(*p.train, passes::createBatchNormPolicyPass(withRecompute(o.batchNorm, o.rows)));  // frozen: BatchNorm on running statistics
  if (o.fuseBnRelu) runPasses(*p.train, passes::createFuseBatchNormReluPass());  // batchnorm_apply {relu=1}
  runPasses(*p.train, passes::createAppendLossPass(o.loss));  // softmax cross-entropy over the logits (per pixel on [N,K,H,W])
  if (rows) partition(*p.train, o.rows.fuse, o.rows.partition, o.rows.remat);
  runPasses(*p.train, passes::createAutodiffPass(o.autodiff));  // backward graph (pipeline_grad per row pipeline) and optimizer updates
  // The training program's one result is the loss: nothing reads its logits after the step
  // (lrc-run's metrics come from the evaluation program), so they die with the loss's gradient
  // instead of living to the end of the step (FCN-ResNet-50 at 512², batch 2: 42 MiB through
  // all of backward). io.logits is then the evaluation's (EmitPlan, docs/plan-format.md).
  p.train->outputs.resize(1);
  if (rows) runPasses(*p.train, passes::createLowerRowPipelinesPass());  // strips as ops on bands
  if (o.rows.remat != passes::RematMode::None)  // maps recomputed in backward, not kept
    runPasses(*p.train, passes::createRematPass({.mode = o.rows.remat, .every = o.rows.rematEvery}));
  if (o.fuseSgdGrads && o.autodiff.optimizer == ops::Optimizer::Sgd && !o.dataParallel)
    runPasses(*p.train, passes::createFuseSgdGradsPass());  // weight gradients added into the momentum buffers
  if (o.dataParallel)  // gradients averaged over the ranks, in buckets overlapping backward
    runPasses(*p.train, passes::createDataParallelPass(*o.dataParallel));
  runPasses(*p.train, passes::createPlanMemoryPass(o.memory));  // every buffer at its place in the arena
  runPasses(*p.eval, passes::createToInferencePass(),  // BatchNorm on running statistics, no Dropout
            passes::createCanonicalizePass());
  // The evaluation step runs the same forward strips (nothing kept for a backward).
  if (rows) {
    passes::PartitionRowsOptions forwardOnly = o.rows.partition;
    forwardOnly.bpStrips = forwardOnly.strips;
    partition(*p.eval, o.rows.fuse, forwardOnly);
    runPasses(*p.eval, passes::createLowerRowPipelinesPass());
  }
  shareTrainingPlaces(*p.train, *p.eval);
  runPasses(*p.eval, passes::createPlanMemoryPass(o.memory));
  return p;
}

}  // namespace lrc::compiler
