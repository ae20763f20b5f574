// lrc-compile MODEL.onnx -o PLAN.bin [--emit ir|rows|plan] [--report OUT.json] [--memory-plot OUT.svg] ...
// (kUsage below; --help)
// Imports an ONNX model, compiles its training plan, writes it (-o) or prints what --emit
// asks for, and reports the predicted peak memory of every plan; --memory-plot draws the
// training step's arena (compiler/MemoryPlot.h). Row plans (2ps, overl) run
// their row pipelines strip by strip (docs/row-plans.md); --bn strip (per-strip statistics)
// warns that it approximates. --device cuda makes a plan for the CUDA backend: the search's
// rule without a budget is the GPU's (docs/plan-search.md), and each convolution's scratch
// holds up to kCudaConvBatchBytes of im2col columns, several images at once, so the GPU runs
// a chunk of images per launch (docs/cuda.md); the CPU backend runs such a plan too.
// --optimizer sgd|adamw chooses the updates and the state the plan keeps (docs/training.md);
// the optimizer's hyper-parameter flags (tools/TrainingFlags.h) set the plan's defaults.
// The loss follows the model's output: softmax cross-entropy over [N,K] logits, or per pixel
// over [N,K,H,W] logits (a segmentation net; --ignore-index N, default -100 as PyTorch), and
// the summary says which.
#include <iostream>
#include <sstream>
#include <string>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <optional>
#include <set>

#include "compiler/CompilePipeline.h"
#include "compiler/EmitPlan.h"
#include "compiler/MemoryPlot.h"
#include "compiler/MemoryRoles.h"
#include "compiler/OnnxImport.h"
#include "compiler/PlanSearch.h"
#include "compiler/RowReport.h"
#include "compiler/Work.h"
#include "passes/PipelineList.h"
#include "passes/RowAnalysis.h"
#include "ir/Printer.h"
#include "runtime/plan/PlanFile.h"
#include "tools/ToolSupport.h"
#include "tools/TrainingFlags.h"

using namespace lrc;

namespace {

// --device cuda: plan-memory's conv-batch-bytes (a convolution's scratch, at most this many
// bytes of whole-band columns unless one image needs more; for the CPU, 0: row chunks under
// ops::kConvScratchCapBytes).
constexpr int64_t kCudaConvBatchBytes = 64 << 20;

struct Options {
  std::string model;
  std::string emit;
  std::string output;
  compiler::ImportOptions import;
  tools::OptimizerFlags optimizer;          // the hyper-parameters' defaults (tools/TrainingFlags.h)
  plan::Optimizer optimizerRecord;          // --optimizer's defaults with those flags applied
  bool autoStrategy = true;                 // --strategy auto: compiler/PlanSearch chooses `rows`
  compiler::RowOptions rows;                // --strategy layerwise|2ps|overl and the flags of a row plan
  int64_t memoryBudget = 0;                 // --memory-budget, bytes (0: the machine's available memory)
  bool explain = false;                     // --explain: the candidates auto considered
  std::string device = "cpu";               // --device cpu|cuda: the plan search's default rule
  compiler::TrainingOptions training;      // --bn exact|frozen|strip, --device's conv-batch-bytes, --optimizer
  bool stripsGiven = false;
  std::string rematGiven;                   // --remat or --remat-every, given: auto searches them
  std::string report;                       // --report OUT.json: the summary as JSON
  std::string memoryPlot;                   // --memory-plot OUT.svg: the arena over the training step
  bool noFuseSgdGrads = false;              // --no-fuse-sgd-grads
};

constexpr const char* kUsage =
    "usage: lrc-compile MODEL.onnx (-o PLAN.bin | --emit ir|rows|plan) [options]\n"
    "  --batch N, --input-shape C,H,W   the model's input (default: the model's batch, else 1)\n"
    "  --strategy auto|layerwise|2ps|overl   default auto: the fastest plan within the memory budget\n"
    "  --memory-budget SIZE             e.g. 512MiB, 2GiB (default: this machine's available memory)\n"
    "  --explain                        the candidate plans auto considered, and its choice\n"
    "  --device cpu|cuda                the backend the plan is for (default cpu)\n"
    "  --conv-scratch im2col|dnnl|winograd  convolution scratch for the im2col kernels (default), or also room for\n"
    "                                   the CPU's oneDNN blocked weights (LRC_CPU_CONV=dnnl: every 3x3 layer blocked);\n"
    "                                   winograd: 3x3 stride-1 convs (channels multiples of 16) run oneDNN's\n"
    "                                   Winograd F(4x4,3x3) in a larger scratch (faster; rounds differently)\n"
    "  --winograd-max-scratch SIZE      winograd: only convs whose Winograd scratch is at most SIZE run it (the\n"
    "                                   others direct; --strategy auto sets it where a budget needs)\n"
    "  --strips N, --bp-strips M, --cut none|downsample|IDS, --pipeline-strategy ID/2ps|overl:...,\n"
    "  --pipeline-strips ID/N:..., --reuse-last IDS, --keep IDS,\n"
    "  --recompute-points all|none|IDS, --chain-points, --clone-skips, --loss-in-pipeline on|off (default\n"
    "  on: a per-pixel loss joins the last pipeline)  a row plan by hand (--strategy 2ps|overl)\n"
    "  --remat none|elementwise|blocks  maps recomputed in backward (a strategy by hand)\n"
    "  --remat-every K                  --remat blocks: keep one block input in K, recompute the others\n"
    "                                   from it (nested, as checkpoint_sequential; default 1)\n"
    "  --bn exact|frozen|strip          BatchNorm in training (default exact)\n"
    "  --ignore-index N                 the label of pixels a per-pixel loss leaves out (default -100)\n"
    "  --optimizer sgd|adamw            default sgd (torch.optim.SGD; adamw: torch.optim.AdamW)\n"
    "  --lr X, --weight-decay X, sgd: --momentum X, --nesterov, adamw: --beta1 X, --beta2 X, --eps X\n"
    "                                   the optimizer's defaults (lrc-run may override them)\n"
    "  --no-fuse-sgd-grads              sgd: keep each parameter's gradient in its own buffer until its update\n"
    "                                   (default: weight gradients accumulated into the momentum buffers;\n"
    "                                   off with --nesterov and --data-parallel)\n"
    "  --no-fuse-bn-relu                keep a training BatchNorm's apply and the ReLU after it as two ops\n"
    "                                   (default: one batchnorm_apply {relu=1}, forward and backward)\n"
    "  --data-parallel                  a plan for each rank of mpirun -np N lrc-run: gradients averaged over the ranks\n"
    "  --bucket-mib X                   --data-parallel's allreduce buckets, MiB (default 25, as PyTorch DDP)\n"
    "  --bn-sync                        --data-parallel: BatchNorm statistics over every rank's batch\n"
    "  --report OUT.json                the summary as JSON (docs/plan-search.md \"--report\")\n"
    "  --memory-plot OUT.svg            the training step's arena over its ops, by category, the peak marked\n";

// A bad command line: one line, the usage only on --help.
[[noreturn]] void usage(const std::string& problem) {
  std::cerr << "lrc-compile: error: " << problem << "\n";
  std::exit(2);
}

int64_t parsePositive(const std::string& flag, const std::string& text) {
  try {
    size_t used = 0;
    long long v = std::stoll(text, &used);
    if (used == text.size() && v > 0) return v;
  } catch (const std::exception&) {
  }
  usage(flag + " expects a positive integer, got '" + text + "'");
}

std::vector<int64_t> parseShape(const std::string& text) {
  std::vector<int64_t> dims;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) dims.push_back(parsePositive("--input-shape", item));
  if (dims.size() != 3) usage("--input-shape expects C,H,W, got '" + text + "'");
  return dims;
}

