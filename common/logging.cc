#include "common/logging.h"

#include <atomic>
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpc/support/log.h"

namespace dipwire {
namespace {

std::atomic<int> min_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<bool> json_format{false};

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "unknown";
}

// The length of the valid UTF-8 sequence at the start of `text`, or 0.
size_t Utf8SequenceLength(absl::string_view text) {
  const auto lead = static_cast<unsigned char>(text[0]);
  size_t length = 0;
  uint32_t code_point = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    code_point = lead & 0x1Fu;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    code_point = lead & 0x0Fu;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    code_point = lead & 0x07u;
  } else {
    return 0;
  }
  if (text.size() < length) return 0;
  for (size_t i = 1; i < length; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if ((c & 0xC0u) != 0x80u) return 0;
    code_point = (code_point << 6) | (c & 0x3Fu);
  }
  // Overlong forms, surrogates and values past U+10FFFF are invalid.
  const bool overlong = (length == 3 && code_point < 0x800) ||
                        (length == 4 && code_point < 0x10000);
  const bool surrogate = code_point >= 0xD800 && code_point <= 0xDFFF;
  if (overlong || surrogate || code_point > 0x10FFFF) return 0;
  return length;
}

// Text-format values with spaces, quotes or `=` are quoted (logfmt).
std::string TextValue(absl::string_view value) {
  if (!value.empty() && value.find_first_of(" \"=\t\n") == std::string::npos) {
    return std::string(value);
  }
  return absl::StrCat("\"", JsonEscape(value), "\"");
}

// Appends "key":"value" to the object `json` (escaped; after a comma unless
// the object is still empty).
void AppendJsonMember(std::string* json, absl::string_view key,
                      absl::string_view value) {
  if (json->size() > 1) json->push_back(',');
  json->push_back('"');
  json->append(JsonEscape(key));
  json->append(R"(":")");
  json->append(JsonEscape(value));
  json->push_back('"');
}

LogLevel FromGprSeverity(gpr_log_severity severity) {
  switch (severity) {
    case GPR_LOG_SEVERITY_DEBUG:
      return LogLevel::kDebug;
    case GPR_LOG_SEVERITY_INFO:
      return LogLevel::kInfo;
    case GPR_LOG_SEVERITY_ERROR:
      return LogLevel::kError;
  }
  return LogLevel::kError;
}

// gRPC's log lines, through the facade (gpr_set_log_function).
void LogGrpcLine(gpr_log_func_args* args) {
  const LogLevel level = FromGprSeverity(args->severity);
  if (!LogLevelEnabled(level)) return;
  internal::LogLine(level, args->file, args->line, {{"source", "grpc"}})
          .stream()
      << args->message;
}

}  // namespace

void SetMinLogLevel(LogLevel level) {
  min_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

bool LogLevelEnabled(LogLevel level) {
  return static_cast<int>(level) >= min_level.load(std::memory_order_relaxed);
}

void SetLogFormat(LogFormat format) {
  json_format.store(format == LogFormat::kJson, std::memory_order_relaxed);
  gpr_set_log_function(&LogGrpcLine);
}

bool ParseLogFormat(absl::string_view name, LogFormat* format) {
  if (name == "text") {
    *format = LogFormat::kText;
  } else if (name == "json") {
    *format = LogFormat::kJson;
  } else {
    return false;
  }
  return true;
}

std::string JsonEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const char c = text[0];
    const auto byte = static_cast<unsigned char>(c);
    size_t consumed = 1;
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (byte < 0x20 || byte == 0x7F) {
      out += absl::StrFormat("\\u%04x", byte);
    } else if (byte < 0x80) {
      out.push_back(c);
    } else if (const size_t length = Utf8SequenceLength(text); length > 0) {
      out.append(text.data(), length);
      consumed = length;
    } else {
      out += "\\ufffd";
    }
    text.remove_prefix(consumed);
  }
  return out;
}

namespace internal {

LogLine::LogLine(LogLevel level, const char* file, int line, LogFields fields)
    : level_(level), file_(file), line_(line), fields_(std::move(fields)) {}

LogLine::~LogLine() {
  absl::string_view path(file_);
  const size_t slash = path.rfind('/');
  if (slash != absl::string_view::npos) path.remove_prefix(slash + 1);
  const std::string time = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(),
                                            absl::UTCTimeZone());
  std::string text;
  if (json_format.load(std::memory_order_relaxed)) {
    text = "{";
    AppendJsonMember(&text, "time", time);
    AppendJsonMember(&text, "level", LevelName(level_));
    AppendJsonMember(&text, "at", absl::StrCat(path, ":", line_));
    AppendJsonMember(&text, "message", stream_.str());
    for (const auto& [key, value] : fields_) {
      AppendJsonMember(&text, key, value);
    }
    text += "}\n";
  } else {
    absl::StrAppend(&text, time, " level=", LevelName(level_), " at=", path,
                    ":", line_);
    for (const auto& [key, value] : fields_) {
      absl::StrAppend(&text, " ", key, "=", TextValue(value));
    }
    absl::StrAppend(&text, " msg=", stream_.str(), "\n");
  }
  std::fwrite(text.data(), 1, text.size(), stderr);
}

}  // namespace internal
}  // namespace dipwire
