#include "ir/Parser.h"

#include <charconv>
#include <limits>
#include <set>

#include "ir/Printer.h"
#include "ops/Checked.h"
#include "ops/Shapes.h"

namespace lrc::ir {

namespace {

enum class Tok { End, Ident, Local, Global, Int, Float, String, Punct };

struct Token {
  Tok kind = Tok::End;
  std::string text;      // decoded: the name without sigil or quotes, the string's contents
  std::string_view raw;  // as written, for messages
  Location loc;
};

bool isNameChar(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '_' || c == '.';
}
bool isDigit(int c) { return c >= '0' && c <= '9'; }
bool isIdentStart(int c) { return isNameChar(c) && !isDigit(c) && c != '.'; }

// Source text as it may appear in a one-line message: control bytes escaped, long
// tokens cut short.
std::string display(std::string_view s) {
  constexpr size_t kMax = 60;
  std::string out;
  for (size_t i = 0; i < s.size() && i < kMax; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      static const char* kHex = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > kMax) out += "...";
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string_view src) : src_(src) {}

  Token next() {
    skipSpaceAndComments();
    Token t;
    t.loc = {line_, col_};
    size_t start = pos_;
    if (peek() < 0) {
      t.kind = Tok::End;
    } else if (peek() == '%' || peek() == '@') {
      lexName(t);
    } else if (peek() == '"') {
      t.kind = Tok::String;
      t.text = lexQuoted();
    } else if (isDigit(peek()) || peek() == '-') {
      lexNumber(t);
    } else if (isIdentStart(peek())) {
      t.kind = Tok::Ident;
      t.text = lexNameChars();
    } else if (std::string_view("()[]{},:=").find(static_cast<char>(peek())) !=
               std::string_view::npos) {
      t.kind = Tok::Punct;
      t.text = std::string(1, static_cast<char>(peek()));
      advance();
    } else {
      throw Error("unexpected character '" + display(src_.substr(pos_, 1)) + "'", t.loc);
    }
    t.raw = src_.substr(start, pos_ - start);
    return t;
  }

 private:
  // The byte `ahead` positions on, or -1 past the end (the text may hold NUL bytes).
  int peek(size_t ahead = 0) const {
    size_t i = pos_ + ahead;
    return i < src_.size() ? static_cast<unsigned char>(src_[i]) : -1;
  }

  void advance() {
    if (src_[pos_] == '\n') {
      ++line_;
      col_ = 1;
    } else {
      ++col_;
    }
    ++pos_;
  }

  void skipSpaceAndComments() {
    for (;;) {
      int c = peek();
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        advance();
      } else if (c == '/' && peek(1) == '/') {
        while (peek() >= 0 && peek() != '\n') advance();
      } else {
        return;
      }
    }
  }

  std::string lexNameChars() {
    size_t start = pos_;
    while (isNameChar(peek())) advance();
    return std::string(src_.substr(start, pos_ - start));
  }

  void lexName(Token& t) {
    Location at{line_, col_};
    t.kind = peek() == '%' ? Tok::Local : Tok::Global;
    char sigil = static_cast<char>(peek());
    advance();
    if (peek() == '"') {
      t.text = lexQuoted();
    } else {
      t.text = lexNameChars();
      if (t.text.empty()) throw Error(std::string("expected a name after '") + sigil + "'", at);
    }
  }

  std::string lexQuoted() {
    Location start{line_, col_};
    advance();  // the opening quote
    std::string out;
    for (;;) {
      int c = peek();
      if (c < 0 || c == '\n') throw Error("unterminated string", start);
      if (c == '"') break;
      if (c == '\\') {
        Location at{line_, col_};
        advance();
        int e = peek();
        if (e == '"' || e == '\\') out += static_cast<char>(e);
        else if (e == 'n') out += '\n';
        else if (e < 0 || e == '\n') throw Error("unterminated string", start);
        else throw Error("unknown escape '\\" + display(src_.substr(pos_, 1)) + "' in string", at);
      } else {
        out += static_cast<char>(c);
      }
      advance();
    }
    advance();  // the closing quote
    return out;
  }

