// Helpers shared by mend's tests: temporary directories, status matchers and
// a loopback gRPC server on an ephemeral port.
#ifndef MEND_TESTS_SUPPORT_TEST_UTIL_H_
#define MEND_TESTS_SUPPORT_TEST_UTIL_H_

#include <filesystem>
#include <functional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/eventlog/event_types.h"
#include "common/rpc/status_convert.h"
#include "gmock/gmock.h"
#include "grpcpp/support/status.h"

namespace mend::testing {

// An event for tests of the store and what reads it: type
// "mend.test.v1.Thing", actor "tester" (role "service"), correlation "corr".
inline eventlog::NewEvent TestEvent(std::string id, std::string payload = "payload") {
  return {.event_id = std::move(id),
          .event_type = "mend.test.v1.Thing",
          .payload = std::move(payload),
          .actor_id = "tester",
          .actor_role = "service",
          .correlation_id = "corr",
          .causation_id = ""};
}

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

// The same, and the message matches `message` (e.g. HasSubstr("scope")).
MATCHER_P2(StatusIs, code, message,
           std::string(negation ? "doesn't have" : "has") + " status code " +
               absl::StatusCodeToString(code) + " and a matching message") {
  const absl::Status& s = ::mend::testing::GetStatus(arg);
  *result_listener << "status is " << s;
  return s.code() == code && ::testing::Matches(message)(std::string(s.message()));
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

// The absl form of a gRPC status (common/status_convert.h), for tests that
// name it mend::testing::FromGrpc.
using ::mend::FromGrpc;

// Checks `condition` every millisecond until it holds or `timeout` passes;
// returns whether it held. For state that has no notification to wait on
// (e.g. a server-side counter); prefer a stream or a deadline when there is.
inline bool WaitFor(const std::function<bool()>& condition,
                    absl::Duration timeout = absl::Seconds(20)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

}  // namespace mend::testing

#endif  // MEND_TESTS_SUPPORT_TEST_UTIL_H_
