#include "compiler/OnnxImport.h"
#include "compiler/OnnxProto.h"
#include "compiler/LayerNormPattern.h"

#include <fcntl.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include "compiler/ConstantFolding.h"
#include "ir/ShapeInference.h"
#include "ir/Verifier.h"
#include "ops/ListText.h"
#include "ops/Resize.h"
#include "ops/Shapes.h"

// After onnx/checker.h: its parser names an enumerator as sys/mman.h's macros do.
#include <sys/mman.h>
#include <sys/stat.h>

namespace lrc::compiler {
namespace {

namespace fs = std::filesystem;
using ir::Error;
using ir::IntList;
using onnx::TensorProto;

// ONNX stores raw tensor bytes little-endian; they are copied as they are.
static_assert(std::endian::native == std::endian::little,
              "the ONNX reader assumes a little-endian host");

constexpr int64_t kMinOpset = 9;
constexpr int64_t kMaxOpset = 18;

std::string join(const IntList& v) { return ops::listText(v); }

// ONNX's float attributes and scalars are f32, the IR's are doubles. The shortest decimal
// that reads back as the same float gives 1e-05 and 0.9, not 9.999999747378752e-06.
double widen(float f) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, f);
  return ec == std::errc() ? std::strtod(std::string(buf, end).c_str(), nullptr) : f;
}

// Messages from ONNX span lines; ours must not.
std::string oneLine(std::string_view text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Files

// Bytes [offset, offset + length) of a file (to its end without a length). `what` names
// the file in errors.
std::string readFileRange(const fs::path& file, uint64_t offset, std::optional<uint64_t> length,
                          const std::string& what) {
  std::unique_ptr<std::FILE, decltype(&std::fclose)> f(std::fopen(file.c_str(), "rb"),
                                                       &std::fclose);
  if (!f) throw Error("cannot open " + what + " (" + std::strerror(errno) + ")");
  std::error_code ec;
  const uint64_t size = fs::file_size(file, ec);
  if (ec) throw Error("cannot read " + what + " (" + ec.message() + ")");
  // Compared without offset + length, which may wrap.
  if (offset > size || (length && *length > size - offset))
    throw Error(what + ": offset " + std::to_string(offset) +
                (length ? " and length " + std::to_string(*length) + " reach" : " reaches") +
                " past the end of the file, which has " + std::to_string(size) + " bytes");
  const uint64_t n = length.value_or(size - offset);
  std::string bytes(n, '\0');
  if (fseeko(f.get(), static_cast<off_t>(offset), SEEK_SET) != 0 ||
      std::fread(bytes.data(), 1, n, f.get()) != n)
    throw Error("cannot read " + what + " (" + std::strerror(errno) + ")");
  return bytes;
}

onnx::ModelProto readModel(const std::string& path) {
  onnx::ModelProto model;
  readOnnxModel(path, model);
  return model;
}

bool isDefaultDomain(const std::string& domain) { return domain.empty() || domain == "ai.onnx"; }

int64_t defaultOpset(const onnx::ModelProto& model) {
  for (const auto& import : model.opset_import()) {
    if (!isDefaultDomain(import.domain())) continue;
    const int64_t v = import.version();
    if (v < kMinOpset || v > kMaxOpset)
      throw Error("opset " + std::to_string(v) +
                  " of the default ONNX domain is not supported "
                  "(lrc reads opsets " +
                  std::to_string(kMinOpset) + " to " + std::to_string(kMaxOpset) + ")");
    return v;
  }
  throw Error("the model imports no opset of the default ONNX domain");
}

uint64_t parseExternalNumber(const std::string& text, const std::string& what) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size())
    throw Error(what + " is not a byte count: '" + text + "'");
  return v;
}

// Reads an initializer's external data into raw_data, so that the checker (which would
// look for the file relative to the working directory) and the decoder see one form.
void inlineExternalData(TensorProto& t, const fs::path& modelDir) {
  const std::string what = "initializer '" + t.name() + "'";
  std::string location;
  uint64_t offset = 0;
  std::optional<uint64_t> length;
  for (const auto& kv : t.external_data()) {
    if (kv.key() == "location") location = kv.value();
    if (kv.key() == "offset") offset = parseExternalNumber(kv.value(), what + ": offset");
    if (kv.key() == "length") length = parseExternalNumber(kv.value(), what + ": length");
    // "checksum" and other keys do not change where the bytes are.
  }
  if (location.empty()) throw Error(what + ": external data without a location");
  const fs::path rel(location);
  const bool escapes =
      std::any_of(rel.begin(), rel.end(), [](const fs::path& p) { return p == ".."; });
  if (rel.is_absolute() || escapes)
    throw Error(what + ": external data location '" + location +
                "' must be a relative path inside the model's folder");
  const fs::path file = modelDir / rel;
  t.set_raw_data(
      readFileRange(file, offset, length, "external data file '" + file.string() + "' of " + what));
  t.clear_external_data();
  t.set_data_location(TensorProto::DEFAULT);
}

void inlineExternalData(onnx::GraphProto& graph, const fs::path& modelDir) {
  for (TensorProto& t : *graph.mutable_initializer())
    if (t.data_location() == TensorProto::EXTERNAL) inlineExternalData(t, modelDir);
}

void runChecker(const onnx::ModelProto& model) {
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    throw Error("ONNX checker: " + oneLine(e.what()));
  }
}

// ---------------------------------------------------------------------------------------
// Tensors

// Data of an initializer or a Constant node. Floating-point data is kept as f32, integer
// and boolean data as i64.
struct ConstTensor {
  int32_t elemType = TensorProto::UNDEFINED;
  std::vector<int64_t> shape;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  bool isFloat() const { return elemType == TensorProto::FLOAT || elemType == TensorProto::DOUBLE; }
  size_t size() const { return isFloat() ? floats.size() : ints.size(); }
};

// Element types the reader understands. Operands must be float or int64 (see addGlobal);
// int32, bool and double appear as shapes and scalars (torch exports Dropout's
// training_mode as a bool Constant).
ConstTensor decodeTensor(const TensorProto& t, const std::string& what) {
  if (t.data_location() == TensorProto::EXTERNAL)
    throw Error(what +
                " keeps its data in an external file, which lrc reads only for initializers");
  ConstTensor c;
  c.elemType = t.data_type();
  for (int64_t d : t.dims()) {
    if (d < 0) throw Error(what + " has a negative dimension");
    c.shape.push_back(d);
  }
  readTensorValues(t, c.shape, what, c.floats, c.ints);
  return c;
}

// The value of a Constant node, in any of the attribute forms opsets 9-18 allow.
ConstTensor constantNodeValue(const onnx::NodeProto& node) {
  for (const auto& a : node.attribute()) {
    ConstTensor c;
    if (a.name() == "value") return decodeTensor(a.t(), "the value tensor");
    if (a.name() == "value_float" || a.name() == "value_int") {  // scalars
      c.elemType = a.name() == "value_float" ? TensorProto::FLOAT : TensorProto::INT64;
      c.floats = a.name() == "value_float" ? std::vector<float>{a.f()} : std::vector<float>{};
      c.ints = a.name() == "value_int" ? std::vector<int64_t>{a.i()} : std::vector<int64_t>{};
      return c;
    }
    if (a.name() == "value_floats" || a.name() == "value_ints") {  // 1-D
      c.elemType = a.name() == "value_floats" ? TensorProto::FLOAT : TensorProto::INT64;
      c.floats.assign(a.floats().begin(), a.floats().end());
      c.ints.assign(a.ints().begin(), a.ints().end());
      c.shape = {static_cast<int64_t>(c.size())};
      return c;
    }
  }
  throw Error(
      "only the value, value_float(s) and value_int(s) forms are supported "
      "(not sparse tensors or strings)");
}

// ---------------------------------------------------------------------------------------
// Attributes (findAttr and intAttr are in OnnxProto.h). The checker has matched every
// attribute's type to the op schema, so the accessors below read the field of that type.

double floatAttr(const onnx::NodeProto& n, std::string_view name, double fallback) {
  const auto* a = findAttr(n, name);
  return a ? widen(a->f()) : fallback;
}

IntList intsAttr(const onnx::NodeProto& n, std::string_view name, IntList fallback) {
  const auto* a = findAttr(n, name);
  return a ? IntList(a->ints().begin(), a->ints().end()) : fallback;
}

std::string stringAttr(const onnx::NodeProto& n, std::string_view name, std::string fallback) {
  const auto* a = findAttr(n, name);
  return a ? a->s() : fallback;
}

