// Propagation macros for absl::Status / absl::StatusOr (this Abseil release
// ships none).
//
//   MEND_RETURN_IF_ERROR(store->Append(...));
//   MEND_ASSIGN_OR_RETURN(auto head, store->GetHead());
#ifndef MEND_COMMON_BASE_STATUS_MACROS_H_
#define MEND_COMMON_BASE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define MEND_STATUS_CONCAT_INNER_(a, b) a##b
#define MEND_STATUS_CONCAT_(a, b) MEND_STATUS_CONCAT_INNER_(a, b)

#define MEND_RETURN_IF_ERROR(expr)                                  \
  do {                                                              \
    if (::absl::Status mend_status_ = (expr); !mend_status_.ok()) { \
      return mend_status_;                                          \
    }                                                               \
  } while (false)

#define MEND_ASSIGN_OR_RETURN(lhs, expr) \
  MEND_ASSIGN_OR_RETURN_IMPL_(MEND_STATUS_CONCAT_(mend_statusor_, __LINE__), lhs, expr)

#define MEND_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                \
  if (!statusor.ok()) {                                  \
    return std::move(statusor).status();                 \
  }                                                      \
  lhs = *std::move(statusor)

#endif  // MEND_COMMON_BASE_STATUS_MACROS_H_
