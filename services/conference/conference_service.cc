#include "services/conference/conference_service.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/base/sha256.h"
#include "common/base/status_macros.h"
#include "common/base/validation.h"
#include "common/observability/logging.h"
#include "common/rpc/status_convert.h"
#include "common/runtime/uuid.h"
#include "common/security/key_store.h"
#include "services/conference/conference_validation.h"
#include "services/conference/conference_view.h"

namespace mend::conferencesvc {
namespace {

constexpr size_t kStreamPrefixLength = sizeof(kConferenceStreamPrefix) - 1;

std::string KeyId(std::string_view case_id, std::string_view participant_id) {
  return absl::StrCat(std::string(case_id), "/", std::string(participant_id));
}

template <typename Event>
absl::StatusOr<std::vector<ConferenceEvent>> One(absl::StatusOr<Event> event) {
  if (!event.ok()) return event.status();
  return std::vector<ConferenceEvent>{Encode(*event)};
}

conference_v1::Approval ApprovalOf(const consent_v1::ContactDecision& d) {
  conference_v1::Approval a;
  a.set_decision_id(d.decision().decision_id());
  a.set_consent_position(d.position());
  a.set_kind(d.decision().kind());
  a.set_victim_id(d.decision().victim_id());
  a.set_service_user_id(d.decision().service_user_id());
  a.set_facilitator_id(d.decision().facilitator_id());
  a.set_policy_version(d.decision().policy_version());
  a.set_decided_unix_micros(d.decided_unix_micros());
  a.set_case_position(d.decision().case_position());
  return a;
}

std::string Reasons(const consent_v1::ContactDecisionMade& d) {
  std::vector<std::string> out;
  for (const consent_v1::Reason& r : d.reasons()) {
    std::string one = consent_v1::ReasonCode_Name(r.code());
    if (!r.detail().empty()) absl::StrAppend(&one, " (", r.detail(), ")");
    out.push_back(std::move(one));
  }
  return out.empty() ? "no reason given" : absl::StrJoin(out, "; ");
}

const char* SourceName(consent_v1::FactSource source) {
  switch (source) {
    case consent_v1::CONSENT_LOG:
      return "consent";
    case consent_v1::SCHEDULING_LOG:
      return "scheduling";
    default:
      return "case";
  }
}

// The caller as the domain's checks before the gate see them.
CommandContext AskingContext(const Call& call) {
  return CommandContext{
      .actor_id = call.caller.subject, .role = call.caller.role, .now = absl::Now()};
}

bool IsLetterMethod(std::string_view method) {
  return method == "SubmitLetterDraft" || method == "ReviewLetter" ||
         method == "OfferLetter" || method == "DeliverLetter" ||
         method == "RecordLetterResponse";
}

}  // namespace

const MethodPolicy::Table& ConferencePolicy() {
  static const MethodPolicy::Table* const table =
      new MethodPolicy::Table(MethodPolicy::Methods(
          kConferenceServicePrefix,
          {{{"OfferLetter", "DeliverLetter", "SendShuttleMessage", "StartConference",
             "InformVictim"},
            {Role::kFacilitator}},
           {{"SubmitLetterDraft", "ReviewLetter", "RecordLetterResponse",
             "RecordPreparation", "RecordConferenceHeld", "AbandonConference",
             "RecordOutcomeAgreement", "CompleteItem", "RecordFeedback",
             "CompleteFollowUp"},
            {Role::kFacilitator, Role::kManager}},
           {{"GetCaseContact"},
            {Role::kFacilitator, Role::kManager, Role::kAuditor, Role::kService}}}));
  return *table;
}

ConferenceServiceImpl::ConferenceServiceImpl(ServiceRuntime* runtime,
                                             std::shared_ptr<grpc::Channel> consent)
    : runtime_(runtime),
      handler_(runtime, kConferenceServicePrefix),
      consent_(consent_v1::ConsentService::NewStub(std::move(consent))),
      causal_("conference", runtime->store()),
      path_(
          runtime->store(),
          Path::Hooks{
              .stream_prefix = kConferenceStreamPrefix,
              .evolve =
                  [this](ConferenceState& state, const ReplayedEvent& e) {
                    MEND_RETURN_IF_ERROR(conferencesvc::Evolve(
                        state, ConferenceLogEvent::Of(e.position, e.view)));
                    // An erasure: this service's key for the person goes
                    // too (idempotent, so replay repairs a crash after
                    // the fact was durable and before the key was gone).
                    if (e.view.event_type == "mend.conference.v1.UpstreamFactRecorded") {
                      conference_v1::UpstreamFactRecorded f;
                      if (f.ParseFromArray(e.view.payload.data(),
                                           static_cast<int>(e.view.payload.size())) &&
                          f.has_participant_erased()) {
                        MEND_RETURN_IF_ERROR(
                            EnsureErased(state.case_id, f.participant_erased()));
                      }
                    }
                    return absl::OkStatus();
                  },
              .version = [](const ConferenceState& s) { return s.version; },
              .answer =
                  [](const CommandRecord& r, const ConferenceState& s) {
                    Answer a;
                    conference_v1::CommandResult& out = a.result;
                    out.set_case_id(r.aggregate_id);
                    out.set_version(r.version);
                    out.set_position(r.first_position);
                    out.set_last_position(r.last_position);
                    auto within = [&](uint64_t p) {
                      return p >= r.first_position && p <= r.last_position;
                    };
                    if (s.last_approval.has_value() && within(s.last_approval_position)) {
                      *out.mutable_approval() = *s.last_approval;
                    }
                    if (IsLetterMethod(r.method)) {
                      out.set_letter_id(s.last_letter_id);
                      out.set_letter_version(s.last_letter_version);
                    }
                    if (r.method == "SendShuttleMessage") {
                      out.set_message_id(s.last_message_id);
                    }
                    if (s.agreement.has_value()) {
                      out.set_agreement_id(s.agreement->agreement_id);
                    }
                    out.set_agreement_completed(within(s.agreement_completed_position));
                    return a;
                  }},
          NewUuid, absl::Now) {}

void ConferenceServiceImpl::SetFollowers(const Follower* case_follower,
                                         const Follower* consent_follower,
                                         const Follower* scheduling_follower) {
  case_follower_ = case_follower;
  consent_follower_ = consent_follower;
  scheduling_follower_ = scheduling_follower;
  causal_.Follow("case", case_follower);
  causal_.Follow("consent", consent_follower);
  causal_.Follow("scheduling", scheduling_follower);
}

Handled ConferenceServiceImpl::HandledNow() const {
  Handled h;
  if (case_follower_ != nullptr) h.set_case_position(case_follower_->handled_position());
  if (consent_follower_ != nullptr) {
    h.set_consent_position(consent_follower_->handled_position());
  }
  if (scheduling_follower_ != nullptr) {
    h.set_scheduling_position(scheduling_follower_->handled_position());
  }
  return h;
}

absl::StatusOr<ConferenceState> ConferenceServiceImpl::Snapshot(
    const std::string& case_id) {
  MEND_RETURN_IF_ERROR(path_.Sync(case_id));
  ConferenceState copy;
  MEND_RETURN_IF_ERROR(path_.Read(
      case_id,
      [&](const ConferenceState& s) {
        copy = s;
        return absl::OkStatus();
      },
      [&] {
        copy.case_id = case_id;
        // Not heard of: how far the case log has been read, for the message.
        copy.last_case_position = HandledNow().case_position();
        return absl::OkStatus();
      }));
  return copy;
}

// ---------------------------------------------------------------------------
// Keys.

absl::StatusOr<common_v1::Sealed> ConferenceServiceImpl::Seal(
    const std::string& case_id, const std::string& participant_id,
    const std::string& text, std::string_view field) {
  common_v1::Sealed sealed;
  if (text.empty()) return sealed;
  crypto::KeyStore* keys = runtime_->keys();
  if (keys == nullptr) {
    return absl::FailedPreconditionError(
        "the conference service has no key store (--master_key): personal text cannot "
        "be stored");
  }
  absl::StatusOr<std::string> ciphertext =
      keys->Seal(KeyId(case_id, participant_id), text, field);
  if (!ciphertext.ok()) {
    return absl::Status(
        ciphertext.status().code(),
        absl::StrCat("sealing the words of participant ", Quoted(participant_id), ": ",
                     ciphertext.status().message()));
  }
  sealed.set_person_id(participant_id);
  sealed.set_ciphertext(*std::move(ciphertext));
  return sealed;
}

conference_v1::Text ConferenceServiceImpl::Show(const std::string& case_id,
                                                const common_v1::Sealed& sealed,
                                                std::string_view field) {
  conference_v1::Text out;
  crypto::KeyStore* keys = runtime_->keys();
  absl::StatusOr<std::string> text =
      keys == nullptr
          ? absl::NotFoundError("no key store")
          : keys->Unseal(KeyId(case_id, sealed.person_id()), sealed.ciphertext(), field);
  if (text.ok()) {
    out.set_text(*std::move(text));
  } else {
    // No key: the person was erased (I6); anything else is not shown either.
    out.set_erased(absl::IsNotFound(text.status()));
    if (!absl::IsNotFound(text.status())) out.set_withheld(true);
  }
  return out;
}

absl::Status ConferenceServiceImpl::EnsureErased(const std::string& case_id,
                                                 const std::string& participant_id) {
  crypto::KeyStore* keys = runtime_->keys();
  if (keys == nullptr) return absl::OkStatus();  // nothing was ever sealed here
  const std::string key = KeyId(case_id, participant_id);
  MEND_ASSIGN_OR_RETURN(bool has_key, keys->HasKey(key));
  if (!has_key) return absl::OkStatus();
  return keys->Erase(key);
}

// ---------------------------------------------------------------------------
// Following the case, consent and scheduling logs.

BatchEffects ConferenceServiceImpl::ObserveCase(absl::Span<const UpstreamEvent> events) {
  return Follower::HandleEach(events, [this](const UpstreamEvent& e) {
    return ObserveOne(consent_v1::CASE_LOG, e);
  });
}

BatchEffects ConferenceServiceImpl::ObserveConsent(
    absl::Span<const UpstreamEvent> events) {
  return Follower::HandleEach(events, [this](const UpstreamEvent& e) {
    return ObserveOne(consent_v1::CONSENT_LOG, e);
  });
}

BatchEffects ConferenceServiceImpl::ObserveScheduling(
    absl::Span<const UpstreamEvent> events) {
  // Which bookings are this service's depends on the case's state (a
  // cancellation of a slot it never knew is nothing to it): the batch is cut
  // before a second event of a case it already writes to, so a booking and
  // its cancellation in one batch are decided in turn.
  return Follower::HandleEach(
      events,
      [this](const UpstreamEvent& e) {
        return ObserveOne(consent_v1::SCHEDULING_LOG, e);
      },
      [](const UpstreamEvent& e) -> absl::StatusOr<std::optional<std::string>> {
        MEND_ASSIGN_OR_RETURN(
            std::optional<conference_v1::UpstreamFactRecorded> fact,
            SchedulingFact(e.position, e.bytes, e.view, ConferenceState()));
        if (!fact.has_value()) return std::nullopt;
        return fact->case_id();
      });
}

absl::StatusOr<eventlog::WriteRequest> ConferenceServiceImpl::ObserveOne(
    consent_v1::FactSource source, const UpstreamEvent& event) {
  std::optional<conference_v1::UpstreamFactRecorded> fact;
  ConferenceState state;
  if (source == consent_v1::SCHEDULING_LOG) {
    // Which bookings are this service's depends on the case's state: read
    // it first (a scheduling event names its case in its payload, which
    // SchedulingFact parses; an empty state knows no bookings).
    MEND_ASSIGN_OR_RETURN(
        fact, SchedulingFact(event.position, event.bytes, event.view, ConferenceState()));
    if (!fact.has_value()) return eventlog::WriteRequest{};
    MEND_ASSIGN_OR_RETURN(state, Snapshot(fact->case_id()));
    MEND_ASSIGN_OR_RETURN(fact,
                          SchedulingFact(event.position, event.bytes, event.view, state));
  } else {
    MEND_ASSIGN_OR_RETURN(fact,
                          source == consent_v1::CASE_LOG
                              ? CaseFact(event.position, event.bytes, event.view)
                              : ConsentFact(event.position, event.bytes, event.view));
    if (fact.has_value()) {
      MEND_ASSIGN_OR_RETURN(state, Snapshot(fact->case_id()));
    }
  }
  if (!fact.has_value()) return eventlog::WriteRequest{};  // nothing to keep

  Handled handled = HandledNow();
  switch (source) {
    case consent_v1::CASE_LOG:
      handled.set_case_position(event.position);
      break;
    case consent_v1::CONSENT_LOG:
      handled.set_consent_position(event.position);
      break;
    default:
      handled.set_scheduling_position(event.position);
      break;
  }
  MEND_ASSIGN_OR_RETURN(std::vector<ConferenceEvent> cascade,
                        Cascade(state, *fact, handled));
  std::vector<ConferenceEvent> events;
  events.push_back(Encode(*fact));
  for (ConferenceEvent& e : cascade) events.push_back(std::move(e));
  const std::string case_id = fact->case_id();
  const size_t cascaded = events.size() - 1;
  eventlog::StreamAppend append =
      UpstreamAppend(ConferenceStreamId(case_id),
                     state.version == 0 ? eventlog::ExpectedVersion::NoStream()
                                        : eventlog::ExpectedVersion::Exact(state.version),
                     SourceName(source), event, "conference", events);
  if (cascaded > 0) {
    log::Info("cascade", {{"case_id", case_id},
                          {"upstream", SourceName(source)},
                          {"position", absl::StrCat(event.position)},
                          {"events", absl::StrCat(cascaded)}});
  }
  eventlog::WriteRequest write;
  write.appends.push_back(std::move(append));
  return write;
}

void ConferenceServiceImpl::Observed(const eventlog::WriteRequest& request,
                                     const eventlog::WriteResult& /*result*/) {
  for (const eventlog::StreamAppend& append : request.appends) {
    if (!append.stream_id.starts_with(kConferenceStreamPrefix)) continue;
    const std::string case_id = append.stream_id.substr(kStreamPrefixLength);
    if (absl::Status s = path_.Sync(case_id); !s.ok()) {
      log::Error("folding an upstream fact failed",
                 {{"case_id", case_id}, {"error", std::string(s.message())}});
    }
  }
}

// ---------------------------------------------------------------------------
// The contact gate.

absl::StatusOr<consent_v1::ContactDecision> ConferenceServiceImpl::CallDecideContact(
    const consent_v1::DecideContactRequest& request, absl::Time deadline) const {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(deadline));
  runtime_->PrepareServiceCall(&context);
  consent_v1::ContactDecision out;
  grpc::Status status = consent_->DecideContact(&context, request, &out);
  if (!status.ok()) return FromGrpc(status);
  return out;
}