void requireLength(const IntList& v, size_t n, const std::string& what) {
  if (v.size() != n)
    throw Error(what + " " + join(v) + " has " + std::to_string(v.size()) + " values; expected " +
                std::to_string(n));
}

void requirePositive(const IntList& v, const std::string& what) {
  if (std::any_of(v.begin(), v.end(), [](int64_t x) { return x < 1; }))
    throw Error(what + " " + join(v) + " must be positive");
}

// Flatten's axis may also equal the rank (everything into the first dimension).
int64_t normalizeAxis(int64_t axis, int64_t rank, const std::string& what, bool upToRank = false) {
  if (axis < -rank || axis > rank || (axis == rank && !upToRank))
    throw Error(what + " " + std::to_string(axis) + " is out of range for rank " +
                std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

std::string nodeOrigin(const onnx::NodeProto& n, size_t index) {
  return n.name().empty() ? n.op_type() + "#" + std::to_string(index) : n.name();
}

// The op type, with its domain when that is not the default one.
std::string opTypeName(const onnx::NodeProto& n) {
  return isDefaultDomain(n.domain()) ? n.op_type() : n.domain() + "." + n.op_type();
}

std::string nodeContext(const onnx::NodeProto& n, const std::string& origin, int64_t opset) {
  return "node '" + origin + "' (" + opTypeName(n) + ", opset " + std::to_string(opset) + ")";
}

// ---------------------------------------------------------------------------------------
// Sliding windows (Conv, MaxPool, AveragePool), all 2-D.

struct Window {
  IntList stride, dilation, pads;  // pads: [top, left, bottom, right]
};

// ONNX's SAME rule: output = ceil(input / stride); the padding that needs is split in two,
// the odd row or column going to the end (SAME_UPPER) or to the beginning (SAME_LOWER).
IntList samePads(const std::vector<int64_t>& hw, const IntList& kernel, const Window& w,
                 bool upper) {
  IntList pads(4);
  for (size_t i = 0; i < 2; ++i) {
    const int64_t out = (hw[i] + w.stride[i] - 1) / w.stride[i];
    const int64_t span = (kernel[i] - 1) * w.dilation[i] + 1;
    const int64_t total = std::max<int64_t>(0, (out - 1) * w.stride[i] + span - hw[i]);
    const int64_t small = total / 2, big = total - small;
    pads[i] = upper ? small : big;
    pads[i + 2] = upper ? big : small;
  }
  return pads;
}

Window windowAttrs(const onnx::NodeProto& n, const std::vector<int64_t>& inputShape,
                   const IntList& kernel, bool hasDilations) {
  Window w;
  w.stride = intsAttr(n, "strides", {1, 1});
  w.dilation = hasDilations ? intsAttr(n, "dilations", {1, 1}) : IntList{1, 1};
  requireLength(w.stride, 2, "strides");
  requireLength(w.dilation, 2, "dilations");
  requirePositive(w.stride, "strides");
  requirePositive(w.dilation, "dilations");
  const std::string autoPad = stringAttr(n, "auto_pad", "NOTSET");
  const std::vector<int64_t> hw(inputShape.begin() + 2, inputShape.end());
  if (autoPad == "NOTSET") {
    w.pads = intsAttr(n, "pads", {0, 0, 0, 0});
    requireLength(w.pads, 4, "pads");
  } else if (autoPad == "VALID") {
    w.pads = {0, 0, 0, 0};
  } else if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
    w.pads = samePads(hw, kernel, w, autoPad == "SAME_UPPER");
  } else {
    throw Error("auto_pad '" + autoPad + "' is not NOTSET, SAME_UPPER, SAME_LOWER or VALID");
  }
  return w;
}

// Opset 18's `axes` input says which axes `pads` covers; the IR lists every axis.
IntList expandPadAxes(const IntList& pads, const IntList& axes, int64_t rank) {
  if (pads.size() != 2 * axes.size())
    throw Error("pads " + join(pads) + " must have two values per axis in " + join(axes));
  IntList full(2 * static_cast<size_t>(rank), 0);
  for (size_t i = 0; i < axes.size(); ++i) {
    const auto a = static_cast<size_t>(normalizeAxis(axes[i], rank, "pad axis"));
    full[a] = pads[i];
    full[a + static_cast<size_t>(rank)] = pads[i + axes.size()];
  }
  return full;
}

// Before opset 13, Softmax flattens the input to 2-D at `axis`. That equals the IR's
// softmax over the last axis exactly when every dimension from axis to the last but one is 1.
bool isLastAxisSoftmax(const std::vector<int64_t>& shape, int64_t axis) {
  for (size_t i = static_cast<size_t>(axis); i + 1 < shape.size(); ++i)
    if (shape[i] != 1) return false;
  return true;
}

// ---------------------------------------------------------------------------------------
// The graph

class GraphImporter {
 public:
  GraphImporter(const onnx::GraphProto& graph, int64_t opset, const ImportOptions& options)
      : graph_(graph), opset_(opset), options_(options), m_(std::make_unique<ir::Module>()) {}

  std::unique_ptr<ir::Module> run();
  // The shapes of the values the nodes before the first foldable node left unfolded (a Shape
  // of a value computed by a node) compute, when every node before it is supported (else
  // nullopt; run() reports the unsupported ones).
  std::optional<std::map<std::string, std::vector<int64_t>>> shapesBeforeUnfolded();

  static bool supports(const onnx::NodeProto& n) {
    return isDefaultDomain(n.domain()) && handlers().count(n.op_type());
  }
  static std::string supportedList() {
    std::string s;
    for (const auto& [name, handler] : handlers()) s += (s.empty() ? "" : ", ") + name;
    return s;
  }

 private:
  // A node being imported; absent optional inputs read as "".
  struct Node {
    const onnx::NodeProto& proto;
    std::string origin;
    const std::string& in(int i) const {
      static const std::string none;
      return i < proto.input_size() ? proto.input(i) : none;
    }
    bool has(int i) const { return !in(i).empty(); }
  };
  using Handler = void (GraphImporter::*)(const Node&);
  static const std::map<std::string, Handler>& handlers();

  void importInputs();
  void importNode(size_t index);
  void importOneNode(size_t index);
  bool importDecomposedLayerNorm(const DecomposedLayerNorm& p, const Node& tail);

  ir::Value* operand(const std::string& name, bool runningStatistic = false);
  ir::Value* addGlobal(const std::string& name, ir::ValueKind kind, ConstTensor data);
  ConstTensor constantInput(const std::string& name, const std::string& role) const;
  IntList constantInts(const std::string& name, const std::string& role) const;
  double constantScalar(const std::string& name, const std::string& role) const;
  ir::Value* emit(const Node& n, ir::OpKind kind, std::vector<ir::Value*> operands,
                  ir::Attrs attrs = {}, int output = 0);
  ir::Value* emitNamed(const Node& n, ir::OpKind kind, std::vector<ir::Value*> operands, ir::Attrs attrs,
                       const std::string& name);
  void requireUnused(const Node& n, int output, const std::string& what) const;
  ir::Value* rankedOperand(const std::string& name, size_t rank, const std::string& role,
                           const std::string& note = "");

  struct ConvOperands {
    ir::Value* x;
    ir::Value* w;
    IntList kernel;
  };
  ConvOperands convOperands(const Node& n, const std::string& only2d);
  void importConv(const Node& n);
  void importConvTranspose(const Node& n);
  void importPool(const Node& n, ir::OpKind kind);
  void importMaxPool(const Node& n) { importPool(n, ir::OpKind::MaxPool); }
  void importAveragePool(const Node& n) { importPool(n, ir::OpKind::AveragePool); }
  void importResize(const Node& n);
  void importUpsample(const Node& n) { importResize(n); }
  void importGlobalAveragePool(const Node& n) {
    emit(n, ir::OpKind::GlobalAvgPool, {operand(n.in(0))});
  }
  void importRelu(const Node& n) { emit(n, ir::OpKind::Relu, {operand(n.in(0))}); }
  void importSigmoid(const Node& n) { emit(n, ir::OpKind::Sigmoid, {operand(n.in(0))}); }
  void importHardSigmoid(const Node& n);
  void importHardSwish(const Node& n) { emit(n, ir::OpKind::HardSwish, {operand(n.in(0))}); }
  void importClip(const Node& n);
  void importErf(const Node& n) { emit(n, ir::OpKind::Erf, {operand(n.in(0))}); }
  void importSqrt(const Node& n) { emit(n, ir::OpKind::Sqrt, {operand(n.in(0))}); }
  void importPow(const Node& n);
  // Add, Sub, Mul, Div: numpy broadcasting (a bad one fails the shape rule, naming the node).
  void importBinary(const Node& n, ir::OpKind kind) { emit(n, kind, {operand(n.in(0)), operand(n.in(1))}); }
  void importAdd(const Node& n) { importBinary(n, ir::OpKind::Add); }
  void importSub(const Node& n) { importBinary(n, ir::OpKind::Sub); }
  void importMul(const Node& n) { importBinary(n, ir::OpKind::Mul); }
  void importDiv(const Node& n) { importBinary(n, ir::OpKind::Div); }
  void importReduceMean(const Node& n);
  IntList reduceMeanAxes(const Node& n, int64_t rank) const;
  void importLayerNorm(const Node& n);
  void importPad(const Node& n);
  void importConcat(const Node& n);
  void importSlice(const Node& n);
  void importTranspose(const Node& n);
  void importSplit(const Node& n);
  void importBatchNorm(const Node& n);
  void importFlatten(const Node& n);
  void importReshape(const Node& n);
  void importGemm(const Node& n);
  void importMatMul(const Node& n);
  void importDropout(const Node& n);
  void importIdentity(const Node& n);
  void importSoftmax(const Node& n);
  void importConstant(const Node& n);

  const onnx::GraphProto& graph_;
  const int64_t opset_;
  const ImportOptions& options_;
  std::unique_ptr<ir::Module> m_;
  std::map<std::string, ir::Value*> values_;                // ONNX name -> IR value made so far
  std::map<std::string, const TensorProto*> initializers_;  // and Identity copies of them
  std::map<std::string, ConstTensor> constants_;            // Constant node outputs
  std::map<std::string, int> uses_;                         // by nodes and graph outputs
  std::map<size_t, DecomposedLayerNorm> layerNorms_;        // opset-13 LayerNorms, by their last node
  std::set<size_t> inLayerNorm_;                            // their other nodes
};

// The supported ONNX ops, and the one list the "unsupported op" message prints.
const std::map<std::string, GraphImporter::Handler>& GraphImporter::handlers() {
  static const std::map<std::string, Handler> table = {
      {"Add", &GraphImporter::importAdd},
      {"AveragePool", &GraphImporter::importAveragePool},
      {"BatchNormalization", &GraphImporter::importBatchNorm},
      {"Concat", &GraphImporter::importConcat},
      {"Clip", &GraphImporter::importClip},
      {"Constant", &GraphImporter::importConstant},
      {"Conv", &GraphImporter::importConv},
      {"ConvTranspose", &GraphImporter::importConvTranspose},
      {"Div", &GraphImporter::importDiv},
      {"Dropout", &GraphImporter::importDropout},
      {"Erf", &GraphImporter::importErf},
      {"Flatten", &GraphImporter::importFlatten},
      {"Gemm", &GraphImporter::importGemm},
      {"GlobalAveragePool", &GraphImporter::importGlobalAveragePool},
      {"HardSigmoid", &GraphImporter::importHardSigmoid},
      {"HardSwish", &GraphImporter::importHardSwish},
      {"Identity", &GraphImporter::importIdentity},
      {"LayerNormalization", &GraphImporter::importLayerNorm},
      {"MatMul", &GraphImporter::importMatMul},
      {"MaxPool", &GraphImporter::importMaxPool},
      {"Mul", &GraphImporter::importMul},
      {"Pad", &GraphImporter::importPad},
      {"ReduceMean", &GraphImporter::importReduceMean},
      {"ReduceSum", &GraphImporter::importReduceMean},
      {"Relu", &GraphImporter::importRelu},
      {"Pow", &GraphImporter::importPow},
      {"Reshape", &GraphImporter::importReshape},
      {"Resize", &GraphImporter::importResize},
      {"Slice", &GraphImporter::importSlice},
      {"Sigmoid", &GraphImporter::importSigmoid},
      {"Softmax", &GraphImporter::importSoftmax},
      {"Split", &GraphImporter::importSplit},
      {"Sqrt", &GraphImporter::importSqrt},
      {"Sub", &GraphImporter::importSub},
      {"Transpose", &GraphImporter::importTranspose},
      {"Upsample", &GraphImporter::importUpsample},
  };
  return table;
}

std::unique_ptr<ir::Module> GraphImporter::run() {
  for (const TensorProto& t : graph_.initializer()) initializers_[t.name()] = &t;
  for (const auto& node : graph_.node())
    for (const std::string& in : node.input()) ++uses_[in];
  for (const auto& out : graph_.output()) ++uses_[out.name()];
  for (DecomposedLayerNorm& p : findDecomposedLayerNorms(graph_, uses_)) {
    inLayerNorm_.insert(p.nodes.begin(), p.nodes.end() - 1);
    layerNorms_[p.nodes.back()] = std::move(p);
  }
  importInputs();
  for (int i = 0; i < graph_.node_size(); ++i) importNode(static_cast<size_t>(i));
  for (const auto& out : graph_.output()) m_->outputs.push_back(operand(out.name()));
  return std::move(m_);
}

std::optional<std::map<std::string, std::vector<int64_t>>> GraphImporter::shapesBeforeUnfolded() {
  for (const TensorProto& t : graph_.initializer()) initializers_[t.name()] = &t;
  importInputs();
  for (int i = 0; i < graph_.node_size(); ++i) {
    const onnx::NodeProto& node = graph_.node(i);
    if (!supports(node)) {
      if (!isFoldableOp(node)) return std::nullopt;
      std::map<std::string, std::vector<int64_t>> shapes;
      for (const auto& [name, value] : values_) shapes[name] = value->type.shape;
      return shapes;
    }
    importNode(static_cast<size_t>(i));
  }
  return std::nullopt;
}

// ---- inputs

// A graph input that is data, typed as the IR has it.
struct DataInput {
  const onnx::ValueInfoProto* proto;
  ir::TensorType type;
};

std::vector<int64_t> inputShape(const onnx::ValueInfoProto& input, bool isImage,
                                const std::string& batchParam, const ImportOptions& options);

// The graph inputs that are data (inputs that have an initializer are weights with a
// default), typed as the IR has them: --batch and --input-shape applied.
std::vector<DataInput> dataInputs(const onnx::GraphProto& graph, const ImportOptions& options) {
  std::set<std::string> initializers;
  for (const TensorProto& t : graph.initializer()) initializers.insert(t.name());
  std::vector<const onnx::ValueInfoProto*> inputs;
  for (const auto& in : graph.input())
    if (!initializers.count(in.name())) inputs.push_back(&in);
  const auto isImage = [](const onnx::ValueInfoProto* in) {
    return in->type().tensor_type().shape().dim_size() == 4;
  };
  const auto images = std::count_if(inputs.begin(), inputs.end(), isImage);
  if (options.batch && *options.batch < 1) throw Error("--batch must be positive");
  if (options.inputShape) {
    const auto& s = *options.inputShape;
    if (s.size() != 3 || std::any_of(s.begin(), s.end(), [](int64_t d) { return d < 1; }))
      throw Error("--input-shape needs three positive numbers C,H,W");
    if (images != 1)
      throw Error("--input-shape needs exactly one 4-D image input; the model has " +
                  std::to_string(images));
  }
  // Other inputs whose dim 0 has the image's symbolic name share its batch.
  std::string batchParam;
  for (const auto* in : inputs)
    if (isImage(in)) batchParam = in->type().tensor_type().shape().dim(0).dim_param();
  std::vector<DataInput> result;
  for (const auto* in : inputs) {
    const auto elem = in->type().tensor_type().elem_type();
    if (elem != TensorProto::FLOAT && elem != TensorProto::INT64)
      throw Error("graph input '" + in->name() + "' has element type " + onnxElemTypeName(elem) +
                  "; lrc supports float and int64 inputs");
    const ir::DType dtype = elem == TensorProto::FLOAT ? ir::DType::F32 : ir::DType::I64;
    result.push_back({in, {dtype, inputShape(*in, isImage(in), batchParam, options)}});
  }
  return result;
}

std::vector<int64_t> inputShape(const onnx::ValueInfoProto& input, bool isImage,
                                const std::string& batchParam, const ImportOptions& options) {
  const std::string what = "graph input '" + input.name() + "'";
  if (!input.type().has_tensor_type() || !input.type().tensor_type().has_shape())
    throw Error(what + " has no tensor shape");
  const auto& dims = input.type().tensor_type().shape().dim();
  std::vector<int64_t> shape;
  for (int i = 0; i < dims.size(); ++i) {
    const auto& d = dims[i];
    const bool batchDim =
        i == 0 && (isImage || (!d.has_dim_value() && d.dim_param() == batchParam));
    if (batchDim) {
      shape.push_back(options.batch ? *options.batch : d.has_dim_value() ? d.dim_value() : 1);
    } else if (isImage && options.inputShape) {
      const int64_t want = (*options.inputShape)[static_cast<size_t>(i) - 1];
      if (i == 1 && d.has_dim_value() && d.dim_value() != want)
        throw Error("--input-shape asks for " + std::to_string(want) + " channels; " + what +
                    " has " + std::to_string(d.dim_value()));
      shape.push_back(want);
    } else if (d.has_dim_value()) {
      shape.push_back(d.dim_value());
    } else {
      throw Error(what + ": dimension " + std::to_string(i) + " ('" + d.dim_param() +
                  "') is unknown; give it with --input-shape");
    }
  }
  if (const std::string problem = ops::sizeProblem(shape); !problem.empty()) {
    std::string flags;
    if (options.batch) flags += " with --batch " + std::to_string(*options.batch);
    if (isImage && options.inputShape) flags += " with --input-shape " + ops::shapeText(*options.inputShape);
    throw Error(what + " has shape " + ops::shapeText(shape) + flags + ": " + problem);
  }
  return shape;
}

void GraphImporter::importInputs() {
  for (const DataInput& in : dataInputs(graph_, options_))
    values_[in.proto->name()] = m_->addInput(in.proto->name(), in.type);
}

// ---- values

// A node of a decomposed LayerNorm waits for the pattern's last node, which imports the pattern
// as one layer_norm, or its nodes one by one when their values do not make one.
void GraphImporter::importNode(size_t index) {
  if (inLayerNorm_.count(index)) return;
  auto it = layerNorms_.find(index);
  if (it == layerNorms_.end()) return importOneNode(index);
  const onnx::NodeProto& proto = graph_.node(static_cast<int>(index));
  const Node tail{proto, nodeOrigin(proto, index)};
  bool fused = false;
  try {
    fused = importDecomposedLayerNorm(it->second, tail);
  } catch (const Error& e) {
    throw Error(nodeContext(proto, tail.origin, opset_) + ": " + e.what());
  }
  if (!fused)
    for (size_t i : it->second.nodes) importOneNode(i);
}

void GraphImporter::importOneNode(size_t index) {
  const onnx::NodeProto& proto = graph_.node(static_cast<int>(index));
  const Node n{proto, nodeOrigin(proto, index)};
  try {
    (this->*handlers().at(proto.op_type()))(n);
  } catch (const Error& e) {
    throw Error(nodeContext(proto, n.origin, opset_) + ": " + e.what());
  }
}

// The IR value for an ONNX name. Initializers and Constant outputs become globals at their
// first use as an operand (so constants folded into attributes, like Reshape's shape, and
// unused initializers never appear): float initializers are trainable parameters, except
// BatchNorm's running statistics, which are state; the rest is constant.
ir::Value* GraphImporter::operand(const std::string& name, bool runningStatistic) {
  ir::ValueKind kind = runningStatistic ? ir::ValueKind::State : ir::ValueKind::Param;
  if (auto it = values_.find(name); it != values_.end()) {
    ir::Value* v = it->second;
    if (runningStatistic && v->kind != ir::ValueKind::State)
      throw Error("'" + name + "' is a BatchNorm running statistic and also used elsewhere, as " +
                  std::string(ir::valueKindKeyword(v->kind)));
    if (!runningStatistic && v->kind == ir::ValueKind::State)
      throw Error("BatchNorm running statistic '" + name +
                  "' is also used as an operand elsewhere");
    return v;
  }
  if (auto it = constants_.find(name); it != constants_.end())
    return addGlobal(name, runningStatistic ? kind : ir::ValueKind::Const, it->second);
  if (auto it = initializers_.find(name); it != initializers_.end()) {
    ConstTensor data = decodeTensor(*it->second, "initializer '" + name + "'");
    return addGlobal(name, data.isFloat() ? kind : ir::ValueKind::Const, std::move(data));
  }
  throw Error("input '" + name + "' is not defined");
}

ir::Value* GraphImporter::addGlobal(const std::string& name, ir::ValueKind kind, ConstTensor data) {
  if (data.elemType != TensorProto::FLOAT && data.elemType != TensorProto::INT64 &&
      data.elemType != TensorProto::INT32)
    throw Error("'" + name + "' has element type " + onnxElemTypeName(data.elemType) +
                "; operands must be float or int64");
  const ir::DType dtype = data.isFloat() ? ir::DType::F32 : ir::DType::I64;
  if (const std::string problem = ops::sizeProblem(data.shape); !problem.empty())
    throw Error("'" + name + "' has shape " + ops::shapeText(data.shape) + ": " + problem);
  ir::Value* v = m_->addGlobal(kind, name, {dtype, data.shape});
  v->floats = std::move(data.floats);
  v->ints = std::move(data.ints);
  values_[name] = v;
  return v;
}

// Inputs the IR turns into attributes must be known at import time.
ConstTensor GraphImporter::constantInput(const std::string& name, const std::string& role) const {
  if (auto it = constants_.find(name); it != constants_.end()) return it->second;
  if (auto it = initializers_.find(name); it != initializers_.end())
    return decodeTensor(*it->second, "initializer '" + name + "'");
  throw Error("the " + role + " input '" + name +
              "' must be a constant (an initializer or a Constant node output)");
}

IntList GraphImporter::constantInts(const std::string& name, const std::string& role) const {
  ConstTensor c = constantInput(name, role);
  if (c.isFloat()) throw Error("the " + role + " input '" + name + "' must hold integers");
  return c.ints;
}

double GraphImporter::constantScalar(const std::string& name, const std::string& role) const {
  ConstTensor c = constantInput(name, role);
  if (c.size() != 1) throw Error("the " + role + " input '" + name + "' must hold one value");
  return c.isFloat() ? widen(c.floats[0]) : static_cast<double>(c.ints[0]);
}

// Appends the op for ONNX output `output` and types its result at once: later ops need it
// (auto_pad, Reshape's 0 and -1).
ir::Value* GraphImporter::emit(const Node& n, ir::OpKind kind, std::vector<ir::Value*> operands,
                               ir::Attrs attrs, int output) {
  const std::string& name = n.proto.output(output);
  ir::Value* v = emitNamed(n, kind, std::move(operands), std::move(attrs), name);
  values_[name] = v;
  return v;
}

// An op of node `n` whose result is `name`: emit's, or a step of a node that the IR spells as
// several ops (an N-D MatMul), which no ONNX name refers to.
ir::Value* GraphImporter::emitNamed(const Node& n, ir::OpKind kind, std::vector<ir::Value*> operands,
                                    ir::Attrs attrs, const std::string& name) {
  ir::Op* op = m_->addOp(kind, std::move(operands), std::move(attrs), {{name, ir::TensorType{}}});
  op->origin = n.origin;
  op->results[0]->type = ir::inferResultTypes(*op).at(0);
  return op->result();
}

// ONNX outputs the IR does not produce (pooling indices, dropout masks, BatchNorm's
// statistics) are fine as long as nothing reads them.
void GraphImporter::requireUnused(const Node& n, int output, const std::string& what) const {
  if (output >= n.proto.output_size()) return;
  const std::string& name = n.proto.output(output);
  if (!name.empty() && uses_.count(name))
    throw Error(what + " '" + name + "' is used, but lrc does not compute it");
}

ir::Value* GraphImporter::rankedOperand(const std::string& name, size_t rank,
                                        const std::string& role, const std::string& note) {
  ir::Value* v = operand(name);
  if (v->type.shape.size() != rank)
    throw Error(role + " '" + name + "' has rank " + std::to_string(v->type.shape.size()) +
                ", expected " + std::to_string(rank) + note);
  return v;
}

// ---- ops

// Conv's and ConvTranspose's 4-D input and weight; kernel_shape, when given, must be the weight's.
GraphImporter::ConvOperands GraphImporter::convOperands(const Node& n, const std::string& only2d) {
  ir::Value* x = rankedOperand(n.in(0), 4, "input X", only2d);
  ir::Value* w = rankedOperand(n.in(1), 4, "weight W", only2d);
  const IntList kernel{w->type.shape[2], w->type.shape[3]};
  const IntList declared = intsAttr(n.proto, "kernel_shape", kernel);
  if (declared != kernel)
    throw Error("kernel_shape " + join(declared) + " does not match the weight's " + join(kernel));
  return {x, w, kernel};
}

void GraphImporter::importConv(const Node& n) {
  const auto [x, w, kernel] = convOperands(n, " (only 2-D convolutions are supported)");
  const Window win = windowAttrs(n.proto, x->type.shape, kernel, true);
  std::vector<ir::Value*> operands{x, w};
  if (n.has(2)) operands.push_back(operand(n.in(2)));
  emit(n, ir::OpKind::Conv2d, std::move(operands),
       {{"dilation", win.dilation},
        {"group", intAttr(n.proto, "group", 1)},
        {"pad", win.pads},
        {"stride", win.stride}});
}

// ConvTranspose's pads: given, or (output_shape, or input * stride under auto_pad SAME_*) the
// ONNX rule total = stride * (in - 1) + output_padding + (k - 1) * dilation + 1 - output,
// split with the odd row at the end under SAME_UPPER, at the start otherwise. A negative end
// pad (an output_shape larger than the natural output) becomes output_padding.
void convTransposePads(const onnx::NodeProto& n, const std::vector<int64_t>& x, const IntList& kernel, Window& w,
                       IntList& outputPadding) {
  const std::string autoPad = stringAttr(n, "auto_pad", "NOTSET");
  if (autoPad != "NOTSET" && autoPad != "VALID" && autoPad != "SAME_UPPER" && autoPad != "SAME_LOWER")
    throw Error("auto_pad '" + autoPad + "' is not NOTSET, SAME_UPPER, SAME_LOWER or VALID");
  IntList output = intsAttr(n, "output_shape", {});
  if (output.size() == 4) output.erase(output.begin(), output.begin() + 2);
  if (!output.empty()) requireLength(output, 2, "output_shape");
  if (output.empty() && (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER"))
    output = {x[2] * w.stride[0], x[3] * w.stride[1]};
  if (output.empty()) {
    w.pads = autoPad == "VALID" ? IntList{0, 0, 0, 0} : intsAttr(n, "pads", {0, 0, 0, 0});
    requireLength(w.pads, 4, "pads");
    return;
  }
  requirePositive(output, "output_shape");
  w.pads.assign(4, 0);
  for (size_t i = 0; i < 2; ++i) {
    const int64_t total = w.stride[i] * (x[i + 2] - 1) + outputPadding[i] + (kernel[i] - 1) * w.dilation[i] + 1 -
                          output[i];
    const int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);  // floor(total / 2)
    w.pads[i] = autoPad == "SAME_UPPER" ? half : total - half;
    w.pads[i + 2] = total - w.pads[i];
    if (w.pads[i + 2] < 0) {
      outputPadding[i] -= w.pads[i + 2];
      w.pads[i + 2] = 0;
    }
    if (w.pads[i] < 0)
      throw Error("output_shape " + join(output) + " needs a negative start pad on axis " + std::to_string(i + 2) +
                  ", which lrc does not support");
  }
}

void GraphImporter::importConvTranspose(const Node& n) {
  const auto [x, w, kernel] = convOperands(n, " (only 2-D transposed convolutions are supported)");
  Window win;
  win.stride = intsAttr(n.proto, "strides", {1, 1});
  win.dilation = intsAttr(n.proto, "dilations", {1, 1});
  IntList outputPadding = intsAttr(n.proto, "output_padding", {0, 0});
  requireLength(win.stride, 2, "strides");
  requireLength(win.dilation, 2, "dilations");
  requireLength(outputPadding, 2, "output_padding");
  requirePositive(win.stride, "strides");
  requirePositive(win.dilation, "dilations");
  convTransposePads(n.proto, x->type.shape, kernel, win, outputPadding);
  std::vector<ir::Value*> operands{x, w};
  if (n.has(2)) operands.push_back(operand(n.in(2)));
  emit(n, ir::OpKind::ConvTranspose2d, std::move(operands),
       {{"dilation", win.dilation},
        {"group", intAttr(n.proto, "group", 1)},
        {"output_padding", outputPadding},
        {"pad", win.pads},
        {"stride", win.stride}});
}

// MaxPool's storage_order only numbers the Indices output, which is rejected when used.
void GraphImporter::importPool(const Node& n, ir::OpKind kind) {
  const bool isMax = kind == ir::OpKind::MaxPool;
  if (isMax) requireUnused(n, 1, "the Indices output");
  ir::Value* x = rankedOperand(n.in(0), 4, "input X", " (only 2-D pooling is supported)");
  const IntList kernel = intsAttr(n.proto, "kernel_shape", {});
  requireLength(kernel, 2, "kernel_shape");
  requirePositive(kernel, "kernel_shape");
  // AveragePool has dilations only from opset 19.
  const Window win = windowAttrs(n.proto, x->type.shape, kernel, isMax);
  ir::Attrs attrs = {{"ceil_mode", intAttr(n.proto, "ceil_mode", 0)},
                     {"kernel", kernel},
                     {"pad", win.pads},
                     {"stride", win.stride}};
  if (isMax)
    attrs["dilation"] = win.dilation;
  else
    attrs["count_include_pad"] = intAttr(n.proto, "count_include_pad", 0);
  emit(n, kind, {x}, std::move(attrs));
}

// Resize (opsets 10-18) and Upsample (opset 9): nearest or linear over H and W of a 4-D map,
// with constant scales or sizes (roi matters only to tf_crop_and_resize, which is refused).
// Upsample and Resize-10 know no coordinate modes: theirs is asymmetric, nearest rounding
// down (ONNX's reference). Opset 18's antialias, axes and keep_aspect_ratio_policy are not
// read: the ONNX checker lrc runs (1.12) knows Resize up to opset 13 and refuses them.
void GraphImporter::importResize(const Node& n) {
  ir::Value* x = rankedOperand(n.in(0), 4, "input X", " (lrc resizes the H and W of NCHW maps)");
  const std::vector<int64_t>& in = x->type.shape;
  const std::string mode = stringAttr(n.proto, "mode", "nearest");
  if (mode != "nearest" && mode != "linear")
    throw Error("mode '" + mode + "' is not supported (only 'nearest' and 'linear')");
  const bool modern = n.proto.op_type() == "Resize" && opset_ >= 11;
  const std::string coord = modern ? stringAttr(n.proto, "coordinate_transformation_mode", "half_pixel") : "asymmetric";
  static const std::map<std::string, ops::ResizeCoord> coords = {{"half_pixel", ops::ResizeCoord::HalfPixel},
                                                                 {"pytorch_half_pixel", ops::ResizeCoord::PytorchHalfPixel},
                                                                 {"align_corners", ops::ResizeCoord::AlignCorners},
                                                                 {"asymmetric", ops::ResizeCoord::Asymmetric}};
  if (!coords.count(coord))
    throw Error("coordinate_transformation_mode '" + coord +
                "' is not supported (only half_pixel, pytorch_half_pixel, align_corners, asymmetric)");
  const std::string nearest = modern ? stringAttr(n.proto, "nearest_mode", "round_prefer_floor") : "floor";
  static const std::map<std::string, ops::ResizeNearest> nearests = {
      {"round_prefer_floor", ops::ResizeNearest::RoundPreferFloor},
      {"round_prefer_ceil", ops::ResizeNearest::RoundPreferCeil},
      {"floor", ops::ResizeNearest::Floor},
      {"ceil", ops::ResizeNearest::Ceil}};
  if (!nearests.count(nearest)) throw Error("nearest_mode '" + nearest + "' is not supported");
  const int scalesInput = modern ? 2 : 1;
  const bool bySizes = modern && n.has(3);
  if (!bySizes && !n.has(scalesInput)) throw Error("neither scales nor sizes is given");
  if (bySizes && n.has(scalesInput)) {
    const ConstTensor scales = constantInput(n.in(scalesInput), "scales");
    if (scales.size() != 0) throw Error("both scales and sizes are given");
  }
  std::vector<double> scale(4, 1.0);
  IntList size = in;
  const ConstTensor given = constantInput(n.in(bySizes ? 3 : scalesInput), bySizes ? "sizes" : "scales");
  if (given.isFloat() == bySizes)
    throw Error(std::string("the ") + (bySizes ? "sizes input must hold integers" : "scales input must hold floats"));
  if (given.size() != 4)
    throw Error(std::string(bySizes ? "sizes " : "scales ") + "has " + std::to_string(given.size()) +
                " values; expected 4 (N, C, H, W)");
  const bool keepsNC = bySizes ? given.ints[0] == in[0] && given.ints[1] == in[1]
                               : given.floats[0] == 1.0f && given.floats[1] == 1.0f;
  if (!keepsNC)
    throw Error(std::string(bySizes ? "sizes" : "scales") + " resize N or C; lrc resizes H and W only");
  for (size_t a = 2; a < 4; ++a) {
    if (bySizes) {
      size[a] = given.ints[a];
      scale[a] = static_cast<double>(size[a]) / static_cast<double>(in[a]);
    } else {
      scale[a] = static_cast<double>(given.floats[a]);  // the f32 value itself, as ONNX's reference
      const double out = std::floor(static_cast<double>(in[a]) * scale[a]);
      if (!(scale[a] > 0) || !(out <= static_cast<double>(ops::kMaxElements)))
        throw Error("scale " + std::to_string(scale[a]) + " of axis " + std::to_string(a) + " is not a positive size");
      size[a] = static_cast<int64_t>(out);
    }
    if (size[a] < 1) throw Error("axis " + std::to_string(a) + " would be resized to " + std::to_string(size[a]));
  }
  emit(n, ir::OpKind::Resize, {x},
       {{"coord", static_cast<int64_t>(coords.at(coord))},
        {"mode", int64_t{mode == "linear"}},
        {"nearest_mode", static_cast<int64_t>(nearests.at(nearest))},
        {"scales", ir::FloatList{scale[2], scale[3]}},
        {"size", IntList{size[2], size[3]}}});
}

void GraphImporter::importPad(const Node& n) {
  const std::string mode = stringAttr(n.proto, "mode", "constant");
  if (mode != "constant") throw Error("mode '" + mode + "' is not supported (only 'constant')");
  ir::Value* x = operand(n.in(0));
  const auto rank = static_cast<int64_t>(x->type.shape.size());
  IntList pads;
  double value = 0.0;
  if (opset_ < 11) {  // pads and value are attributes before opset 11
    pads = intsAttr(n.proto, "pads", {});
    value = floatAttr(n.proto, "value", 0.0);
  } else {
    pads = constantInts(n.in(1), "pads");
    if (n.has(2)) value = constantScalar(n.in(2), "constant_value");
    if (n.has(3)) pads = expandPadAxes(pads, constantInts(n.in(3), "axes"), rank);
  }
  requireLength(pads, 2 * static_cast<size_t>(rank), "pads");
  emit(n, ir::OpKind::Pad, {x}, {{"pads", pads}, {"value", value}});
}

void GraphImporter::importConcat(const Node& n) {
  std::vector<ir::Value*> operands;
  for (const std::string& in : n.proto.input()) operands.push_back(operand(in));
  const auto rank = static_cast<int64_t>(operands.front()->type.shape.size());
  if (!findAttr(n.proto, "axis")) throw Error("attribute 'axis' is required");
  emit(n, ir::OpKind::Concat, std::move(operands), {{"axis", normalizeAxis(intAttr(n.proto, "axis", 0), rank, "axis")}});
}

// ONNX's default perm reverses the axes; the shape rule checks a given one. Channel shuffles
// (reshape, transpose, reshape) become channel_shuffle in canonicalize.
void GraphImporter::importTranspose(const Node& n) {
  ir::Value* x = operand(n.in(0));
  IntList perm;
  for (auto d = static_cast<int64_t>(x->type.shape.size()); d-- > 0;) perm.push_back(d);
  emit(n, ir::OpKind::Transpose, {x}, {{"perm", intsAttr(n.proto, "perm", perm)}});
}

// The IR's slice takes one axis with step 1 (what channel splits and crops export); axes the
// starts and ends leave whole are dropped.
void GraphImporter::importSlice(const Node& n) {
  ir::Value* x = operand(n.in(0));
  IntList starts, ends, steps;
  std::optional<IntList> axes;
  if (opset_ < 10) {  // starts, ends and axes are attributes, and there are no steps
    starts = intsAttr(n.proto, "starts", {});
    ends = intsAttr(n.proto, "ends", {});
    if (findAttr(n.proto, "axes")) axes = intsAttr(n.proto, "axes", {});
  } else {
    starts = constantInts(n.in(1), "starts");
    ends = constantInts(n.in(2), "ends");
    if (n.has(3)) axes = constantInts(n.in(3), "axes");
    if (n.has(4)) steps = constantInts(n.in(4), "steps");
  }
  const IntList& shape = x->type.shape;
  std::vector<SliceAxis> cut;
  for (const SliceAxis& s : resolveSlice(shape, starts, ends, axes, steps)) {
    if (s.step != 1) throw Error("step " + std::to_string(s.step) + " on axis " + std::to_string(s.axis) + " is not supported (only 1)");
    if (s.count < 1) throw Error("the slice of axis " + std::to_string(s.axis) + " is empty");
    if (s.count < shape[static_cast<size_t>(s.axis)]) cut.push_back(s);
  }
  if (cut.empty()) return void(emit(n, ir::OpKind::Identity, {x}));
  if (cut.size() > 1) throw Error("slices " + std::to_string(cut.size()) + " axes; only one axis at a time is supported");
  const SliceAxis& s = cut.front();
  emit(n, ir::OpKind::Slice, {x}, {{"axis", s.axis}, {"start", s.start}, {"end", s.start + s.count}});
}

// One slice per output: sizes from the `split` input (opset 13) or attribute (before), else
// equal parts, one per output. (Opset 18's `num_outputs` does not reach here: the ONNX 1.12
// checker lrc links refuses that attribute.)
void GraphImporter::importSplit(const Node& n) {
  ir::Value* x = operand(n.in(0));
  const auto rank = static_cast<int64_t>(x->type.shape.size());
  const int64_t axis = normalizeAxis(intAttr(n.proto, "axis", 0), rank, "axis");
  const int64_t dim = x->type.shape[static_cast<size_t>(axis)];
  const auto outputs = static_cast<int64_t>(n.proto.output_size());
  IntList sizes;
  if (opset_ >= 13 && n.has(1))
    sizes = constantInts(n.in(1), "split");
  else if (opset_ < 13 && findAttr(n.proto, "split"))
    sizes = intsAttr(n.proto, "split", {});
  if (sizes.empty()) {
    const int64_t each = (dim + outputs - 1) / outputs;
    for (int64_t start = 0; start < dim; start += each) sizes.push_back(std::min(each, dim - start));
  }
  if (static_cast<int64_t>(sizes.size()) != outputs)
    throw Error("splits axis " + std::to_string(axis) + " (" + std::to_string(dim) + ") into " + join(sizes) + ": " +
                std::to_string(sizes.size()) + " parts for " + std::to_string(outputs) + " outputs");
  requirePositive(sizes, "split");
  int64_t start = 0;
  for (int64_t part : sizes) start += part;
  if (start != dim) throw Error("split " + join(sizes) + " does not sum to axis " + std::to_string(axis) + "'s " + std::to_string(dim));
  start = 0;
  for (int i = 0; i < n.proto.output_size(); ++i) {
    const int64_t end = start + sizes[static_cast<size_t>(i)];
    if (!n.proto.output(i).empty())
      emit(n, sizes.size() == 1 ? ir::OpKind::Identity : ir::OpKind::Slice, {x},
           sizes.size() == 1 ? ir::Attrs{} : ir::Attrs{{"axis", axis}, {"start", start}, {"end", end}}, i);
    start = end;
  }
}

void GraphImporter::importHardSigmoid(const Node& n) {
  emit(n, ir::OpKind::HardSigmoid, {operand(n.in(0))},
       {{"alpha", floatAttr(n.proto, "alpha", 0.2)}, {"beta", floatAttr(n.proto, "beta", 0.5)}});
}

// The bounds are attributes before opset 11 and optional constant inputs from it. An absent
// bound is an infinite one in the IR (ONNX's defaults, float's lowest and max, clip nothing
// either).
void GraphImporter::importClip(const Node& n) {
  double lo = -INFINITY, hi = INFINITY;
  if (opset_ < 11) {
    lo = floatAttr(n.proto, "min", lo);
    hi = floatAttr(n.proto, "max", hi);
  } else {
    if (n.has(1)) lo = constantScalar(n.in(1), "min");
    if (n.has(2)) hi = constantScalar(n.in(2), "max");
  }
  emit(n, ir::OpKind::Clip, {operand(n.in(0))}, {{"max", hi}, {"min", lo}});
}

// ReduceMean and ReduceSum (reduce_mean {sum=1}: one op, its sum not divided). `axes` is an
// attribute before opset 18 (ReduceSum: 13) and an input from it; none means every axis (or,
// with noop_with_empty_axes, the identity). The IR's axes are sorted and >= 0.
void GraphImporter::importReduceMean(const Node& n) {
  ir::Value* x = operand(n.in(0));
  const IntList axes = reduceMeanAxes(n, static_cast<int64_t>(x->type.shape.size()));
  if (axes.empty()) {
    emit(n, ir::OpKind::Identity, {x});
    return;
  }
  ir::Attrs attrs = {{"axes", axes}, {"keepdims", intAttr(n.proto, "keepdims", 1) != 0 ? int64_t{1} : int64_t{0}}};
  if (n.proto.op_type() == "ReduceSum") attrs["sum"] = int64_t{1};
  emit(n, ir::OpKind::ReduceMean, {x}, std::move(attrs));
}

// The axes a ReduceMean (ReduceSum) of a rank-`rank` operand reduces, sorted and >= 0; none for
// noop_with_empty_axes (an input from opset 18, ReduceSum's from 13).
IntList GraphImporter::reduceMeanAxes(const Node& n, int64_t rank) const {
  const bool input = opset_ >= (n.proto.op_type() == "ReduceSum" ? 13 : 18);
  IntList axes = !input ? intsAttr(n.proto, "axes", {}) : n.has(1) ? constantInts(n.in(1), "axes") : IntList{};
  if (axes.empty()) {
    if (input && intAttr(n.proto, "noop_with_empty_axes", 0) != 0) return {};
    for (int64_t a = 0; a < rank; ++a) axes.push_back(a);
  }
  for (int64_t& a : axes) a = normalizeAxis(a, rank, "reduce axis");
  std::sort(axes.begin(), axes.end());
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end()) throw Error("axes " + join(axes) + " repeat an axis");
  return axes;
}

// ONNX LayerNormalization (opset 17): over the axes from `axis` on. Its Mean and InvStdDev
// outputs are for its own gradient; lrc recomputes them there.
void GraphImporter::importLayerNorm(const Node& n) {
  requireUnused(n, 1, "the Mean output");
  requireUnused(n, 2, "the InvStdDev output");
  ir::Value* x = operand(n.in(0));
  const int64_t axis = normalizeAxis(intAttr(n.proto, "axis", -1), static_cast<int64_t>(x->type.shape.size()), "axis");
  std::vector<ir::Value*> operands{x, operand(n.in(1))};
  if (n.has(2)) operands.push_back(operand(n.in(2)));
  emit(n, ir::OpKind::LayerNorm, std::move(operands),
       {{"axis", axis}, {"end", static_cast<int64_t>(x->type.shape.size())}, {"epsilon", floatAttr(n.proto, "epsilon", 1e-5)}});
}

// torch's opset-13 LayerNorm (compiler/LayerNormPattern.h) as the layer_norm LayerNormalization
// gives, when both means are over the same trailing axes with keepdims, the exponent is 2, the
// epsilon a constant and scale and bias have the normalized shape; false (nothing emitted)
// otherwise.
bool GraphImporter::importDecomposedLayerNorm(const DecomposedLayerNorm& p, const Node& tail) {
  ir::Value* x = operand(p.x);
  const IntList& shape = x->type.shape;
  const auto rank = static_cast<int64_t>(shape.size());
  const auto nodeAt = [&](size_t i) { return Node{graph_.node(static_cast<int>(i)), ""}; };
  const Node first = nodeAt(p.firstMean), second = nodeAt(p.secondMean);
  const IntList axes = reduceMeanAxes(first, rank);
  if (axes.empty() || reduceMeanAxes(second, rank) != axes || intAttr(first.proto, "keepdims", 1) == 0 ||
      intAttr(second.proto, "keepdims", 1) == 0)
    return false;
  for (size_t i = 0; i < axes.size(); ++i)
    if (axes[i] != rank - static_cast<int64_t>(axes.size() - i)) return false;
  const auto constant = [&](const std::string& name) -> std::optional<double> {
    if (!constants_.count(name) && !initializers_.count(name)) return std::nullopt;
    const ConstTensor c = constantInput(name, "");
    if (c.size() != 1 || !c.isFloat()) return std::nullopt;
    return widen(c.floats[0]);
  };
  const std::optional<double> exponent = constant(p.exponent), epsilon = constant(p.epsilon);
  if (exponent != 2.0 || !epsilon) return false;
  const IntList normalized(shape.end() - static_cast<std::ptrdiff_t>(axes.size()), shape.end());
  ir::Value* scale = operand(p.scale);
  ir::Value* bias = operand(p.bias);
  if (scale->type.shape != normalized || bias->type.shape != normalized) return false;
  emit(tail, ir::OpKind::LayerNorm, {x, scale, bias},
       {{"axis", axes.front()}, {"end", static_cast<int64_t>(x->type.shape.size())}, {"epsilon", *epsilon}});
  return true;
}

// Only a constant scalar exponent (x.pow(2), LayerNorm's decomposed variance): the IR's pow is
// element-wise in x alone.
void GraphImporter::importPow(const Node& n) {
  emit(n, ir::OpKind::Pow, {operand(n.in(0))}, {{"exponent", constantScalar(n.in(1), "exponent")}});
}

void GraphImporter::importBatchNorm(const Node& n) {
  // Opset 14 says training_mode; before it, asking for the statistics outputs means training.
  const auto outputs = std::count_if(n.proto.output().begin(), n.proto.output().end(),
                                     [](const std::string& o) { return !o.empty(); });
  const bool training = opset_ >= 14 ? intAttr(n.proto, "training_mode", 0) != 0 : outputs > 1;
  // The IR updates the running statistics in place (they are state), so ONNX's extra
  // outputs (updated or saved statistics) carry nothing more.
  for (int i = 1; i < n.proto.output_size(); ++i) requireUnused(n, i, "statistics output");
  emit(n, ir::OpKind::BatchNorm,
       {operand(n.in(0)), operand(n.in(1)), operand(n.in(2)), operand(n.in(3), true),
        operand(n.in(4), true)},
       {{"epsilon", floatAttr(n.proto, "epsilon", 1e-5)},
        {"momentum", floatAttr(n.proto, "momentum", 0.9)},
        {"training", int64_t{training}}});
}

void GraphImporter::importFlatten(const Node& n) {
  ir::Value* x = operand(n.in(0));
  const auto rank = static_cast<int64_t>(x->type.shape.size());
  const int64_t axis = normalizeAxis(intAttr(n.proto, "axis", 1), rank, "axis", true);
  emit(n, ir::OpKind::Flatten, {x}, {{"axis", axis}});
}

void GraphImporter::importReshape(const Node& n) {
  ir::Value* x = operand(n.in(0));
  const IntList shape = constantInts(n.in(1), "shape");
  const bool allowZero = intAttr(n.proto, "allowzero", 0) != 0;
  emit(n, ir::OpKind::Reshape, {x}, {{"shape", resolveReshape(x->type.shape, shape, allowZero)}});
}

void GraphImporter::importGemm(const Node& n) {
  std::vector<ir::Value*> operands{rankedOperand(n.in(0), 2, "input A"),
                                   rankedOperand(n.in(1), 2, "input B")};
  if (n.has(2)) operands.push_back(operand(n.in(2)));  // C is optional from opset 11
  emit(n, ir::OpKind::Gemm, std::move(operands),
       {{"alpha", floatAttr(n.proto, "alpha", 1.0)},
        {"beta", floatAttr(n.proto, "beta", 1.0)},
        {"transA", intAttr(n.proto, "transA", 0)},
        {"transB", intAttr(n.proto, "transB", 0)}});
}

// A 2-D A, or an N-D one (rank 3 or 4: a Linear layer on channels-last maps, [N,H,W,C] by
// [C,K]) by a 2-D B. The N-D case is the 2-D matmul of A's rows, spelled as IR ops (reshape to
// [rows, C], matmul, reshape back), so its kernels and gradients are those ops'.
void GraphImporter::importMatMul(const Node& n) {
  const std::string supported = " (MatMul supports A of rank 2, 3 or 4 by a 2-D B)";
  ir::Value* a = operand(n.in(0));
  ir::Value* b = rankedOperand(n.in(1), 2, "input B", supported);
  const size_t rank = a->type.shape.size();
  if (rank == 2) {
    emit(n, ir::OpKind::MatMul, {a, b});
    return;
  }
  if (rank < 2 || rank > 4)
    throw Error("input A '" + n.in(0) + "' has rank " + std::to_string(rank) + supported);
  IntList shape = a->type.shape;
  int64_t rows = 1;
  for (size_t d = 0; d + 1 < rank; ++d) rows *= shape[d];
  const std::string& y = n.proto.output(0);
  ir::Value* a2d = emitNamed(n, ir::OpKind::Reshape, {a}, {{"shape", IntList{rows, shape.back()}}}, y + ".rows");
  ir::Value* y2d = emitNamed(n, ir::OpKind::MatMul, {a2d, b}, {}, y + ".matmul");
  shape.back() = b->type.shape[1];
  emit(n, ir::OpKind::Reshape, {y2d}, {{"shape", shape}});
}

void GraphImporter::importDropout(const Node& n) {
  requireUnused(n, 1, "the mask output");
  double ratio = 0.5;
  int64_t training = 0;
  if (opset_ < 12) {
    // Opsets 7-11 have no training flag: whether Dropout drops is up to the runtime, and the
    // graph is an inference graph, so the IR takes it as inference-only (training=0).
    ratio = floatAttr(n.proto, "ratio", 0.5);
  } else {
    if (n.has(1)) ratio = constantScalar(n.in(1), "ratio");
    if (n.has(2)) training = constantScalar(n.in(2), "training_mode") != 0.0;
  }
  // ONNX leaves an absent seed to the runtime; a fixed 0 keeps runs reproducible.
  emit(n, ir::OpKind::Dropout, {operand(n.in(0))},
       {{"ratio", ratio}, {"seed", intAttr(n.proto, "seed", 0)}, {"training", training}});
}

// torch's eval-mode export merges initializers that happen to hold equal values and
// re-creates the others with Identity (all of VGG-16's zero biases become one). Trained,
// they would be one tied parameter; in PyTorch they are separate. So an Identity of an
// initializer or a Constant is a copy of it, named after the Identity's output.
void GraphImporter::importIdentity(const Node& n) {
  const std::string& out = n.proto.output(0);
  if (auto it = initializers_.find(n.in(0)); it != initializers_.end()) {
    initializers_[out] = it->second;
    return;
  }
  if (auto it = constants_.find(n.in(0)); it != constants_.end()) {
    constants_[out] = it->second;
    return;
  }
  emit(n, ir::OpKind::Identity, {operand(n.in(0))});
}

void GraphImporter::importSoftmax(const Node& n) {
  ir::Value* x = operand(n.in(0));
  const auto rank = static_cast<int64_t>(x->type.shape.size());
  int64_t axis = normalizeAxis(intAttr(n.proto, "axis", opset_ < 13 ? 1 : -1), rank, "axis");
  if (opset_ < 13) {
    if (!isLastAxisSoftmax(x->type.shape, axis))
      throw Error("axis=" + std::to_string(axis) + " on " + x->type.str() +
                  " flattens several axes together (opset < 13 semantics); only a softmax over "
                  "the last axis is supported");
    axis = rank - 1;
  }
  emit(n, ir::OpKind::Softmax, {x}, {{"axis", axis}});
}

void GraphImporter::importConstant(const Node& n) {
  constants_[n.proto.output(0)] = constantNodeValue(n.proto);
}

// Every op type the importer lacks, once, in graph order of first appearance, with its node
// count: "unsupported ops: Concat (3), Resize (1); lrc supports ...". Before folding, foldable
// ops are left out: whether their inputs are constant is not known yet.
void rejectUnsupportedOps(const onnx::GraphProto& graph, bool beforeFolding) {
  std::vector<std::pair<std::string, int>> counts;
  for (const auto& node : graph.node()) {
    if (GraphImporter::supports(node) || (beforeFolding && isFoldableOp(node))) continue;
    const std::string type = opTypeName(node);
    auto it = std::find_if(counts.begin(), counts.end(), [&](const auto& c) { return c.first == type; });
    if (it == counts.end())
      counts.emplace_back(type, 1);
    else
      ++it->second;
  }
  if (counts.empty()) return;
  std::string list;
  for (const auto& [type, count] : counts)
    list += (list.empty() ? "" : ", ") + type + " (" + std::to_string(count) + ")";
  throw Error("unsupported ops: " + list + "; lrc supports " + GraphImporter::supportedList());
}

// Shape arithmetic on constants (torch's Pad pads, Reshape targets) becomes Constant nodes.
// A Shape of a value computed by nodes (torch's x.chunk: Shape, Gather, Div, Slice) folds once
// the nodes before it are imported and give its shape: import up to the first node left
// unfolded, fold again with the shapes found, as long as that folds more.
void foldConstantNodes(onnx::GraphProto& graph, int64_t opset, const ImportOptions& options) {
  std::map<std::string, std::vector<int64_t>> inputShapes;
  for (const DataInput& in : dataInputs(graph, options))
    inputShapes[in.proto->name()] = in.type.shape;
  auto constantNodes = [&] {
    return std::count_if(graph.node().begin(), graph.node().end(),
                         [](const onnx::NodeProto& n) { return n.op_type() == "Constant"; });
  };
  try {
    foldConstants(graph, opset, inputShapes);
    while (auto shapes = GraphImporter(graph, opset, options).shapesBeforeUnfolded()) {
      const auto before = constantNodes();
      foldConstants(graph, opset, inputShapes, *shapes);
      if (constantNodes() == before) break;
    }
  } catch (const FoldError& e) {
    const auto& node = graph.node(e.node());
    throw Error(nodeContext(node, nodeOrigin(node, static_cast<size_t>(e.node())), opset) + ": " +
                e.what());
  }
}

}  // namespace

