// ONNX's own conformance data: the backend node tests that Debian's libonnx-testdata ships
// (a one-op model, its inputs and its expected outputs). test/conformance/node_tests.txt names
// every node test of an op lrc imports, as run or as excluded (with why). Each one run is
// imported with lrc's importer, compiled to a forward plan (compiler::emitForwardPlan), run
// step by step on the CPU backend, and every output is compared with ONNX's.
#include <gtest/gtest.h>
#include <onnx/defs/tensor_proto_util.h>
#include <onnx/onnx_pb.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "compiler/CompilePipeline.h"
#include "compiler/EmitPlan.h"
#include "compiler/OnnxImport.h"
#include "ir/Verifier.h"
#include "passes/Pass.h"
#include "runtime/Executor.h"
#include "runtime/cpu/CpuBackend.h"
#include "runtime/plan/PlanFile.h"

namespace lrc {
namespace {

namespace fs = std::filesystem;

const fs::path kNodeTestDir = "/usr/share/libonnx-testdata/data/node";
const fs::path kListPath = fs::path(__FILE__).parent_path().parent_path() / "conformance" / "node_tests.txt";

// ---- The list --------------------------------------------------------------------------

struct NodeTestList {
  std::vector<std::string> prefixes;            // the node tests in scope start with one
  std::vector<std::string> run;                 // in the order listed
  std::map<std::string, std::string> excluded;  // name -> why