template <typename Request>
absl::StatusOr<conference_v1::Approval> ConferenceServiceImpl::AskGate(
    const Call& call, const Request& request, const ContactQuestion& question,
    std::string_view purpose) {
  consent_v1::DecideContactRequest r;
  r.set_request_id(absl::StrCat(
      "conference:", std::string(call.method), ":",
      HexEncode(Sha256Bytes(absl::StrCat(request.case_id(), "/", request.request_id())))
          .substr(0, 32)));
  r.set_case_id(request.case_id());
  r.set_kind(question.kind);
  r.set_victim_id(question.victim_id);
  r.set_facilitator_id(question.facilitator_id);
  r.set_purpose(std::string(purpose));
  const Handled handled = HandledNow();
  r.mutable_causal_token()->set_case_position(
      std::max(request.causal_token().case_position(), handled.case_position()));
  r.mutable_causal_token()->set_consent_position(
      std::max(request.causal_token().consent_position(), handled.consent_position()));
  absl::StatusOr<consent_v1::ContactDecision> d = CallDecideContact(r, call.deadline);
  if (!d.ok()) {
    if (absl::IsUnavailable(d.status()) || absl::IsDeadlineExceeded(d.status())) {
      return absl::UnavailableError(absl::StrCat(
          "the contact gate (consent service) did not answer: ", d.status().message(),
          "; nothing was recorded: retry"));
    }
    if (absl::IsUnauthenticated(d.status()) || absl::IsPermissionDenied(d.status())) {
      return absl::UnavailableError(
          absl::StrCat("the contact gate (consent service) refused the conference "
                       "service's token (",
                       d.status().message(), "); nothing was recorded"));
    }
    if (absl::IsAlreadyExists(d.status())) {
      return absl::AlreadyExistsError(absl::StrCat(
          "request_id was used before for a contact with other content (the contact "
          "gate says: ",
          d.status().message(), "); a new contact needs a new request_id"));
    }
    return absl::FailedPreconditionError(
        absl::StrCat("the contact gate (consent service) could not decide: ",
                     absl::StatusCodeToString(d.status().code()), ": ",
                     d.status().message(), "; nothing was recorded"));
  }
  if (d->decision().outcome() != consent_v1::APPROVED) {
    return absl::FailedPreconditionError(absl::StrCat(
        "contact decision ", d->decision().decision_id(), " (consent-log position ",
        d->position(), ") refused ", common_v1::ContactKind_Name(question.kind), " with ",
        question.victim_id, ": ", Reasons(d->decision()), "; nothing was recorded"));
  }
  return ApprovalOf(*d);
}

