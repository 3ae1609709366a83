#include "server/filter.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "common/utf8.h"
#include "google/protobuf/descriptor.h"
#include "server/event_facts.h"

namespace dipwire::server {

namespace filter_internal {

enum class Field {
  kType,
  kSeverity,
  kCountries,
  kActors,
  kHeadline,
  kOutlet,
  kProcessId,
  kTopics,
  kKind,
  kAlertId,
  kEventId,
};

// How a field's values compare.
enum class FieldType { kEnum, kString, kRepeated };

enum class Comparator { kEq, kNe, kLt, kLe, kGt, kGe, kHas };

// A node of the compiled tree. AND and OR nodes are flattened (an AND never
// has an AND child), so the tree's depth is bounded by the parenthesis
// nesting that Compile caps.
struct Node {
  enum class Kind { kAnd, kOr, kNot, kRestriction };
  Kind kind = Kind::kRestriction;
  // kAnd, kOr: two or more; kNot: exactly one.
  std::vector<Node> children;

  // kRestriction only. `op` is never kHas on an enum field (it is compiled
  // to kEq), and only kEq, kNe or kHas elsewhere except on severity.
  Field field = Field::kType;
  Comparator op = Comparator::kEq;
  // The value as written (strings, kind), or ASCII-lower-cased for kHas.
  std::string value;
  // type, severity: the enum number (severity's number is its rank).
  int number = 0;
};

}  // namespace filter_internal

namespace {

using filter_internal::Comparator;
using filter_internal::Field;
using filter_internal::FieldType;
using filter_internal::Node;

// ---------------------------------------------------------------------------
// Fields

struct FieldInfo {
  absl::string_view name;
  Field field;
  FieldType type;
  bool alert_only;
};

// In DESIGN.md's order, which is also the order error messages list them.
constexpr std::array<FieldInfo, 11> kFields = {{
    {"type", Field::kType, FieldType::kEnum, true},
    {"severity", Field::kSeverity, FieldType::kEnum, true},
    {"countries", Field::kCountries, FieldType::kRepeated, false},
    {"actors", Field::kActors, FieldType::kRepeated, false},
    {"headline", Field::kHeadline, FieldType::kString, true},
    {"outlet", Field::kOutlet, FieldType::kString, false},
    {"process_id", Field::kProcessId, FieldType::kString, false},
    {"topics", Field::kTopics, FieldType::kRepeated, false},
    {"kind", Field::kKind, FieldType::kEnum, false},
    {"alert_id", Field::kAlertId, FieldType::kString, true},
    {"event_id", Field::kEventId, FieldType::kString, false},
}};

constexpr std::array<absl::string_view, 3> kKindNames = {"meeting", "trade",
                                                         "peace_talk"};

const FieldInfo* FindField(absl::string_view name) {
  for (const FieldInfo& info : kFields) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

std::string KnownFields(FilterTarget target) {
  std::vector<absl::string_view> names;
  for (const FieldInfo& info : kFields) {
    if (target == FilterTarget::kAlert || !info.alert_only) {
      names.push_back(info.name);
    }
  }
  return absl::StrJoin(names, ", ");
}

// The names of an enum's values other than its *_UNSPECIFIED zero.
std::vector<std::string> EnumNames(
    const google::protobuf::EnumDescriptor* descriptor) {
  std::vector<std::string> names;
  for (int i = 0; i < descriptor->value_count(); ++i) {
    if (descriptor->value(i)->number() != 0) {
      names.push_back(descriptor->value(i)->name());
    }
  }
  return names;
}

// ---------------------------------------------------------------------------
// Errors

// Quotes user text for an error message: printable, still readable UTF-8.
std::string Quote(absl::string_view text) {
  return absl::StrCat("\"", absl::Utf8SafeCHexEscape(text), "\"");
}

// The 1-based column, in UTF-8 code points, of byte `offset` of `text`.
// Counting every byte that does not continue a sequence keeps this total on
// invalid UTF-8 too.
size_t ColumnOf(absl::string_view text, size_t offset) {
  return 1 + CountCharacters(text.substr(0, offset));
}

absl::Status ErrorAt(absl::string_view text, size_t offset,
                     absl::string_view message) {
  return absl::InvalidArgumentError(
      absl::StrCat("filter: column ", ColumnOf(text, offset), ": ", message));
}

// ---------------------------------------------------------------------------
// Lexer

enum class TokenKind {
  kEnd,
  kWord,
  kString,
  kLParen,
  kRParen,
  kMinus,
  kAnd,
  kOr,
  kNot,
  kComparator,
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  // Byte offset into the filter text.
  size_t offset = 0;
  // The source text of the token.
  absl::string_view raw;
  // kWord, kString: the value (unescaped).
  std::string value;
  // kComparator only.
  Comparator op = Comparator::kEq;
};

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
         c == '\v';
}

// Letters, digits, `_`, `.` and any byte of a non-ASCII character.
bool IsWordStart(char c) {
  const auto u = static_cast<unsigned char>(c);
  return absl::ascii_isalnum(u) || c == '_' || c == '.' || u >= 0x80;
}

bool IsWordChar(char c) { return IsWordStart(c) || c == '-'; }

// The length of the well-formed UTF-8 sequence (RFC 3629: no overlong
// forms, no surrogates, nothing past U+10FFFF) that starts `text`, or 0 when
// none does.
size_t Utf8SequenceLength(absl::string_view text) {
  if (text.empty()) return 0;
  const auto byte = [text](size_t k) {
    return static_cast<unsigned char>(text[k]);
  };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return 1;
  size_t length = 0;
  // The range of the second byte, which rules out overlong forms,
  // surrogates and code points past U+10FFFF.
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (text.size() < length || byte(1) < low || byte(1) > high) return 0;
  for (size_t k = 2; k < length; ++k) {
    if ((byte(k) & 0xC0) != 0x80) return 0;
  }
  return length;
}

// The first character of `text` (not empty), escaped for a message. A whole
// UTF-8 character is kept whole: a message must be valid UTF-8, and a lone
// byte of a multi-byte character is not. A byte that starts no well-formed
// character is written as \xNN.
std::string EscapeCharacter(absl::string_view text) {
  const size_t length = Utf8SequenceLength(text);
  if (length == 0) return absl::CHexEscape(text.substr(0, 1));
  return absl::Utf8SafeCHexEscape(text.substr(0, length));
}

// Reads the quoted string that opens at byte `open` of `text` into `value`,
// unescaped; returns the offset just past its closing quote.
absl::StatusOr<size_t> LexString(absl::string_view text, size_t open,
                                 std::string* value) {
  size_t i = open + 1;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '"') return i + 1;
    if (c != '\\') {
      value->push_back(c);
      ++i;
      continue;
    }
    if (i + 1 == text.size()) break;  // A backslash cannot end the string.
    const char escaped = text[i + 1];
    if (escaped != '"' && escaped != '\\') {
      return ErrorAt(
          text, i,
          absl::StrCat("unknown escape \\", EscapeCharacter(text.substr(i + 1)),
                       R"( (in a quoted string only \" and \\ are escapes))"));
    }
    value->push_back(escaped);
    i += 2;
  }
  return ErrorAt(text, open, "unterminated string (missing closing '\"')");
}