  bool inScope(const std::string& name) const {
    return std::any_of(prefixes.begin(), prefixes.end(),
                       [&](const std::string& p) { return name.rfind(p, 0) == 0; });
  }
  bool listed(const std::string& name) const {
    return excluded.count(name) || std::find(run.begin(), run.end(), name) != run.end();
  }
};

// Lines: `# comment`, `prefix NAME`, `TEST run` or `TEST excluded: REASON`.
NodeTestList readList() {
  std::ifstream in(kListPath);
  if (!in) throw std::runtime_error(kListPath.string() + ": cannot read the list");
  NodeTestList list;
  std::set<std::string> names;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    std::string where = kListPath.string();
    where += ":" + std::to_string(number) + ": ";
    std::istringstream words(line);
    std::string name, rest;
    if (!(words >> name) || name[0] == '#') continue;
    std::getline(words >> std::ws, rest);
    if (name == "prefix") {
      if (rest.empty() || rest.find(' ') != std::string::npos) throw std::runtime_error(where + "expected `prefix NAME`");
      list.prefixes.push_back(rest);
      continue;
    }
    if (!names.insert(name).second) throw std::runtime_error(where + name + " is listed twice");
    const std::string excluded = "excluded:";
    if (rest == "run") {
      list.run.push_back(name);
    } else if (rest.rfind(excluded, 0) == 0 && rest.find_first_not_of(' ', excluded.size()) != std::string::npos) {
      list.excluded[name] = rest.substr(rest.find_first_not_of(' ', excluded.size()));
    } else {
      throw std::runtime_error(where + "expected `" + name + " run` or `" + name + " excluded: <why>`");
    }
  }
  return list;
}

// The parameters of the run cases. A list that does not read gives none; the coverage test
// below reports why.
std::vector<std::string> runNames() {
  try {
    return readList().run;
  } catch (const std::exception&) {
    return {};
  }
}

TEST(OnnxConformanceList, NamesEveryNodeTestInScope) {
  ASSERT_TRUE(fs::is_directory(kNodeTestDir))
      << kNodeTestDir << " is missing: install libonnx-testdata (scripts/setup.sh does)";
  NodeTestList list;
  ASSERT_NO_THROW(list = readList());
  ASSERT_FALSE(list.prefixes.empty()) << kListPath << " names no prefix";
  std::set<std::string> present;
  for (const auto& entry : fs::directory_iterator(kNodeTestDir)) present.insert(entry.path().filename().string());
  for (const std::string& name : present)
    if (list.inScope(name) && !list.listed(name))
      ADD_FAILURE() << "node test " << name << " is in scope but neither run nor excluded in " << kListPath;
  std::vector<std::string> listed = list.run;
  for (const auto& [name, reason] : list.excluded) listed.push_back(name);
  for (const std::string& name : listed) {
    EXPECT_TRUE(present.count(name)) << kListPath << " lists " << name << ", which " << kNodeTestDir << " does not have";
    EXPECT_TRUE(list.inScope(name)) << kListPath << " lists " << name << ", which matches no prefix";
  }
}

// ---- Binding a node test for lrc --------------------------------------------------------

template <class Proto>
Proto readProto(const fs::path& file) {
  Proto proto;
  std::ifstream in(file, std::ios::binary);
  if (!in || !proto.ParseFromIstream(&in)) throw std::runtime_error(file.string() + ": cannot read");
  return proto;
}

// ONNX inputs that lrc takes at compile time rather than as data, by op and input position.
// Node tests feed them as graph inputs; the harness binds them as initializers holding the
// test's data, which is what a model exported for lrc has.
const std::map<std::string, std::vector<int>>& compileTimeInputs() {
  static const std::map<std::string, std::vector<int>> table = {
      {"BatchNormalization", {3, 4}},  // running mean and variance: state in the IR
      {"Clip", {1, 2}},                // min, max
      {"Dropout", {1, 2}},             // ratio, training_mode
      {"Pad", {1, 2, 3}},              // pads, constant_value, axes
      {"Pow", {1}},                    // exponent
      {"ReduceMean", {1}},             // axes (opset 18)
      {"ReduceSum", {1}},              // axes (opset 13)
      {"Reshape", {1}},                // shape
      {"Resize", {1, 2, 3}},           // roi, scales, sizes
      {"Upsample", {1}},               // scales
      {"Slice", {1, 2, 3, 4}},         // starts, ends, axes, steps
      {"Split", {1}},                  // split (opset 13)
  };
  return table;
}

// A training-mode BatchNormalization's running_mean or running_var output. lrc computes no
// such output: it updates the running statistic, a state global named after the node's
// input, in place; that buffer is compared after the run.
struct RunningStatistic {
  std::string output;  // the graph output
  std::string state;   // the node's input 3 (mean) or 4 (variance)
  bool variance = false;
  double momentum = 0.9;  // ONNX's: the weight of the old value
  std::string x;          // the node's input 0
};

// Binds the compile-time inputs, and takes the running-statistics outputs (and LayerNormalization's
// Mean and InvStdDev) off the graph.
std::vector<RunningStatistic> bindForLrc(onnx::ModelProto& model, const std::map<std::string, onnx::TensorProto>& data) {
  onnx::GraphProto& graph = *model.mutable_graph();
  std::set<std::string> bound;
  std::vector<RunningStatistic> statistics;
  std::set<std::string> dropped;
  for (onnx::NodeProto& node : *graph.mutable_node()) {
    if (auto it = compileTimeInputs().find(node.op_type()); it != compileTimeInputs().end()) {
      for (int i : it->second) {
        if (i >= node.input_size() || !data.count(node.input(i)) || !bound.insert(node.input(i)).second) continue;
        onnx::TensorProto* init = graph.add_initializer();
        *init = data.at(node.input(i));
        init->set_name(node.input(i));
      }
    }
    // LayerNormalization's Mean and InvStdDev are for its gradient, which lrc recomputes: off
    // the graph, Y compared.
    if (node.op_type() == "LayerNormalization" && node.output_size() > 1) {
      for (int i = 1; i < node.output_size(); ++i) dropped.insert(node.output(i));
      node.mutable_output()->DeleteSubrange(1, node.output_size() - 1);
    }
    if (node.op_type() != "BatchNormalization" || node.output_size() < 2) continue;
    double momentum = 0.9;
    for (const auto& a : node.attribute())
      if (a.name() == "momentum") momentum = a.f();
    for (int i = 1; i <= 2 && i < node.output_size(); ++i)
      if (!node.output(i).empty()) statistics.push_back({node.output(i), node.input(2 + i), i == 2, momentum, node.input(0)});
    node.mutable_output()->DeleteSubrange(1, node.output_size() - 1);
  }
  google::protobuf::RepeatedPtrField<onnx::ValueInfoProto> outputs;
  for (const onnx::ValueInfoProto& out : graph.output())
    if (!dropped.count(out.name()) &&
        std::none_of(statistics.begin(), statistics.end(), [&](const RunningStatistic& s) { return s.output == out.name(); }))
      *outputs.Add() = out;
  graph.mutable_output()->Swap(&outputs);
  return statistics;
}

// lrc updates the running variance with the unbiased batch variance, as PyTorch does (SPEC.md
// §2); ONNX's expected value, running = m * old + (1 - m) * batchVariance, has the biased one.
// Scales ONNX's batch term by n / (n - 1), n being the values per channel.
std::vector<float> unbiasedRunningVariance(const std::vector<float>& onnxExpected, const std::vector<float>& old,
                                           double momentum, int64_t n) {
  std::vector<float> result(onnxExpected.size());
  for (size_t c = 0; c < result.size(); ++c) {
    const double kept = momentum * old.at(c);
    result[c] = static_cast<float>(kept + (onnxExpected[c] - kept) * static_cast<double>(n) / static_cast<double>(n - 1));
  }
  return result;
}

int64_t elementsOf(const onnx::TensorProto& t) {
  int64_t n = 1;
  for (int64_t d : t.dims()) n *= d;
  return n;
}

// ---- Running it -------------------------------------------------------------------------

const plan::Buffer& bufferNamed(const plan::Plan& plan, const std::string& name) {
  for (const plan::Buffer& b : plan.buffers())
    if (b.name() == name) return b;
  throw std::runtime_error("the plan has no buffer named '" + name + "'");
}

std::vector<int64_t> shapeOf(const plan::Buffer& b) { return {b.shape().begin(), b.shape().end()}; }

void copyIn(runtime::Backend& backend, const plan::Buffer& b, const onnx::TensorProto& t) {
  ASSERT_EQ(shapeOf(b), std::vector<int64_t>(t.dims().begin(), t.dims().end())) << "input " << b.name();
  if (b.dtype() == plan::F32) {
    const std::vector<float> values = onnx::ParseData<float>(&t);
    ASSERT_EQ(values.size() * 4, b.bytes()) << "input " << b.name();
    backend.copyIn(b.offset(), values.data(), b.bytes());
  } else {
    const std::vector<int64_t> values = onnx::ParseData<int64_t>(&t);
    ASSERT_EQ(values.size() * 8, b.bytes()) << "input " << b.name();
    backend.copyIn(b.offset(), values.data(), b.bytes());
  }
}

// Max abs error <= 1e-4 * max(1, max |expected|).
void expectClose(const std::string& what, const std::vector<float>& actual, const std::vector<float>& expected) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  if (expected.empty()) return;
  double largest = 0, worstError = -1;
  size_t worst = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    largest = std::max(largest, std::fabs(static_cast<double>(expected[i])));
    const double error = std::isnan(actual[i]) != std::isnan(expected[i])
                             ? INFINITY
                             : std::fabs(static_cast<double>(actual[i]) - expected[i]);
    if (error > worstError) {
      worstError = error;
      worst = i;
    }
  }
  EXPECT_LE(worstError, 1e-4 * std::max(1.0, largest))
      << what << ": element " << worst << " is " << actual[worst] << ", expected " << expected[worst];
}

