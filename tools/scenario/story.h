// One case of the case study (DESIGN, steps 1-10), driven from referral to
// closure through the four services' public APIs:
//
//   a robbery-with-assault referral from probation, found suitable; two
//   facilitators allocated; responsibility acknowledged; risk assessed; the
//   twelve-session programme planned and attended, one session missed and
//   made up; the apology letter drafted, changes requested, approved; the
//   victim at first declines to take part and an approach is refused; later
//   she consents to receive the letter, which is offered and delivered; her
//   response (it reads as self-centred; she wants to meet); face-to-face
//   consent from both and the risk re-assessed for it; preparation meetings
//   (her expectations, his mental-health support); the conference booked and
//   held, an apology made; the outcome agreement, its items completed, the
//   victim informed; feedback from both; the case closed as completed.
//
// The stages after PREPARING are the case service's own derivation from the
// scheduling and conference logs; the story waits for each (GetCase with the
// causal token of what it did there), prints it, and records a risk review
// after it, since every such change lapses the current assessment at the
// contact gate (DESIGN: "reviewed at each stage"), before the next gated
// contact; a sensitive case's review is approved by the manager.
//
// Every command's request id is `<run>-<case number>-<step>`, so a retry after
// a restart is the same request. Every call carries the causal token of what
// the case has done so far, restricted to the logs the service it goes to
// follows. Nothing sleeps to wait for a fact.
//
// Thread safety: one CaseStory per thread; several may share the Clients and
// the Timeline.
#ifndef MEND_TOOLS_SCENARIO_STORY_H_
#define MEND_TOOLS_SCENARIO_STORY_H_

#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tools/scenario/clients.h"
#include "tools/scenario/timeline.h"

namespace mend::scenario {

inline constexpr char kServiceUser[] = "su-1";
inline constexpr char kVictim[] = "v-1";

// `t` as a wall-clock minute in Europe/London, where the case's bookings are
// made.
scheduling_v1::LocalTime LondonAt(absl::Time t);

class CaseStory {
 public:
  // `run_id` makes this run's ids its own; `number` is the case's (1..N).
  CaseStory(const Clients& clients, Timeline& timeline, std::string run_id, int number);

  // Every step in order, up to the first that fails: OK, or that step's
  // error ("<step>: <RPC>: <message>", with the RPC's code). record() holds
  // what was done either way.
  absl::Status Run();
  const CaseRecord& record() const { return record_; }

 private:
  // The chapters (story.cc lists them in order; story_*.cc hold them).
  absl::Status Refer();
  absl::Status FindSuitable();
  absl::Status AllocateFacilitators();
  absl::Status AcknowledgeResponsibility();
  absl::Status AssessRisk();
  absl::Status PlanProgramme();
  absl::Status AttendProgramme();
  absl::Status WriteLetter();
  absl::Status VictimDeclines();
  absl::Status VictimConsentsToLetter();
  absl::Status OfferAndDeliverLetter();
  absl::Status VictimResponds();
  absl::Status ConsentToMeet();
  absl::Status Prepare();
  absl::Status BookConference();
  absl::Status HoldConference();
  absl::Status AgreeOutcome();
  absl::Status FollowUp();
  absl::Status Close();

  // --- helpers (story.cc) ---------------------------------------------------
  std::string RequestId(absl::string_view step) const;
  // Prints a line of the timeline (and then a stage the last case command
  // reported, if it changed).
  void Say(absl::string_view service, absl::string_view text);
  // Records the last command (and prints how many attempts it took, when
  // more than one: the service was restarting).
  void Record(absl::string_view service, absl::string_view rpc, uint64_t position,
              const DecisionRecord* decision = nullptr);
  // The causal token for each service: the logs it follows and its own.
  common_v1::CausalToken ForConsent() const;
  common_v1::CausalToken ForScheduling() const;
  common_v1::CausalToken ForConference() const { return token_; }
  common_v1::CausalToken ForCase() const;  // scheduling and conference positions

  // A risk assessment by Ann allowing `kinds` (LOW, review in 90 days),
  // approved by the manager when the case is sensitive; `why` is printed.
  absl::Status Assess(absl::string_view step,
                      const std::vector<common_v1::ContactKind>& kinds,
                      absl::string_view why);
  // GetCase with the causal token of what was done: the stage must be `to`.
  // The change is printed and recorded. A stage the case derives from
  // another service's log lapses no risk assessment (consent_state.h,
  // "Lapse"), so the story goes on on the assessment it has.
  absl::Status AwaitStage(case_v1::Stage to, absl::string_view after);
  // A consent answer recorded by Ann.
  absl::Status Answer(absl::string_view step, const std::string& participant,
                      consent_v1::ConsentScope scope, consent_v1::ConsentAnswer answer,
                      bool requested_by_participant, absl::string_view text);
  // The case service's view as the manager, with the causal token.
  absl::StatusOr<case_v1::CaseView> GetCase();
  absl::StatusOr<scheduling_v1::GetCaseScheduleResponse> Schedule();
  absl::StatusOr<conference_v1::CaseContactView> Contact();
  // Attendance of one session, recorded by Ann.
  absl::StatusOr<scheduling_v1::CommandResult> Attend(
      const std::string& booking_id, scheduling_v1::Attendance attendance);

