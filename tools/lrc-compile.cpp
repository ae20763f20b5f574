// lrc-compile MODEL.onnx -o PLAN.bin [--emit ir|rows|plan] ... (kUsage below; --help)
// Imports an ONNX model, compiles its training plan, writes it (-o) or prints what --emit
// asks for, and reports the predicted peak memory of every plan. Row plans (2ps, overl) run
// their row pipelines strip by strip (docs/row-plans.md); --bn strip (per-strip statistics)
// warns that it approximates. --device cuda makes a plan for the CUDA backend: the search's
// rule without a budget is the GPU's (docs/plan-search.md), and each convolution's scratch
// holds up to kCudaConvBatchBytes of im2col columns, several images at once, so the GPU runs
// a chunk of images per launch (docs/cuda.md); the CPU backend runs such a plan too.
#include <iostream>
#include <sstream>
#include <string>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <optional>
#include <set>

#include "compiler/CompilePipeline.h"
#include "compiler/EmitPlan.h"
#include "compiler/MemoryRoles.h"
#include "compiler/OnnxImport.h"
#include "compiler/PlanSearch.h"
#include "compiler/RowReport.h"
#include "compiler/Work.h"
#include "passes/PipelineList.h"
#include "ir/Printer.h"
#include "runtime/plan/PlanFile.h"
#include "tools/ToolSupport.h"

using namespace lrc;

namespace {

// --device cuda: plan-memory's conv-batch-bytes (a convolution's scratch, at most this many
// bytes unless one image needs more).
constexpr int64_t kCudaConvBatchBytes = 64 << 20;

struct Options {
  std::string model;
  std::string emit;
  std::string output;
  compiler::ImportOptions import;
  compiler::OptimizerDefaults optimizer;
  bool autoStrategy = true;                 // --strategy auto: compiler/PlanSearch chooses `rows`
  compiler::RowOptions rows;                // --strategy layerwise|2ps|overl and the flags of a row plan
  int64_t memoryBudget = 0;                 // --memory-budget, bytes (0: the machine's available memory)
  bool explain = false;                     // --explain: the candidates auto considered
  std::string device = "cpu";               // --device cpu|cuda: the plan search's default rule
  compiler::TrainingOptions training;      // --bn exact|frozen|strip, --device's conv-batch-bytes
  bool stripsGiven = false;
  bool rematGiven = false;                  // --remat: auto then keeps it (it does not search it)
};

constexpr const char* kUsage =
    "usage: lrc-compile MODEL.onnx (-o PLAN.bin | --emit ir|rows|plan) [options]\n"
    "  --batch N, --input-shape C,H,W   the model's input (default: the model's batch, else 1)\n"
    "  --strategy auto|layerwise|2ps|overl   default auto: the fastest plan within the memory budget\n"
    "  --memory-budget SIZE             e.g. 512MiB, 2GiB (default: this machine's available memory)\n"
    "  --explain                        the candidate plans auto considered, and its choice\n"
    "  --device cpu|cuda                the backend the plan is for (default cpu)\n"
    "  --strips N, --bp-strips M, --cut none|downsample, --pipeline-strategy ID/2ps|overl:...,\n"
    "  --pipeline-strips ID/N:..., --reuse-last IDS, --keep IDS   a row plan by hand (--strategy 2ps|overl)\n"
    "  --remat none|elementwise|blocks  maps recomputed in backward (a strategy by hand)\n"
    "  --bn exact|frozen|strip          BatchNorm in training (default exact)\n"
    "  --lr X, --momentum X, --weight-decay X   SGD defaults (lrc-run may override them)\n";

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

double parseNonNegative(const std::string& flag, const std::string& text) {
  try {
    size_t used = 0;
    double v = std::stod(text, &used);
    if (used == text.size() && v >= 0) return v;
  } catch (const std::exception&) {
  }
  usage(flag + " expects a non-negative number, got '" + text + "'");
}

std::vector<int64_t> parseShape(const std::string& text) {
  std::vector<int64_t> dims;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) dims.push_back(parsePositive("--input-shape", item));
  if (dims.size() != 3) usage("--input-shape expects C,H,W, got '" + text + "'");
  return dims;
}

