#include <sstream>

#include "runtime/plan/Plan.h"

namespace lrc::plan {

namespace {

const char* roleName(Role r) {
  switch (r) {
    case ACTIVATION: return "activation";
    case PARAMETER: return "parameter";
    case GRADIENT: return "gradient";
    case OPTIMIZER_STATE: return "optimizer-state";
    case STATE: return "state";
    case INPUT: return "input";
    case WORKSPACE: return "workspace";
    case CONSTANT: return "constant";
    case ACTIVATION_GRADIENT: return "activation-gradient";
    default: return "?";
  }
}

template <class List, class F>
std::string joined(const List& items, F format, const char* sep = ", ") {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += sep;
    out += format(item);
  }
  return out;
}

std::string attrText(const Attr& a) {
  std::ostringstream os;
  os << a.name() << '=';
  bool list = (a.is_float() ? a.floats_size() : a.ints_size()) != 1;
  if (list) os << '[';
  if (a.is_float()) os << joined(a.floats(), [](double v) { std::ostringstream s; s << v; return s.str(); }, ",");
  else os << joined(a.ints(), [](int64_t v) { return std::to_string(v); }, ",");
  if (list) os << ']';
  return os.str();
}

std::string ref(uint32_t index) {
  std::string s = "#";  // not "#" + string: GCC 12's -Wrestrict false positive (bug 105329)
  return s += std::to_string(index);
}

void printProgram(std::ostream& os, const char* name, const Program& program) {
  os << name << " (" << program.steps_size() << " steps):\n";
  for (const Step& s : program.steps()) {
    os << "  " << joined(s.outputs(), ref) << (s.outputs_size() ? " = " : "") << s.kernel() << '('
       << joined(s.inputs(), ref) << ')';
    if (s.attrs_size()) os << " {" << joined(s.attrs(), attrText) << '}';
    if (s.scratch() >= 0) os << " scratch " << ref(static_cast<uint32_t>(s.scratch()));
    if (!s.origin().empty()) os << "  // " << s.origin();
    os << '\n';
  }
}

}  // namespace

std::string optimizerText(const Optimizer& o, bool planText) {
  std::ostringstream os;
  os << ops::info(optimizerOf(o.kind())).name << (planText ? "" : ":");
  const char* separator = " ";
  // A field as "key=value" (plan text) or "words value".
  auto field = [&](const char* key, const char* words, double value) {
    os << separator << (planText ? key : words) << (planText ? "=" : " ") << value;
    separator = planText ? " " : ", ";
  };
  field("lr", "lr", o.lr());
  if (o.kind() == ADAMW) {
    field("beta1", "beta1", o.beta1());
    field("beta2", "beta2", o.beta2());
    field("eps", "eps", o.eps());
  } else {
    field("momentum", "momentum", o.momentum());
    if (o.nesterov()) os << (planText ? " nesterov=1" : ", nesterov");
  }
  field("weight_decay", "weight decay", o.weight_decay());
  return os.str();
}

std::string bufferType(const Buffer& b) {
  return std::string(b.dtype() == F32 ? "f32" : "i64") + '[' +
         joined(b.shape(), [](int64_t d) { return std::to_string(d); }, ",") + ']';
}

std::string bandText(const Buffer& b) {
  if (b.height() <= 0 || b.shape_size() < 3) return "";
  std::string text = " rows [";
  return text.append(std::to_string(b.row0()))
      .append(",")
      .append(std::to_string(b.row0() + b.shape(2)))
      .append(") of ")
      .append(std::to_string(b.height()));
}

std::string printPlan(const Plan& p) {
  std::ostringstream os;
  const MemoryReport& m = p.memory();
  os << "plan v" << p.version() << " model \"" << p.model_name() << "\" strategy " << p.strategy()
     << '\n'
     << "arena " << p.arena_bytes() << " bytes: parameters " << m.parameters() << ", gradients "
     << m.gradients() << ", optimizer-state " << m.optimizer_state() << ", activations "
     << m.activations() << ", activation-gradients " << m.activation_gradients() << ", workspace "
     << m.workspace() << ", state " << m.state() << ", inputs " << m.inputs() << '\n'
     << "optimizer " << optimizerText(p.optimizer(), /*planText=*/true) << '\n'
     << "io image=" << ref(p.io().image()) << " labels=" << ref(p.io().labels())
     << " loss=" << ref(p.io().loss()) << " logits=" << ref(p.io().logits())
     << " eval_logits=" << ref(p.io().eval_logits()) << '\n';
  os << "buffers (" << p.buffers_size() << "):\n";
  for (int i = 0; i < p.buffers_size(); ++i) {
    const Buffer& b = p.buffers(i);
    os << "  " << ref(static_cast<uint32_t>(i)) << ' ' << b.name() << " : " << bufferType(b) << bandText(b) << " at "
       << b.offset() << " size " << b.bytes() << ' ' << roleName(b.role());
    if (!b.onnx_name().empty() && b.onnx_name() != b.name()) os << " onnx \"" << b.onnx_name() << '"';
    os << '\n';
  }
  printProgram(os, "train", p.train());
  printProgram(os, "eval", p.eval());
  uint64_t initBytes = 0;
  int zeroed = 0;
  for (const Init& init : p.inits()) {
    initBytes += init.bytes();
    zeroed += init.bytes() == 0;
  }
  os << "inits: " << p.inits_size() << " buffers, " << initBytes << " bytes from the weights section, " << zeroed
     << " zero-filled\n";
  os << "onnx model: " << p.onnx_model().size() << " bytes without initializer data\n";
  return os.str();
}

}  // namespace lrc::plan
