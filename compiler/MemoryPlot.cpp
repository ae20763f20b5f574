#include "compiler/MemoryPlot.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <vector>

#include "compiler/EmitPlan.h"
#include "compiler/MemoryRoles.h"
#include "compiler/Svg.h"
#include "ir/Liveness.h"

namespace lrc::compiler {

namespace {

// The picture's unit: MiB, or KiB for an arena under 1 MiB (small test models).
struct Unit {
  const char* name;
  double bytes;
};
Unit unitFor(int64_t peak) { return peak >= (1 << 20) ? Unit{"MiB", 1 << 20} : Unit{"KiB", 1 << 10}; }

// What the picture colours: the plan roles (compiler/MemoryRoles.h) a reader tells apart,
// and the strips of row pipelines.
enum class Category {
  Parameters,
  OptimizerState,
  InputsAndState,
  KeptActivations,
  Strips,
  ActivationGradients,
  ParameterGradients,
  Workspace,
};
constexpr size_t kCategories = 8;

struct CategoryStyle {
  const char* key;     // data-category
  const char* legend;
  const char* colour;
};
constexpr std::array<CategoryStyle, kCategories> kStyles = {{
    {"parameters", "parameters", "#4e79a7"},
    {"optimizer-state", "optimizer state", "#9c755f"},
    {"inputs-state", "inputs, BatchNorm state", "#bab0ac"},
    {"kept-activations", "kept activations", "#59a14f"},
    {"strips", "row strips (band buffers)", "#f28e2b"},
    {"activation-gradients", "activation gradients", "#b07aa1"},
    {"parameter-gradients", "parameter gradients", "#ff9da7"},
    {"workspace", "workspace, scratch", "#edc948"},
}};
constexpr const char* kPeakColour = "#d62728";

Category categoryOf(const ir::LiveBuffer& b, plan::Role role) {
  if (b.value && ir::bandOf(*b.value)) return Category::Strips;  // whatever the strip holds
  if (role == plan::PARAMETER || role == plan::CONSTANT) return Category::Parameters;
  if (role == plan::OPTIMIZER_STATE) return Category::OptimizerState;
  if (role == plan::INPUT || role == plan::STATE) return Category::InputsAndState;
  if (role == plan::ACTIVATION) return Category::KeptActivations;
  if (role == plan::ACTIVATION_GRADIENT) return Category::ActivationGradients;
  if (role == plan::GRADIENT) return Category::ParameterGradients;
  return Category::Workspace;
}

std::string sizeText(double bytes, Unit unit, int decimals) {
  char text[48];
  std::snprintf(text, sizeof text, "%.*f %s", decimals, bytes / unit.bytes, unit.name);
  return text;
}

// A tick step of 1, 2 or 5 times a power of ten that cuts `range` into at most `ticks` parts.
double tickStep(double range, int ticks) {
  const double power = std::pow(10.0, std::floor(std::log10(range / ticks)));
  for (const double m : {1.0, 2.0, 5.0})
    if (range / (power * m) <= ticks) return power * m;
  return power * 10;
}

// Decimals that tell ticks `step` apart.
int decimalsFor(double step) { return std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9))); }

// Where things go: the plot area in pixels, and its scales.
struct Frame {
  Unit unit{"MiB", 1 << 20};
  double left = 96, top = 64, width = 760, height = 480;
  double legendWidth = 330, bottomMargin = 64;
  double ops = 1;       // x: ops [0, ops)
  double topBytes = 1;  // y: bytes [0, topBytes]

  double x(double op) const { return left + width * op / ops; }
  double y(double bytes) const { return top + height * (1 - bytes / topBytes); }
  double right() const { return left + width; }
  double bottom() const { return top + height; }
};

// The buffers with their roles, the op where the picture marks the peak, and the bytes of
// each category live there.
struct Arena {
  std::vector<ir::LiveBuffer> buffers;
  std::vector<Category> categories;
  int64_t peak = 0;    // the highest placed byte + 1: the training program's arena
  int64_t peakOp = 0;  // where the arena is fullest while a buffer reaching the peak is live
  std::array<int64_t, kCategories> atPeak{};
  int64_t liveAtPeak = 0;
};

int64_t firstOp(const ir::LiveBuffer& b) { return std::max<int64_t>(b.first, 0); }
int64_t lastOp(const ir::LiveBuffer& b, int64_t ops) { return std::min<int64_t>(b.last, ops - 1); }