// ---------------------------------------------------------------------------
// Commands.

template <typename Request>
grpc::ServerUnaryReactor* ConferenceServiceImpl::Handle(
    grpc::CallbackServerContext* context, std::string_view method, const Request& request,
    conference_v1::CommandResult* response,
    absl::FunctionRef<Result(const Call& call)> body) {
  return handler_.Unary<conference_v1::CommandResult>(
      context, method, response, [&](const Call& call) -> Result {
        MEND_RETURN_IF_ERROR(Validate(request));
        MEND_RETURN_IF_ERROR(causal_.Wait(request.causal_token(), call.deadline));
        return body(call);
      });
}

template <typename Request>
ConferenceServiceImpl::Result ConferenceServiceImpl::Run(
    const Call& call, const Request& request,
    absl::FunctionRef<absl::StatusOr<std::vector<ConferenceEvent>>(
        const ConferenceState& state, const CommandContext& ctx, const Handled& handled)>
        decide) {
  MEND_ASSIGN_OR_RETURN(
      CommandOutcome<Answer> outcome,
      path_.Execute(
          CommandFor(call, request, request.case_id(), ExpectedVersionOf(request)),
          [&](const ConferenceState& state, const CommandContext& ctx,
              const std::string&) -> absl::StatusOr<std::vector<DecidedEvent>> {
            MEND_ASSIGN_OR_RETURN(std::vector<ConferenceEvent> events,
                                  decide(state, ctx, HandledNow()));
            std::vector<DecidedEvent> out;
            for (ConferenceEvent& e : events) {
              out.push_back({std::move(e.type), std::move(e.payload)});
            }
            return out;
          }));
  return outcome.answer.result;
}

