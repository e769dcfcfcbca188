#include "services/case/case_service.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/base/page_token.h"
#include "common/base/status_macros.h"
#include "common/runtime/uuid.h"
#include "services/case/case_validation.h"
#include "services/case/case_view.h"

namespace mend::casesvc {
namespace {

constexpr char kParticipantErasedType[] = "mend.case.v1.ParticipantErased";

// "RJ-2026-000123" → (2026, 123).
bool ParseReference(const std::string& reference, int64_t* year, int64_t* number) {
  if (reference.size() < 9 || reference.compare(0, 3, "RJ-") != 0 ||
      reference[7] != '-') {
    return false;
  }
  return absl::SimpleAtoi(reference.substr(3, 4), year) &&
         absl::SimpleAtoi(reference.substr(8), number);
}

std::string Serialized(const google::protobuf::Message& message) {
  std::string bytes;
  message.SerializeToString(&bytes);  // deterministic enough: no maps in these
  return bytes;
}

// The domain's events as the command path appends them.
absl::StatusOr<std::vector<DecidedEvent>> ToDecided(
    absl::StatusOr<std::vector<DomainEvent>> events) {
  if (!events.ok()) return events.status();
  std::vector<DecidedEvent> out;
  out.reserve(events->size());
  for (const DomainEvent& e : *events) out.push_back({e.type(), e.SerializePayload()});
  return out;
}

// Decides twice: first without personal data (a command the domain refuses
// seals nothing, so no key is made for it), then with it.
template <typename Command, typename DecideFn, typename SealFn>
absl::StatusOr<std::vector<DomainEvent>> DecideSealed(const CaseState& state,
                                                      Command command,
                                                      const CommandContext& ctx,
                                                      DecideFn decide_fn, SealFn seal) {
  MEND_RETURN_IF_ERROR(decide_fn(state, command, ctx).status());
  MEND_RETURN_IF_ERROR(seal(command));
  return decide_fn(state, command, ctx);
}

}  // namespace

const MethodPolicy::Table& CasePolicy() {
  static const MethodPolicy::Table* const table =
      new MethodPolicy::Table(MethodPolicy::Methods(
          kCaseServicePrefix,
          {{{"ReferCase", "AddParticipant", "AllocateFacilitator", "ReleaseFacilitator",
             "RecordAcknowledgement", "RecordRiskAssessment", "ApproveRiskAssessment",
             "RecordSuitability", "PauseCase", "ResumeCase", "CloseCase",
             "EraseParticipant", "LinkParticipant"},
            {Role::kFacilitator, Role::kManager}},
           {{"GetCase", "ListCases"},
            {Role::kFacilitator, Role::kManager, Role::kAuditor, Role::kService}}}));
  return *table;
}

CaseServiceImpl::CaseServiceImpl(ServiceRuntime* runtime)
    : CaseServiceImpl(runtime, Options()) {}

CaseServiceImpl::CaseServiceImpl(ServiceRuntime* runtime, Options options)
    : runtime_(runtime),
      options_(std::move(options)),
      handler_(runtime, kCaseServicePrefix),
      path_(runtime->store(),
            Path::Hooks{.stream_prefix = std::string(CaseStreamId("")),
                        .evolve =
                            [this](CaseState& state, const ReplayedEvent& event) {
                              return Evolve(state, event);
                            },
                        .version = [](const CaseState& state) { return state.version; },
                        .answer =
                            [](const CommandRecord& record, const CaseState& state) {
                              case_v1::CommandResult result;
                              result.set_case_id(state.case_id);
                              result.set_version(record.version);
                              result.set_position(record.first_position);
                              result.set_last_position(record.last_position);
                              result.set_stage(state.stage);
                              return result;
                            }},
            NewUuid, absl::Now),
      causal_("case", runtime->store()) {}

// ---------------------------------------------------------------------------
// Replay and the in-memory state.

absl::Status CaseServiceImpl::Apply(const ReplayedEvent& event) {
  MEND_RETURN_IF_ERROR(path_.Apply(event));
  if (event.view.event_type == kParticipantErasedType) {
    // Keys are per case (case_state.h): the erased participant's key here.
    MEND_ASSIGN_OR_RETURN(
        DomainEvent e, ParseDomainEvent(event.view.event_type, event.view.payload,
                                        event.position, event.view.recorded_unix_micros));
    if (std::optional<std::string> key_id = ErasedKeyId(e)) {
      MEND_RETURN_IF_ERROR(EnsureErased(*key_id));
    }
  }
  return absl::OkStatus();
}

absl::Status CaseServiceImpl::Evolve(CaseState& state, const ReplayedEvent& event) {
  MEND_ASSIGN_OR_RETURN(DomainEvent e, EvolveRecord(state, event.position, event.view));
  if (const auto* referred = std::get_if<case_v1::CaseReferred>(&e.event)) {
    int64_t year = 0;
    int64_t number = 0;
    if (ParseReference(referred->reference(), &year, &number)) {
      absl::MutexLock lock(&references_mu_);
      int64_t& last = last_reference_[year];
      last = std::max(last, number);
    }
  }
  return absl::OkStatus();
}

absl::Status CaseServiceImpl::EnsureErased(const std::string& key_id) {
  crypto::KeyStore* keys = runtime_->keys();
  if (keys == nullptr) return absl::OkStatus();  // nothing was ever sealed here
  MEND_ASSIGN_OR_RETURN(bool has_key, keys->HasKey(key_id));
  if (!has_key) return absl::OkStatus();
  return keys->Erase(key_id);
}

std::string CaseServiceImpl::NextReference(absl::Time now) {
  const int64_t year = absl::ToCivilYear(now, absl::UTCTimeZone()).year();
  int64_t number;
  {
    absl::MutexLock lock(&references_mu_);
    number = ++last_reference_[year];
  }
  return absl::StrFormat("RJ-%04d-%06d", year, number);
}

absl::StatusOr<common_v1::Sealed> CaseServiceImpl::Seal(const std::string& case_id,
                                                        const std::string& person_id,
                                                        const std::string& plaintext,
                                                        std::string_view field) {
  common_v1::Sealed sealed;
  if (plaintext.empty()) return sealed;
  crypto::KeyStore* keys = runtime_->keys();
  if (keys == nullptr) {
    return absl::FailedPreconditionError(
        "the case service has no key store (--master_key): personal data cannot be "
        "stored");
  }
  absl::StatusOr<std::string> ciphertext =
      keys->Seal(PersonKeyId(case_id, person_id), plaintext, field);
  if (!ciphertext.ok()) {
    return absl::Status(
        ciphertext.status().code(),
        absl::StrCat("sealing personal data of participant ", Quoted(person_id), ": ",
                     ciphertext.status().message()));
  }
  sealed.set_person_id(person_id);
  sealed.set_ciphertext(*std::move(ciphertext));
  return sealed;
}

absl::Status CaseServiceImpl::SealServiceUserNotes(const CaseState& state,
                                                   const std::string& notes,
                                                   std::string_view field,
                                                   common_v1::Sealed* sealed) {
  const ParticipantState* su = state.service_user();
  if (su == nullptr || notes.empty()) return absl::OkStatus();
  MEND_ASSIGN_OR_RETURN(*sealed, Seal(state.case_id, su->participant_id, notes, field));
  return absl::OkStatus();
}

absl::StatusOr<std::string> CaseServiceImpl::Unseal(std::string_view key_id,
                                                    const common_v1::Sealed& sealed,
                                                    std::string_view field) {
  crypto::KeyStore* keys = runtime_->keys();
  if (keys == nullptr) {
    return absl::FailedPreconditionError(
        "the case service has no key store (--master_key): personal data cannot be read");
  }
  return keys->Unseal(key_id, sealed.ciphertext(), field);
}

// ---------------------------------------------------------------------------
// Commands: the method table. Each validates, decides (sealing what it
// stores of people) and is answered by the command path.

template <typename Request>
absl::StatusOr<case_v1::CommandResult> CaseServiceImpl::Run(const Call& call,
                                                            const Request& request,
                                                            std::string case_id,
                                                            Decider decide) {
  const std::optional<uint64_t> expected = [&]() -> std::optional<uint64_t> {
    if constexpr (requires { request.has_expected_version(); }) {
      return ExpectedVersionOf(request);
    } else {
      return std::nullopt;
    }
  }();
  MEND_ASSIGN_OR_RETURN(
      CommandOutcome<case_v1::CommandResult> outcome,
      path_.Execute(
          CommandFor(call, request, std::move(case_id), expected),
          [&](const CaseState& state, const CommandContext& ctx, const std::string& id) {
            return ToDecided(decide(state, ctx, id));
          }));
  return outcome.answer;
}

grpc::ServerUnaryReactor* CaseServiceImpl::ReferCase(
    grpc::CallbackServerContext* context, const case_v1::ReferCaseRequest* request,
    case_v1::CommandResult* response) {
  return handler_.Unary<case_v1::CommandResult>(
      context, "ReferCase", response,
      [&](const Call& call) -> absl::StatusOr<case_v1::CommandResult> {
        MEND_RETURN_IF_ERROR(Validate(*request));
        return Run(
            call, *request, /*case_id=*/"",
            [&](const CaseState& state, const CommandContext& ctx,
                const std::string& case_id) -> absl::StatusOr<std::vector<DomainEvent>> {
              ReferCaseCommand command;
              command.case_id = case_id;
              command.reference = NextReference(ctx.now);
              command.source = request->source();
              command.referral_date = request->referral_date();
              command.offence_category = request->offence_category();
              std::string service_user_id;
              for (const case_v1::NewParticipant& p : request->participants()) {
                case_v1::Participant& participant = command.participants.emplace_back();
                participant.set_participant_id(
                    p.participant_id().empty() ? NewUuid() : p.participant_id());
                participant.set_role(p.role());
                participant.set_supports_participant_id(p.supports_participant_id());
                if (p.role() == case_v1::SERVICE_USER) {
                  service_user_id = participant.participant_id();
                }
              }
              return DecideSealed(
                  state, std::move(command), ctx, DecideReferCase,
                  [&](ReferCaseCommand& c) -> absl::Status {
                    for (int i = 0; i < request->participants_size(); ++i) {
                      const case_v1::NewParticipant& p = request->participants(i);
                      case_v1::Participant& participant = c.participants[i];
                      const std::string& id = participant.participant_id();
                      MEND_ASSIGN_OR_RETURN(*participant.mutable_details(),
                                            Seal(case_id, id, Serialized(p.details()),
                                                 kSealedParticipantDetails));
                      MEND_ASSIGN_OR_RETURN(*participant.mutable_needs(),
                                            Seal(case_id, id, Serialized(p.needs()),
                                                 kSealedParticipantNeeds));
                    }
                    MEND_ASSIGN_OR_RETURN(
                        c.offence_summary,
                        Seal(case_id, service_user_id, request->offence_summary(),
                             kSealedOffenceSummary));
                    return absl::OkStatus();
                  });
            });
      });
}

grpc::ServerUnaryReactor* CaseServiceImpl::AddParticipant(
    grpc::CallbackServerContext* context, const case_v1::AddParticipantRequest* request,
    case_v1::CommandResult* response) {
  return handler_.Unary<case_v1::CommandResult>(
      context, "AddParticipant", response,
      [&](const Call& call) -> absl::StatusOr<case_v1::CommandResult> {
        MEND_RETURN_IF_ERROR(Validate(*request));
        const std::string participant_id = request->participant().participant_id().empty()
                                               ? NewUuid()
                                               : request->participant().participant_id();
        return Run(
            call, *request, request->case_id(),
            [&](const CaseState& state, const CommandContext& ctx, const std::string&) {
              const case_v1::NewParticipant& p = request->participant();
              AddParticipantCommand command;
              command.case_id = request->case_id();
              command.participant.set_participant_id(participant_id);
              command.participant.set_role(p.role());
              command.participant.set_supports_participant_id(
                  p.supports_participant_id());
              return DecideSealed(
                  state, std::move(command), ctx, DecideAddParticipant,
                  [&](AddParticipantCommand& c) -> absl::Status {
                    MEND_ASSIGN_OR_RETURN(
                        *c.participant.mutable_details(),
                        Seal(request->case_id(), participant_id, Serialized(p.details()),
                             kSealedParticipantDetails));
                    MEND_ASSIGN_OR_RETURN(
                        *c.participant.mutable_needs(),
                        Seal(request->case_id(), participant_id, Serialized(p.needs()),
                             kSealedParticipantNeeds));
                    return absl::OkStatus();
                  });
            });
      });
}

grpc::ServerUnaryReactor* CaseServiceImpl::AllocateFacilitator(
    grpc::CallbackServerContext* context,
    const case_v1::AllocateFacilitatorRequest* request,
    case_v1::CommandResult* response) {
  return handler_.Unary<case_v1::CommandResult>(
      context, "AllocateFacilitator", response,
      [&](const Call& call) -> absl::StatusOr<case_v1::CommandResult> {
        MEND_RETURN_IF_ERROR(Validate(*request));
        return Run(
            call, *request, request->case_id(),
            [&](const CaseState& state, const CommandContext& ctx, const std::string&) {
              return DecideAllocateFacilitator(
                  state, {request->case_id(), request->facilitator_id()}, ctx);
            });
      });
}

grpc::ServerUnaryReactor* CaseServiceImpl::ReleaseFacilitator(
    grpc::CallbackServerContext* context,
    const case_v1::ReleaseFacilitatorRequest* request, case_v1::CommandResult* response) {
  return handler_.Unary<case_v1::CommandResult>(
      context, "ReleaseFacilitator", response,
      [&](const Call& call) -> absl::StatusOr<case_v1::CommandResult> {
        MEND_RETURN_IF_ERROR(Validate(*request));
        return Run(
            call, *request, request->case_id(),
            [&](const CaseState& state, const CommandContext& ctx, const std::string&) {
              return DecideReleaseFacilitator(
                  state, {request->case_id(), request->facilitator_id()}, ctx);
            });
      });
}

grpc::ServerUnaryReactor* CaseServiceImpl::RecordAcknowledgement(
    grpc::CallbackServerContext* context,
    const case_v1::RecordAcknowledgementRequest* request,
    case_v1::CommandResult* response) {
  return handler_.Unary<case_v1::CommandResult>(
      context, "RecordAcknowledgement", response,
      [&](const Call& call) -> absl::StatusOr<case_v1::CommandResult> {
        MEND_RETURN_IF_ERROR(Validate(*request));
        return Run(
            call, *request, request->case_id(),
            [&](const CaseState& state, const CommandContext& ctx, const std::string&) {
              RecordAcknowledgementCommand command;
              command.case_id = request->case_id();
              command.acknowledged = request->acknowledged();
              return DecideSealed(
                  state, std::move(command), ctx, DecideRecordAcknowledgement,
                  [&](RecordAcknowledgementCommand& c) {
                    return SealServiceUserNotes(state, request->notes(),
                                                kSealedAcknowledgementNotes, &c.notes);
                  });
            });
      });
}

grpc::ServerUnaryReactor* CaseServiceImpl::RecordRiskAssessment(
    grpc::CallbackServerContext* context,
    const case_v1::RecordRiskAssessmentRequest* request,
    case_v1::CommandResult* response) {
  return handler_.Unary<case_v1::CommandResult>(
      context, "RecordRiskAssessment", response,
      [&](const Call& call) -> absl::StatusOr<case_v1::CommandResult> {
        MEND_RETURN_IF_ERROR(Validate(*request));
        const std::string assessment_id =
            request->assessment_id().empty() ? NewUuid() : request->assessment_id();
        return Run(
            call, *request, request->case_id(),
            [&](const CaseState& state, const CommandContext& ctx, const std::string&) {
              RecordRiskAssessmentCommand command;
              command.case_id = request->case_id();
              command.assessment_id = assessment_id;
              command.level = request->level();
              for (int kind : request->allowed_kinds()) {
                command.allowed_kinds.push_back(
                    static_cast<common_v1::ContactKind>(kind));
              }
              command.review_date = request->review_date();
              return DecideSealed(
                  state, std::move(command), ctx, DecideRecordRiskAssessment,
                  [&](RecordRiskAssessmentCommand& c) {
                    return SealServiceUserNotes(state, request->notes(),
                                                kSealedRiskAssessmentNotes, &c.notes);
                  });
            });
      });
}

grpc::ServerUnaryReactor* CaseServiceImpl::ApproveRiskAssessment(
    grpc::CallbackServerContext* context,
    const case_v1::ApproveRiskAssessmentRequest* request,
    case_v1::CommandResult* response) {
  return handler_.Unary<case_v1::CommandResult>(
      context, "ApproveRiskAssessment", response,
      [&](const Call& call) -> absl::StatusOr<case_v1::CommandResult> {
        MEND_RETURN_IF_ERROR(Validate(*request));
        return Run(
            call, *request, request->case_id(),
            [&](const CaseState& state, const CommandContext& ctx, const std::string&) {
              return DecideApproveRiskAssessment(
                  state, {request->case_id(), request->assessment_id()}, ctx);
            });
      });
}

grpc::ServerUnaryReactor* CaseServiceImpl::RecordSuitability(
    grpc::CallbackServerContext* context,
    const case_v1::RecordSuitabilityRequest* request, case_v1::CommandResult* response) {
  return handler_.Unary<case_v1::CommandResult>(
      context, "RecordSuitability", response,
      [&](const Call& call) -> absl::StatusOr<case_v1::CommandResult> {
        MEND_RETURN_IF_ERROR(Validate(*request));
        return Run(
            call, *request, request->case_id(),
            [&](const CaseState& state, const CommandContext& ctx, const std::string&) {
              return DecideRecordSuitability(
                  state, {request->case_id(), request->suitable(), request->reason()},
                  ctx);
            });
      });
}

grpc::ServerUnaryReactor* CaseServiceImpl::PauseCase(
    grpc::CallbackServerContext* context, const case_v1::PauseCaseRequest* request,
    case_v1::CommandResult* response) {
  return handler_.Unary<case_v1::CommandResult>(
      context, "PauseCase", response,
      [&](const Call& call) -> absl::StatusOr<case_v1::CommandResult> {
        MEND_RETURN_IF_ERROR(Validate(*request));
        return Run(
            call, *request, request->case_id(),
            [&](const CaseState& state, const CommandContext& ctx, const std::string&) {
              return DecidePauseCase(state, {request->case_id(), request->reason()}, ctx);
            });
      });
}

grpc::ServerUnaryReactor* CaseServiceImpl::ResumeCase(
    grpc::CallbackServerContext* context, const case_v1::ResumeCaseRequest* request,
    case_v1::CommandResult* response) {
  return handler_.Unary<case_v1::CommandResult>(
      context, "ResumeCase", response,
      [&](const Call& call) -> absl::StatusOr<case_v1::CommandResult> {
        MEND_RETURN_IF_ERROR(Validate(*request));
        return Run(
            call, *request, request->case_id(),
            [&](const CaseState& state, const CommandContext& ctx, const std::string&) {
              return DecideResumeCase(state, {request->case_id()}, ctx);
            });
      });
}

grpc::ServerUnaryReactor* CaseServiceImpl::CloseCase(
    grpc::CallbackServerContext* context, const case_v1::CloseCaseRequest* request,
    case_v1::CommandResult* response) {
  return handler_.Unary<case_v1::CommandResult>(
      context, "CloseCase", response,
      [&](const Call& call) -> absl::StatusOr<case_v1::CommandResult> {
        MEND_RETURN_IF_ERROR(Validate(*request));
        MEND_RETURN_IF_ERROR(WaitFor(request->causal_token(), call.deadline));
        return Run(
            call, *request, request->case_id(),
            [&](const CaseState& state, const CommandContext& ctx, const std::string&) {
              return DecideCloseCase(state, {request->case_id(), request->reason()}, ctx);
            });
      });
}

}  // namespace mend::casesvc
