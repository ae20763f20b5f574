#include "ir/Printer.h"

#include <charconv>
#include <cmath>
#include <sstream>

namespace lrc::ir {

namespace {

bool isBareNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '_' || c == '.';
}

bool isBareName(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!isBareNameChar(c)) return false;
  return true;
}

// Attribute keys are lexed as identifiers, which cannot start with a digit.
bool isBareKey(std::string_view s) {
  return isBareName(s) && !(s[0] >= '0' && s[0] <= '9');
}

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + '"';
}

std::string nameText(std::string_view s) { return isBareName(s) ? std::string(s) : quoted(s); }

// Shortest text that reads back to the same value, and always reads back as a float.
template <class T>
std::string formatFloat(T v) {
  if (std::isnan(v)) return "nan";  // the sign of a NaN carries no meaning here
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, end);
  if (s.find_first_of(".en") == std::string::npos) s += ".0";  // 'n': inf
  return s;
}

template <class Range, class Format>
std::string joined(const Range& items, Format format, std::string_view sep) {
  std::string out;
  bool first = true;
  for (const auto& item : items) {
    if (!first) out += sep;
    first = false;
    out += format(item);
  }
  return out;
}

std::string formatInt(int64_t v) { return std::to_string(v); }

// A type with its arena placement, once plan-memory has assigned one.
std::string placedType(const Value& v) {
  std::string t = v.type.str();
  if (v.offset >= 0) t += " mem(" + std::to_string(v.offset) + ")";
  return t;
}

std::string typeList(const std::vector<Value*>& values) {
  return joined(values, [](const Value* v) { return placedType(*v); }, ", ");
}

std::string refList(const std::vector<Value*>& values) {
  return joined(values, [](const Value* v) { return printValueRef(*v); }, ", ");
}

// Params and state never print their data: weights are large and live in the plan.
std::string constData(const Value& v) {
  if (v.kind != ValueKind::Const) return "";
  if (v.type.dtype == DType::I64 && !v.ints.empty())
    return " = [" + joined(v.ints, formatInt, ",") + "]";
  if (v.type.dtype == DType::F32 && !v.floats.empty())
    return " = [" + joined(v.floats, formatFloat<float>, ",") + "]";
  return "";
}

void printDeclaration(const Value& v, std::ostream& os) {
  os << "  " << valueKindKeyword(v.kind) << ' ' << printValueRef(v) << " : " << placedType(v)
     << constData(v) << '\n';
}

void printOp(const Op& op, std::ostream& os) {
  os << "  ";
  if (!op.results.empty()) os << refList(op.results) << " = ";
  os << opName(op.kind) << '(' << refList(op.operands) << ')';
  if (!op.attrs.empty()) {
    auto attr = [](const auto& kv) {
      const auto& [key, value] = kv;
      return (isBareKey(key) ? key : quoted(key)) + '=' + printAttr(value);
    };
    os << " {" << joined(op.attrs, attr, ", ") << '}';
  }
  if (!op.results.empty()) os << " : " << typeList(op.results);
  if (op.scratchOffset >= 0)
    os << " scratch(" << op.scratchOffset << ',' << op.scratchBytes << ')';
  if (!op.origin.empty()) os << " loc(" << quoted(op.origin) << ')';
  os << '\n';
}

}  // namespace

std::string printAttr(const Attr& a) {
  struct Visitor {
    std::string operator()(int64_t v) const { return formatInt(v); }
    std::string operator()(double v) const { return formatFloat(v); }
    std::string operator()(const IntList& v) const {
      return '[' + joined(v, formatInt, ",") + ']';
    }
    std::string operator()(const FloatList& v) const {
      return '[' + joined(v, formatFloat<double>, ",") + ']';
    }
    std::string operator()(const std::string& v) const { return quoted(v); }
  };
  return std::visit(Visitor{}, a);
}

std::string printValueRef(const Value& v) {
  std::string ref(1, v.isGlobal() ? '@' : '%');
  return ref += nameText(v.name);
}

void printModule(const Module& m, std::ostream& os) {
  os << "module @" << nameText(m.name) << " {\n";
  for (const Value* v : m.inputs) printDeclaration(*v, os);
  for (const Value* v : m.globals) printDeclaration(*v, os);
  for (const auto& op : m.ops) printOp(*op, os);
  os << "  return";
  if (!m.outputs.empty()) os << ' ' << refList(m.outputs);
  os << "\n}\n";
}

std::string printModule(const Module& m) {
  std::ostringstream os;
  printModule(m, os);
  return os.str();
}

}  // namespace lrc::ir
