#ifndef DIPWIRE_COMMON_LOGGING_H_
#define DIPWIRE_COMMON_LOGGING_H_

#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace dipwire {

// dipwire's logging facade (Abseil 20220623 has no absl/log). Libraries log
// through DIPWIRE_LOG; lines go to stderr, never stdout, which mains own.
//
//   DIPWIRE_LOG(kWarning) << "sink " << name << " failed: " << status;
//   DIPWIRE_LOG_WITH(kInfo, {{"peer", peer}, {"method", method}}) << "...";
//
// Safe for concurrent use: each line is written with one call.
enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Lines below `level` are dropped. Default kInfo.
void SetMinLogLevel(LogLevel level);
bool LogLevelEnabled(LogLevel level);

// How a line looks. kText (the default):
//   2024-04-01T09:00:00.123Z level=info at=server.cc:12 peer=ipv4:... msg=...
// kJson: one JSON object per line, with the members time, level, at,
// message, then the line's fields:
//   {"time":"2024-04-01T09:00:00.123Z","level":"info","at":"server.cc:12",
//    "message":"...","peer":"ipv4:..."}
// Either way, gRPC's own log lines go through this facade too (at=the gRPC
// source file). Call before any thread logs.
enum class LogFormat { kText, kJson };
void SetLogFormat(LogFormat format);
// "text" or "json"; false (and `*format` unchanged) for anything else.
bool ParseLogFormat(absl::string_view name, LogFormat* format);

// Named values of a line, e.g. the peer of the request it is about.
using LogFields = std::vector<std::pair<absl::string_view, std::string>>;

// `text` as the contents of a JSON string (without the quotes): quotes,
// backslashes and control characters escaped, invalid UTF-8 replaced by
// U+FFFD, so that any line is valid JSON.
std::string JsonEscape(absl::string_view text);

namespace internal {

class LogLine {
 public:
  LogLine(LogLevel level, const char* file, int line, LogFields fields = {});
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;
  ~LogLine();
  std::ostream& stream() { return stream_; }

 private:
  const LogLevel level_;
  const char* const file_;
  const int line_;
  const LogFields fields_;
  std::ostringstream stream_;
};

}  // namespace internal
}  // namespace dipwire

#define DIPWIRE_LOG(level) DIPWIRE_LOG_WITH(level, {})

// Like DIPWIRE_LOG, with the LogFields of the line, e.g.
// DIPWIRE_LOG_WITH(kInfo, {{"peer", context->peer()}}).
#define DIPWIRE_LOG_WITH(level, ...)                                   \
  if (!::dipwire::LogLevelEnabled(::dipwire::LogLevel::level)) {       \
  } else                                                               \
    ::dipwire::internal::LogLine(::dipwire::LogLevel::level, __FILE__, \
                                 __LINE__, __VA_ARGS__)                \
        .stream()

#endif  // DIPWIRE_COMMON_LOGGING_H_
