#ifndef DIPWIRE_TESTS_FUZZ_FUZZ_CHECKS_H_
#define DIPWIRE_TESTS_FUZZ_FUZZ_CHECKS_H_

#include <cstddef>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/string_view.h"

namespace dipwire::fuzz {

// Checks shared by the libFuzzer targets of tests/fuzz/. A failed check
// aborts, which libFuzzer reports as a crash, saving the input that caused
// it. Pure functions; safe for concurrent use.

// Unless `condition` holds, prints `what` and `detail` (escaped by the
// caller when it may hold arbitrary bytes) to stderr and aborts.
inline void Check(bool condition, absl::string_view what,
                  absl::string_view detail = "") {
  if (condition) return;
  std::fprintf(stderr, "fuzz check failed: %.*s\n%.*s\n",
               static_cast<int>(what.size()), what.data(),
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

// True when `text` is well-formed UTF-8 as RFC 3629 defines it: no overlong
// forms, no surrogates, nothing above U+10FFFF. Status messages travel in
// gRPC status text and in proto string fields, which must be UTF-8.
inline bool IsValidUtf8(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    // The number of continuation bytes, and the range of the first one
    // (the lead byte alone cannot rule out overlong forms and surrogates).
    size_t extra = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      extra = 1;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      extra = 2;
      if (lead == 0xE0) low = 0xA0;   // overlong
      if (lead == 0xED) high = 0x9F;  // surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      extra = 3;
      if (lead == 0xF0) low = 0x90;   // overlong
      if (lead == 0xF4) high = 0x8F;  // above U+10FFFF
    } else {
      return false;  // A continuation byte, C0, C1 or F5..FF.
    }
    if (text.size() - i <= extra) return false;
    for (size_t k = 1; k <= extra; ++k) {
      const auto c = static_cast<unsigned char>(text[i + k]);
      if (c < low || c > high) return false;
      low = 0x80;
      high = 0xBF;
    }
    i += extra + 1;
  }
  return true;
}

}  // namespace dipwire::fuzz

#endif  // DIPWIRE_TESTS_FUZZ_FUZZ_CHECKS_H_