Options parseArgs(int argc, char** argv) {
  Options o;
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
      o.rematGiven = true;
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
      const std::optional<passes::SegmentCut> cut = passes::parseSegmentCut(text);
      if (!cut) usage("--cut expects none or downsample, got '" + text + "'");
      o.rows.fuse.cut = *cut;
      o.stripsGiven = true;
    } else if (a == "--memory-budget") {
      try {
        o.memoryBudget = compiler::parseByteSize(value());
      } catch (const std::invalid_argument& e) {
        usage(std::string("--memory-budget ") + e.what());
      }
    } else if (a == "--explain") {
      o.explain = true;
    } else if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      std::exit(0);
    } else if (a == "--device") {
      o.device = value();
      if (o.device != "cpu" && o.device != "cuda") usage("--device expects cpu or cuda, got '" + o.device + "'");
      o.training.memory.convBatchBytes = o.device == "cuda" ? kCudaConvBatchBytes : 0;
    } else if (a == "--bn") {
      const std::string text = value();
      const std::optional<passes::BatchNormMode> mode = passes::parseBatchNormMode(text);
      if (!mode) usage("--bn expects exact, frozen or strip, got '" + text + "'");
      o.training.batchNorm.mode = *mode;
    } else if (a == "--lr") {
      o.optimizer.lr = parseNonNegative(a, value());
    } else if (a == "--momentum") {
      o.optimizer.momentum = parseNonNegative(a, value());
    } else if (a == "--weight-decay") {
      o.optimizer.weightDecay = parseNonNegative(a, value());
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
  if (o.model.empty()) usage("no model file");
  if (o.emit.empty() && o.output.empty()) usage("nothing to do: give -o PLAN.bin or --emit ir|rows|plan");
  if (o.stripsGiven && (o.rows.layerwise || o.autoStrategy))
    usage("--strips, --bp-strips, --cut and the --pipeline-*, --reuse-last and --keep flags need --strategy 2ps or overl (auto chooses them, layerwise has one strip)");
  if (o.rematGiven && o.autoStrategy)
    usage("--remat needs --strategy layerwise, 2ps or overl (auto chooses it)");
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
  return flags;
}

std::string mib(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return text;
}

// What the compile did with the forward graph's training-mode BatchNorms (SPEC.md §2: the
// compiler says so in its report); empty when it has none.
std::string batchNormReport(const ir::Module& forward, passes::BatchNormMode mode, const ir::Module* train) {
  int64_t count = 0;
  for (const auto& op : forward.ops)
    if (op->kind == ir::OpKind::BatchNorm && op->getInt("training") != 0) ++count;
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
  if (mode == passes::BatchNormMode::Exact && train) {
    // Per reduction point (SPEC.md §5): kept when backward reads the map before the BatchNorm
    // itself, recomputed when it reads a copy made in backward (--remat blocks).
    const size_t loss = compiler::lossIndex(*train);
    const ir::ValueMap<compiler::ResultRole> roles = compiler::classifyResults(*train, loss + 1);
    int64_t kept = 0, recomputed = 0;
    for (size_t i = 0; i < loss; ++i)
      if (train->ops[i]->kind == ir::OpKind::BatchNormStats) {
        auto role = roles.find(train->ops[i]->operands[0]);
        ++(role != roles.end() && role->second == compiler::ResultRole::KeptActivation ? kept : recomputed);
      }
    line += "; reduction points: " + std::to_string(kept) + " kept (the map before it whole), " +
            std::to_string(recomputed) + " recomputed in backward";
  }
  return line + "\n";
}