// Upper-case AND, OR and NOT are keywords; any other word is a word.
TokenKind WordKind(absl::string_view word) {
  if (word == "AND") return TokenKind::kAnd;
  if (word == "OR") return TokenKind::kOr;
  if (word == "NOT") return TokenKind::kNot;
  return TokenKind::kWord;
}

// Reads the word or keyword that starts at byte `start` of `text` into
// `token`; returns the offset just past it.
size_t LexWord(absl::string_view text, size_t start, Token* token) {
  size_t end = start + 1;
  while (end < text.size() && IsWordChar(text[end])) ++end;
  token->value = std::string(text.substr(start, end - start));
  token->kind = WordKind(token->value);
  return end;
}

// Reads the comparator that starts at byte `start` of `text` ("=", ":", "<",
// "<=", ">", ">=" or "!=") into `token`; returns the offset just past it.
absl::StatusOr<size_t> LexComparator(absl::string_view text, size_t start,
                                     Token* token) {
  token->kind = TokenKind::kComparator;
  const bool or_equal = start + 1 < text.size() && text[start + 1] == '=';
  const size_t end = start + (or_equal ? 2 : 1);
  switch (text[start]) {
    case '=':
      token->op = Comparator::kEq;
      return start + 1;
    case ':':
      token->op = Comparator::kHas;
      return start + 1;
    case '<':
      token->op = or_equal ? Comparator::kLe : Comparator::kLt;
      return end;
    case '>':
      token->op = or_equal ? Comparator::kGe : Comparator::kGt;
      return end;
    default:
      break;
  }
  // '!': only a comparator as the start of "!=".
  if (!or_equal) {
    return ErrorAt(text, start, R"(unexpected "!" (did you mean "!="?))");
  }
  token->op = Comparator::kNe;
  return end;
}

