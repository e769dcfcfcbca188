// The consent service's commands as pure functions: given a case's facts
// (consent_state.h) and a validated command (consent_validation.h), the
// event to append, or why not.
//
//   CommandContext ctx{.actor_id = caller.subject, .role = caller.role};
//   MEND_ASSIGN_OR_RETURN(consent_v1::ConsentRecorded e,
//                         DecideRecordConsent(facts, command, ctx));
//   // append e to ConsentStreamId(case_id) expecting facts.version, then
//   // Evolve it (with its real position).
//
// Rules common to both commands, checked in this order:
//   PERMISSION_DENIED    a role other than facilitator or manager
//   INVALID_ARGUMENT     a command that consent_validation.h would refuse
//                        (the handler validates first; this keeps a bad one
//                        from becoming a malformed event)
//   PERMISSION_DENIED    a facilitator not allocated to the case, observed
//                        or not (FacilitatorNotAllocated)
//   NOT_FOUND            the case was never observed (the message says the
//                        consent service may not have caught up yet: pass a
//                        causal token)
//   FAILED_PRECONDITION  the case is CLOSED (I4: closed is closed; the
//                        message names the stage)
//   NOT_FOUND            the case has no such participant
//   FAILED_PRECONDITION  the participant is erased
// A paused case still records consents and withdrawals (a person's answer
// is never turned away while nothing can happen anyway).
//
// RecordConsent: any participant of the case, any scope; a decline may
// follow a consent and the other way round (the case study's victim
// declined, then accepted a letter, then asked to meet). It records exactly
// what was said; the rule (contact_rule.h) decides what it allows.
//
// WithdrawConsent: one scope or all six, whatever their current answers
// (withdrawing what was never given is recorded too: the person's wish is on
// record before anyone asks). Takes effect at once (I3).
//
// Plain C++: no gRPC, no RocksDB, no clock, no ids (the handler makes
// consent ids). Pure and deterministic.
#ifndef MEND_SERVICES_CONSENT_CONSENT_DECIDE_H_
#define MEND_SERVICES_CONSENT_CONSENT_DECIDE_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/base/command_context.h"
#include "common/base/role.h"
#include "mend/consent/v1/events.pb.h"
#include "services/consent/consent_state.h"

namespace mend::consentsvc {

using ::mend::CommandContext;

struct RecordConsentCommand {
  std::string case_id;
  std::string consent_id;  // made by the handler (a UUID)
  std::string participant_id;
  consent_v1::ConsentScope scope = consent_v1::CONSENT_SCOPE_UNSPECIFIED;
  consent_v1::ConsentAnswer answer = consent_v1::CONSENT_ANSWER_UNSPECIFIED;
  consent_v1::HowInformed informed;
  bool requested_by_participant = false;
};
absl::StatusOr<consent_v1::ConsentRecorded> DecideRecordConsent(
    const CaseFacts& facts, const RecordConsentCommand& command,
    const CommandContext& ctx);

struct WithdrawConsentCommand {
  std::string case_id;
  std::string participant_id;
  consent_v1::ConsentScope scope = consent_v1::CONSENT_SCOPE_UNSPECIFIED;  // or
  bool all_scopes = false;
  consent_v1::HowInformed informed;
};
// The event lists the scopes withdrawn: the one, or all six in enum order.
absl::StatusOr<consent_v1::ConsentWithdrawn> DecideWithdrawConsent(
    const CaseFacts& facts, const WithdrawConsentCommand& command,
    const CommandContext& ctx);

// Who may read case `case_id`'s consents and decisions (`facts`: its facts,
// empty if never observed): managers, auditors and services always (the
// caller then says NOT_FOUND for a case never observed); facilitators only
// when allocated to it, PERMISSION_DENIED otherwise — with
// FacilitatorNotAllocated's message, the same for a case never observed.
absl::Status CheckCanRead(const CaseFacts& facts, std::string_view case_id,
                          const CommandContext& ctx);

// PERMISSION_DENIED `facilitator "<facilitator_id>" is not allocated to case
// "<case_id>"`: every consent command's, read's and DecideContact's answer to
// a facilitator not allocated to a case, whether the case was observed or
// not (I5: the answer says nothing about the case).
absl::Status FacilitatorNotAllocated(std::string_view facilitator_id,
                                     std::string_view case_id);

}  // namespace mend::consentsvc

#endif  // MEND_SERVICES_CONSENT_CONSENT_DECIDE_H_