Arena measure(const ir::Module& train) {
  Arena a;
  a.buffers = ir::liveBuffers(train);
  const std::vector<plan::Role> roles = liveBufferRoles(train, a.buffers, lossIndex(train) + 1);
  const int64_t ops = static_cast<int64_t>(train.ops.size());
  std::vector<int64_t> change(static_cast<size_t>(ops) + 1, 0);  // live bytes, as differences
  for (size_t i = 0; i < a.buffers.size(); ++i) {
    const ir::LiveBuffer& b = a.buffers[i];
    a.categories.push_back(categoryOf(b, roles[i]));
    if (b.offset < 0) continue;
    a.peak = std::max(a.peak, b.offset + b.bytes);
    change[static_cast<size_t>(firstOp(b))] += b.bytes;
    change[static_cast<size_t>(lastOp(b, ops) + 1)] -= b.bytes;
  }
  std::vector<int64_t> live(static_cast<size_t>(ops), 0);
  for (int64_t t = 0, sum = 0; t < ops; ++t) live[static_cast<size_t>(t)] = sum += change[static_cast<size_t>(t)];
  int64_t best = -1;
  for (const ir::LiveBuffer& b : a.buffers) {
    if (b.offset < 0 || b.offset + b.bytes != a.peak) continue;
    for (int64_t t = firstOp(b); t <= lastOp(b, ops); ++t)
      if (live[static_cast<size_t>(t)] > best || (live[static_cast<size_t>(t)] == best && t < a.peakOp)) {
        best = live[static_cast<size_t>(t)];
        a.peakOp = t;
      }
  }
  a.liveAtPeak = std::max<int64_t>(best, 0);
  for (size_t i = 0; i < a.buffers.size(); ++i) {
    const ir::LiveBuffer& b = a.buffers[i];
    if (b.offset >= 0 && firstOp(b) <= a.peakOp && a.peakOp <= lastOp(b, ops))
      a.atPeak[static_cast<size_t>(a.categories[i])] += b.bytes;
  }
  return a;
}

void drawAxes(SvgWriter& svg, const Frame& f) {
  const SvgAttrs axisLine = {{"stroke", "#333333"}, {"stroke-width", "1"}};
  svg.open("g", {{"font-size", "12"}, {"fill", "#333333"}});
  const double yStep = tickStep(f.topBytes / f.unit.bytes, 8);
  const int yDecimals = decimalsFor(yStep);
  for (int i = 0; i * yStep * f.unit.bytes <= f.topBytes * (1 + 1e-9); ++i) {
    const double y = f.y(i * yStep * f.unit.bytes);
    svg.element("line", {{"x1", svgNumber(f.left)}, {"y1", svgNumber(y)}, {"x2", svgNumber(f.right())},
                         {"y2", svgNumber(y)}, {"stroke", "#e6e6e6"}, {"stroke-width", "1"}});
    char label[32];
    std::snprintf(label, sizeof label, "%.*f", yDecimals, i * yStep);
    svg.element("text", {{"x", svgNumber(f.left - 8)}, {"y", svgNumber(y + 4)}, {"text-anchor", "end"}}, label);
  }
  const double xStep = std::max(1.0, tickStep(f.ops, 10));
  for (int i = 0; i * xStep <= f.ops; ++i) {
    const double x = f.x(i * xStep);
    svg.element("line", {{"x1", svgNumber(x)}, {"y1", svgNumber(f.bottom())}, {"x2", svgNumber(x)},
                         {"y2", svgNumber(f.bottom() + 5)}, {"stroke", "#333333"}, {"stroke-width", "1"}});
    svg.element("text", {{"x", svgNumber(x)}, {"y", svgNumber(f.bottom() + 19)}, {"text-anchor", "middle"}},
                std::to_string(static_cast<int64_t>(i * xStep)));
  }
  SvgAttrs left = axisLine, bottom = axisLine;
  left.insert(left.end(), {{"x1", svgNumber(f.left)}, {"y1", svgNumber(f.top)}, {"x2", svgNumber(f.left)},
                           {"y2", svgNumber(f.bottom())}});
  bottom.insert(bottom.end(), {{"x1", svgNumber(f.left)}, {"y1", svgNumber(f.bottom())}, {"x2", svgNumber(f.right())},
                               {"y2", svgNumber(f.bottom())}});
  svg.element("line", left);
  svg.element("line", bottom);
  svg.element("text",
              {{"x", svgNumber(f.left + f.width / 2)}, {"y", svgNumber(f.bottom() + 42)}, {"text-anchor", "middle"},
               {"font-size", "13"}},
              "op index in program order (forward, loss, backward, updates)");
  const double cy = f.top + f.height / 2;
  svg.element("text",
              {{"x", svgNumber(f.left - 62)}, {"y", svgNumber(cy)}, {"text-anchor", "middle"}, {"font-size", "13"},
               {"transform", "rotate(-90 " + svgNumber(f.left - 62) + " " + svgNumber(cy) + ")"}},
              std::string("arena offset (") + f.unit.name + ")");
  svg.close();
}