// Reads the token that starts at byte `start` of `text`, which is neither
// white space nor the end, into `token`; returns the offset just past it.
absl::StatusOr<size_t> LexToken(absl::string_view text, size_t start,
                                Token* token) {
  const char c = text[start];
  switch (c) {
    case '(':
      token->kind = TokenKind::kLParen;
      return start + 1;
    case ')':
      token->kind = TokenKind::kRParen;
      return start + 1;
    case '-':
      token->kind = TokenKind::kMinus;
      return start + 1;
    case '=':
    case ':':
    case '<':
    case '>':
    case '!':
      return LexComparator(text, start, token);
    case '"':
      token->kind = TokenKind::kString;
      return LexString(text, start, &token->value);
    default:
      break;
  }
  if (IsWordStart(c)) return LexWord(text, start, token);
  return ErrorAt(
      text, start,
      absl::StrCat("unexpected character ", Quote(text.substr(start, 1))));
}

absl::Status Lex(absl::string_view text, std::vector<Token>* tokens) {
  size_t i = 0;
  while (true) {
    while (i < text.size() && IsSpace(text[i])) ++i;
    Token token;
    token.offset = i;
    if (i == text.size()) {
      token.kind = TokenKind::kEnd;
      tokens->push_back(std::move(token));
      return absl::OkStatus();
    }
    DIPWIRE_ASSIGN_OR_RETURN(const size_t end, LexToken(text, i, &token));
    token.raw = text.substr(i, end - i);
    tokens->push_back(std::move(token));
    i = end;
  }
}

// How an error message names a token.
std::string Describe(const Token& token) {
  switch (token.kind) {
    case TokenKind::kEnd:
      return "the end of the filter";
    case TokenKind::kAnd:
    case TokenKind::kOr:
    case TokenKind::kNot:
      return std::string(token.raw);
    case TokenKind::kString:
      return absl::StrCat("the quoted string ", Quote(token.value));
    case TokenKind::kWord:
    case TokenKind::kLParen:
    case TokenKind::kRParen:
    case TokenKind::kMinus:
    case TokenKind::kComparator:
      break;
  }
  return Quote(token.raw);
}

bool StartsFactor(TokenKind kind) {
  return kind == TokenKind::kWord || kind == TokenKind::kString ||
         kind == TokenKind::kLParen || kind == TokenKind::kMinus ||
         kind == TokenKind::kNot;
}

// ---------------------------------------------------------------------------
// Parser: recursive descent over the token list. Recursion happens only at
// "(", which is capped at FilterLimits::max_depth.

class Parser {
 public:
  Parser(absl::string_view text, FilterTarget target, int max_depth,
         std::vector<Token> tokens)
      : text_(text),
        target_(target),
        max_depth_(max_depth),
        tokens_(std::move(tokens)) {}

  absl::StatusOr<Node> ParseFilter() {
    DIPWIRE_ASSIGN_OR_RETURN(Node root, ParseExpression(0));
    const Token& next = Peek();
    if (next.kind == TokenKind::kEnd) return root;
    if (next.kind == TokenKind::kRParen) {
      return ErrorAt(text_, next.offset,
                     "unbalanced \")\" (no \"(\" to close)");
    }
    return Unexpected(next);
  }

 private:
  const Token& Peek() const { return tokens_[pos_]; }
  // The kEnd token is never consumed, so Peek() stays valid.
  const Token& Advance() {
    const Token& token = tokens_[pos_];
    if (token.kind != TokenKind::kEnd) ++pos_;
    return token;
  }

