#ifndef DIPWIRE_COMMON_UTF8_H_
#define DIPWIRE_COMMON_UTF8_H_

#include <algorithm>
#include <cstddef>

#include "absl/strings/string_view.h"

namespace dipwire {

// Whether byte `c` continues a UTF-8 sequence (10xxxxxx) rather than
// starting a character.
inline bool IsUtf8Continuation(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

// The number of characters (UTF-8 code points) in `text`: the bytes that do
// not continue a sequence, which keeps the count total on invalid UTF-8 too.
// Limits on text count characters, so that every script gets the same room.
inline size_t CountCharacters(absl::string_view text) {
  return static_cast<size_t>(std::count_if(
      text.begin(), text.end(), [](char c) { return !IsUtf8Continuation(c); }));
}

// The byte offset of character `index` (0-based) of `text`, counted as
// CountCharacters does; text.size() when `text` has no such character.
inline size_t OffsetOfCharacter(absl::string_view text, size_t index) {
  size_t count = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (!IsUtf8Continuation(text[i])) {
      if (count == index) return i;
      ++count;
    }
  }
  return text.size();
}

}  // namespace dipwire

#endif  // DIPWIRE_COMMON_UTF8_H_