// An optimizer flag read into `flags` (tools/TrainingFlags.h); false when `a` is not one.
bool optimizerFlag(const std::string& a, const std::function<std::string()>& value, tools::OptimizerFlags& flags) {
  try {
    return tools::readOptimizerFlag(a, value, flags);
  } catch (const std::invalid_argument& e) {
    usage(e.what());
  }
}

Options parseArgs(int argc, char** argv) {
  Options o;
  std::optional<passes::DataParallelOptions> dataParallel;  // --data-parallel, with --bucket-mib and --bn-sync
  std::optional<int64_t> bucketBytes;  // --bucket-mib, in bytes
  bool bnSync = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (++i >= argc) usage(a + " needs a value");
      return argv[i];
    };
    if (a == "--emit") {
      o.emit = value();
      if (o.emit != "ir" && o.emit != "rows" && o.emit != "plan")
        usage("--emit expects ir, rows or plan, got '" + o.emit + "'");
    } else if (a == "--strategy") {
      const std::string s = value();
      const std::optional<passes::RowStrategy> rowStrategy = passes::parseRowStrategy(s);
      if (s != "auto" && s != "layerwise" && !rowStrategy)
        usage("--strategy expects auto, layerwise, 2ps or overl, got '" + s + "'");
      o.autoStrategy = s == "auto";
      o.rows.layerwise = s == "layerwise";
      if (rowStrategy) o.rows.partition.strategy = *rowStrategy;
    } else if (a == "--strips") {
      o.rows.partition.strips = parsePositive(a, value());
      o.stripsGiven = true;
    } else if (a == "--bp-strips") {
      o.rows.partition.bpStrips = parsePositive(a, value());
      o.stripsGiven = true;
    } else if (a == "--remat") {
      const std::string r = value();
      const std::optional<passes::RematMode> mode = passes::parseRematMode(r);
      if (!mode) usage("--remat expects none, elementwise or blocks, got '" + r + "'");
      o.rows.remat = *mode;
      o.rematGiven = a;
    } else if (a == "--remat-every") {
      o.rows.rematEvery = parsePositive(a, value());
      o.rematGiven = a;
    } else if (a == "--recompute-points") {
      const std::string text = value();
      const auto points = passes::parseRecomputePoints(text);
      if (!points) usage("--recompute-points expects none, all or reduction-point ids separated by ':', got '" + text + "'");
      o.rows.recompute = *points;
      o.stripsGiven = true;
    } else if (a == "--chain-points") {
      // Recomputed BatchNorm points in a row both held (a backward pass each).
      o.rows.fuse.chain = true;
      o.stripsGiven = true;
    } else if (a == "--clone-skips") {
      // Skip maps read by later pipelines recomputed there from the maps whole anyway.
      o.rows.fuse.skips = true;
      o.stripsGiven = true;
    } else if (a == "--keep" || a == "--reuse-last") {
      // Pipelines left layer by layer in a row plan, or (2PS) whose backward reuses the last
      // forward strip: what --explain prints for auto's choice (passes/PipelineList.h).
      const std::string text = value();
      const auto ids = passes::parsePipelineIds(text);
      if (!ids) usage(a + " expects pipeline ids separated by ':', got '" + text + "'");
      std::vector<int64_t>& list = a == "--keep" ? o.rows.partition.keep : o.rows.partition.reuse;
      list.insert(list.end(), ids->begin(), ids->end());
      o.stripsGiven = true;
    } else if (a == "--pipeline-strips") {
      const std::string text = value();
      const auto counts = passes::parsePipelineCounts(text);
      if (!counts) usage("--pipeline-strips expects PIPELINE/STRIPS pairs separated by ':', got '" + text + "'");
      for (const auto& [id, n] : *counts) o.rows.partition.per[id] = n;
      o.stripsGiven = true;
    } else if (a == "--pipeline-strategy") {
      const std::string text = value();
      const auto strategies = passes::parsePipelineStrategies(text);
      if (!strategies) usage("--pipeline-strategy expects PIPELINE/2ps|overl pairs separated by ':', got '" + text + "'");
      for (const auto& [id, strategy] : *strategies) o.rows.partition.strategies[id] = strategy;
      o.stripsGiven = true;
    } else if (a == "--cut") {
      const std::string text = value();
      if (!passes::parseSegmentCuts(text, o.rows.fuse))
        usage("--cut expects none, downsample or cut point ids separated by ':', got '" + text + "'");
      o.stripsGiven = true;
    } else if (a == "--loss-in-pipeline") {
      const std::string text = value();
      if (text != "on" && text != "off") usage("--loss-in-pipeline expects on or off, got '" + text + "'");
      o.rows.fuse.loss = text == "on";
      o.stripsGiven = true;
    } else if (a == "--memory-budget") {
      try {
        o.memoryBudget = compiler::parseByteSize(value());
      } catch (const std::invalid_argument& e) {
        usage(std::string("--memory-budget ") + e.what());
      }
    } else if (a == "--explain") {
      o.explain = true;
    } else if (a == "--data-parallel") {
      dataParallel.emplace();
    } else if (a == "--bucket-mib") {
      const std::string text = value();
      char* end = nullptr;
      const double mib = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0' || !(mib * (1 << 20) >= 1) || !(mib <= (1 << 30)))
        usage("--bucket-mib expects a size in MiB of at least one byte and at most 2^30, got '" + text + "'");
      bucketBytes = static_cast<int64_t>(std::llround(mib * (1 << 20)));
    } else if (a == "--bn-sync") {
      bnSync = true;
    } else if (a == "--no-fuse-sgd-grads") {
      o.noFuseSgdGrads = true;
    } else if (a == "--no-fuse-bn-relu") {
      o.training.fuseBnRelu = false;
    } else if (a == "--report") {
      o.report = value();
    } else if (a == "--memory-plot") {
      o.memoryPlot = value();
    } else if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      std::exit(0);
    } else if (a == "--device") {
      o.device = value();
      if (o.device != "cpu" && o.device != "cuda") usage("--device expects cpu or cuda, got '" + o.device + "'");
      o.training.memory.convBatchBytes = o.device == "cuda" ? kCudaConvBatchBytes : 0;
    } else if (a == "--conv-scratch") {
      const std::string text = value();
      const std::optional<passes::ConvScratch> rule = passes::parseConvScratch(text);
      if (!rule) usage("--conv-scratch expects im2col, dnnl or winograd, got '" + text + "'");
      o.training.memory.convScratch = *rule;
    } else if (a == "--winograd-max-scratch") {
      try {
        o.training.memory.winogradMaxBytes = compiler::parseByteSize(value());
      } catch (const std::invalid_argument& e) {
        usage(std::string("--winograd-max-scratch ") + e.what());
      }
    } else if (a == "--bn") {
      const std::string text = value();
      const std::optional<passes::BatchNormMode> mode = passes::parseBatchNormMode(text);
      if (!mode) usage("--bn expects exact, frozen or strip, got '" + text + "'");
      o.training.batchNorm.mode = *mode;
    } else if (a == "--optimizer") {
      const std::string text = value();
      const std::optional<ops::Optimizer> optimizer = ops::optimizerByName(text);
      if (!optimizer) usage("--optimizer expects sgd or adamw, got '" + text + "'");
      o.training.autodiff.optimizer = *optimizer;
    } else if (a == "--ignore-index") {
      const std::string text = value();
      try {
        size_t used = 0;
        o.training.loss.ignoreIndex = std::stoll(text, &used);
        if (used != text.size()) throw std::invalid_argument(text);
      } catch (const std::exception&) {
        usage("--ignore-index expects an integer, got '" + text + "'");
      }
    } else if (optimizerFlag(a, value, o.optimizer)) {
    } else if (a == "-o") {
      o.output = value();
    } else if (a == "--batch") {
      o.import.batch = parsePositive(a, value());
    } else if (a == "--input-shape") {
      o.import.inputShape = parseShape(value());
    } else if (!a.empty() && a[0] == '-') {
      usage("unknown option '" + a + "'");
    } else if (o.model.empty()) {
      o.model = a;
    } else {
      usage("more than one model file");
    }
  }
  if ((bucketBytes || bnSync) && !dataParallel) usage(std::string(bnSync ? "--bn-sync" : "--bucket-mib") + " needs --data-parallel");
  if (dataParallel) {
    if (bucketBytes) dataParallel->bucketBytes = *bucketBytes;
    dataParallel->bnSync = bnSync;
    if (bnSync && o.training.batchNorm.mode == passes::BatchNormMode::Strip)
      usage("--bn-sync needs --bn exact (strip BatchNorm computes each strip's statistics apart)");
    o.training.dataParallel = dataParallel;
  }
  o.optimizerRecord = compiler::defaultOptimizer(o.training.autodiff.optimizer);
  try {
    tools::applyOptimizerFlags(o.optimizer, o.optimizerRecord, "--optimizer");
  } catch (const std::invalid_argument& e) {
    usage(e.what());
  }
  // Nesterov reads the gradient apart from the momentum buffer: its plans keep the gradients.
  o.training.fuseSgdGrads = !o.noFuseSgdGrads && !o.optimizerRecord.nesterov();
  if (o.noFuseSgdGrads && o.training.autodiff.optimizer != ops::Optimizer::Sgd)
    usage("--no-fuse-sgd-grads is an sgd flag, and the optimizer is " + std::string(ops::info(o.training.autodiff.optimizer).name));
  if (o.model.empty()) usage("no model file");
  if (o.emit.empty() && o.output.empty()) usage("nothing to do: give -o PLAN.bin or --emit ir|rows|plan");
  if (o.stripsGiven && (o.rows.layerwise || o.autoStrategy))
    usage("--strips, --bp-strips, --cut, --loss-in-pipeline and the --pipeline-*, --reuse-last, --keep, --recompute-points, --chain-points and --clone-skips flags need --strategy 2ps or overl (auto chooses them, layerwise has one strip)");
  if (o.rows.fuse.chain && !o.rows.recompute.any())
    usage("--chain-points needs --recompute-points (it lets recomputed BatchNorm points follow one another)");
  if (o.rows.recompute.any() && o.training.batchNorm.mode != passes::BatchNormMode::Exact)
    usage("--recompute-points needs --bn exact (its reduction points are exact BatchNorm's statistics and SE means, numbered together)");
  if (o.training.memory.winogradMaxBytes > 0 && o.training.memory.convScratch != passes::ConvScratch::Winograd)
    usage("--winograd-max-scratch needs --conv-scratch winograd");
  if (o.device == "cuda" && o.training.memory.convScratch != passes::ConvScratch::Im2col)
    usage("--conv-scratch " + std::string(passes::name(o.training.memory.convScratch)) +
          " sizes room for the CPU's oneDNN kernels; a --device cuda plan's convolutions run on the CUDA backend (drop it)");
  if (!o.rematGiven.empty() && o.autoStrategy)
    usage(o.rematGiven + " needs --strategy layerwise, 2ps or overl (auto chooses it)");
  if (o.rows.rematEvery > 1 && o.rows.remat != passes::RematMode::Blocks)
    usage("--remat-every needs --remat blocks (it thins the block inputs that block recompute keeps)");
  if (!o.report.empty() && (o.emit == "ir" || o.emit == "rows"))
    usage("--report describes a plan: not with --emit " + o.emit);
  if (!o.memoryPlot.empty() && (o.emit == "ir" || o.emit == "rows"))
    usage("--memory-plot draws a plan: not with --emit " + o.emit);
  if (o.explain && !o.autoStrategy)
    usage("--explain shows what --strategy auto considered: drop --strategy " + std::string(compiler::strategyName(o.rows)));
  return o;
}

