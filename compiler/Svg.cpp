#include "compiler/Svg.h"

#include <cmath>
#include <cstdio>

namespace lrc::compiler {

std::string svgNumber(double x) {
  const double rounded = std::round(x * 100) / 100;
  char text[48];
  std::snprintf(text, sizeof text, "%.2f", rounded == 0 ? 0.0 : rounded);  // no "-0.00"
  std::string s = text;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

std::string xmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

SvgWriter::SvgWriter(double width, double height, const SvgAttrs& attrs) {
  out_ = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  SvgAttrs root = {{"xmlns", "http://www.w3.org/2000/svg"},
                   {"width", svgNumber(width)},
                   {"height", svgNumber(height)},
                   {"viewBox", "0 0 " + svgNumber(width) + " " + svgNumber(height)}};
  root.insert(root.end(), attrs.begin(), attrs.end());
  open("svg", root);
}

void SvgWriter::start(std::string_view name, const SvgAttrs& attrs) {
  out_ += std::string(open_.size() * 2, ' ') + "<" + std::string(name);
  for (const auto& [key, value] : attrs) out_ += " " + key + "=\"" + xmlEscape(value) + "\"";
}

void SvgWriter::element(std::string_view name, const SvgAttrs& attrs, std::string_view text) {
  start(name, attrs);
  if (text.empty()) {
    out_ += "/>\n";
    return;
  }
  out_ += '>';
  out_ += xmlEscape(text);
  out_ += "</";
  out_ += name;
  out_ += ">\n";
}

void SvgWriter::open(std::string_view name, const SvgAttrs& attrs) {
  start(name, attrs);
  out_ += ">\n";
  open_.emplace_back(name);
}

void SvgWriter::close() {
  const std::string name = open_.back();
  open_.pop_back();
  out_ += std::string(open_.size() * 2, ' ') + "</" + name + ">\n";
}

std::string SvgWriter::finish() {
  while (!open_.empty()) close();
  return std::move(out_);
}

}  // namespace lrc::compiler