  // Numbers are checked when converted (the parser knows which type it wants); here a
  // number is any run of name characters after an optional '-', with a sign allowed
  // right after an exponent 'e', so that `1x` or `1e` are one bad number, not two tokens.
  void lexNumber(Token& t) {
    Location at{line_, col_};
    size_t start = pos_;
    if (peek() == '-') advance();
    if (!isNameChar(peek()) || peek() == '.')
      throw Error("unexpected character '-'", at);
    bool integer = true;
    int prev = -1;  // the previous character of the number itself
    for (;;) {
      int c = peek();
      bool exponentSign = (c == '+' || c == '-') && (prev == 'e' || prev == 'E');
      if (!exponentSign && !isNameChar(c)) break;
      integer = integer && isDigit(c);
      prev = c;
      advance();
    }
    t.kind = integer ? Tok::Int : Tok::Float;
    t.text = std::string(src_.substr(start, pos_ - start));
  }

  std::string_view src_;
  size_t pos_ = 0;
  int line_ = 1;
  int col_ = 1;
};

const std::set<std::string_view> kDeclKeywords = {"input", "param", "state", "const"};

class Parser {
 public:
  explicit Parser(std::string_view text) : lex_(text) { advance(); }

  std::unique_ptr<Module> parse() {
    module_ = std::make_unique<Module>();
    expectKeyword("module", "at the start of the text");
    if (tok_.kind != Tok::Global) unexpected("a module name '@name' after 'module'");
    module_->name = tok_.text;
    advance();
    expectPunct('{', "after the module name");
    while (tok_.kind == Tok::Ident && kDeclKeywords.count(tok_.text)) parseDeclaration();
    while (!atKeyword("return")) parseOpOrComplain();
    parseReturn();
    expectPunct('}', "after the returned values");
    if (tok_.kind != Tok::End) unexpected("end of input after '}'");
    return std::move(module_);
  }

 private:
  void advance() { tok_ = lex_.next(); }

  [[noreturn]] void fail(const std::string& message, Location at) { throw Error(message, at); }
  [[noreturn]] void unexpected(std::string_view expected) {
    std::string found =
        tok_.kind == Tok::End ? "end of input" : "'" + display(tok_.raw) + "'";
    fail("expected " + std::string(expected) + ", found " + found, tok_.loc);
  }

  bool atPunct(char c) const {
    return tok_.kind == Tok::Punct && tok_.text.size() == 1 && tok_.text[0] == c;
  }
  bool atKeyword(std::string_view word) const {
    return tok_.kind == Tok::Ident && tok_.text == word;
  }
  void expectPunct(char c, std::string_view context) {
    if (!atPunct(c)) {
      std::string expected{'\'', c, '\'', ' '};
      unexpected(expected += context);
    }
    advance();
  }
  void expectKeyword(std::string_view word, std::string_view context) {
    if (!atKeyword(word)) unexpected("'" + std::string(word) + "' " + std::string(context));
    advance();
  }

  // --- names -------------------------------------------------------------------------

  // How a reference reads in a message, quoted like the printer would.
  static std::string spelled(Tok sigil, const std::string& name) {
    Value v{};
    v.kind = sigil == Tok::Global ? ValueKind::Param : ValueKind::Input;
    v.name = name;
    return display(printValueRef(v));
  }

  // A name about to be defined: checked here so the error points at it.
  std::string takeNewName(Tok sigil, std::string_view what, std::set<std::string>* siblings) {
    std::string sigilText = sigil == Tok::Global ? "'@'" : "'%'";
    if (tok_.kind == Tok::Local || tok_.kind == Tok::Global) {
      if (tok_.kind != sigil)
        fail(std::string(what) + " is named with " + sigilText + ", found '" + display(tok_.raw) +
                 "'",
             tok_.loc);
    } else {
      unexpected(std::string(what) + " (" + sigilText + "name)");
    }
    std::string name = tok_.text;
    if (name.empty()) fail("empty name " + spelled(sigil, name), tok_.loc);
    bool taken = module_->lookup(name) || (siblings && !siblings->insert(name).second);
    if (taken) fail("value " + spelled(sigil, name) + " is defined twice", tok_.loc);
    advance();
    return name;
  }

