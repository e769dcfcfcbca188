// mend-audit replay: a service's state at a point of its log, folded by the
// service's own domain code exactly as the service folds its log at start.
//
//   MEND_ASSIGN_OR_RETURN(ReplayUntil until, ParseUntil("2026-03-01T10:00:00Z"));
//   MEND_ASSIGN_OR_RETURN(ReplayResult r, Replay(*log, Service::kCase, until, ""));
//   if (r.finding) PrintFinding(*r.finding); else puts(r.json.dump(2).c_str());
//
// The fold: every service runs its records through the shared command path
// (common/runtime/command_path.h: the stream prefix, the aggregate's next
// stream version, the evolve hook, the version after it) with an evolve
// hook that calls its domain library. Replay builds the same CommandPath
// (without a store: only Apply is used, which never touches one) with hooks
// that make the same domain calls as the services' hooks:
//   case        casesvc::EvolveRecord: ParseDomainEvent, the event's case
//               must be its stream's, casesvc::Evolve (case_service.cc)
//   consent     consentsvc::Evolve, which folds the observed case events
//               (CaseEventObserved) with consent's own projection
//                                                    (consent_service.cc)
//   scheduling  schedulingsvc::Evolve, upstream facts included
//                                                    (scheduling_service.cc)
//   conference  conferencesvc::Evolve, upstream facts included
//                                                    (conference_service.cc)
// What the hooks do beyond the state (the case service's reference counter,
// the decision index, the calendar index, erasing keys) changes no case's
// state and is left out. Records are checked as they are read (LogVerifier:
// positions, chain, stream versions), as the services' replay checks the
// chain: a log that does not check, or that the domain refuses, is a
// finding, not a state.
//
// The JSON, one object per case (see replay_json.h for each service's):
//   {"service":"case","head_position":40,"until_position":31,
//    "until_time":"2026-03-01T10:00:00Z","last_recorded_at":"…",
//    "cases":[{…}]}
// until_position is the last record folded (0: none); until_time is the
// --until time, or null for a position.
#ifndef MEND_TOOLS_AUDIT_REPLAY_FOLD_H_
#define MEND_TOOLS_AUDIT_REPLAY_FOLD_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/eventlog/record_codec.h"
#include "nlohmann/json.hpp"
#include "tools/audit/audit_cli.h"
#include "tools/audit/audit_log.h"

namespace mend::audit {

// --until, parsed: at most one of the two is set (neither: the whole log).
struct ReplayUntil {
  // Records 1..position (0: none).
  std::optional<uint64_t> position;
  // Records in position order up to, not including, the first recorded
  // after it (recorded_unix_micros <= time).
  std::optional<absl::Time> time;
};

// "" → the whole log; digits → a position ("0", "42"); otherwise an RFC 3339
// time ("2026-03-01T10:00:00Z", "2026-03-01T11:00:00.5+01:00").
// INVALID_ARGUMENT naming the text for anything else (a negative number, a
// number too large, a date without a time or zone, garbage).
absl::StatusOr<ReplayUntil> ParseUntil(std::string_view text);

// One service's fold over its log, record by record in position order. Not
// thread-safe (one fold per replay).
class ServiceFold {
 public:
  virtual ~ServiceFold() = default;
  // Folds one record (`view` decoded from `bytes`) as the service's replay
  // does; the service's error when its replay would refuse it (DATA_LOSS
  // naming the position).
  virtual absl::Status Apply(uint64_t position, std::string_view bytes,
                             const eventlog::RecordView& view) = 0;
  // Every case folded so far, in case id order, as its JSON object; only the
  // one named if `case_id` is not empty (none if it was not folded).
  virtual absl::StatusOr<std::vector<nlohmann::ordered_json>> Cases(
      std::string_view case_id) const = 0;
};

// The fold of `service`'s log; null for Service::kUnknown.
std::unique_ptr<ServiceFold> NewServiceFold(Service service);

struct ReplayResult {
  uint64_t head_position = 0;
  uint64_t until_position = 0;  // the last record folded (0: none)
  // Set when the log does not check or the domain refuses a record: the
  // state up to it is not to be trusted, and `json` is empty.
  std::optional<Finding> finding;
  nlohmann::ordered_json json;
};

// Folds `log` (of `service`) up to `until` and renders the state then; only
// case `case_id` if it is not empty. INVALID_ARGUMENT "--until N is past the
// head …" naming the head for a position beyond it; the log's errors
// (UNAVAILABLE, …) otherwise.
absl::StatusOr<ReplayResult> Replay(AuditLog& log, Service service,
                                    const ReplayUntil& until, std::string_view case_id);

}  // namespace mend::audit

#endif  // MEND_TOOLS_AUDIT_REPLAY_FOLD_H_