  absl::Status Unexpected(const Token& token) const {
    return ErrorAt(text_, token.offset,
                   absl::StrCat("unexpected ", Describe(token),
                                " (expected AND, OR, a restriction or the "
                                "end of the filter)"));
  }

  // Where a term must start but `Peek()` cannot start one.
  absl::Status ExpectedRestriction() const {
    const Token& found = Peek();
    std::string after;
    if (pos_ > 0) after = absl::StrCat(" after ", Describe(tokens_[pos_ - 1]));
    return ErrorAt(text_, found.offset,
                   absl::StrCat("expected a restriction such as "
                                "countries:CHN",
                                after, ", found ", Describe(found)));
  }

  static Node Combine(Node::Kind kind, std::vector<Node> children) {
    if (children.size() == 1) return std::move(children.front());
    Node node;
    node.kind = kind;
    node.children = std::move(children);
    return node;
  }

  // Appends `child` to `children`, splicing in its children when it is of
  // the same kind, so that AND and OR chains stay flat.
  static void Append(Node::Kind kind, Node child, std::vector<Node>* children) {
    if (child.kind != kind) {
      children->push_back(std::move(child));
      return;
    }
    for (Node& grandchild : child.children) {
      children->push_back(std::move(grandchild));
    }
  }

  // The grammar's own recursion: ParseSimple recurses only at "(", and
  // refuses to nest deeper than FilterLimits::max_depth.
  // NOLINTBEGIN(misc-no-recursion)

  // expression = sequence { "AND" sequence }
  absl::StatusOr<Node> ParseExpression(int depth) {
    std::vector<Node> children;
    while (true) {
      DIPWIRE_ASSIGN_OR_RETURN(Node sequence, ParseSequence(depth));
      Append(Node::Kind::kAnd, std::move(sequence), &children);
      if (Peek().kind != TokenKind::kAnd) break;
      Advance();
    }
    return Combine(Node::Kind::kAnd, std::move(children));
  }

  // sequence = factor { factor }: juxtaposition is AND.
  absl::StatusOr<Node> ParseSequence(int depth) {
    std::vector<Node> children;
    do {
      DIPWIRE_ASSIGN_OR_RETURN(Node factor, ParseFactor(depth));
      Append(Node::Kind::kAnd, std::move(factor), &children);
    } while (StartsFactor(Peek().kind));
    return Combine(Node::Kind::kAnd, std::move(children));
  }

  // factor = term { "OR" term }
  absl::StatusOr<Node> ParseFactor(int depth) {
    std::vector<Node> children;
    while (true) {
      DIPWIRE_ASSIGN_OR_RETURN(Node term, ParseTerm(depth));
      Append(Node::Kind::kOr, std::move(term), &children);
      if (Peek().kind != TokenKind::kOr) break;
      Advance();
    }
    return Combine(Node::Kind::kOr, std::move(children));
  }

  // term = [ "NOT" | "-" ] simple
  absl::StatusOr<Node> ParseTerm(int depth) {
    const TokenKind kind = Peek().kind;
    if (kind != TokenKind::kNot && kind != TokenKind::kMinus) {
      return ParseSimple(depth);
    }
    Advance();
    DIPWIRE_ASSIGN_OR_RETURN(Node simple, ParseSimple(depth));
    Node node;
    node.kind = Node::Kind::kNot;
    node.children.push_back(std::move(simple));
    return node;
  }

  // simple = restriction | "(" expression ")"
  absl::StatusOr<Node> ParseSimple(int depth) {
    const Token& open = Peek();
    if (open.kind == TokenKind::kWord || open.kind == TokenKind::kString) {
      return ParseRestriction();
    }
    if (open.kind != TokenKind::kLParen) return ExpectedRestriction();
    if (depth >= max_depth_) {
      return ErrorAt(text_, open.offset,
                     absl::StrCat("nesting deeper than ", max_depth_,
                                  " (--max-filter-depth=", max_depth_, ")"));
    }
    const size_t open_offset = open.offset;
    Advance();
    DIPWIRE_ASSIGN_OR_RETURN(Node inner, ParseExpression(depth + 1));
    const Token& close = Peek();
    if (close.kind == TokenKind::kEnd) {
      return ErrorAt(text_, open_offset,
                     "unbalanced \"(\" (no \")\" closes it)");
    }
    if (close.kind != TokenKind::kRParen) return Unexpected(close);
    Advance();
    return inner;
  }