  static std::string kindPhrase(ValueKind k) {
    switch (k) {
      case ValueKind::Input: return "an input";
      case ValueKind::Param: return "a param";
      case ValueKind::State: return "a state value";
      case ValueKind::Const: return "a const";
      case ValueKind::Result: return "an op result";
    }
    return "a value";
  }

  Value* parseValueRef() {
    if (tok_.kind != Tok::Local && tok_.kind != Tok::Global) unexpected("a value '%name' or '@name'");
    Value* v = module_->lookup(tok_.text);
    if (!v) fail("use of undefined value " + spelled(tok_.kind, tok_.text), tok_.loc);
    if (v->isGlobal() != (tok_.kind == Tok::Global))
      fail(spelled(tok_.kind, tok_.text) + " is " + kindPhrase(v->kind) + "; write " +
               display(printValueRef(*v)),
           tok_.loc);
    advance();
    return v;
  }

  // --- numbers -----------------------------------------------------------------------

  bool atNumber() const {
    return tok_.kind == Tok::Int || tok_.kind == Tok::Float || atKeyword("inf") ||
           atKeyword("nan");
  }

  int64_t takeInt() {
    if (tok_.kind == Tok::Float && !isFloatText(tok_.text))
      fail("bad number '" + display(tok_.raw) + "'", tok_.loc);
    if (tok_.kind != Tok::Int) unexpected("an integer");
    int64_t v = 0;
    const char* end = tok_.text.data() + tok_.text.size();
    auto [ptr, ec] = std::from_chars(tok_.text.data(), end, v);
    if (ec == std::errc::result_out_of_range) fail("integer " + tok_.text + " is out of range", tok_.loc);
    if (ec != std::errc() || ptr != end) fail("bad number '" + display(tok_.raw) + "'", tok_.loc);
    advance();
    return v;
  }

  static bool isFloatText(const std::string& s) {
    double v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ptr == s.data() + s.size() && ec != std::errc::invalid_argument;
  }

  template <class T>
  T takeFloat() {
    if (!atNumber()) unexpected("a number");
    const std::string& s = tok_.text;
    T v = 0;
    if (s == "inf" || s == "-inf") {
      v = s[0] == '-' ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity();
    } else if (s == "nan" || s == "-nan") {
      v = std::numeric_limits<T>::quiet_NaN();
    } else {
      auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (ec == std::errc::result_out_of_range) fail("number " + s + " is out of range", tok_.loc);
      if (ec != std::errc() || ptr != s.data() + s.size())
        fail("bad number '" + display(tok_.raw) + "'", tok_.loc);
    }
    advance();
    return v;
  }

  // --- types -------------------------------------------------------------------------

  // A type whose size can be counted (ops::sizeProblem): passes compute with it unchecked.
  TensorType parseType() {
    const Location at = tok_.loc;
    if (tok_.kind != Tok::Ident) unexpected("a type such as 'f32[1,2]'");
    std::optional<DType> dtype = dtypeFromName(tok_.text);
    if (!dtype) fail("unknown dtype '" + display(tok_.raw) + "'", tok_.loc);
    advance();
    TensorType type{*dtype, {}};
    expectPunct('[', "after the dtype");
    if (!atPunct(']')) {
      type.shape.push_back(takeInt());
      while (atPunct(',')) {
        advance();
        type.shape.push_back(takeInt());
      }
    }
    expectPunct(']', "after the dimensions");
    if (const std::string problem = ops::sizeProblem(type.shape); !problem.empty()) fail(type.str() + ": " + problem, at);
    return type;
  }

  // --- declarations ------------------------------------------------------------------

  void parseDeclaration() {
    std::string keyword = tok_.text;
    advance();
    Tok sigil = keyword == "input" ? Tok::Local : Tok::Global;
    std::string name = takeNewName(sigil, keyword, nullptr);
    expectPunct(':', "after value name");
    TensorType type = parseType();
    int64_t offset = parseOptionalMem(type.bytes());
    if (keyword == "input") {
      module_->addInput(name, type)->offset = offset;
      return;
    }
    ValueKind kind = keyword == "param"   ? ValueKind::Param
                     : keyword == "state" ? ValueKind::State
                                          : ValueKind::Const;
    Value* v = module_->addGlobal(kind, name, type);
    v->offset = offset;
    if (atPunct('=')) {
      if (kind != ValueKind::Const) fail("only const declarations carry data", tok_.loc);
      advance();
      parseConstData(*v);
    }
  }