template <typename Request, typename Command, typename DecideOne>
ConferenceServiceImpl::Result ConferenceServiceImpl::RunOne(const Call& call,
                                                            const Request& request,
                                                            Command& command,
                                                            DecideOne decide) {
  return Run(call, request,
             [&](const ConferenceState& s, const CommandContext& ctx, const Handled& h) {
               command.handled = h;
               return One(decide(s, ctx));
             });
}

template <typename Request, typename Command, typename QuestionFn, typename DecideOne>
ConferenceServiceImpl::Result ConferenceServiceImpl::RunContact(
    const Call& call, const Request& request, Command& command, QuestionFn question,
    DecideOne decide, std::string_view purpose) {
  // A retry of a contact already made gets its answer, not the gate's
  // question on a state that now has the contact.
  MEND_ASSIGN_OR_RETURN(std::optional<CommandOutcome<Answer>> done,
                        path_.Answered(CommandFor(call, request, request.case_id(),
                                                  ExpectedVersionOf(request))));
  if (done.has_value()) return done->answer.result;
  MEND_ASSIGN_OR_RETURN(ConferenceState now, Snapshot(request.case_id()));
  MEND_ASSIGN_OR_RETURN(ContactQuestion q, question(now, command, AskingContext(call)));
  MEND_ASSIGN_OR_RETURN(command.approval, AskGate(call, request, q, purpose));
  return RunOne(call, request, command, decide);
}

