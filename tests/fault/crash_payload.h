// The payload mend-crash-appender stores with each event, shared with the test
// that checks it after a crash: the event id repeated (separated by '|') and
// cut to kCrashPayloadBytes, so a record whose payload belongs to another
// event, or is cut short, is caught.
#ifndef MEND_TESTS_FAULT_CRASH_PAYLOAD_H_
#define MEND_TESTS_FAULT_CRASH_PAYLOAD_H_

#include <cstddef>
#include <string>

namespace mend::eventlog {

inline constexpr size_t kCrashPayloadBytes = 200;
inline constexpr char kCrashEventType[] = "mend.test.v1.CrashEvent";

inline std::string CrashPayload(const std::string& event_id) {
  std::string payload;
  payload.reserve(kCrashPayloadBytes + event_id.size() + 1);
  while (payload.size() < kCrashPayloadBytes) {
    payload.append(event_id);
    payload.push_back('|');
  }
  payload.resize(kCrashPayloadBytes);
  return payload;
}

}  // namespace mend::eventlog

#endif  // MEND_TESTS_FAULT_CRASH_PAYLOAD_H_
