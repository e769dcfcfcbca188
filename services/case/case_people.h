// People across cases (DESIGN): the manager's link that says a participant
// of one case is the same person as a participant of another, and erasure of
// a person's personal data (I6) in every case they are linked in. Same
// conventions as case_decide.h (pure and deterministic; the events have
// position 0 and ctx.now; the status codes mean what they mean there);
// case_decide.h includes this header.
//
// People are per case (case_state.h, "Which key seals what"): a participant
// id names a person within one case, and their key is that case's key for
// them. So a referral can never attach to, or affect, a person of another
// case: naming an id that another case also uses makes a new person with a
// new key, and erasing them touches that case alone. Only a manager joins two
// cases' participants, with LinkParticipant, and every erasure then names
// and covers each case it touches.
//
//   // LinkParticipant: lock both cases (case-id order), fold both, then
//   MEND_ASSIGN_OR_RETURN(std::vector<CaseAppend> appends,
//                         DecideLinkParticipant(a, b, command, ctx));
//   // one atomic EventStore::Write: for each append, its events to
//   // CaseStreamId(append.case_id) expecting append.expected_version.
//
//   // EraseParticipant: find the group, lock it, decide, write, delete keys.
//   CaseStates states = {{case_id, &named}};
//   for (LinkedGroup g = FindLinkedGroup(states, {case_id, participant_id});
//        !g.missing_cases.empty(); g = FindLinkedGroup(states, ...)) {
//     // load each missing case's state into `states`
//   }
//   MEND_ASSIGN_OR_RETURN(std::vector<CaseAppend> appends,
//                         DecideEraseParticipant(states, command, ctx));
//   // one atomic Write as above; then KeyStore::Erase(ErasedKeyId(e)) for
//   // every ParticipantErased e of every append.
#ifndef MEND_SERVICES_CASE_CASE_PEOPLE_H_
#define MEND_SERVICES_CASE_CASE_PEOPLE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/base/command_context.h"
#include "services/case/case_state.h"