grpc::ServerUnaryReactor* ConferenceServiceImpl::SubmitLetterDraft(
    grpc::CallbackServerContext* context,
    const conference_v1::SubmitLetterDraftRequest* request,
    conference_v1::CommandResult* response) {
  return Handle(
      context, "SubmitLetterDraft", *request, response, [&](const Call& call) -> Result {
        MEND_ASSIGN_OR_RETURN(ConferenceState now, Snapshot(request->case_id()));
        MEND_RETURN_IF_ERROR(
            CheckCanAct(now, request->case_id(), AskingContext(call), false));
        MEND_ASSIGN_OR_RETURN(std::string author, LetterAuthor(now));
        SubmitLetterDraftCommand command{
            .case_id = request->case_id(),
            .letter_id = request->letter_id().empty() ? NewUuid() : request->letter_id(),
            .new_letter = request->letter_id().empty(),
            .text = {},
            .handled = {}};
        MEND_ASSIGN_OR_RETURN(command.text, Seal(request->case_id(), author,
                                                 request->text(), kSealedLetterText));
        return RunOne(call, *request, command,
                      [&](const ConferenceState& s, const CommandContext& ctx) {
                        return DecideSubmitLetterDraft(s, command, ctx);
                      });
      });
}

grpc::ServerUnaryReactor* ConferenceServiceImpl::ReviewLetter(
    grpc::CallbackServerContext* context,
    const conference_v1::ReviewLetterRequest* request,
    conference_v1::CommandResult* response) {
  return Handle(
      context, "ReviewLetter", *request, response, [&](const Call& call) -> Result {
        MEND_ASSIGN_OR_RETURN(ConferenceState now, Snapshot(request->case_id()));
        MEND_RETURN_IF_ERROR(
            CheckCanAct(now, request->case_id(), AskingContext(call), false));
        MEND_ASSIGN_OR_RETURN(std::string author, LetterAuthor(now));
        ReviewLetterCommand command{.case_id = request->case_id(),
                                    .letter_id = request->letter_id(),
                                    .version = request->version(),
                                    .verdict = request->verdict(),
                                    .notes = {},
                                    .handled = {}};
        MEND_ASSIGN_OR_RETURN(
            command.notes,
            Seal(request->case_id(), author, request->notes(), kSealedLetterReviewNotes));
        return RunOne(call, *request, command,
                      [&](const ConferenceState& s, const CommandContext& ctx) {
                        return DecideReviewLetter(s, command, ctx);
                      });
      });
}

grpc::ServerUnaryReactor* ConferenceServiceImpl::OfferLetter(
    grpc::CallbackServerContext* context,
    const conference_v1::OfferLetterRequest* request,
    conference_v1::CommandResult* response) {
  return Handle(context, "OfferLetter", *request, response,
                [&](const Call& call) -> Result {
                  OfferLetterCommand command{.case_id = request->case_id(),
                                             .letter_id = request->letter_id(),
                                             .victim_id = request->victim_id(),
                                             .approval = std::nullopt,
                                             .handled = {}};
                  return RunContact(
                      call, *request, command, OfferLetterQuestion,
                      [&](const ConferenceState& s, const CommandContext& ctx) {
                        return DecideOfferLetter(s, command, ctx);
                      },
                      "conference.offer-letter");
                });
}

