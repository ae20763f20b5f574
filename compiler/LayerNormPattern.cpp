// The wiring of torch's opset-13 LayerNorm: compiler/LayerNormPattern.h.
#include "compiler/LayerNormPattern.h"

#include <algorithm>
#include <optional>

namespace lrc::compiler {
namespace {

class Matcher {
 public:
  Matcher(const onnx::GraphProto& graph, const std::map<std::string, int>& uses) : graph_(graph), uses_(uses) {
    for (int i = 0; i < graph.node_size(); ++i)
      for (const std::string& out : graph.node(i).output()) producer_[out] = static_cast<size_t>(i);
  }

  // The pattern ending at node `tail`, if it is one.
  std::optional<DecomposedLayerNorm> match(size_t tail) const {
    const onnx::NodeProto& add = node(tail);
    if (add.op_type() != "Add" || add.input_size() != 2) return std::nullopt;
    for (int order = 0; order < 2; ++order) {
      DecomposedLayerNorm p;
      p.bias = add.input(1 - order);
      if (auto mul = binaryOf(add.input(order), "Mul", 1))
        for (int mulOrder = 0; mulOrder < 2; ++mulOrder) {
          p.scale = node(*mul).input(1 - mulOrder);
          if (matchNormalized(node(*mul).input(mulOrder), p)) {
            p.nodes.push_back(*mul);
            p.nodes.push_back(tail);
            std::sort(p.nodes.begin(), p.nodes.end());
            return p;
          }
        }
    }
    return std::nullopt;
  }

 private:
  const onnx::GraphProto& graph_;
  const std::map<std::string, int>& uses_;
  std::map<std::string, size_t> producer_;

  const onnx::NodeProto& node(size_t i) const { return graph_.node(static_cast<int>(i)); }

  // The node of type `op` with `inputs` inputs whose only output is `name`, read `uses` times.
  std::optional<size_t> producedBy(const std::string& name, const std::string& op, int inputs, int uses) const {
    auto it = producer_.find(name);
    auto count = uses_.find(name);
    if (it == producer_.end() || count == uses_.end() || count->second != uses) return std::nullopt;
    const onnx::NodeProto& n = node(it->second);
    if (n.op_type() != op || n.input_size() < inputs || n.output_size() != 1) return std::nullopt;
    return it->second;
  }
  std::optional<size_t> binaryOf(const std::string& name, const std::string& op, int uses) const {
    auto i = producedBy(name, op, 2, uses);
    if (i && node(*i).input_size() != 2) return std::nullopt;
    return i;
  }

  // n = Div(d, Sqrt(Add(ReduceMean(Pow(d, exponent)), eps))), d = Sub(x, ReduceMean(x)).
  bool matchNormalized(const std::string& n, DecomposedLayerNorm& p) const {
    auto div = binaryOf(n, "Div", 1);
    if (!div) return false;
    const std::string& d = node(*div).input(0);
    auto sub = binaryOf(d, "Sub", 2);
    auto sqrt = producedBy(node(*div).input(1), "Sqrt", 1, 1);
    if (!sub || !sqrt) return false;
    p.x = node(*sub).input(0);
    auto mean = producedBy(node(*sub).input(1), "ReduceMean", 1, 1);
    if (!mean || node(*mean).input(0) != p.x) return false;
    auto eps = binaryOf(node(*sqrt).input(0), "Add", 1);
    if (!eps) return false;
    for (int order = 0; order < 2; ++order) {
      auto var = producedBy(node(*eps).input(order), "ReduceMean", 1, 1);
      if (!var) continue;
      auto pow = binaryOf(node(*var).input(0), "Pow", 1);
      if (!pow || node(*pow).input(0) != d) continue;
      p.epsilon = node(*eps).input(1 - order);
      p.exponent = node(*pow).input(1);
      p.firstMean = *mean;
      p.secondMean = *var;
      p.nodes = {*mean, *sub, *pow, *var, *eps, *sqrt, *div};
      return true;
    }
    return false;
  }
};

}  // namespace

std::vector<DecomposedLayerNorm> findDecomposedLayerNorms(const onnx::GraphProto& graph,
                                                          const std::map<std::string, int>& uses) {
  const Matcher matcher(graph, uses);
  std::vector<DecomposedLayerNorm> found;
  for (int i = 0; i < graph.node_size(); ++i)
    if (auto p = matcher.match(static_cast<size_t>(i))) found.push_back(std::move(*p));
  return found;
}

}  // namespace lrc::compiler