// The flags given that shape every candidate the search compiles (the model's shape, the
// BatchNorm policy, the device's convolution scratch), as a command line's tail: with a
// candidate's settings, a complete recipe for its plan.
std::string fixedFlags(const Options& o) {
  std::string flags;
  if (o.import.batch) flags += " --batch " + std::to_string(*o.import.batch);
  if (o.import.inputShape) {
    const std::vector<int64_t>& s = *o.import.inputShape;
    flags += " --input-shape " + std::to_string(s[0]) + "," + std::to_string(s[1]) + "," + std::to_string(s[2]);
  }
  if (o.training.batchNorm.mode != passes::BatchNormMode::Exact)
    flags += " --bn " + std::string(passes::name(o.training.batchNorm.mode));
  if (o.device != "cpu") flags += " --device " + o.device;
  if (o.training.memory.convScratch != passes::ConvScratch::Im2col)  // in every candidate's scratch
    flags += " --conv-scratch " + std::string(passes::name(o.training.memory.convScratch));
  flags += compiler::winogradCap(o.training.memory.winogradMaxBytes);  // the caller's: the search keeps it
  if (o.training.loss.ignoreIndex != passes::AppendLossOptions{}.ignoreIndex)
    flags += " --ignore-index " + std::to_string(o.training.loss.ignoreIndex);
  if (o.training.autodiff.optimizer != ops::Optimizer::Sgd)  // its state is in every candidate's peak
    flags += " --optimizer " + std::string(ops::info(o.training.autodiff.optimizer).name);
  if (o.noFuseSgdGrads) flags += " --no-fuse-sgd-grads";  // parameter gradients in every candidate's peak
  if (!o.training.fuseBnRelu) flags += " --no-fuse-bn-relu";
  if (const auto& dp = o.training.dataParallel) {  // its buckets are in every candidate's peak
    flags += " --data-parallel";
    if (dp->bucketBytes != passes::DataParallelOptions{}.bucketBytes) {
      char text[48];
      std::snprintf(text, sizeof text, " --bucket-mib %.17g", static_cast<double>(dp->bucketBytes) / (1 << 20));
      flags += text;
    }
    if (dp->bnSync) flags += " --bn-sync";
  }
  return flags;
}

