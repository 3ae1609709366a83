#ifndef DIPWIRE_COMMON_LOGGING_H_
#define DIPWIRE_COMMON_LOGGING_H_

#include <sstream>

#include "absl/strings/string_view.h"

namespace dipwire {

// dipwire's logging facade (Abseil 20220623 has no absl/log). Libraries log
// through DIPWIRE_LOG; lines go to stderr, never stdout, which mains own.
//
//   DIPWIRE_LOG(kWarning) << "sink " << name << " failed: " << status;
//
// Safe for concurrent use: each line is written with one call.
enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Lines below `level` are dropped. Default kInfo.
void SetMinLogLevel(LogLevel level);
bool LogLevelEnabled(LogLevel level);

namespace internal {

class LogLine {
 public:
  LogLine(LogLevel level, const char* file, int line);
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;
  ~LogLine();
  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};

}  // namespace internal
}  // namespace dipwire

#define DIPWIRE_LOG(level)                                             \
  if (!::dipwire::LogLevelEnabled(::dipwire::LogLevel::level)) {       \
  } else                                                               \
    ::dipwire::internal::LogLine(::dipwire::LogLevel::level, __FILE__, \
                                 __LINE__)                             \
        .stream()

#endif  // DIPWIRE_COMMON_LOGGING_H_