grpc::ServerUnaryReactor* ConferenceServiceImpl::DeliverLetter(
    grpc::CallbackServerContext* context,
    const conference_v1::DeliverLetterRequest* request,
    conference_v1::CommandResult* response) {
  return Handle(context, "DeliverLetter", *request, response,
                [&](const Call& call) -> Result {
                  DeliverLetterCommand command{.case_id = request->case_id(),
                                               .letter_id = request->letter_id(),
                                               .version = request->version(),
                                               .approval = std::nullopt,
                                               .handled = {}};
                  return RunContact(
                      call, *request, command, DeliverLetterQuestion,
                      [&](const ConferenceState& s, const CommandContext& ctx) {
                        return DecideDeliverLetter(s, command, ctx);
                      },
                      "conference.deliver-letter");
                });
}

grpc::ServerUnaryReactor* ConferenceServiceImpl::RecordLetterResponse(
    grpc::CallbackServerContext* context,
    const conference_v1::RecordLetterResponseRequest* request,
    conference_v1::CommandResult* response) {
  return Handle(
      context, "RecordLetterResponse", *request, response,
      [&](const Call& call) -> Result {
        MEND_ASSIGN_OR_RETURN(ConferenceState now, Snapshot(request->case_id()));
        MEND_RETURN_IF_ERROR(
            CheckCanAct(now, request->case_id(), AskingContext(call), false));
        MEND_ASSIGN_OR_RETURN(std::string victim,
                              LetterRecipient(now, request->letter_id()));
        RecordLetterResponseCommand command{
            .case_id = request->case_id(),
            .letter_id = request->letter_id(),
            .response = {},
            .wants_further_contact = request->wants_further_contact(),
            .further_contact_kinds = {},
            .handled = {}};
        for (int k : request->further_contact_kinds()) {
          command.further_contact_kinds.push_back(static_cast<common_v1::ContactKind>(k));
        }
        MEND_ASSIGN_OR_RETURN(
            command.response,
            Seal(request->case_id(), victim, request->response(), kSealedLetterResponse));
        return RunOne(call, *request, command,
                      [&](const ConferenceState& s, const CommandContext& ctx) {
                        return DecideRecordLetterResponse(s, command, ctx);
                      });
      });
}

grpc::ServerUnaryReactor* ConferenceServiceImpl::SendShuttleMessage(
    grpc::CallbackServerContext* context,
    const conference_v1::SendShuttleMessageRequest* request,
    conference_v1::CommandResult* response) {
  return Handle(
      context, "SendShuttleMessage", *request, response, [&](const Call& call) -> Result {
        SendShuttleMessageCommand command{
            .case_id = request->case_id(),
            .message_id = NewUuid(),
            .from_participant_id = request->from_participant_id(),
            .to_participant_id = request->to_participant_id(),
            .text = {},
            .approval = std::nullopt,
            .handled = {}};
        // The pair is checked before anything is sealed for its author.
        MEND_ASSIGN_OR_RETURN(ConferenceState now, Snapshot(request->case_id()));
        MEND_RETURN_IF_ERROR(ShuttleQuestion(now, command, AskingContext(call)).status());
        MEND_ASSIGN_OR_RETURN(command.text,
                              Seal(request->case_id(), request->from_participant_id(),
                                   request->text(), kSealedShuttleText));
        return RunContact(
            call, *request, command, ShuttleQuestion,
            [&](const ConferenceState& s, const CommandContext& ctx) {
              return DecideSendShuttleMessage(s, command, ctx);
            },
            "conference.shuttle");
      });
}

grpc::ServerUnaryReactor* ConferenceServiceImpl::RecordPreparation(
    grpc::CallbackServerContext* context,
    const conference_v1::RecordPreparationRequest* request,
    conference_v1::CommandResult* response) {
  return Handle(
      context, "RecordPreparation", *request, response, [&](const Call& call) -> Result {
        MEND_ASSIGN_OR_RETURN(ConferenceState now, Snapshot(request->case_id()));
        MEND_RETURN_IF_ERROR(
            CheckCanAct(now, request->case_id(), AskingContext(call), false));
        MEND_ASSIGN_OR_RETURN(std::string participant,
                              PreparationParticipant(now, request->booking_id()));
        RecordPreparationCommand command{
            .case_id = request->case_id(),
            .booking_id = request->booking_id(),
            .expectations_discussed = request->expectations_discussed(),
            .support_needs = {},
            .mental_health_support = request->mental_health_support(),
            .supporter_id = request->supporter_id(),
            .ready = request->ready(),
            .handled = {}};
        MEND_ASSIGN_OR_RETURN(
            command.support_needs,
            Seal(request->case_id(), participant, request->support_needs(),
                 kSealedPreparationSupportNeeds));
        return RunOne(call, *request, command,
                      [&](const ConferenceState& s, const CommandContext& ctx) {
                        return DecideRecordPreparation(s, command, ctx);
                      });
      });
}

