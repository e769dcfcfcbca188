// ConferenceServiceImpl: mend.conference.v1.ConferenceService over the
// service runtime — the gRPC layer on top of the conference domain
// (conference_validation.h, conference_state.h, conference_decide.h,
// conference_cascade.h), the followers of the case, consent and scheduling
// logs, the contact gate's client, and the sealing of personal text with
// this service's own per-person keys (--master_key).
//
//   auto runtime = ServiceRuntime::Create(options);
//   MEND_ASSIGN_OR_RETURN(auto consent, (*runtime)->ClientChannel(consent_address));
//   ConferenceServiceImpl service(runtime->get(), consent);
//   (*runtime)->RegisterService(&service);
//   (*runtime)->SetReplay([&](const ReplayedEvent& e) { return service.Apply(e); });
//   ... AddFollower("case", ..., ObserveCase), ("consent", ..., ObserveConsent),
//       ("scheduling", ..., ObserveScheduling), each with Observed ...
//   service.SetFollowers(case_follower, consent_follower, scheduling_follower);
//   (*runtime)->Start();
//
// Everything about a case lives in one stream, ConferenceStreamId(case_id):
// upstream facts and their cascades (written by the followers, one atomic
// write with their checkpoint per upstream event, expecting the stream's
// exact version) and every command's events (expecting the version decided
// on): a cascade and a contact on the same case never miss each other.
//
// A command runs the shared command path: authorize (ConferencePolicy()) →
// validate → causal wait → [seal personal text with the right person's key]
// → [for a contact: the domain's checks before the gate, then
// ConsentService.DecideContact at that moment, outside any lock, on the
// calling facilitator's behalf, with the positions the service has handled
// (or the caller's, if further) as its causal token and a request id derived
// from the command's; a refusal is FAILED_PRECONDITION listing its reasons
// and id, nothing recorded here] → the case's lock → catch up →
// idempotency → decide (pure, CheckApproval again on the state then) →
// append → fold → answer.
//
// Keys: personal text is sealed under "<case_id>/<participant_id>" in this
// service's key store. When the case log says a participant was erased, the
// fold of that fact deletes their key here too (idempotently, also on
// replay), so their words here become unreadable like everywhere else (I6).
//
// Thread safety: RPCs from gRPC's threads; handlers and Observed on the
// followers' threads; Apply before the service serves. SetFollowers before
// Start. Lifetime: service_runtime.h's one rule.
#ifndef MEND_SERVICES_CONFERENCE_CONFERENCE_SERVICE_H_
#define MEND_SERVICES_CONFERENCE_CONFERENCE_SERVICE_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/runtime/causal_token.h"
#include "common/runtime/command_handler.h"
#include "common/runtime/command_path.h"
#include "common/runtime/follower.h"
#include "common/runtime/service_runtime.h"
#include "common/security/auth.h"
#include "mend/conference/v1/conference_service.grpc.pb.h"
#include "mend/consent/v1/consent_service.grpc.pb.h"
#include "services/conference/conference_cascade.h"
#include "services/conference/conference_decide.h"
#include "services/conference/conference_state.h"

