#include "passes/PipelineList.h"

#include <algorithm>
#include <charconv>

namespace lrc::passes {

namespace {

struct Entry {
  int64_t id;
  std::string_view value;  // after '/', or empty when there is none
  bool hasValue;
};

std::optional<int64_t> wholeNumber(std::string_view s) {
  int64_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || n < 0) return std::nullopt;
  return n;
}

std::optional<std::vector<Entry>> entries(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::vector<Entry> list;
  for (size_t begin = 0; begin <= text.size();) {
    size_t end = text.find(':', begin);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view item = text.substr(begin, end - begin);
    const size_t slash = item.find('/');
    const std::optional<int64_t> id = wholeNumber(item.substr(0, slash));
    if (!id) return std::nullopt;
    if (slash == std::string_view::npos) list.push_back({*id, {}, false});
    else list.push_back({*id, item.substr(slash + 1), true});
    begin = end + 1;
  }
  return list;
}

template <class T, class F>
std::string format(const T& items, F text) {
  std::string s;
  for (const auto& item : items) {
    if (!s.empty()) s += ":";
    s += text(item);
  }
  return s;
}

}  // namespace

std::optional<std::vector<int64_t>> parsePipelineIds(std::string_view text) {
  const auto list = entries(text);
  if (!list) return std::nullopt;
  std::vector<int64_t> ids;
  for (const Entry& e : *list) {
    if (e.hasValue) return std::nullopt;
    ids.push_back(e.id);
  }
  return ids;
}

std::optional<RecomputePoints> parseRecomputePoints(std::string_view text) {
  if (text == "none") return RecomputePoints{};
  RecomputePoints points;
  if (text == "all") {
    points.all = true;
    return points;
  }
  const auto ids = parsePipelineIds(text);
  if (!ids) return std::nullopt;
  points.ids = *ids;
  return points;
}

bool parseSegmentCuts(std::string_view text, FuseRowPipelinesOptions& options) {
  if (const std::optional<SegmentCut> cut = parseSegmentCut(text)) {
    options.cut = *cut;
    options.cutPoints.clear();
    return true;
  }
  std::optional<std::vector<int64_t>> ids = parsePipelineIds(text);
  if (!ids) return false;
  std::sort(ids->begin(), ids->end());
  ids->erase(std::unique(ids->begin(), ids->end()), ids->end());
  options.cut = SegmentCut::None;
  options.cutPoints = std::move(*ids);
  return true;
}

std::string formatSegmentCuts(const FuseRowPipelinesOptions& options) {
  return options.cutPoints.empty() ? std::string(name(options.cut)) : formatPipelineIds(options.cutPoints);
}

std::string formatRecomputePoints(const RecomputePoints& points) {
  if (points.all) return "all";
  return points.ids.empty() ? "none" : formatPipelineIds(points.ids);
}

std::optional<std::map<int64_t, int64_t>> parsePipelineCounts(std::string_view text) {
  const auto list = entries(text);
  if (!list) return std::nullopt;
  std::map<int64_t, int64_t> counts;
  for (const Entry& e : *list) {
    const std::optional<int64_t> n = wholeNumber(e.value);
    if (!e.hasValue || !n || *n < 1) return std::nullopt;
    counts[e.id] = *n;
  }
  return counts;
}

std::optional<std::map<int64_t, RowStrategy>> parsePipelineStrategies(std::string_view text) {
  const auto list = entries(text);
  if (!list) return std::nullopt;
  std::map<int64_t, RowStrategy> strategies;
  for (const Entry& e : *list) {
    const std::optional<RowStrategy> strategy = parseRowStrategy(e.value);
    if (!e.hasValue || !strategy) return std::nullopt;
    strategies[e.id] = *strategy;
  }
  return strategies;
}

std::string formatPipelineIds(const std::vector<int64_t>& ids) {
  return format(ids, [](int64_t id) { return std::to_string(id); });
}

std::string formatPipelineCounts(const std::map<int64_t, int64_t>& counts) {
  return format(counts, [](const auto& e) { return std::to_string(e.first) + "/" + std::to_string(e.second); });
}

std::string formatPipelineStrategies(const std::map<int64_t, RowStrategy>& strategies) {
  return format(strategies, [](const auto& e) { return std::to_string(e.first) + "/" + std::string(name(e.second)); });
}

}  // namespace lrc::passes