  // NOLINTEND(misc-no-recursion)

  // restriction = field comparator value. Problems are reported left to
  // right: the field, then the comparator, then the value.
  absl::StatusOr<Node> ParseRestriction() {
    const Token& name = Advance();  // A kWord or a kString.
    if (Peek().kind != TokenKind::kComparator) return BareTerm(name);
    if (name.kind == TokenKind::kString) {
      return ErrorAt(
          text_, name.offset,
          absl::StrCat("expected a field name, found ", Describe(name),
                       " (field names are not quoted)"));
    }
    DIPWIRE_ASSIGN_OR_RETURN(const FieldInfo* field, LookUpField(name));
    const Token& op = Advance();
    DIPWIRE_RETURN_IF_ERROR(CheckComparator(*field, op));
    const Token& value = Peek();
    if (value.kind != TokenKind::kWord && value.kind != TokenKind::kString) {
      std::string hint;
      if (value.kind == TokenKind::kAnd || value.kind == TokenKind::kOr ||
          value.kind == TokenKind::kNot) {
        hint = absl::StrCat(
            " (quote a keyword to use it as a value: ", Quote(value.raw), ")");
      }
      return ErrorAt(text_, value.offset,
                     absl::StrCat("expected a value after ", Quote(op.raw),
                                  ", found ", Describe(value), hint));
    }
    Advance();
    return CompileRestriction(*field, op.op, value);
  }

  absl::Status BareTerm(const Token& term) const {
    std::string message = absl::StrCat(
        "bare terms such as ", Quote(term.raw),
        " are not supported; name a field and a comparator, e.g. headline:",
        Quote(term.value));
    const std::string upper = absl::AsciiStrToUpper(term.value);
    if (term.kind == TokenKind::kWord &&
        (upper == "AND" || upper == "OR" || upper == "NOT")) {
      absl::StrAppend(&message, " (the keyword ", upper,
                      " must be written in upper case)");
    }
    return ErrorAt(text_, term.offset, message);
  }

  absl::StatusOr<const FieldInfo*> LookUpField(const Token& name) const {
    const FieldInfo* field = FindField(name.value);
    if (field != nullptr && target_ == FilterTarget::kEvent &&
        field->alert_only) {
      return ErrorAt(
          text_, name.offset,
          absl::StrCat("unknown field ", Quote(name.value),
                       ": it is an alert field, and this filter is over "
                       "events (known fields: ",
                       KnownFields(target_), ")"));
    }
    if (field != nullptr) return field;
    std::string hint;
    const FieldInfo* folded = FindField(absl::AsciiStrToLower(name.value));
    if (folded != nullptr &&
        (target_ == FilterTarget::kAlert || !folded->alert_only)) {
      hint = absl::StrCat("field names are lower case: did you mean ",
                          Quote(folded->name), "? ");
    }
    return ErrorAt(text_, name.offset,
                   absl::StrCat("unknown field ", Quote(name.value), " (", hint,
                                "known fields: ", KnownFields(target_), ")"));
  }

  absl::Status CheckComparator(const FieldInfo& field, const Token& op) const {
    switch (op.op) {
      case Comparator::kEq:
      case Comparator::kNe:
        if (field.type == FieldType::kRepeated) {
          return ErrorAt(
              text_, op.offset,
              absl::StrCat("operator ", Quote(op.raw),
                           " is not supported on the repeated field ",
                           Quote(field.name),
                           "; use \":\" to match an element, e.g. ", field.name,
                           ":", ExampleValue(field.field)));
        }
        return absl::OkStatus();
      case Comparator::kLt:
      case Comparator::kLe:
      case Comparator::kGt:
      case Comparator::kGe:
        if (field.field != Field::kSeverity) {
          return ErrorAt(
              text_, op.offset,
              absl::StrCat("operator ", Quote(op.raw),
                           " is only supported on \"severity\", not on ",
                           Quote(field.name), R"( (use "=", "!=" or ":"))"));
        }
        return absl::OkStatus();
      case Comparator::kHas:
        return absl::OkStatus();
    }
    return absl::OkStatus();
  }