// The row plan's line of the report: pipelines, strips, and the training step's
// multiply-adds relative to the layerwise plan's (recompute and halos included; the search
// has counted layerwise's already when it ran, else it is compiled here); empty for
// layerwise plans.
std::string rowPlanReport(const ir::Module& forward, const Options& o, const compiler::RowOptions& rowOptions,
                          const ir::Module& train, std::optional<int64_t> layerwiseWork) {
  if (rowOptions.layerwise) return "";
  std::unique_ptr<ir::Module> partitioned = forward.clone();
  compiler::runRowPipeline(*partitioned, rowOptions, o.training.batchNorm);
  std::set<int64_t> pipelines;
  int64_t ops = 0, strips = 0, bpStrips = 0;
  std::string clamped;
  for (const auto& op : partitioned->ops) {
    if (!op->has("pipeline")) continue;
    pipelines.insert(op->getInt("pipeline"));
    ++ops;
    if (!op->has("strips")) continue;
    strips = std::max(strips, op->getInt("strips"));
    bpStrips = std::max(bpStrips, op->getInt("bp_strips"));
    if ((op->has("strips_requested") || op->has("bp_strips_requested")) && clamped.empty())
      clamped = " (fewer where a pipeline's output has fewer rows)";
  }
  const int64_t layerwise =
      layerwiseWork ? *layerwiseWork : compiler::multiplyAdds(*compiler::runTrainingPipeline(forward, o.training).train);
  const int64_t work = compiler::multiplyAdds(train);
  char ratio[96];
  std::snprintf(ratio, sizeof ratio, "%.3fx layerwise (%.2f vs %.2f GMAC per step)",
                layerwise > 0 ? static_cast<double>(work) / static_cast<double>(layerwise) : 1.0, work * 1e-9,
                layerwise * 1e-9);
  std::string line = "  row plan: ";
  line += compiler::strategyName(rowOptions);
  line += ", up to " + std::to_string(strips) + " forward / " + std::to_string(bpStrips) + " backward strips" + clamped;
  line += ", " + std::to_string(pipelines.size()) + (pipelines.size() == 1 ? " pipeline of " : " pipelines of ") +
          std::to_string(ops) + " ops; work " + ratio + "\n";
  return line;
}

// The one-paragraph report every compile prints (to stderr when the plan text or IR goes
// to stdout).
std::string summary(const plan::Plan& p, const std::string& batchNorm) {
  const plan::MemoryReport& m = p.memory();
  return "lrc-compile: " + p.model_name() + ": strategy " + p.strategy() + ", " +
         std::to_string(p.train().steps_size()) + " training steps, predicted peak " +
         mib(p.arena_bytes()) + " (" + std::to_string(p.arena_bytes()) + " bytes)\n" +
         "  at the peak: parameters " + mib(m.parameters()) + ", parameter gradients " + mib(m.gradients()) +
         ", optimizer state " + mib(m.optimizer_state()) + ", kept activations " + mib(m.activations()) +
         ", activation gradients " + mib(m.activation_gradients()) + ", workspace " + mib(m.workspace()) +
         ", BatchNorm state " + mib(m.state()) + ", inputs " + mib(m.inputs()) + "\n" + batchNorm;
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
    std::optional<int64_t> layerwiseWork;
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
      rowOptions = choice.candidates[choice.chosen].rows;
      if (o.explain) explanation = compiler::explainChoice(choice);
      char predicted[64];
      std::snprintf(predicted, sizeof predicted, "%.1f", choice.candidates[choice.chosen].seconds * 1e3);
      const std::string budgetText = budget == std::numeric_limits<int64_t>::max()
                                         ? std::string("no memory budget")
                                         : "budget " + mib(static_cast<uint64_t>(budget));
      chosenBy = "  chosen by --strategy auto: " + choice.candidates[choice.chosen].label() + " (" +
                 choice.candidates[choice.chosen].verdict + ", " + budgetText + ": " + source + "); predicted step " +
                 predicted + " ms\n";
      programs = std::move(choice.programs);
      layerwiseWork = choice.candidates[0].work;
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
    const std::string batchNorm = batchNormReport(*m, o.training.batchNorm.mode, programs.train.get());
    const std::string rows = rowPlanReport(*m, o, rowOptions, *programs.train, layerwiseWork);
    std::string weights;
    plan::Plan plan = compiler::emitPlan(programs, o.model, o.optimizer, weights);
    plan.set_strategy(std::string(compiler::strategyName(rowOptions)));
    if (o.memoryBudget > 0 && static_cast<int64_t>(plan.arena_bytes()) > o.memoryBudget)
      throw ir::Error("the plan's predicted peak of " + mib(plan.arena_bytes()) + " (" +
                      std::to_string(plan.arena_bytes()) + " bytes) exceeds --memory-budget " +
                      std::to_string(o.memoryBudget) + " bytes; --strategy auto finds a plan that fits");
    bool textToStdout = o.emit == "plan" && o.output.empty();
    std::cerr.flush();
    (textToStdout ? std::cerr : std::cout) << explanation << summary(plan, chosenBy + rows + batchNorm);
    if (o.emit == "plan") {
      tools::writeOutput(o.output.empty() ? "-" : o.output, plan::printPlan(plan));
      return;
    }
    tools::writeOutput(o.output, plan::encodePlanFile(plan, weights));
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
