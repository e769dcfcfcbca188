#include "services/case/case_people.h"

#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/base/status_macros.h"
#include "services/case/case_decide_internal.h"

namespace mend::casesvc {

using internal::Access;
using internal::CheckCase;
using internal::CheckRole;
using internal::DescribePeriod;
using internal::FormatUtc;
using internal::Invalid;
using internal::Outcome;
using internal::Quote;
using internal::Refuse;

absl::Status ValidateRetentionPeriod(absl::Duration period) {
  if (period == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        "retention_period must be finite (personal data is not kept for ever)");
  }
  if (period <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "retention_period must be positive, not ", absl::FormatDuration(period)));
  }
  if (period % absl::Seconds(1) != absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("retention_period must be a whole number of seconds, not ",
                     absl::FormatDuration(period)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<DomainEvent>> DecideEraseParticipant(
    const CaseState& state, const EraseParticipantCommand& command,
    const CommandContext& ctx) {
  constexpr std::string_view kCmd = "EraseParticipant";
  MEND_RETURN_IF_ERROR(CheckRole(kCmd, Access::kCaseworker, ctx));
  if (command.participant_id.empty()) return Invalid(kCmd, "participant_id is required");
  if (command.basis == case_v1::ERASURE_BASIS_UNSPECIFIED ||
      !case_v1::ErasureBasis_IsValid(command.basis)) {
    return Invalid(kCmd, "basis must be RETENTION_PERIOD_ELAPSED or ERASURE_REQUEST");
  }
  if (command.reason.empty()) {
    return Invalid(kCmd, "reason is required (the detail of the erasure's basis)");
  }
  if (absl::Status s = ValidateRetentionPeriod(command.retention_period); !s.ok()) {
    return Invalid(kCmd, std::string(s.message()));
  }
  // The person's own request bypasses the retention period, so granting it
  // is a manager's decision.
  if (command.basis == case_v1::ERASURE_REQUEST) {
    MEND_RETURN_IF_ERROR(
        CheckRole(kCmd, Access::kManagerOnly, ctx,
                  "only a manager may grant a person's own erasure request "
                  "(basis ERASURE_REQUEST)"));
  }
  MEND_RETURN_IF_ERROR(CheckCase(kCmd, state, command.case_id, ctx));
  // No stage gate: a closed case accepts erasure (I4), and only a closed one.
  if (state.stage != case_v1::CLOSED) {
    return Refuse(kCmd, state,
                  "personal data is erased only once the case is closed; close the "
                  "case first");
  }
  const ParticipantState* p = state.FindParticipant(command.participant_id);
  if (p == nullptr) {
    return absl::NotFoundError(absl::StrCat(std::string(kCmd), ": no participant ",
                                            Quote(command.participant_id), " in case ",
                                            Quote(state.case_id)));
  }
  if (p->erased) {
    return Refuse(kCmd, state,
                  absl::StrCat("participant ", Quote(command.participant_id),
                               " is already erased (by ", Quote(p->erased_by), ")"));
  }
  int64_t retention_seconds = 0;  // the period the rule applied (none: 0)
  if (command.basis == case_v1::RETENTION_PERIOD_ELAPSED) {
    if (state.closed_unix_micros <= 0) {
      return Refuse(kCmd, state,
                    "the case's closure time is not known, so its retention period "
                    "cannot be counted");
    }
    const absl::Time closed_at = absl::FromUnixMicros(state.closed_unix_micros);
    const absl::Time allowed_from = closed_at + command.retention_period;
    if (ctx.now < allowed_from) {
      return Refuse(
          kCmd, state,
          absl::StrCat("the retention period of ",
                       DescribePeriod(command.retention_period),
                       " since the case was closed at ", FormatUtc(closed_at),
                       " has not elapsed; erasure on basis RETENTION_PERIOD_ELAPSED is "
                       "allowed from ",
                       FormatUtc(allowed_from),
                       " (a person's own request is basis ERASURE_REQUEST)"));
    }
    retention_seconds = absl::ToInt64Seconds(command.retention_period);
  }
  case_v1::ParticipantErased erased;
  erased.set_case_id(state.case_id);
  erased.set_participant_id(command.participant_id);
  erased.set_requested_by(ctx.actor_id);
  erased.set_reason(command.reason);
  erased.set_basis(command.basis);
  erased.set_retention_period_seconds(retention_seconds);
  erased.set_case_closed_unix_micros(state.closed_unix_micros);
  Outcome out(state, ctx);
  MEND_RETURN_IF_ERROR(out.Add(std::move(erased)));
  return std::move(out).Finish();
}

}  // namespace mend::casesvc