  // A command to one service as `who`: the request given the causal token
  // for that service (scheduling and conference requests all carry one), the
  // call retried as Clients::Call does, the token advanced by the answer and
  // the step recorded. An error names the RPC.
  template <typename Request>
  absl::StatusOr<case_v1::CommandResult> CaseCommand(
      absl::string_view rpc,
      grpc::Status (case_v1::CaseService::Stub::*method)(grpc::ClientContext*,
                                                         const Request&,
                                                         case_v1::CommandResult*),
      const Request& request, Actor& who) {
    absl::StatusOr<case_v1::CommandResult> r = clients_.Call<case_v1::CommandResult>(
        who,
        [&](grpc::ClientContext* c, case_v1::CommandResult* out) {
          return (clients_.cases().*method)(c, request, out);
        },
        &attempts_);
    if (!r.ok()) return Named(rpc, r.status());
    token_.set_case_position(std::max(token_.case_position(), r->last_position()));
    Record("case", rpc, r->last_position());
    reported_stage_ = r->stage();
    reported_after_ = std::string(rpc);
    return r;
  }

  template <typename Request>
  absl::StatusOr<scheduling_v1::CommandResult> SchedulingCommand(
      absl::string_view rpc,
      grpc::Status (scheduling_v1::SchedulingService::Stub::*method)(
          grpc::ClientContext*, const Request&, scheduling_v1::CommandResult*),
      Request request, Actor& who) {
    *request.mutable_causal_token() = ForScheduling();
    absl::StatusOr<scheduling_v1::CommandResult> r =
        clients_.Call<scheduling_v1::CommandResult>(
            who,
            [&](grpc::ClientContext* c, scheduling_v1::CommandResult* out) {
              return (clients_.scheduling().*method)(c, request, out);
            },
            &attempts_);
    if (!r.ok()) return Named(rpc, r.status());
    token_.set_scheduling_position(
        std::max(token_.scheduling_position(), r->last_position()));
    RecordApproval("scheduling", rpc, r->last_position(), r->has_approval(),
                   r->approval());
    return r;
  }

  template <typename Request>
  absl::StatusOr<conference_v1::CommandResult> ConferenceCommand(
      absl::string_view rpc,
      grpc::Status (conference_v1::ConferenceService::Stub::*method)(
          grpc::ClientContext*, const Request&, conference_v1::CommandResult*),
      Request request, Actor& who) {
    *request.mutable_causal_token() = ForConference();
    absl::StatusOr<conference_v1::CommandResult> r =
        clients_.Call<conference_v1::CommandResult>(
            who,
            [&](grpc::ClientContext* c, conference_v1::CommandResult* out) {
              return (clients_.conference().*method)(c, request, out);
            },
            &attempts_);
    if (!r.ok()) return Named(rpc, r.status());
    token_.set_conference_position(
        std::max(token_.conference_position(), r->last_position()));
    RecordApproval("conference", rpc, r->last_position(), r->has_approval(),
                   r->approval());
    return r;
  }

  // The approval a contact rests on (scheduling's or conference's message),
  // recorded with the step.
  template <typename Approval>
  void RecordApproval(absl::string_view service, absl::string_view rpc, uint64_t position,
                      bool has, const Approval& a) {
    if (!has) {
      Record(service, rpc, position);
      return;
    }
    last_decision_ = DecisionRecord{.kind = a.kind(),
                                    .outcome = consent_v1::APPROVED,
                                    .decision_id = a.decision_id(),
                                    .consent_position = a.consent_position()};
    Record(service, rpc, position, &last_decision_);
  }
  // "<RPC> <KIND> → APPROVED (decision 5f1c…): <text>", for the last step.
  void SayDecided(absl::string_view service, absl::string_view rpc,
                  absl::string_view text);
  // Prints and records a change of stage the case service reported.
  void NoteStage(case_v1::Stage stage, absl::string_view after);
  static absl::Status Named(absl::string_view rpc, const absl::Status& status);

  const Clients& clients_;
  Timeline& timeline_;
  const std::string run_id_;
  Actor manager_;
  Actor ann_;  // leads: the programme, the letter, the victim's side
  Actor raj_;  // co-facilitates: the service user's preparation, the conference
  CaseRecord record_;
  common_v1::CausalToken token_;  // every position the case's steps returned
  case_v1::Stage stage_ = case_v1::STAGE_UNSPECIFIED;
  // The stage the last case command answered with, noted (NoteStage) after
  // the next line is printed, so the change follows the step that made it.
  case_v1::Stage reported_stage_ = case_v1::STAGE_UNSPECIFIED;
  std::string reported_after_;
  bool sensitive_ = false;
  DecisionRecord last_decision_;
  int attempts_ = 1;  // of the last command (Record notes it)
  // Ids the later steps need.
  std::string letter_id_;
  std::string conference_booking_id_;
  absl::Time conference_start_;
  std::vector<std::string> preparation_booking_ids_;  // the victim's, then his
};

}  // namespace mend::scenario

#endif  // MEND_TOOLS_SCENARIO_STORY_H_