std::string mib(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return text;
}

// A reduction point (SPEC.md §5): a training-mode BatchNorm's statistics or an SE gate's mean
// (passes::isReductionPoint), kept when backward
// reads the map before it (the map stays whole), recomputed otherwise: in strips (a row
// pipeline computes the map, --recompute-points: BatchNorm's statistics read a forward copy of
// its strips, an SE mean the sum of its strips' sums) or whole in backward (--remat blocks). In program order; none unless --bn exact.
struct ReductionPoint {
  std::string op;  // the BatchNorm's (ReduceMean's) ONNX node name, else its statistics' value
  bool kept = true;
  bool inStrips = false;
  const char* how() const { return kept ? "kept" : inStrips ? "recomputed in strips" : "recomputed whole"; }
};

std::vector<ReductionPoint> reductionPoints(const ir::Module& train) {
  const size_t loss = compiler::lossIndex(train);
  const ir::ValueMap<compiler::ResultRole> roles = compiler::classifyResults(train, loss + 1);
  std::vector<ReductionPoint> points;
  for (size_t i = 0; i < loss; ++i) {
    const ir::Op& op = *train.ops[i];
    if (!passes::isReductionPoint(op)) continue;  // BatchNorm statistics, an SE gate's mean
    const ir::Op* def = op.operands[0]->def;
    // A mean is an SE point when another forward op reads its map too (the gate's multiply),
    // or when it is the mean of the strips' sums that lower-row-pipelines makes for a
    // recomputed point (reduce_mean {input_shape}); not a classifier head's pool.
    const std::vector<ir::Op*> readers = train.users(op.operands[0]);
    const bool shared = std::any_of(readers.begin(), readers.end(), [&](const ir::Op* r) {
      return r != &op && ops::info(r->kind).role == ops::Role::Forward;
    });
    const bool stripSums = op.kind == ir::OpKind::ReduceMean && op.has("input_shape");
    if (op.kind != ir::OpKind::BatchNormStats && !shared && !stripSums) continue;
    auto role = roles.find(op.operands[0]);
    const bool kept = !stripSums && role != roles.end() && role->second == compiler::ResultRole::KeptActivation;
    // Recomputed in strips: the statistics read the strips' whole copy (rows_copy), or a map
    // that only they read (lower-row-pipelines computes a one-conv upstream whole for them);
    // recomputed whole (--remat blocks): the forward's map, which its apply reads too.
    points.push_back({op.origin.empty() ? "%" + op.result()->name : op.origin, kept,
                      stripSums || (!kept && def && (def->kind == ir::OpKind::RowsCopy || readers.size() == 1))});
  }
  return points;
}