namespace mend::conferencesvc {

inline constexpr char kConferenceServicePrefix[] =
    "/mend.conference.v1.ConferenceService/";

// Who may call what. Contacts (OfferLetter, DeliverLetter,
// SendShuttleMessage, StartConference, InformVictim): facilitator (allocated
// to the case). Other commands: facilitator (allocated), manager.
// GetCaseContact: facilitator (allocated), manager, auditor, service —
// auditors and services see every fact and decision but no one's words.
const MethodPolicy::Table& ConferencePolicy();

class ConferenceServiceImpl final
    : public conference_v1::ConferenceService::CallbackService {
 public:
  ConferenceServiceImpl(ServiceRuntime* runtime, std::shared_ptr<grpc::Channel> consent);

  void SetFollowers(const Follower* case_follower, const Follower* consent_follower,
                    const Follower* scheduling_follower);

  BatchEffects ObserveCase(absl::Span<const UpstreamEvent> events);
  BatchEffects ObserveConsent(absl::Span<const UpstreamEvent> events);
  BatchEffects ObserveScheduling(absl::Span<const UpstreamEvent> events);
  void Observed(const eventlog::WriteRequest& request,
                const eventlog::WriteResult& result);

  absl::Status Apply(const ReplayedEvent& event) { return path_.Apply(event); }

#define MEND_CONFERENCE_COMMAND(Method)                                           \
  grpc::ServerUnaryReactor* Method(grpc::CallbackServerContext* context,          \
                                   const conference_v1::Method##Request* request, \
                                   conference_v1::CommandResult* response) override;
  MEND_CONFERENCE_COMMAND(SubmitLetterDraft)
  MEND_CONFERENCE_COMMAND(ReviewLetter)
  MEND_CONFERENCE_COMMAND(OfferLetter)
  MEND_CONFERENCE_COMMAND(DeliverLetter)
  MEND_CONFERENCE_COMMAND(RecordLetterResponse)
  MEND_CONFERENCE_COMMAND(SendShuttleMessage)
  MEND_CONFERENCE_COMMAND(RecordPreparation)
  MEND_CONFERENCE_COMMAND(StartConference)
  MEND_CONFERENCE_COMMAND(RecordConferenceHeld)
  MEND_CONFERENCE_COMMAND(AbandonConference)
  MEND_CONFERENCE_COMMAND(RecordOutcomeAgreement)
  MEND_CONFERENCE_COMMAND(CompleteItem)
  MEND_CONFERENCE_COMMAND(InformVictim)
  MEND_CONFERENCE_COMMAND(RecordFeedback)
  MEND_CONFERENCE_COMMAND(CompleteFollowUp)
#undef MEND_CONFERENCE_COMMAND
  grpc::ServerUnaryReactor* GetCaseContact(
      grpc::CallbackServerContext* context,
      const conference_v1::GetCaseContactRequest* request,
      conference_v1::CaseContactView* response) override;

 private:
  struct Answer {
    conference_v1::CommandResult result;
  };
  using Path = CommandPath<ConferenceState, Answer>;
  using Result = absl::StatusOr<conference_v1::CommandResult>;

  // Every command: authorize → validate → causal wait → `body`.
  template <typename Request>
  grpc::ServerUnaryReactor* Handle(grpc::CallbackServerContext* context,
                                   std::string_view method, const Request& request,
                                   conference_v1::CommandResult* response,
                                   absl::FunctionRef<Result(const Call& call)> body);
  // Runs a validated command whose decide returns its events.
  template <typename Request>
  Result Run(const Call& call, const Request& request,
             absl::FunctionRef<absl::StatusOr<std::vector<ConferenceEvent>>(
                 const ConferenceState& state, const CommandContext& ctx,
                 const Handled& handled)>
                 decide);
  // Run for a command deciding one event: `decide(state, ctx)`, with
  // command.handled set first.
  template <typename Request, typename Command, typename DecideOne>
  Result RunOne(const Call& call, const Request& request, Command& command,
                DecideOne decide);
  // A contact: `question(state, command, ctx)` on a snapshot, the gate asked,
  // command.approval set, then RunOne with `decide`.
  template <typename Request, typename Command, typename QuestionFn, typename DecideOne>
  Result RunContact(const Call& call, const Request& request, Command& command,
                    QuestionFn question, DecideOne decide, std::string_view purpose);

  absl::StatusOr<ConferenceState> Snapshot(const std::string& case_id);
  // `text` sealed with the participant's key under `field`; an empty Sealed
  // for empty text.
  absl::StatusOr<common_v1::Sealed> Seal(const std::string& case_id,
                                         const std::string& participant_id,
                                         const std::string& text, std::string_view field);
  // The words of `sealed` (a value given, sealed under `field`), for a
  // reader who may see them (conference_view.h ShowFn): the text, erased when
  // the person's key is gone, withheld when it cannot be opened otherwise.
  conference_v1::Text Show(const std::string& case_id, const common_v1::Sealed& sealed,
                           std::string_view field);
  absl::Status EnsureErased(const std::string& case_id,
                            const std::string& participant_id);
  absl::StatusOr<consent_v1::ContactDecision> CallDecideContact(
      const consent_v1::DecideContactRequest& request, absl::Time deadline) const;
  template <typename Request>
  absl::StatusOr<conference_v1::Approval> AskGate(const Call& call,
                                                  const Request& request,
                                                  const ContactQuestion& question,
                                                  std::string_view purpose);
  absl::StatusOr<eventlog::WriteRequest> ObserveOne(consent_v1::FactSource source,
                                                    const UpstreamEvent& event);
  Handled HandledNow() const;

  ServiceRuntime* const runtime_;
  const CommandHandler handler_;
  std::unique_ptr<consent_v1::ConsentService::Stub> consent_;
  const Follower* case_follower_ = nullptr;
  const Follower* consent_follower_ = nullptr;
  const Follower* scheduling_follower_ = nullptr;
  CausalWaiter causal_;
  Path path_;
};

}  // namespace mend::conferencesvc

#endif  // MEND_SERVICES_CONFERENCE_CONFERENCE_SERVICE_H_
