// A small SVG writer (no dependencies): elements with attributes and escaped text, numbers
// printed short and locale-free, so that pictures lrc draws (compiler/MemoryPlot.h) are plain
// XML any viewer or xml parser reads.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lrc::compiler {

using SvgAttrs = std::vector<std::pair<std::string, std::string>>;

// A coordinate or length: at most two decimals, no trailing zeros ("12.5", "3", "-0.25").
std::string svgNumber(double x);

// Text and attribute values with &, <, >, " and ' escaped.
std::string xmlEscape(std::string_view text);

class SvgWriter {
 public:
  // The root <svg> element: width and height in pixels (also the viewBox), then `attrs`.
  SvgWriter(double width, double height, const SvgAttrs& attrs = {});

  // <name attrs/>, or <name attrs>text</name> when `text` is not empty.
  void element(std::string_view name, const SvgAttrs& attrs, std::string_view text = {});
  // <name attrs> ... close(): for groups and for elements with children (a <title>).
  void open(std::string_view name, const SvgAttrs& attrs = {});
  void close();

  // The document, every open element closed.
  std::string finish();

 private:
  void start(std::string_view name, const SvgAttrs& attrs);
  std::string out_;
  std::vector<std::string> open_;
};

}  // namespace lrc::compiler
