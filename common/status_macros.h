#ifndef DIPWIRE_COMMON_STATUS_MACROS_H_
#define DIPWIRE_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Early-return helpers for absl::Status and absl::StatusOr (Abseil 20220623
// has no RETURN_IF_ERROR of its own; the prefix avoids a clash with later
// versions that do).

// Evaluates `expr` (an absl::Status) and returns it from the enclosing
// function when it is not OK.
#define DIPWIRE_RETURN_IF_ERROR(expr)                  \
  do {                                                 \
    ::absl::Status dipwire_status_ = (expr);           \
    if (!dipwire_status_.ok()) return dipwire_status_; \
  } while (false)

#define DIPWIRE_STATUS_CONCAT_INNER_(a, b) a##b
#define DIPWIRE_STATUS_CONCAT_(a, b) DIPWIRE_STATUS_CONCAT_INNER_(a, b)

// Evaluates `rexpr` (an absl::StatusOr<T>); returns its status when it is not
// OK, else moves its value into `lhs` (which may be a declaration).
#define DIPWIRE_ASSIGN_OR_RETURN(lhs, rexpr) \
  DIPWIRE_ASSIGN_OR_RETURN_IMPL_(            \
      DIPWIRE_STATUS_CONCAT_(dipwire_statusor_, __LINE__), lhs, rexpr)

// lhs may be a declaration, so it cannot be parenthesized.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define DIPWIRE_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                   \
  if (!statusor.ok()) return std::move(statusor).status();   \
  lhs = *std::move(statusor)
// NOLINTEND(bugprone-macro-parentheses)

#endif  // DIPWIRE_COMMON_STATUS_MACROS_H_
