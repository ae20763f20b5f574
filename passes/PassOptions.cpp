#include "passes/PassOptions.h"

#include <initializer_list>

namespace lrc::passes {

namespace {

// The value among `values` whose name is `text`.
template <class E>
std::optional<E> named(std::initializer_list<E> values, std::string_view text) {
  for (E v : values)
    if (name(v) == text) return v;
  return std::nullopt;
}

}  // namespace

std::string_view name(RowStrategy strategy) {
  switch (strategy) {
    case RowStrategy::TwoPS: return "2ps";
    case RowStrategy::OverL: return "overl";
  }
  return "";
}

std::string_view name(BatchNormMode mode) {
  switch (mode) {
    case BatchNormMode::Exact: return "exact";
    case BatchNormMode::Frozen: return "frozen";
    case BatchNormMode::Strip: return "strip";
  }
  return "";
}

std::string_view name(SegmentCut cut) {
  switch (cut) {
    case SegmentCut::None: return "none";
    case SegmentCut::Downsample: return "downsample";
  }
  return "";
}

std::string_view name(RematMode mode) {
  switch (mode) {
    case RematMode::None: return "none";
    case RematMode::Elementwise: return "elementwise";
    case RematMode::Blocks: return "blocks";
  }
  return "";
}

std::optional<RematMode> parseRematMode(std::string_view text) {
  return named({RematMode::None, RematMode::Elementwise, RematMode::Blocks}, text);
}

std::optional<RowStrategy> parseRowStrategy(std::string_view text) {
  return named({RowStrategy::TwoPS, RowStrategy::OverL}, text);
}

std::optional<BatchNormMode> parseBatchNormMode(std::string_view text) {
  return named({BatchNormMode::Exact, BatchNormMode::Frozen, BatchNormMode::Strip}, text);
}

std::string_view name(ConvScratch s) {
  switch (s) {
    case ConvScratch::Im2col: return "im2col";
    case ConvScratch::Dnnl: return "dnnl";
    case ConvScratch::Winograd: return "winograd";
  }
  return "";
}

std::optional<ConvScratch> parseConvScratch(std::string_view text) {
  return named({ConvScratch::Im2col, ConvScratch::Dnnl, ConvScratch::Winograd}, text);
}

std::optional<SegmentCut> parseSegmentCut(std::string_view text) {
  return named({SegmentCut::None, SegmentCut::Downsample}, text);
}

}  // namespace lrc::passes