  void parseConstData(Value& v) {
    Location at = tok_.loc;
    expectPunct('[', "before the const data");
    size_t count = 0;
    while (!atPunct(']')) {
      if (count++) expectPunct(',', "between values");
      if (v.type.dtype == DType::I64) v.ints.push_back(takeInt());
      else v.floats.push_back(takeFloat<float>());
    }
    advance();
    if (static_cast<uint64_t>(v.type.numElements()) != count)
      fail("const " + printValueRef(v) + " has " + std::to_string(count) + " values but its type " +
               v.type.str() + " holds " + std::to_string(v.type.numElements()),
           at);
  }

  // --- ops ---------------------------------------------------------------------------

  void parseOpOrComplain() {
    if (tok_.kind == Tok::Local || tok_.kind == Tok::Global) return parseOp();
    // An op without results (sgd_update) starts with its name.
    if (tok_.kind == Tok::Ident && opKindFromName(tok_.text)) return parseOp();
    if (tok_.kind == Tok::Ident && kDeclKeywords.count(tok_.text))
      fail("declarations must come before the first op", tok_.loc);
    if (atPunct('}')) fail("missing 'return' before '}'", tok_.loc);
    unexpected("an op '%name = ...' or 'return'");
  }

  void parseOp() {
    Location at = tok_.loc;
    std::set<std::string> siblings;
    std::vector<std::string> names;
    if (tok_.kind != Tok::Ident) {
      names.push_back(takeNewName(Tok::Local, "op result", &siblings));
      while (atPunct(',')) {
        advance();
        names.push_back(takeNewName(Tok::Local, "op result", &siblings));
      }
      expectPunct('=', "after the op results");
    }
    if (tok_.kind != Tok::Ident) unexpected("an op name");
    std::optional<OpKind> kind = opKindFromName(tok_.text);
    if (!kind) fail("unknown op '" + display(tok_.raw) + "'", tok_.loc);
    advance();
    std::vector<Value*> operands = parseOperands();
    Attrs attrs = atPunct('{') ? parseAttrs() : Attrs{};
    std::vector<int64_t> offsets;
    std::vector<std::pair<std::string, TensorType>> results = parseResultTypes(names, offsets);
    int64_t scratchOffset = -1, scratchBytes = 0;
    if (atKeyword("scratch")) {
      advance();
      expectPunct('(', "after 'scratch'");
      const Location offsetAt = tok_.loc;
      scratchOffset = takeNonNegative("scratch offset");
      expectPunct(',', "between scratch offset and size");
      scratchBytes = takeNonNegative("scratch size");
      expectPunct(')', "after the scratch size");
      checkArenaEnd(scratchOffset, scratchBytes, offsetAt);
    }
    std::string origin;
    if (atKeyword("loc")) {
      advance();
      expectPunct('(', "after 'loc'");
      if (tok_.kind != Tok::String) unexpected("a string in loc(...)");
      origin = tok_.text;
      advance();
      expectPunct(')', "after the loc string");
    }
    Op* op = module_->addOp(*kind, std::move(operands), std::move(attrs), std::move(results));
    op->origin = std::move(origin);
    op->loc = at;
    op->scratchOffset = scratchOffset;
    op->scratchBytes = scratchBytes;
    for (size_t i = 0; i < offsets.size(); ++i) op->results[i]->offset = offsets[i];
  }

  // `mem(OFFSET)` after a type of `bytes` bytes: the value's place in the arena.
  int64_t parseOptionalMem(int64_t bytes) {
    if (!atKeyword("mem")) return -1;
    advance();
    expectPunct('(', "after 'mem'");
    const Location at = tok_.loc;
    int64_t offset = takeNonNegative("arena offset");
    expectPunct(')', "after the arena offset");
    checkArenaEnd(offset, bytes, at);
    return offset;
  }

