// The checks and the event collector every case decide function shares
// (case_decide.cc, case_people.cc). Internal to the case domain: include it
// from nothing else. The outcomes each check returns are the ones
// case_decide.h promises.
#ifndef MEND_SERVICES_CASE_CASE_DECIDE_INTERNAL_H_
#define MEND_SERVICES_CASE_CASE_DECIDE_INTERNAL_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/base/command_context.h"
#include "common/base/status_macros.h"
#include "common/base/validation.h"
#include "services/case/case_state.h"

namespace mend::casesvc::internal {

// Who may run a command (see the table in case_decide.h).
enum class Access {
  kCaseworker,   // managers; facilitators (allocated ones, on existing cases)
  kManagerOnly,  // managers
};

// The stages beyond the open ones in which a command is accepted (CLOSED
// refuses all but erasure, which skips the gate). A bit set.
enum Gate : unsigned {
  kOpenStagesOnly = 0,
  kWhilePaused = 1u << 0,
  kWhileFoundUnsuitable = 1u << 1,
};

std::string Quote(std::string_view s);

// " (case "c1" is in stage SCREENING)": the end of every FAILED_PRECONDITION.
std::string InStage(const CaseState& state);

// FAILED_PRECONDITION: a rule of the case's state forbids the command now.
absl::Status Refuse(std::string_view command, const CaseState& state,
                    std::string_view rule);

// INVALID_ARGUMENT "<command>: <problem>": mend::Invalid
// (common/base/validation.h).

// The role checks that need no state: PERMISSION_DENIED for auditors and
// services, and for facilitators when `access` is kManagerOnly (the message
// then ends with `manager_rule`).
absl::Status CheckRole(std::string_view command, Access access, const CommandContext& ctx,
                       std::string_view manager_rule = "");

// `facilitator "<id>" is not allocated to case "<case_id>"`, as
// PERMISSION_DENIED prefixed with the command.
absl::Status NotAllocated(std::string_view command, const CommandContext& ctx,
                          std::string_view case_id);

// The case exists, is the one the command names (INTERNAL otherwise), and a
// facilitator caller is allocated to it. A facilitator gets NotAllocated
// whether or not the case exists; others get NOT_FOUND for a missing case.
absl::Status CheckCase(std::string_view command, const CaseState& state,
                       const std::string& case_id, const CommandContext& ctx);

// CLOSED refuses; PAUSED and FOUND_UNSUITABLE refuse unless `accepted` says
// otherwise. The message names the rule and the stage.
absl::Status CheckStageGate(std::string_view command, const CaseState& state,
                            unsigned accepted);

// Sealed data must be sealed with the key of the person it is about (within
// this case: see "Which key seals what" in case_state.h), or erasing that
// person would leave it readable (I6). Empty ciphertext means not given.
absl::Status CheckSealedBy(std::string_view command, std::string_view field,
                           const common_v1::Sealed& sealed, std::string_view person_id);
absl::Status CheckServiceUserSealed(std::string_view command, std::string_view field,
                                    const CaseState& state,
                                    const common_v1::Sealed& sealed);
absl::Status CheckParticipantSealed(std::string_view command, std::string_view prefix,
                                    const case_v1::Participant& p);

// Collects a command's events: applies each to a scratch copy of the state
// as it is added, and on Finish adds the StageChanged events of the moves
// the resulting state calls for.
class Outcome {
 public:
  Outcome(const CaseState& state, const CommandContext& ctx)
      : scratch_(state), micros_(absl::ToUnixMicros(ctx.now)) {}

  template <typename Event>
  absl::Status Add(Event event) {
    DomainEvent e{CaseEvent(std::move(event)), 0, micros_};
    if (absl::Status s = Evolve(scratch_, e); !s.ok()) {
      return absl::InternalError(
          absl::StrCat("decided event does not apply: ", s.message()));
    }
    events_.push_back(std::move(e));
    return absl::OkStatus();
  }

  // One StageChanged from the scratch state's stage to `to`.
  absl::Status ChangeStage(case_v1::Stage to);

  // The automatic moves of the stage machine, as far as the state allows.
  absl::Status Advance();

  // Advance, then the events.
  absl::StatusOr<std::vector<DomainEvent>> Finish() &&;

  // The state after the events so far.
  const CaseState& state() const { return scratch_; }

 private:
  CaseState scratch_;
  const int64_t micros_;
  std::vector<DomainEvent> events_;
};

// "2032-01-13T08:00:00.5Z": a time in error messages (UTC, RFC 3339, as
// precise as it is).
std::string FormatUtc(absl::Time t);

// "2190 days", or the exact duration when it is not whole days.
std::string DescribePeriod(absl::Duration period);

}  // namespace mend::casesvc::internal

#endif  // MEND_SERVICES_CASE_CASE_DECIDE_INTERNAL_H_