void expectOutput(runtime::Backend& backend, const plan::Buffer& b, const onnx::TensorProto& expectedTensor,
                  const std::string& what, const std::vector<float>* expectedOverride = nullptr) {
  ASSERT_EQ(b.dtype(), plan::F32) << what << ": only f32 outputs are compared";
  ASSERT_EQ(shapeOf(b), std::vector<int64_t>(expectedTensor.dims().begin(), expectedTensor.dims().end())) << what;
  std::vector<float> actual(b.bytes() / 4);
  backend.copyOut(b.offset(), actual.data(), b.bytes());
  expectClose(what, actual, expectedOverride ? *expectedOverride : onnx::ParseData<float>(&expectedTensor));
}

void runDataSet(const std::string& test, const onnx::ModelProto& source, const fs::path& dataSet) {
  // input_K.pb feeds the K-th graph input that has no initializer; output_K.pb is the K-th output.
  const onnx::GraphProto& graph = source.graph();
  std::set<std::string> initialized;
  for (const onnx::TensorProto& t : graph.initializer()) initialized.insert(t.name());
  std::map<std::string, onnx::TensorProto> data;
  int k = 0;
  for (const onnx::ValueInfoProto& in : graph.input())
    if (!initialized.count(in.name())) data[in.name()] = readProto<onnx::TensorProto>(dataSet / ("input_" + std::to_string(k++) + ".pb"));
  std::vector<onnx::TensorProto> expected;
  for (k = 0; k < graph.output_size(); ++k)
    expected.push_back(readProto<onnx::TensorProto>(dataSet / ("output_" + std::to_string(k) + ".pb")));

  onnx::ModelProto model = source;
  const std::vector<RunningStatistic> statistics = bindForLrc(model, data);
  std::set<std::string> kept;  // the outputs left on the graph (not LayerNormalization's Mean, InvStdDev)
  for (const onnx::ValueInfoProto& out : model.graph().output()) kept.insert(out.name());
  // The importer reads files: the bound model goes to one of its own, removed once read.
  const std::string path = testing::TempDir() + "lrc-conformance-" + std::to_string(getpid()) + "-" + test + ".onnx";
  {
    std::ofstream out(path, std::ios::binary);
    ASSERT_TRUE(model.SerializeToOstream(&out)) << path;
  }
  std::unique_ptr<ir::Module> m;
  try {
    m = compiler::importOnnx(path);
  } catch (...) {
    fs::remove(path);
    throw;
  }
  fs::remove(path);
  compiler::runImportPipeline(*m);
  passes::createPass("plan-memory")->run(*m);
  ir::verifyModule(*m);
  std::string weights;
  const plan::Plan plan = compiler::emitForwardPlan(*m, weights);

  runtime::CpuBackend backend;
  backend.allocateArena(plan.arena_bytes());
  runtime::writeInitialData(plan, plan::MemoryWeights(weights), backend);
  for (const ir::Value* v : m->inputs) {
    ASSERT_TRUE(data.count(v->name)) << "no test data for input " << v->name;
    ASSERT_NO_FATAL_FAILURE(copyIn(backend, bufferNamed(plan, v->name), data.at(v->name)));
  }
  const runtime::PreparedPlan prepared = runtime::preparePlan(plan);
  const runtime::RunContext context;
  for (int i = 0; i < plan.train().steps_size(); ++i) {
    const plan::Step& step = plan.train().steps(i);
    try {
      backend.run(prepared.train[static_cast<size_t>(i)], context);
    } catch (const std::exception& e) {
      FAIL() << "step #" << i << " (" << step.kernel() << " '" << step.origin() << "'): " << e.what();
    }
  }
  EXPECT_NO_THROW(backend.measuredPeakBytes());  // throws when a kernel wrote past the arena

  // Graph outputs in order: the module's outputs, or a running statistic's state buffer.
  size_t moduleOutput = 0;
  for (k = 0; k < graph.output_size(); ++k) {
    const std::string& name = graph.output(k).name();
    const std::string what = "output " + name;
    auto stat = std::find_if(statistics.begin(), statistics.end(), [&](const RunningStatistic& s) { return s.output == name; });
    if (stat == statistics.end()) {
      if (!kept.count(name)) continue;
      ASSERT_LT(moduleOutput, m->outputs.size());
      expectOutput(backend, bufferNamed(plan, m->outputs[moduleOutput++]->name), expected[static_cast<size_t>(k)], what);
    } else if (!stat->variance) {
      expectOutput(backend, bufferNamed(plan, stat->state), expected[static_cast<size_t>(k)], what);
    } else {
      ASSERT_TRUE(data.count(stat->x) && data.count(stat->state)) << what << ": the node's X and var are not test data";
      const onnx::TensorProto& x = data.at(stat->x);
      const std::vector<float> unbiased = unbiasedRunningVariance(
          onnx::ParseData<float>(&expected[static_cast<size_t>(k)]), onnx::ParseData<float>(&data.at(stat->state)),
          stat->momentum, elementsOf(x) / x.dims(1));
      expectOutput(backend, bufferNamed(plan, stat->state), expected[static_cast<size_t>(k)], what, &unbiased);
    }
  }
}

class OnnxNodeTest : public testing::TestWithParam<std::string> {};

TEST_P(OnnxNodeTest, MatchesExpectedOutputs) {
  const fs::path dir = kNodeTestDir / GetParam();
  const auto model = readProto<onnx::ModelProto>(dir / "model.onnx");
  std::vector<fs::path> dataSets;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().filename().string().rfind("test_data_set_", 0) == 0) dataSets.push_back(entry.path());
  std::sort(dataSets.begin(), dataSets.end());
  ASSERT_FALSE(dataSets.empty()) << dir << " has no test_data_set_*";
  for (const fs::path& dataSet : dataSets) {
    SCOPED_TRACE(dataSet.string());
    try {
      runDataSet(GetParam(), model, dataSet);
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Onnx, OnnxNodeTest, testing::ValuesIn(runNames()),
                         [](const testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace lrc
