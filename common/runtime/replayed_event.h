// One record of a service's own log as the service folds it: during replay,
// and when a command or a follower's write is folded.
#ifndef MEND_COMMON_RUNTIME_REPLAYED_EVENT_H_
#define MEND_COMMON_RUNTIME_REPLAYED_EVENT_H_

#include <cstdint>
#include <string_view>

#include "common/eventlog/record_codec.h"

namespace mend {

// `bytes` (the exact stored record) and `view` (decoded from them) are valid
// only during the call they are given to.
struct ReplayedEvent {
  uint64_t position = 0;
  std::string_view bytes;
  const eventlog::RecordView& view;
};

}  // namespace mend

#endif  // MEND_COMMON_RUNTIME_REPLAYED_EVENT_H_
