// Structured logs: one JSON object a line, on spdlog.
//
//   MEND_RETURN_IF_ERROR(mend::log::InitLogging("consent", "info"));
//   mend::log::Info("subscription connected",
//                   {{"upstream", upstream_name}, {"position", 17}});
//   mend::log::Warn("command refused", {{mend::log::kCorrelationId, cid},
//                                       {mend::log::kMethod, "DecideContact"},
//                                       {mend::log::kStatus, "FAILED_PRECONDITION"}});
// writes
//   {"time":"2024-05-01T09:30:00.123Z","level":"info","service":"consent",
//    "message":"subscription connected","upstream":"case","position":17}
//
// Keys, in order: time (RFC 3339, UTC, milliseconds), level (debug, info,
// warn, error), service, message, then the fields in the order given. A field
// whose key is one of the first four is written as "_<key>" rather than
// replacing it. Strings are JSON-escaped; bytes that are not UTF-8 become
// U+FFFD. After InitLogging, plain spdlog calls (spdlog::info(...)), gRPC
// core's log messages (gpr_log: "component":"grpc") and protobuf's
// ("component":"protobuf"), each with "source" (file:line), come out as the
// same JSON lines, at their own levels (gRPC's ERROR and protobuf's ERROR and
// FATAL as error).
//
// PERSONAL DATA: never pass a person's personal data -- names, dates of birth,
// addresses, phone numbers, e-mail addresses, offence details, free-text
// notes, letter contents -- in a message or a field, and never log a request
// or event payload. Log ids only (case, participant, event, correlation and
// trace ids), method names, status codes and counts. Logs leave the service
// (collectors, support tickets) and cannot be crypto-shredded (invariants I5,
// I6).
//
// Thread safety: logging functions may be called from any thread, also
// before InitLogging (then: service "mend", level info, stderr) and
// concurrently with it.
#ifndef MEND_COMMON_OBSERVABILITY_LOGGING_H_
#define MEND_COMMON_OBSERVABILITY_LOGGING_H_

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace spdlog::sinks {
class sink;
}  // namespace spdlog::sinks

namespace mend::log {

// Well-known field keys.
inline constexpr char kTraceId[] = "trace_id";
inline constexpr char kCorrelationId[] = "correlation_id";
inline constexpr char kMethod[] = "method";
inline constexpr char kStatus[] = "status";

enum class Level { kDebug, kInfo, kWarn, kError };

// One key/value of a log line: the value a string, an integer, a bool or a
// double. Holds views: the key and string value must outlive the logging
// call (temporaries in the call's arguments do).
class Field {
 public:
  Field(std::string_view key, std::string_view value) : key_(key), value_(value) {}
  Field(std::string_view key, const char* value)
      : key_(key), value_(std::string_view(value == nullptr ? "" : value)) {}
  Field(std::string_view key, const std::string& value)
      : key_(key), value_(std::string_view(value)) {}
  // absl::Status::message() and other Abseil strings.
  Field(std::string_view key, absl::string_view value)
      : key_(key), value_(std::string_view(value.data(), value.size())) {}
  Field(std::string_view key, bool value) : key_(key), value_(value) {}
  Field(std::string_view key, double value) : key_(key), value_(value) {}
  template <std::signed_integral T>
  Field(std::string_view key, T value) : key_(key), value_(static_cast<int64_t>(value)) {}
  template <std::unsigned_integral T>
  requires(!std::same_as<T, bool>) Field(std::string_view key, T value)
      : key_(key), value_(static_cast<uint64_t>(value)) {}
  // Other pointers would silently become bool.
  template <typename T>
  Field(std::string_view key, const T* value) = delete;

  std::string_view key() const { return key_; }
  const std::variant<std::string_view, int64_t, uint64_t, bool, double>& value() const {
    return value_;
  }

 private:
  std::string_view key_;
  std::variant<std::string_view, int64_t, uint64_t, bool, double> value_;
};

using Fields = std::initializer_list<Field>;

// Sets the service name and the minimum level ("debug", "info", "warn" or
// "error"), and where lines go: `sink`, or stderr when null (tests pass an
// spdlog ostream sink to read the lines). Installs the JSON logger as
// spdlog's default logger and routes gRPC's log messages through it. May be
// called again to change any of these.
//   INVALID_ARGUMENT  an unknown level (nothing changes), or an empty service.
absl::Status InitLogging(std::string_view service, std::string_view level,
                         std::shared_ptr<spdlog::sinks::sink> sink = nullptr);

// Parses "debug", "info", "warn" or "error"; INVALID_ARGUMENT otherwise.
absl::Status ParseLevel(std::string_view text, Level* level);

// Whether a line at `level` would be written (to skip building costly fields).
bool Enabled(Level level);

void Log(Level level, std::string_view message, Fields fields = {});
inline void Debug(std::string_view message, Fields fields = {}) {
  Log(Level::kDebug, message, fields);
}
inline void Info(std::string_view message, Fields fields = {}) {
  Log(Level::kInfo, message, fields);
}
inline void Warn(std::string_view message, Fields fields = {}) {
  Log(Level::kWarn, message, fields);
}
inline void Error(std::string_view message, Fields fields = {}) {
  Log(Level::kError, message, fields);
}

}  // namespace mend::log

#endif  // MEND_COMMON_OBSERVABILITY_LOGGING_H_