// What the compile did with the forward graph's training-mode BatchNorms (SPEC.md §2: the
// compiler says so in its report); empty when it has none.
std::string batchNormReport(int64_t count, passes::BatchNormMode mode, const std::vector<ReductionPoint>& points) {
  if (count == 0) return "";
  std::string line = "  BatchNorm ";
  switch (mode) {
    case passes::BatchNormMode::Frozen:
      line += "frozen (running statistics as a fixed affine transform)";
      break;
    case passes::BatchNormMode::Strip:
      line += "strip (statistics per strip inside row pipelines, whole-map outside)";
      break;
    case passes::BatchNormMode::Exact:
      line += "exact (batch statistics over whole maps, as PyTorch's training mode; row pipelines start at its "
              "row-local apply)";
      break;
  }
  line += ": ";
  line += std::to_string(count);
  line += count == 1 ? " op" : " ops";
  if (mode == passes::BatchNormMode::Exact) {
    const auto kept = std::count_if(points.begin(), points.end(), [](const ReductionPoint& p) { return p.kept; });
    const auto strips = std::count_if(points.begin(), points.end(), [](const ReductionPoint& p) { return p.inStrips; });
    line += "; reduction points: " + std::to_string(kept) + " kept (the map before it whole), " +
            std::to_string(strips) + " recomputed in strips, " +
            std::to_string(static_cast<int64_t>(points.size()) - kept - strips) +
            " recomputed whole in backward (--report lists each)";
  }
  return line + "\n";
}

// A training step's predicted cost: multiply-adds (recompute and halos included) and the
// cost model's time (compiler/CostModel.h).
struct StepCost {
  int64_t work = 0;
  double seconds = 0;
};

StepCost stepCost(const ir::Module& train) {
  return {compiler::multiplyAdds(train), compiler::predictSeconds(train, compiler::cpuCostTable())};
}

double ratio(double a, double b) { return b > 0 ? a / b : 1.0; }

// The row plan's line of the report: pipelines, strips, and the training step's
// multiply-adds relative to the layerwise plan's; empty for layerwise plans.
std::string rowPlanReport(const compiler::RowOptions& rowOptions,
                          const std::vector<compiler::PipelineSummary>& pipelines, StepCost cost, StepCost layerwise) {
  char text[96];
  std::snprintf(text, sizeof text, "%.3fx layerwise (%.2f vs %.2f GMAC per step)",
                ratio(static_cast<double>(cost.work), static_cast<double>(layerwise.work)), cost.work * 1e-9,
                layerwise.work * 1e-9);
  if (rowOptions.layerwise && rowOptions.remat == passes::RematMode::None) return "";
  if (rowOptions.layerwise) {  // recompute without strips: its work, as a row plan's
    compiler::PlanCandidate settings;
    settings.rows = rowOptions;
    return "  recompute: " + settings.label() + "; work " + text + "\n";
  }
  int64_t ops = 0, strips = 0, bpStrips = 0;
  bool clamped = false;
  for (const compiler::PipelineSummary& p : pipelines) {
    ops += p.ops;
    strips = std::max(strips, p.strips);
    bpStrips = std::max(bpStrips, p.bpStrips);
    clamped |= p.clamped;
  }
  std::string line = "  row plan: ";
  line += compiler::strategyName(rowOptions);
  line += ", up to " + std::to_string(strips) + " forward / " + std::to_string(bpStrips) + " backward strips";
  if (clamped) line += " (fewer where a pipeline's output has fewer rows)";
  line += ", " + std::to_string(pipelines.size()) + (pipelines.size() == 1 ? " pipeline of " : " pipelines of ") +
          std::to_string(ops) + " ops; work " + text + "\n";
  return line;
}