grpc::ServerUnaryReactor* ConferenceServiceImpl::StartConference(
    grpc::CallbackServerContext* context,
    const conference_v1::StartConferenceRequest* request,
    conference_v1::CommandResult* response) {
  return Handle(context, "StartConference", *request, response,
                [&](const Call& call) -> Result {
                  StartConferenceCommand command{.case_id = request->case_id(),
                                                 .booking_id = request->booking_id(),
                                                 .approval = std::nullopt,
                                                 .handled = {}};
                  return RunContact(
                      call, *request, command, StartConferenceQuestion,
                      [&](const ConferenceState& s, const CommandContext& ctx) {
                        return DecideStartConference(s, command, ctx);
                      },
                      "conference.start");
                });
}

grpc::ServerUnaryReactor* ConferenceServiceImpl::RecordConferenceHeld(
    grpc::CallbackServerContext* context,
    const conference_v1::RecordConferenceHeldRequest* request,
    conference_v1::CommandResult* response) {
  return Handle(
      context, "RecordConferenceHeld", *request, response,
      [&](const Call& call) -> Result {
        MEND_ASSIGN_OR_RETURN(ConferenceState now, Snapshot(request->case_id()));
        MEND_RETURN_IF_ERROR(
            CheckCanAct(now, request->case_id(), AskingContext(call), false));
        MEND_ASSIGN_OR_RETURN(std::string victim,
                              ConferenceVictim(now, request->booking_id()));
        RecordConferenceHeldCommand command{
            .case_id = request->case_id(),
            .booking_id = request->booking_id(),
            .attendee_ids = {request->attendee_ids().begin(),
                             request->attendee_ids().end()},
            .outline = {},
            .apology_made = request->apology_made(),
            .handled = {}};
        MEND_ASSIGN_OR_RETURN(command.outline,
                              Seal(request->case_id(), victim, request->outline(),
                                   kSealedConferenceOutline));
        return RunOne(call, *request, command,
                      [&](const ConferenceState& s, const CommandContext& ctx) {
                        return DecideRecordConferenceHeld(s, command, ctx);
                      });
      });
}

grpc::ServerUnaryReactor* ConferenceServiceImpl::AbandonConference(
    grpc::CallbackServerContext* context,
    const conference_v1::AbandonConferenceRequest* request,
    conference_v1::CommandResult* response) {
  return Handle(context, "AbandonConference", *request, response,
                [&](const Call& call) -> Result {
                  AbandonConferenceCommand command{.case_id = request->case_id(),
                                                   .booking_id = request->booking_id(),
                                                   .reason = request->reason(),
                                                   .handled = {}};
                  return RunOne(call, *request, command,
                                [&](const ConferenceState& s, const CommandContext& ctx) {
                                  return DecideAbandonConference(s, command, ctx);
                                });
                });
}

grpc::ServerUnaryReactor* ConferenceServiceImpl::RecordOutcomeAgreement(
    grpc::CallbackServerContext* context,
    const conference_v1::RecordOutcomeAgreementRequest* request,
    conference_v1::CommandResult* response) {
  return Handle(
      context, "RecordOutcomeAgreement", *request, response,
      [&](const Call& call) -> Result {
        MEND_ASSIGN_OR_RETURN(ConferenceState now, Snapshot(request->case_id()));
        MEND_RETURN_IF_ERROR(
            CheckCanAct(now, request->case_id(), AskingContext(call), false));
        RecordOutcomeAgreementCommand command{
            .case_id = request->case_id(),
            .agreement_id = NewUuid(),
            .items = {},
            .consents = {request->consents().begin(), request->consents().end()},
            .handled = {}};
        for (int i = 0; i < request->items_size(); ++i) {
          const conference_v1::NewAgreementItem& in = request->items(i);
          const ParticipantFacts* owner = now.FindParticipant(in.owner_id());
          if (owner == nullptr) {
            return Invalid(
                absl::StrCat("items[", i, "].owner_id"),
                absl::StrCat(Quoted(in.owner_id()), " is not a participant of case ",
                             Quoted(request->case_id())));
          }
          conference_v1::AgreementItem item;
          item.set_item_id(NewUuid());
          MEND_ASSIGN_OR_RETURN(
              *item.mutable_what(),
              Seal(request->case_id(), in.owner_id(), in.what(), kSealedAgreementItem));
          item.set_owner_id(in.owner_id());
          item.set_due_date(in.due_date());
          command.items.push_back(std::move(item));
        }
        return RunOne(call, *request, command,
                      [&](const ConferenceState& s, const CommandContext& ctx) {
                        return DecideRecordOutcomeAgreement(s, command, ctx);
                      });
      });
}

