#include "compiler/CompilePipeline.h"

#include "ir/Verifier.h"
#include "passes/Pass.h"
#include "passes/PipelineList.h"

namespace lrc::compiler {

namespace {

// Runs a pipeline written as text, options included (`a,b{key=value}`), verifying after
// each pass.
void runPasses(ir::Module& m, const std::string& pipeline) {
  for (std::unique_ptr<passes::Pass>& pass : passes::parsePassPipeline(pipeline)) {
    pass->run(m);
    ir::verifyModule(m);
  }
}

// The same, one pass (with its options) an element, so each can carry its comment.
void runPasses(ir::Module& m, std::initializer_list<std::string_view> passes) {
  std::string pipeline;
  for (std::string_view pass : passes) {
    if (!pipeline.empty()) pipeline += ',';
    pipeline += pass;
  }
  runPasses(m, pipeline);
}

// Declares every input and global of `train` in `eval` at the same place, so the evaluation
// step reads the trained weights where the training step left them and its own buffers
// stay clear of everything that persists between steps (momentum included).
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
  runPasses(m, {
                   "canonicalize",  // Identity, inference Dropout, Reshape-as-Flatten
                   "infer-shapes",
               });
}

namespace {

// fuse-row-pipelines and partition-rows as text, for the given strips.
std::string partitionPasses(const RowOptions& o, int64_t strips, int64_t bpStrips, bool layerwise) {
  std::string pipeline = "fuse-row-pipelines{cut=";  // pipeline=K on maximal runs of row-local ops
  pipeline += layerwise ? "none" : o.cut;
  pipeline += "},partition-rows{strategy=";      // per op: fp_rows, bp_rows, fp_halo; work
  pipeline += layerwise ? "overl" : o.strategy;
  pipeline += ",strips=";
  pipeline += std::to_string(strips);
  pipeline += ",bp-strips=";
  pipeline += std::to_string(bpStrips);
  // Per-pipeline settings, in passes/PipelineList.h's grammar.
  auto option = [&](const char* key, const std::string& list) {
    if (list.empty()) return;
    pipeline += ",";
    pipeline += key;
    pipeline += "=";
    pipeline += list;
  };
  option("per", passes::formatPipelineCounts(o.per));
  option("strategies", passes::formatPipelineStrategies(o.strategies));
  option("keep", passes::formatPipelineIds(o.keep));
  option("reuse", passes::formatPipelineIds(o.reuse));
  pipeline += "}";
  return pipeline;
}

}  // namespace

void runRowPipeline(ir::Module& m, const RowOptions& o, const std::string& bn) {
  std::string bnPolicy = "batchnorm-policy{mode=";
  bnPolicy += bn;
  bnPolicy += "}";
  runPasses(m, bnPolicy);
  // Layerwise: every pipeline is one strip of the whole map (OverL with one strip has no
  // halo: every op computes all its rows once).
  const bool layerwise = o.strategy == "layerwise";
  const int64_t strips = layerwise ? 1 : o.strips;
  const int64_t bpStrips = layerwise ? 1 : (o.bpStrips < 0 ? o.strips : o.bpStrips);
  runPasses(m, partitionPasses(o, strips, bpStrips, layerwise));
}

TrainingPrograms runTrainingPipeline(const ir::Module& forward, const TrainingOptions& o) {
  TrainingPrograms p{forward.clone(), forward.clone()};
  std::string bnPolicy = "batchnorm-policy{mode=";
  bnPolicy += o.bn;
  bnPolicy += "}";
  const bool rows = o.rows.strategy != "layerwise";
  const int64_t bpStrips = o.rows.bpStrips < 0 ? o.rows.strips : o.rows.bpStrips;
  runPasses(*p.train, {bnPolicy,        // frozen: BatchNorm on running statistics
                       "append-loss"});  // softmax cross-entropy over the logits
  if (rows) runPasses(*p.train, partitionPasses(o.rows, o.rows.strips, bpStrips, false));
  runPasses(*p.train, {"autodiff"});  // backward graph (pipeline_grad per row pipeline) and SGD updates
  if (rows) runPasses(*p.train, {"lower-row-pipelines"});  // strips as ops on bands
  const std::string planMemory = "plan-memory{conv-batch-bytes=" + std::to_string(o.convBatchBytes) + "}";
  runPasses(*p.train, {planMemory});  // every buffer at its place in the arena
  runPasses(*p.eval, {
                         "to-inference",  // BatchNorm on running statistics, no Dropout
                         "canonicalize",
                     });
  // The evaluation step runs the same forward strips (nothing kept for a backward).
  if (rows) runPasses(*p.eval, partitionPasses(o.rows, o.rows.strips, o.rows.strips, false) + ",lower-row-pipelines");
  shareTrainingPlaces(*p.train, *p.eval);
  runPasses(*p.eval, {planMemory});
  return p;
}

}  // namespace lrc::compiler