// A data-parallel plan's gradient buckets (its allreduce_start steps of parameter gradients;
// bn-sync's statistics gradients are averaged by steps of their own) and whether BatchNorm's
// statistics are synchronised.
struct DataParallelSummary {
  int64_t buckets = 0;          // gradient buckets
  uint64_t largestBytes = 0;    // the largest bucket's gradient bytes
  bool bnSync = false;
};
std::optional<DataParallelSummary> dataParallelOf(const plan::Plan& p) {
  DataParallelSummary d;
  bool any = false;
  for (const plan::Step& step : p.train().steps()) {
    if (step.kernel() == "batchnorm_stats")
      for (const plan::Attr& a : step.attrs())
        d.bnSync = d.bnSync || (a.name() == "sync" && a.ints_size() == 1 && a.ints(0) != 0);
    if (step.kernel() != "allreduce_start") continue;
    any = true;
    uint64_t bytes = 0;
    bool gradients = false;  // a bucket of weight gradients, not bn-sync's statistics gradients
    for (uint32_t index : step.inputs()) {
      const plan::Buffer& b = p.buffers(static_cast<int>(index));
      bytes += b.bytes();
      gradients = gradients || b.role() == plan::GRADIENT;
    }
    if (!gradients) continue;
    ++d.buckets;
    d.largestBytes = std::max(d.largestBytes, bytes);
  }
  if (!any) return std::nullopt;
  return d;
}

std::string dataParallelLine(const plan::Plan& p) {
  const std::optional<DataParallelSummary> d = dataParallelOf(p);
  if (!d) return "";
  return "  data parallel (mpirun -np N lrc-run): this is each rank's step and peak; weight gradients averaged over the "
         "ranks in " + std::to_string(d->buckets) + (d->buckets == 1 ? " bucket" : " buckets") + " (the largest " +
         mib(d->largestBytes) + ") overlapping backward; BatchNorm statistics " +
         (d->bnSync ? "over every rank's batch (--bn-sync)" : "per rank (as PyTorch DDP)") + "\n";
}

// The per-pixel loss when append-loss chose it (a classifier's loss goes without saying).
std::string lossLine(const plan::Plan& p) {
  for (const plan::Step& s : p.train().steps()) {
    if (s.kernel() != ops::name(ops::OpKind::PixelXent)) continue;
    for (const plan::Attr& a : s.attrs())
      if (a.name() == "ignore_index" && a.ints_size() == 1)
        return "  loss per-pixel softmax cross-entropy (the model's output is [N,K,H,W]), ignore index " +
               std::to_string(a.ints(0)) + "\n";
  }
  return "";
}

// The one-paragraph report every compile prints (to stderr when the plan text or IR goes
// to stdout).
// The summary's line of compiler::largestActivationPart: the activation part at its fullest
// step, which need not be the step of the peak above it.
std::string activationPartLine(const plan::Plan& p, const compiler::ActivationPart& a) {
  std::string at = "step " + std::to_string(a.op);
  if (a.op < static_cast<size_t>(p.train().steps_size())) {
    const plan::Step& s = p.train().steps(static_cast<int>(a.op));
    at += " (" + s.kernel() + (s.origin().empty() ? "" : " " + s.origin()) + ")";
  }
  return "  largest activation part (kept activations + activation gradients + workspace, over all steps): " +
         mib(a.bytes) + " (" + std::to_string(a.bytes) + " bytes) at " + at + ": kept activations " +
         mib(a.activations) + ", activation gradients " + mib(a.activationGradients) + ", workspace " +
         mib(a.workspace) + "\n";
}

std::string summary(const plan::Plan& p, const compiler::ActivationPart& part, const std::string& batchNorm) {
  const plan::MemoryReport& m = p.memory();
  return "lrc-compile: " + p.model_name() + ": strategy " + p.strategy() + ", " +
         std::to_string(p.train().steps_size()) + " training steps, predicted peak " +
         mib(p.arena_bytes()) + " (" + std::to_string(p.arena_bytes()) + " bytes)\n" +
         "  at the peak: parameters " + mib(m.parameters()) + ", parameter gradients " + mib(m.gradients()) +
         ", optimizer state " + mib(m.optimizer_state()) + ", kept activations " + mib(m.activations()) +
         ", activation gradients " + mib(m.activation_gradients()) + ", workspace " + mib(m.workspace()) +
         ", BatchNorm state " + mib(m.state()) + ", inputs " + mib(m.inputs()) + "\n" +
         activationPartLine(p, part) + "  optimizer " + plan::optimizerText(p.optimizer()) + "\n" + lossLine(p) + dataParallelLine(p) + batchNorm;
}

// --- --report: the same summary as JSON (keys in docs/plan-search.md), written with these
// few helpers (one small file: no JSON library).

std::string jsonString(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char text[8];
      std::snprintf(text, sizeof text, "\\u%04x", static_cast<unsigned char>(c));
      out += text;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string jsonNumber(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", x);
  return text;
}

// `{"key": value, ...}` from values that are JSON already; `indent` non-empty: one field a
// line.
std::string jsonObject(const std::vector<std::pair<std::string, std::string>>& fields,
                       const std::string& indent = "") {
  std::string out = "{";
  for (size_t i = 0; i < fields.size(); ++i) {
    out += i ? "," : "";
    out += indent.empty() ? (i ? " " : "") : "\n" + indent;
    out += jsonString(fields[i].first) + ": " + fields[i].second;
  }
  return out + (indent.empty() ? "}" : "\n}");
}

std::string jsonArray(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ",\n    " : "\n    ") + items[i];
  return out + (items.empty() ? "]" : "\n  ]");
}

// --report's "data_parallel": null for a one-process plan.
std::string dataParallelJson(const plan::Plan& p) {
  const std::optional<DataParallelSummary> d = dataParallelOf(p);
  if (!d) return "null";
  return jsonObject({{"gradient_buckets", std::to_string(d->buckets)},
                     {"largest_bucket_bytes", std::to_string(d->largestBytes)},
                     {"bn_sync", d->bnSync ? "true" : "false"}});
}

