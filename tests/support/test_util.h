// Helpers shared by mend's tests: temporary directories, status matchers and
// a loopback gRPC server on an ephemeral port.
#ifndef MEND_TESTS_SUPPORT_TEST_UTIL_H_
#define MEND_TESTS_SUPPORT_TEST_UTIL_H_

#include <filesystem>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace mend::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with its contents when
// the object is destroyed.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

MATCHER_P(StatusIs, code,
          std::string(negation ? "doesn't have" : "has") + " status code " +
              absl::StatusCodeToString(code)) {
  const absl::Status& s = ::mend::testing::GetStatus(arg);
  *result_listener << "status is " << s;
  return s.code() == code;
}

MATCHER(IsOk, std::string(negation ? "isn't" : "is") + " OK") {
  const absl::Status& s = ::mend::testing::GetStatus(arg);
  *result_listener << "status is " << s;
  return s.ok();
}

// Matches an OK StatusOr whose value matches `inner`.
MATCHER_P(IsOkAndHolds, inner, "is OK and holds a matching value") {
  if (!arg.ok()) {
    *result_listener << "status is " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(inner, *arg, result_listener);
}

}  // namespace mend::testing

#endif  // MEND_TESTS_SUPPORT_TEST_UTIL_H_
