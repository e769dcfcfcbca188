// The event id every command's events carry, in every mend service:
//
//   cmd/<Method>/<index>/<digest>/<request_id>
//
//   Method      the RPC that ran the command ("ReferCase", "DecideContact")
//   index       the event's place among the command's events: 0, 1, 2, ...
//   digest      32 lower-case hex digits: the first 16 bytes of the SHA-256 of
//               the canonical request (RequestDigest, common/runtime)
//   request_id  the caller's request id, as given (it may contain '/': it is
//               everything after the fourth '/')
//
// So the log alone says which request, which method and which content made
// each event: a retry of the same request (same id, same method, same
// aggregate, same digest) is answered from it, and the same request id with
// another method, aggregate or content is ALREADY_EXISTS — after a restart
// too, since the index of requests is rebuilt from these ids on replay.
// Events that no command made (a follower's, "case@42") have other ids.
#ifndef MEND_COMMON_BASE_COMMAND_EVENT_ID_H_
#define MEND_COMMON_BASE_COMMAND_EVENT_ID_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mend {

struct CommandEventId {
  std::string method;
  uint32_t index = 0;
  std::string digest;  // 32 hex digits
  std::string request_id;

  friend bool operator==(const CommandEventId&, const CommandEventId&) = default;
};

// The id above. `method` must not contain '/' and `digest` must be 32 hex
// digits (the command path makes both); `request_id` is not escaped.
std::string FormatCommandEventId(const CommandEventId& id);

// The parts of a command's event id; nullopt for any other id (not "cmd/",
// too few parts, an index that is not a number, a digest that is not 32 hex
// digits, an empty method or request id).
std::optional<CommandEventId> ParseCommandEventId(std::string_view event_id);

}  // namespace mend

#endif  // MEND_COMMON_BASE_COMMAND_EVENT_ID_H_