grpc::ServerUnaryReactor* ConferenceServiceImpl::CompleteItem(
    grpc::CallbackServerContext* context,
    const conference_v1::CompleteItemRequest* request,
    conference_v1::CommandResult* response) {
  return Handle(
      context, "CompleteItem", *request, response, [&](const Call& call) -> Result {
        CompleteItemCommand command{
            .case_id = request->case_id(), .item_id = request->item_id(), .handled = {}};
        return Run(call, *request,
                   [&](const ConferenceState& s, const CommandContext& ctx,
                       const Handled& h) -> absl::StatusOr<std::vector<ConferenceEvent>> {
                     command.handled = h;
                     MEND_ASSIGN_OR_RETURN(ItemCompleted d,
                                           DecideCompleteItem(s, command, ctx));
                     std::vector<ConferenceEvent> events = {Encode(d.completed)};
                     if (d.agreement_completed.has_value()) {
                       events.push_back(Encode(*d.agreement_completed));
                     }
                     return events;
                   });
      });
}

grpc::ServerUnaryReactor* ConferenceServiceImpl::InformVictim(
    grpc::CallbackServerContext* context,
    const conference_v1::InformVictimRequest* request,
    conference_v1::CommandResult* response) {
  return Handle(
      context, "InformVictim", *request, response, [&](const Call& call) -> Result {
        InformVictimCommand command{
            .case_id = request->case_id(), .approval = std::nullopt, .handled = {}};
        return RunContact(
            call, *request, command, InformVictimQuestion,
            [&](const ConferenceState& s, const CommandContext& ctx) {
              return DecideInformVictim(s, command, ctx);
            },
            "conference.inform-victim");
      });
}

grpc::ServerUnaryReactor* ConferenceServiceImpl::RecordFeedback(
    grpc::CallbackServerContext* context,
    const conference_v1::RecordFeedbackRequest* request,
    conference_v1::CommandResult* response) {
  return Handle(
      context, "RecordFeedback", *request, response, [&](const Call& call) -> Result {
        MEND_ASSIGN_OR_RETURN(ConferenceState now, Snapshot(request->case_id()));
        MEND_RETURN_IF_ERROR(
            CheckCanAct(now, request->case_id(), AskingContext(call), false));
        if (now.FindParticipant(request->participant_id()) == nullptr) {
          return Invalid("participant_id", absl::StrCat(Quoted(request->participant_id()),
                                                        " is not a participant of case ",
                                                        Quoted(request->case_id())));
        }
        RecordFeedbackCommand command{.case_id = request->case_id(),
                                      .participant_id = request->participant_id(),
                                      .satisfaction = request->satisfaction(),
                                      .comments = {},
                                      .would_recommend = request->would_recommend(),
                                      .handled = {}};
        MEND_ASSIGN_OR_RETURN(command.comments,
                              Seal(request->case_id(), request->participant_id(),
                                   request->comments(), kSealedFeedbackComments));
        return RunOne(call, *request, command,
                      [&](const ConferenceState& s, const CommandContext& ctx) {
                        return DecideRecordFeedback(s, command, ctx);
                      });
      });
}

grpc::ServerUnaryReactor* ConferenceServiceImpl::CompleteFollowUp(
    grpc::CallbackServerContext* context,
    const conference_v1::CompleteFollowUpRequest* request,
    conference_v1::CommandResult* response) {
  return Handle(
      context, "CompleteFollowUp", *request, response, [&](const Call& call) -> Result {
        CompleteFollowUpCommand command{.case_id = request->case_id(), .handled = {}};
        return RunOne(call, *request, command,
                      [&](const ConferenceState& s, const CommandContext& ctx) {
                        return DecideCompleteFollowUp(s, command, ctx);
                      });
      });
}

// ---------------------------------------------------------------------------
// Reads.

grpc::ServerUnaryReactor* ConferenceServiceImpl::GetCaseContact(
    grpc::CallbackServerContext* context,
    const conference_v1::GetCaseContactRequest* request,
    conference_v1::CaseContactView* response) {
  return handler_.Unary<conference_v1::CaseContactView>(
      context, "GetCaseContact", response,
      [&](const Call& call) -> absl::StatusOr<conference_v1::CaseContactView> {
        MEND_RETURN_IF_ERROR(Validate(*request));
        MEND_RETURN_IF_ERROR(causal_.Wait(request->causal_token(), call.deadline));
        MEND_ASSIGN_OR_RETURN(ConferenceState s, Snapshot(request->case_id()));
        const CommandContext ctx{.actor_id = call.caller.subject,
                                 .role = call.caller.role};
        MEND_RETURN_IF_ERROR(CheckCanAct(s, request->case_id(), ctx, false));
        if (!s.case_known) {
          return absl::NotFoundError(absl::StrCat(
              "case ", Quoted(request->case_id()),
              " is not known to the conference service (case log handled up to ",
              HandledNow().case_position(), "; pass a causal token if the case is new)"));
        }
        // Words only for the people who work the case (I5).
        ShowFn show = Withhold;
        if (MaySeeWords(call.caller.role)) {
          show = [&](const common_v1::Sealed& sealed, std::string_view field) {
            return Show(s.case_id, sealed, field);
          };
        }
        conference_v1::CaseContactView out = ContactView(s, show);
        *out.mutable_handled() = HandledNow();
        return out;
      });
}

}  // namespace mend::conferencesvc