std::string reportJson(const plan::Plan& p, const compiler::ActivationPart& part, const std::string& settings,
                       const std::vector<compiler::PipelineSummary>& pipelines, StepCost cost, StepCost layerwise,
                       passes::BatchNormMode bn, int64_t batchNorms, const std::vector<ReductionPoint>& points) {
  const plan::MemoryReport& m = p.memory();
  const double work = ratio(static_cast<double>(cost.work), static_cast<double>(layerwise.work));
  auto bytes = [](uint64_t n) { return std::to_string(n); };
  std::vector<std::string> pipelineItems, pointItems;
  for (const compiler::PipelineSummary& s : pipelines)
    pipelineItems.push_back(jsonObject({{"id", std::to_string(s.id)},
                                        {"strategy", jsonString(s.strategy)},
                                        {"strips", std::to_string(s.strips)},
                                        {"bp_strips", std::to_string(s.bpStrips)},
                                        {"ops", std::to_string(s.ops)}}));
  for (const ReductionPoint& r : points)
    pointItems.push_back(jsonObject(
        {{"op", jsonString(r.op)}, {"kept", r.kept ? "true" : "false"}, {"how", jsonString(r.how())}}));
  const std::string indent = "  ";
  return jsonObject(
             {{"model", jsonString(p.model_name())},
              {"strategy", jsonString(p.strategy())},
              {"settings", jsonString(settings)},
              {"training_steps", std::to_string(p.train().steps_size())},
              {"predicted_peak_bytes", bytes(p.arena_bytes())},
              {"peak_by_category", jsonObject({{"parameters", bytes(m.parameters())},
                                               {"parameter_gradients", bytes(m.gradients())},
                                               {"optimizer_state", bytes(m.optimizer_state())},
                                               {"kept_activations", bytes(m.activations())},
                                               {"activation_gradients", bytes(m.activation_gradients())},
                                               {"workspace", bytes(m.workspace())},
                                               {"batchnorm_state", bytes(m.state())},
                                               {"inputs", bytes(m.inputs())}})},
              {"largest_activation_part", jsonObject({{"bytes", bytes(part.bytes)},
                                                      {"step", std::to_string(part.op)},
                                                      {"kept_activations", bytes(part.activations)},
                                                      {"activation_gradients", bytes(part.activationGradients)},
                                                      {"workspace", bytes(part.workspace)}})},
              {"work_multiply_adds", std::to_string(cost.work)},
              {"layerwise_work_multiply_adds", std::to_string(layerwise.work)},
              {"work_vs_layerwise", jsonNumber(work)},
              {"predicted_step_seconds", jsonNumber(cost.seconds)},
              {"layerwise_predicted_step_seconds", jsonNumber(layerwise.seconds)},
              {"time_vs_layerwise", jsonNumber(ratio(cost.seconds, layerwise.seconds))},
              {"pipelines", jsonArray(pipelineItems)},
              {"batchnorm", jsonString(std::string(passes::name(bn)))},
              {"training_batchnorm_ops", std::to_string(batchNorms)},
              {"reduction_points", jsonArray(pointItems)},
              {"data_parallel", dataParallelJson(p)}},
             indent) +
         "\n";
}