// One rectangle per buffer, over the ops it is live at and the bytes it occupies, grouped
// by category (program order inside a group).
void drawBuffers(SvgWriter& svg, const Frame& f, const Arena& a) {
  const int64_t ops = static_cast<int64_t>(f.ops);
  for (size_t c = 0; c < kCategories; ++c) {
    svg.open("g", {{"data-category", kStyles[c].key}, {"fill", kStyles[c].colour}, {"stroke", "#ffffff"},
                   {"stroke-width", "0.3"}});
    for (size_t i = 0; i < a.buffers.size(); ++i) {
      const ir::LiveBuffer& b = a.buffers[i];
      if (static_cast<size_t>(a.categories[i]) != c || b.offset < 0 || b.bytes == 0) continue;
      const int64_t first = firstOp(b), last = lastOp(b, ops);
      const double x0 = f.x(static_cast<double>(first)), x1 = f.x(static_cast<double>(last + 1));
      const double y0 = f.y(static_cast<double>(b.offset + b.bytes)), y1 = f.y(static_cast<double>(b.offset));
      svg.open("rect", {{"x", svgNumber(x0)},
                        {"y", svgNumber(y0)},
                        {"width", svgNumber(x1 - x0)},
                        {"height", svgNumber(y1 - y0)},
                        {"data-category", kStyles[c].key},
                        {"data-offset", std::to_string(b.offset)},
                        {"data-bytes", std::to_string(b.bytes)},
                        {"data-first", std::to_string(first)},
                        {"data-last", std::to_string(last)}});
      svg.element("title", {},
                  b.describe() + ": " + kStyles[c].legend + ", " + std::to_string(b.bytes) + " bytes at offset " +
                      std::to_string(b.offset) + ", ops " + std::to_string(first) + "-" + std::to_string(last));
      svg.close();
    }
    svg.close();
  }
}

std::string peakLabel(const ir::Module& train, const Arena& a, Unit unit) {
  return "peak " + sizeText(static_cast<double>(a.peak), unit, 2) + " (" + std::to_string(a.peak) + " bytes) at op " +
         std::to_string(a.peakOp) + ": " + train.ops[static_cast<size_t>(a.peakOp)]->describe();
}

void drawPeak(SvgWriter& svg, const Frame& f, const ir::Module& train, const Arena& a) {
  const double y = f.y(static_cast<double>(a.peak));
  const double x = f.x(static_cast<double>(a.peakOp) + 0.5);
  svg.open("g", {{"data-mark", "peak"}, {"stroke", kPeakColour}, {"stroke-width", "1.5"}, {"stroke-dasharray", "6 3"}});
  svg.element("line", {{"x1", svgNumber(f.left)}, {"y1", svgNumber(y)}, {"x2", svgNumber(f.right())}, {"y2", svgNumber(y)}});
  svg.element("line", {{"x1", svgNumber(x)}, {"y1", svgNumber(y)}, {"x2", svgNumber(x)}, {"y2", svgNumber(f.bottom())}});
  svg.close();
  svg.element("text",
              {{"data-mark", "peak-label"}, {"x", svgNumber(f.left + 6)}, {"y", svgNumber(y - 7)},
               {"font-size", "13"}, {"font-weight", "bold"}, {"fill", kPeakColour}},
              peakLabel(train, a, f.unit));
}