namespace mend::casesvc {

// The states a decision over several cases reads, by case id. Not owned; a
// case that does not exist is an empty CaseState{}.
using CaseStates = std::map<std::string, const CaseState*, std::less<>>;

// What a decision over several cases appends to one of them: `events` to
// CaseStreamId(case_id), expecting the stream at `expected_version` (the
// version of the state decided on; 0 never occurs: every case touched
// exists). All of a decision's appends go in one atomic write, or none.
struct CaseAppend {
  std::string case_id;
  uint64_t expected_version = 0;
  std::vector<DomainEvent> events;
};

// Manager only (PERMISSION_DENIED for anyone else, checked first). Records
// that participant `participant_id` of case `case_id` is the same person as
// `other_participant_id` of `other_case_id`: one ParticipantLinked in each
// case's stream, naming the other. Returns two appends in case-id order
// (the order to lock the cases in).
//   INVALID_ARGUMENT     an id or the reason missing; both cases the same
//                        (within a case each participant is one person).
//   NOT_FOUND            either case (naming which), or either participant.
//   INTERNAL             a state of another case than the command names.
//   FAILED_PRECONDITION  either case CLOSED (I4; PAUSED and FOUND_UNSUITABLE
//                        are fine: a link decides nothing about contact);
//                        either participant erased.
//   ALREADY_EXISTS       the two are linked already.
// Links are symmetric and, for erasure, transitive (FindLinkedGroup).
struct LinkParticipantCommand {
  std::string case_id;
  std::string participant_id;
  std::string other_case_id;
  std::string other_participant_id;
  std::string reason;  // a short code (validated by the handler), no personal data
};
absl::StatusOr<std::vector<CaseAppend>> DecideLinkParticipant(
    const CaseState& state, const CaseState& other, const LinkParticipantCommand& command,
    const CommandContext& ctx);

// Everyone who is the same person as `person`: `person` and every
// participant reachable from them through links (in either direction and
// through further links), in CasePerson order. A linked case not in `cases`
// cannot be followed: its id is in `missing_cases` (sorted, unique), and
// `people` holds what could be reached without it. Load those states and
// call again until nothing is missing. A person or case not in `cases` gives
// just `person` (and the case as missing, if absent).
struct LinkedGroup {
  std::vector<CasePerson> people;
  std::vector<std::string> missing_cases;
};
LinkedGroup FindLinkedGroup(const CaseStates& cases, const CasePerson& person);

// The retention period of a closed case's personal data when the service is
// given none (--retention_period): six years.
inline constexpr absl::Duration kDefaultRetentionPeriod = absl::Hours(24 * 2190);

// OK if `period` can be a retention period: positive, finite and a whole
// number of seconds (ParticipantErased records it in seconds, so an auditor
// re-runs exactly the rule that was applied). INVALID_ARGUMENT saying which
// otherwise.
absl::Status ValidateRetentionPeriod(absl::Duration period);

// Erases a participant's personal data (I6) in case_id and in every case
// they are linked in (FindLinkedGroup): for each such participant one
// ParticipantErased in their own case's stream, naming who asked
// (ctx.actor_id), the basis and its detail, the retention period applied,
// when that case was closed, and in `linked` every other participant the
// erasure covers — so each service learns of it by folding each case's own
// stream. Returns one append per case touched, in case-id order. Every case
// touched must allow it — the retention rule:
//   any basis               each case must be CLOSED (FAILED_PRECONDITION
//                           naming the case and its stage otherwise: close
//                           the case first).
//   RETENTION_PERIOD_ELAPSED  manager, or a facilitator allocated to every
//                           case touched; allowed when, for each case,
//                           ctx.now >= closed_unix_micros + retention_period,
//                           FAILED_PRECONDITION naming the case and the time
//                           from which it is allowed otherwise.
//   ERASURE_REQUEST         the person's own request: allowed at once after
//                           closure, for a manager only (PERMISSION_DENIED
//                           for a facilitator, checked before the case).
//   UNSPECIFIED / unknown   INVALID_ARGUMENT (case_validation.h catches it
//                           first).
// A facilitator allocated to case_id but not to every linked case is
// PERMISSION_DENIED (without naming the other cases: a manager erases a
// person linked across cases). A bad retention_period is INVALID_ARGUMENT.
// NOT_FOUND: the participant is not in case_id (a facilitator not allocated
// to case_id gets PERMISSION_DENIED whether or not it exists). Erasing twice
// is FAILED_PRECONDITION. INTERNAL: `cases` lacks case_id or a linked case
// (the handler must pass every state FindLinkedGroup reaches), or a link
// names a participant its case does not have. Participants of the group
// erased already (only possible in logs from before linking) are skipped.
// The handler appends, then deletes each erased participant's key
// (ErasedKeyId); on replay it may erase again the key of every erased
// participant, which makes a crash between the two harmless.
struct EraseParticipantCommand {
  std::string case_id;
  std::string participant_id;
  case_v1::ErasureBasis basis = case_v1::ERASURE_BASIS_UNSPECIFIED;
  std::string reason;  // the basis's detail, a short code (required)
  // The service's retention period (its --retention_period).
  absl::Duration retention_period = kDefaultRetentionPeriod;
};
absl::StatusOr<std::vector<CaseAppend>> DecideEraseParticipant(
    const CaseStates& cases, const EraseParticipantCommand& command,
    const CommandContext& ctx);

// The same for a participant linked to no other case, with the events of
// its one case. FAILED_PRECONDITION if the participant is linked to another
// case (decide with the states of every linked case instead); otherwise as
// above.
absl::StatusOr<std::vector<DomainEvent>> DecideEraseParticipant(
    const CaseState& state, const EraseParticipantCommand& command,
    const CommandContext& ctx);

// The key to delete once `event` is appended: PersonKeyId of the case and
// participant of a ParticipantErased; nullopt for other events.
std::optional<std::string> ErasedKeyId(const DomainEvent& event);

}  // namespace mend::casesvc

#endif  // MEND_SERVICES_CASE_CASE_PEOPLE_H_
