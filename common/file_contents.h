#ifndef DIPWIRE_COMMON_FILE_CONTENTS_H_
#define DIPWIRE_COMMON_FILE_CONTENTS_H_

#include <fstream>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace dipwire {

// The contents of the file at `path`, or INVALID_ARGUMENT "PATH: cannot
// read". Blocks on file I/O. The one reader of the config file, token and
// secret files and PEM files, in the server and the clients.
inline absl::StatusOr<std::string> ReadFileContents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": cannot read"));
  }
  return contents.str();
}

}  // namespace dipwire

#endif  // DIPWIRE_COMMON_FILE_CONTENTS_H_
