// People across cases (DESIGN): erasure of a participant's personal data
// (I6), and the manager's link that says two participants of two cases are
// one person. Same conventions as case_decide.h (pure, deterministic, the
// outcomes listed there); case_decide.h includes this header.
#ifndef MEND_SERVICES_CASE_CASE_PEOPLE_H_
#define MEND_SERVICES_CASE_CASE_PEOPLE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/base/command_context.h"
#include "services/case/case_state.h"

namespace mend::casesvc {

// The retention period of a closed case's personal data when the service is
// given none (--retention_period): six years.
inline constexpr absl::Duration kDefaultRetentionPeriod = absl::Hours(24 * 2190);

// OK if `period` can be a retention period: positive, finite and a whole
// number of seconds (ParticipantErased records it in seconds, so an auditor
// re-runs exactly the rule that was applied). INVALID_ARGUMENT saying which
// otherwise.
absl::Status ValidateRetentionPeriod(absl::Duration period);

// Records that a participant's personal data is erased (I6); the event names
// who asked (ctx.actor_id), the basis and its detail, the retention period
// applied and when the case was closed. The retention rule:
//   any basis               the case must be CLOSED (FAILED_PRECONDITION
//                           naming the stage otherwise: close the case first).
//   RETENTION_PERIOD_ELAPSED  manager or allocated facilitator; allowed when
//                           ctx.now >= closed_unix_micros + retention_period,
//                           FAILED_PRECONDITION naming the time from which it
//                           is allowed otherwise.
//   ERASURE_REQUEST         the person's own request: allowed at once after
//                           closure, for a manager only (PERMISSION_DENIED
//                           for a facilitator, checked before the case).
//   UNSPECIFIED / unknown   INVALID_ARGUMENT (case_validation.h catches it
//                           first).
// A bad retention_period (ValidateRetentionPeriod) is INVALID_ARGUMENT.
// Erasing twice is FAILED_PRECONDITION. The handler appends the event and
// then deletes the person's key (KeyStore::Erase); on replay it may erase
// again the key of every erased participant, which makes a crash between the
// two harmless.
struct EraseParticipantCommand {
  std::string case_id;
  std::string participant_id;
  case_v1::ErasureBasis basis = case_v1::ERASURE_BASIS_UNSPECIFIED;
  std::string reason;  // the basis's free-text detail (required)
  // The service's retention period (its --retention_period).
  absl::Duration retention_period = kDefaultRetentionPeriod;
};
absl::StatusOr<std::vector<DomainEvent>> DecideEraseParticipant(
    const CaseState& state, const EraseParticipantCommand& command,
    const CommandContext& ctx);

}  // namespace mend::casesvc

#endif  // MEND_SERVICES_CASE_CASE_PEOPLE_H_