  static absl::string_view ExampleValue(Field field) {
    switch (field) {
      case Field::kActors:
        return "\"Wang Yi\"";
      case Field::kTopics:
        return "energy";
      default:
        return "CHN";
    }
  }

  absl::StatusOr<Node> CompileRestriction(const FieldInfo& field, Comparator op,
                                          const Token& value) const {
    Node node;
    node.kind = Node::Kind::kRestriction;
    node.field = field.field;
    // AIP-160 lets `:` on a scalar mean equality; on an enum that is `=`.
    node.op = (field.type == FieldType::kEnum && op == Comparator::kHas)
                  ? Comparator::kEq
                  : op;
    if (field.type != FieldType::kEnum) {
      node.value = node.op == Comparator::kHas
                       ? absl::AsciiStrToLower(value.value)
                       : value.value;
      return node;
    }
    std::vector<std::string> names;
    if (field.field == Field::kKind) {
      for (absl::string_view name : kKindNames) {
        if (name == value.value) {
          node.value = value.value;
          return node;
        }
        names.emplace_back(name);
      }
    } else {
      const google::protobuf::EnumDescriptor* descriptor =
          field.field == Field::kType ? v1::Alert::Type_descriptor()
                                      : v1::Alert::Severity_descriptor();
      const google::protobuf::EnumValueDescriptor* found =
          descriptor->FindValueByName(value.value);
      if (found != nullptr && found->number() != 0) {
        node.number = found->number();
        return node;
      }
      names = EnumNames(descriptor);
    }
    return ErrorAt(
        text_, value.offset,
        absl::StrCat("invalid ", field.name, " ", Quote(value.value),
                     " (valid values: ", absl::StrJoin(names, ", "), ")"));
  }

  const absl::string_view text_;
  const FilterTarget target_;
  const int max_depth_;
  const std::vector<Token> tokens_;
  // Index of the next token; tokens_ ends with kEnd.
  size_t pos_ = 0;
};

// ---------------------------------------------------------------------------
// Evaluation: reads fields in place and compares against values folded at
// compile time, so that it never allocates.

bool EqualsFolded(absl::string_view text, absl::string_view folded) {
  if (text.size() != folded.size()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (absl::ascii_tolower(static_cast<unsigned char>(text[i])) != folded[i]) {
      return false;
    }
  }
  return true;
}

bool ContainsFolded(absl::string_view text, absl::string_view folded) {
  if (folded.size() > text.size()) return false;
  for (size_t start = 0; start + folded.size() <= text.size(); ++start) {
    if (EqualsFolded(text.substr(start, folded.size()), folded)) return true;
  }
  return false;
}

// What one Matches call evaluates against. `alert` is null for an event
// filter; `event` is the alert's event for an alert filter.
struct Subject {
  const v1::Alert* alert = nullptr;
  const v1::DiplomaticEvent* event = nullptr;
  // EventCountries(*event), computed on first use (event filters only).
  std::optional<std::vector<std::string>> event_countries;
};

absl::string_view StringField(Field field, const Subject& subject) {
  const v1::DiplomaticEvent& event = *subject.event;
  switch (field) {
    case Field::kHeadline:
      return subject.alert->headline();
    case Field::kAlertId:
      return subject.alert->alert_id();
    case Field::kOutlet:
      return event.source().outlet();
    case Field::kProcessId:
      return event.peace_talk().process_id();
    case Field::kEventId:
      return event.event_id();
    case Field::kKind:
      return EventKindName(event);
    default:
      return "";
  }
}

bool CompareStrings(Comparator op, absl::string_view actual,
                    absl::string_view value) {
  switch (op) {
    case Comparator::kEq:
      return actual == value;
    case Comparator::kNe:
      return actual != value;
    case Comparator::kHas:
      return ContainsFolded(actual, value);
    default:
      return false;  // Rejected by the parser.
  }
}

bool CompareNumbers(Comparator op, int actual, int value) {
  switch (op) {
    case Comparator::kEq:
    case Comparator::kHas:
      return actual == value;
    case Comparator::kNe:
      return actual != value;
    case Comparator::kLt:
      return actual < value;
    case Comparator::kLe:
      return actual <= value;
    case Comparator::kGt:
      return actual > value;
    case Comparator::kGe:
      return actual >= value;
  }
  return false;
}