  // Liveness and the verifier compute offset + bytes: it must not overflow.
  void checkArenaEnd(int64_t offset, int64_t bytes, Location at) {
    if (!(ops::Checked(offset) + bytes).value())
      fail("arena offset " + std::to_string(offset) + " plus " + std::to_string(bytes) +
               " bytes is past the largest offset int64 holds",
           at);
  }

  int64_t takeNonNegative(const std::string& what) {
    Location at = tok_.loc;
    int64_t v = takeInt();
    if (v < 0) fail(what + " must not be negative", at);
    return v;
  }

  std::vector<Value*> parseOperands() {
    expectPunct('(', "after the op name");
    std::vector<Value*> operands;
    if (!atPunct(')')) {
      operands.push_back(parseValueRef());
      while (atPunct(',')) {
        advance();
        operands.push_back(parseValueRef());
      }
    }
    expectPunct(')', "after the operands");
    return operands;
  }

  std::vector<std::pair<std::string, TensorType>> parseResultTypes(
      const std::vector<std::string>& names, std::vector<int64_t>& offsets) {
    if (names.empty()) return {};
    expectPunct(':', "before the result types");
    Location at = tok_.loc;
    std::vector<TensorType> types{parseType()};
    offsets.push_back(parseOptionalMem(types.back().bytes()));
    while (atPunct(',')) {
      advance();
      types.push_back(parseType());
      offsets.push_back(parseOptionalMem(types.back().bytes()));
    }
    if (types.size() != names.size())
      fail("op has " + std::to_string(names.size()) + " results but " +
               std::to_string(types.size()) + " types",
           at);
    std::vector<std::pair<std::string, TensorType>> results;
    for (size_t i = 0; i < names.size(); ++i) results.emplace_back(names[i], types[i]);
    return results;
  }

  // --- attributes --------------------------------------------------------------------

  Attrs parseAttrs() {
    advance();  // '{'
    Attrs attrs;
    while (!atPunct('}')) {
      if (!attrs.empty()) expectPunct(',', "between attributes");
      if (tok_.kind != Tok::Ident && tok_.kind != Tok::String) unexpected("an attribute name");
      std::string key = tok_.text;
      Location keyAt = tok_.loc;
      advance();
      expectPunct('=', "after the attribute name");
      Attr value = parseAttrValue();
      if (!attrs.emplace(key, std::move(value)).second)
        fail("attribute '" + display(key) + "' is given twice", keyAt);
    }
    advance();
    return attrs;
  }

  Attr parseAttrValue() {
    if (tok_.kind == Tok::Int) return takeInt();
    if (atNumber()) return takeFloat<double>();
    if (tok_.kind == Tok::String) {
      std::string s = tok_.text;
      advance();
      return s;
    }
    if (!atPunct('[')) unexpected("an attribute value");
    return parseList();
  }

  // A list is of floats when any element is written as a float; `[]` is an int list.
  Attr parseList() {
    advance();  // '['
    IntList ints;
    FloatList floats;
    bool isFloat = false;
    while (!atPunct(']')) {
      if (!ints.empty() || !floats.empty()) expectPunct(',', "between list elements");
      if (tok_.kind == Tok::Int && !isFloat) {
        ints.push_back(takeInt());
        continue;
      }
      if (!isFloat) floats.assign(ints.begin(), ints.end());
      isFloat = true;
      floats.push_back(tok_.kind == Tok::Int ? static_cast<double>(takeInt())
                                             : takeFloat<double>());
    }
    advance();
    if (isFloat) return floats;
    return ints;
  }

  // --- return ------------------------------------------------------------------------

  // An empty `return` is accepted so that any module the printer prints reads back;
  // the verifier requires at least one output.
  void parseReturn() {
    advance();  // 'return'
    if (atPunct('}')) return;
    module_->outputs.push_back(parseValueRef());
    while (atPunct(',')) {
      advance();
      module_->outputs.push_back(parseValueRef());
    }
  }

  Lexer lex_;
  Token tok_;
  std::unique_ptr<Module> module_;
};

}  // namespace

std::unique_ptr<Module> parseModule(std::string_view text) { return Parser(text).parse(); }

}  // namespace lrc::ir