void compile(const Options& o) {
  std::unique_ptr<ir::Module> m = compiler::importOnnx(o.model, o.import);  // errors name the file
  try {
    compiler::runImportPipeline(*m);
    if (o.emit == "ir") {
      tools::writeOutput(o.output.empty() ? "-" : o.output, ir::printModule(*m));
      return;
    }
    // --strategy auto: the fastest candidate within the memory budget (compiler/PlanSearch).
    compiler::RowOptions rowOptions = o.rows;
    compiler::TrainingPrograms programs;
    std::string explanation, chosenBy;
    std::optional<StepCost> chosenCost, layerwiseCost;  // what the search has predicted already
    if (o.autoStrategy) {
      int64_t budget = o.memoryBudget;
      std::string source = "--memory-budget";
      double maxSlowdown = 0;
      if (budget == 0 && o.device == "cuda") {
        // No GPU to size the budget by (lrc-compile runs on the host): the least memory
        // within 1.5x layerwise's predicted time (docs/plan-search.md).
        budget = std::numeric_limits<int64_t>::max();
        source = "--device cuda without --memory-budget";
        maxSlowdown = 1.5;
      } else if (budget == 0) {
        budget = compiler::availableMemoryBytes();
        source = "this machine's available memory";
        if (budget <= 0) {
          budget = std::numeric_limits<int64_t>::max();
          source = "no limit: available memory unknown";
        }
      }
      compiler::PlanChoice choice =
          compiler::choosePlan(*m, o.training, budget, source, compiler::cpuCostTable(), o.explain, maxSlowdown,
                               fixedFlags(o));
      const compiler::PlanCandidate& chosen = choice.candidates[choice.chosen];
      rowOptions = chosen.rows;
      if (o.explain) {
        explanation = compiler::explainChoice(choice);
        if (o.training.dataParallel)
          explanation += "  data parallel: every candidate is one rank's plan, its peak and the budget each rank's (with "
                         "N ranks on one machine, give --memory-budget of its memory / N)\n";
      }
      char predicted[64];
      std::snprintf(predicted, sizeof predicted, "%.1f", chosen.seconds * 1e3);
      const std::string budgetText = budget == std::numeric_limits<int64_t>::max()
                                         ? std::string("no memory budget")
                                         : "budget " + mib(static_cast<uint64_t>(budget));
      chosenBy = "  chosen by --strategy auto: " + chosen.label() + " (" + chosen.verdict + ", " + budgetText + ": " +
                 source + "); predicted step " + predicted + " ms\n";
      programs = std::move(choice.programs);
      chosenCost = StepCost{chosen.work, chosen.seconds};
      layerwiseCost = StepCost{choice.candidates[0].work, choice.candidates[0].seconds};
    }
    if (o.emit == "rows") {
      if (!explanation.empty()) std::cerr << explanation;
      compiler::runRowPipeline(*m, rowOptions, o.training.batchNorm);
      tools::writeOutput(o.output.empty() ? "-" : o.output,
                         compiler::printRowReport(*m, rowOptions.layerwise ? "layerwise" : ""));
      return;
    }
    if (!programs.train) {
      compiler::TrainingOptions training = o.training;
      training.rows = rowOptions;
      programs = compiler::runTrainingPipeline(*m, training);
    }
    // The training program holds the weights now; what follows needs the graph's shapes only.
    compiler::dropParameterData(*m);
    int64_t batchNorms = 0;
    for (const auto& op : m->ops)
      if (op->kind == ir::OpKind::BatchNorm && op->getInt("training") != 0) ++batchNorms;
    const passes::BatchNormMode bn = o.training.batchNorm.mode;
    const std::vector<ReductionPoint> points =
        bn == passes::BatchNormMode::Exact ? reductionPoints(*programs.train) : std::vector<ReductionPoint>{};
    // Work and time relative to the plain layerwise plan (the search compiled it already;
    // else it is compiled here, unless this is it), for the row plan's line and --report.
    const bool plainLayerwise = rowOptions.layerwise && rowOptions.remat == passes::RematMode::None;
    const StepCost cost = chosenCost ? *chosenCost : stepCost(*programs.train);
    if (!layerwiseCost && plainLayerwise) layerwiseCost = cost;
    if (!layerwiseCost && (!rowOptions.layerwise || rowOptions.remat != passes::RematMode::None || !o.report.empty()))
      layerwiseCost = stepCost(*compiler::runTrainingPipeline(*m, o.training).train);
    std::unique_ptr<ir::Module> partitioned = m->clone();
    compiler::runRowPipeline(*partitioned, rowOptions, o.training.batchNorm);
    const std::vector<compiler::PipelineSummary> pipelines =
        compiler::summarizePipelines(*partitioned, rowOptions.layerwise);
    const std::string rows = layerwiseCost ? rowPlanReport(rowOptions, pipelines, cost, *layerwiseCost) : "";
    std::string weights;
    plan::Plan plan = compiler::emitPlan(programs, o.model, o.optimizerRecord, weights);
    compiler::dropParameterData(*programs.train);  // in `weights` now
    plan.set_strategy(std::string(compiler::strategyName(rowOptions)));
    const compiler::ActivationPart part = compiler::largestActivationPart(*programs.train);
    if (o.memoryBudget > 0 && static_cast<int64_t>(plan.arena_bytes()) > o.memoryBudget)
      throw ir::Error("the plan's predicted peak of " + mib(plan.arena_bytes()) + " (" +
                      std::to_string(plan.arena_bytes()) + " bytes) exceeds --memory-budget " +
                      std::to_string(o.memoryBudget) + " bytes; --strategy auto finds a plan that fits");
    bool textToStdout = o.emit == "plan" && o.output.empty();
    std::cerr.flush();
    (textToStdout ? std::cerr : std::cout) << explanation
                                           << summary(plan, part, chosenBy + rows + batchNormReport(batchNorms, bn, points));
    // The settings that compile to this plan: a whole command line (compiler/PlanSearch.h).
    compiler::PlanCandidate chosenSettings;
    chosenSettings.rows = rowOptions;
    const std::string settings = "--strategy " + chosenSettings.label() + fixedFlags(o);
    // The plan, then --report and --memory-plot, all made before the first is written; one
    // that cannot be written takes away what was written before it: nothing half done.
    const std::string planPath = o.emit == "plan" && o.output.empty() ? "-" : o.output;
    std::vector<std::pair<std::string, std::string>> outputs = {
        {planPath, o.emit == "plan" ? plan::printPlan(plan) : plan::encodePlanFile(plan, weights)}};
    std::string().swap(weights);  // in the plan file's bytes now
    if (!o.report.empty())
      outputs.emplace_back(o.report, reportJson(plan, part, settings, pipelines, cost, *layerwiseCost, bn, batchNorms, points));
    if (!o.memoryPlot.empty()) {
      const std::string model = o.model.substr(o.model.find_last_of('/') + 1);
      outputs.emplace_back(o.memoryPlot,
                           compiler::memoryPlotSvg(*programs.train, model + ": " + settings, plan.arena_bytes()));
    }
    for (size_t i = 0; i < outputs.size(); ++i) {
      try {
        tools::writeOutput(outputs[i].first, outputs[i].second);
      } catch (const ir::Error&) {
        for (size_t w = 0; w < i; ++w)
          if (outputs[w].first != "-") std::remove(outputs[w].first.c_str());
        throw;
      }
    }
  } catch (const ir::Error& e) {
    throw ir::Error(o.model + ": " + e.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parseArgs(argc, argv);
  if (o.training.batchNorm.mode == passes::BatchNormMode::Strip)
    std::cerr << "lrc-compile: warning: --bn strip approximates BatchNorm: inside row pipelines each strip is "
                 "normalized with its own statistics (no parity with PyTorch's training mode)\n";
  try {
    compile(o);
  } catch (const ir::Error& e) {
    std::cerr << "lrc-compile: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "lrc-compile: internal error: " << o.model << ": " << e.what() << "\n";
    return 1;
  }
  return 0;
}