std::unique_ptr<ir::Module> importOnnx(const std::string& path, const ImportOptions& options) {
  try {
    onnx::ModelProto model = readModel(path);
    const int64_t opset = defaultOpset(model);
    // External data first: the checker would otherwise look for it in the working directory.
    inlineExternalData(*model.mutable_graph(), fs::path(path).parent_path());
    try {
      runChecker(model);
    } catch (const Error&) {
      // It stops at ops it has no schema for (another domain's): the unsupported ops, when
      // there are some, say more. The foldable ones can be judged only after folding.
      rejectUnsupportedOps(model.graph(), /*beforeFolding=*/true);
      throw;
    }
    foldConstantNodes(*model.mutable_graph(), opset, options);
    rejectUnsupportedOps(model.graph(), /*beforeFolding=*/false);
    std::unique_ptr<ir::Module> m = GraphImporter(model.graph(), opset, options).run();
    ir::verifyModule(*m);
    return m;
  } catch (const Error& e) {
    throw Error(path + ": " + oneLine(e.what()));
  }
}

// Parsed straight from the file: a VGG-16 export is half a gigabyte, and a copy of its
// bytes next to the parsed model would be one more. A regular file is mapped and parsed as
// one array, which sizes each initializer's bytes once (from a stream, protobuf grows them
// by doubling: 1.2 GB held for VGG-16's 528 MB); other files (a pipe) are streamed.
void readOnnxModel(const std::string& path, onnx::ModelProto& model) {
  std::error_code ec;
  const std::filesystem::file_type type = std::filesystem::status(path, ec).type();
  if (type == std::filesystem::file_type::not_found) throw ir::Error("the file does not exist");
  if (type == std::filesystem::file_type::directory) throw ir::Error("this is a directory, not an ONNX file");
  if (type == std::filesystem::file_type::regular && std::filesystem::file_size(path, ec) > static_cast<uintmax_t>(INT_MAX))
    throw ir::Error(
        "the file is over 2 GiB, which protobuf cannot parse; save the weights as "
        "external data");
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw ir::Error(std::string("cannot open the file (") + std::strerror(errno) + ")");
  auto cannotRead = [](int error) { return ir::Error(std::string("cannot read the file (") + std::strerror(error) + ")"); };
  bool parsed = false;
  struct stat st {};
  if (type == std::filesystem::file_type::regular && ::fstat(fd, &st) == 0 && st.st_size > 0) {
    const size_t size = static_cast<size_t>(st.st_size);
    void* data = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    const int mapErrno = errno;
    ::close(fd);
    if (data == MAP_FAILED) throw cannotRead(mapErrno);
    parsed = model.ParseFromArray(data, static_cast<int>(size));
    ::munmap(data, size);
  } else {
    google::protobuf::io::FileInputStream stream(fd);
    stream.SetCloseOnDelete(true);
    parsed = model.ParseFromZeroCopyStream(&stream);
    if (stream.GetErrno() != 0) throw cannotRead(stream.GetErrno());
  }
  if (!parsed || !model.has_graph())
    throw ir::Error("not a valid ONNX model (the protobuf does not parse: truncated or not ONNX)");
}

}  // namespace lrc::compiler