// Where the backward starts: a thin line at the loss.
void drawLoss(SvgWriter& svg, const Frame& f, const ir::Module& train) {
  const double x = f.x(static_cast<double>(lossIndex(train)) + 0.5);
  svg.element("line", {{"x1", svgNumber(x)}, {"y1", svgNumber(f.top)}, {"x2", svgNumber(x)},
                       {"y2", svgNumber(f.bottom())}, {"stroke", "#777777"}, {"stroke-width", "1"}});
  svg.element("text",
              {{"x", svgNumber(x)}, {"y", svgNumber(f.top - 4)}, {"text-anchor", "middle"}, {"font-size", "11"},
               {"fill", "#555555"}},
              "loss");
}

void drawLegend(SvgWriter& svg, const Frame& f, const Arena& a) {
  const double x = f.right() + 24;
  double y = f.top + 4;
  svg.open("g", {{"font-size", "12"}, {"fill", "#333333"}});
  svg.element("text", {{"x", svgNumber(x)}, {"y", svgNumber(y + 10)}, {"font-weight", "bold"}},
              "live at the peak op: " + sizeText(static_cast<double>(a.liveAtPeak), f.unit, 2));
  y += 24;
  for (size_t c = 0; c < kCategories; ++c) {
    const bool present = std::find(a.categories.begin(), a.categories.end(), static_cast<Category>(c)) !=
                         a.categories.end();
    if (!present) continue;
    svg.element("rect", {{"x", svgNumber(x)}, {"y", svgNumber(y)}, {"width", "14"}, {"height", "14"},
                         {"fill", kStyles[c].colour}});
    svg.element("text", {{"x", svgNumber(x + 22)}, {"y", svgNumber(y + 11)}, {"data-legend", kStyles[c].key}},
                std::string(kStyles[c].legend) + ": " + sizeText(static_cast<double>(a.atPeak[c]), f.unit, 2));
    y += 22;
  }
  svg.element("line", {{"x1", svgNumber(x)}, {"y1", svgNumber(y + 7)}, {"x2", svgNumber(x + 14)},
                       {"y2", svgNumber(y + 7)}, {"stroke", kPeakColour}, {"stroke-width", "1.5"},
                       {"stroke-dasharray", "6 3"}});
  svg.element("text", {{"x", svgNumber(x + 22)}, {"y", svgNumber(y + 11)}}, "the peak: the arena's top");
  svg.close();
}

}  // namespace

std::string memoryPlotSvg(const ir::Module& train, const std::string& title, int64_t planArenaBytes) {
  const Arena a = measure(train);
  Frame f;
  f.unit = unitFor(a.peak);
  f.ops = static_cast<double>(std::max<size_t>(train.ops.size(), 1));
  const double headroom = std::max(static_cast<double>(a.peak) * 1.08, 1.0);
  const double stepBytes = tickStep(headroom / f.unit.bytes, 8) * f.unit.bytes;
  f.topBytes = std::ceil(headroom / stepBytes) * stepBytes;

  SvgWriter svg(f.right() + f.legendWidth, f.bottom() + f.bottomMargin,
                {{"font-family", "sans-serif"},
                 {"data-peak-bytes", std::to_string(a.peak)},
                 {"data-peak-op", std::to_string(a.peakOp)},
                 {"data-ops", std::to_string(train.ops.size())},
                 {"data-arena-bytes", std::to_string(planArenaBytes)}});
  svg.element("rect", {{"width", "100%"}, {"height", "100%"}, {"fill", "#ffffff"}});
  svg.element("text", {{"x", svgNumber(f.left)}, {"y", "22"}, {"font-size", "15"}, {"font-weight", "bold"}}, title);
  std::string subtitle = "the training step's arena: each rectangle is a buffer, live over its ops at its place";
  if (planArenaBytes > a.peak)
    subtitle += "; the evaluation step needs more: " + sizeText(static_cast<double>(planArenaBytes), f.unit, 2) + " (" +
                std::to_string(planArenaBytes) + " bytes), the plan's arena";
  svg.element("text", {{"x", svgNumber(f.left)}, {"y", "40"}, {"font-size", "12"}, {"fill", "#555555"}}, subtitle);
  drawAxes(svg, f);
  drawBuffers(svg, f, a);
  drawLoss(svg, f, train);
  drawPeak(svg, f, train, a);
  drawLegend(svg, f, a);
  return svg.finish();
}

}  // namespace lrc::compiler