template <typename Range>
bool AnyEqualsFolded(const Range& elements, absl::string_view folded) {
  return std::any_of(elements.begin(), elements.end(),
                     [folded](const std::string& element) {
                       return EqualsFolded(element, folded);
                     });
}

// `:` on a repeated field: some element equals the folded value.
bool HasElement(const Node& node, Subject& subject) {
  const v1::DiplomaticEvent& event = *subject.event;
  switch (node.field) {
    case Field::kCountries:
      if (subject.alert != nullptr) {
        return AnyEqualsFolded(subject.alert->countries(), node.value);
      }
      if (!subject.event_countries.has_value()) {
        subject.event_countries = EventCountries(event);
      }
      return AnyEqualsFolded(*subject.event_countries, node.value);
    case Field::kActors:
      // EventActors(event), read in place: the meeting's participants' names.
      for (const v1::Actor& actor : event.meeting().participants()) {
        if (EqualsFolded(actor.name(), node.value)) return true;
      }
      return false;
    case Field::kTopics:
      return AnyEqualsFolded(event.meeting().topics(), node.value);
    default:
      return false;
  }
}

// Recursion follows the tree, whose depth the parser caps at
// FilterLimits::max_depth (AND and OR nodes are flattened).
// NOLINTBEGIN(misc-no-recursion)
bool Evaluate(const Node& node, Subject& subject) {
  switch (node.kind) {
    case Node::Kind::kAnd:
      for (const Node& child : node.children) {
        if (!Evaluate(child, subject)) return false;
      }
      return true;
    case Node::Kind::kOr:
      for (const Node& child : node.children) {
        if (Evaluate(child, subject)) return true;
      }
      return false;
    case Node::Kind::kNot:
      return !Evaluate(node.children.front(), subject);
    case Node::Kind::kRestriction:
      break;
  }
  switch (node.field) {
    case Field::kType:
      return CompareNumbers(node.op, subject.alert->type(), node.number);
    case Field::kSeverity:
      return CompareNumbers(node.op, subject.alert->severity(), node.number);
    case Field::kCountries:
    case Field::kActors:
    case Field::kTopics:
      return HasElement(node, subject);
    case Field::kHeadline:
    case Field::kOutlet:
    case Field::kProcessId:
    case Field::kKind:
    case Field::kAlertId:
    case Field::kEventId:
      return CompareStrings(node.op, StringField(node.field, subject),
                            node.value);
  }
  return false;
}
// NOLINTEND(misc-no-recursion)

}  // namespace

Filter::Filter() = default;

Filter::Filter(FilterTarget target,
               std::shared_ptr<const filter_internal::Node> root)
    : target_(target), root_(std::move(root)) {}

absl::StatusOr<Filter> Filter::Compile(absl::string_view text,
                                       FilterTarget target,
                                       const FilterLimits& limits) {
  const auto max_length = static_cast<size_t>(std::max(limits.max_length, 0));
  if (CountCharacters(text) > max_length) {
    return ErrorAt(
        text, OffsetOfCharacter(text, max_length),
        absl::StrCat("filter is longer than ", max_length,
                     " characters (--max-filter-length=", max_length, ")"));
  }
  if (absl::StripAsciiWhitespace(text).empty()) return Filter(target, nullptr);
  std::vector<Token> tokens;
  DIPWIRE_RETURN_IF_ERROR(Lex(text, &tokens));
  Parser parser(text, target, limits.max_depth, std::move(tokens));
  DIPWIRE_ASSIGN_OR_RETURN(Node root, parser.ParseFilter());
  return Filter(target, std::make_shared<const Node>(std::move(root)));
}

bool Filter::Matches(const v1::Alert& alert) const {
  if (target_ != FilterTarget::kAlert) return false;
  if (root_ == nullptr) return true;
  Subject subject;
  subject.alert = &alert;
  subject.event = &alert.event();
  return Evaluate(*root_, subject);
}

bool Filter::Matches(const v1::DiplomaticEvent& event) const {
  if (target_ != FilterTarget::kEvent) return false;
  if (root_ == nullptr) return true;
  Subject subject;
  subject.event = &event;
  return Evaluate(*root_, subject);
}

}  // namespace dipwire::server
