// The steps of a case study that end-to-end tests take over and over, on top
// of ServiceProcesses: consent answered and withdrawn, conference and
// scheduling commands with the causal token, a letter approved, a case ready
// for a face-to-face conference, preparation meetings and the conference
// booked, prepared and started, and every event of a type read back from a
// service's log. One driver, so that a change to a command's request is made
// once and every test takes the same path through the services.
//
//   ServiceProcesses p(MEND_CASE_SERVICE, MEND_CONSENT_SERVICE,
//                      MEND_SCHEDULING_SERVICE, MEND_CONFERENCE_SERVICE);
//   ...start the services...
//   CaseStudy study(p);
//   const std::string case_id = study.FaceToFaceCase("meet");
//   study.ConsentToFaceToFace(case_id, "meet");
//   const CaseStudy::Booked booked = study.BookConferenceFor(case_id, "meet");
//   study.Prepare(case_id, booked, "meet");
//   auto started = study.Start(case_id, booked.conference, "meet-start");
//
// Failures of a step are test failures (EXPECT / ADD_FAILURE) and the step
// returns an empty id or position 0, so a test goes on to the assertion that
// names what it checks. Every call carries the causal token of what the test
// has done so far, and a successful command advances it (ServiceProcesses'
// causal_token()): a read after a command sees the command's effects.
#ifndef MEND_TESTS_SUPPORT_CASE_STUDY_H_
#define MEND_TESTS_SUPPORT_CASE_STUDY_H_

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mend/eventlog/v1/eventlog_service.grpc.pb.h"
#include "mend/eventlog/v1/record.pb.h"
#include "tests/support/grpc_client.h"
#include "tests/support/service_processes.h"
#include "tests/support/test_util.h"

namespace mend::testing {

namespace eventlog_v1 = ::mend::eventlog::v1;

// `t` as a wall-clock time in Europe/London, the zone bookings are made in.
scheduling_v1::LocalTime LondonAt(absl::Time t);

// One event of a log as EventLog.Read serves it, its record decoded.
struct LogEvent {
  uint64_t position = 0;
  eventlog_v1::Envelope envelope;
  std::string payload;  // the event's message, serialized
};

class CaseStudy {
 public:
  // `facilitator_id` is who acts on the case in the steps below (records
  // consent, writes and reviews letters, assesses risk, books, prepares and
  // starts) and who is booked: ReadyCase allocates Ann.
  explicit CaseStudy(ServiceProcesses& p,
                     std::string facilitator_id = ServiceProcesses::kAnn);

  // Bearer tokens: the acting facilitator's, the manager's, an auditor's.
  std::string Facilitator();
  std::string Manager();
  std::string Auditor();
  const std::string& facilitator_id() const { return facilitator_id_; }

  // The causal token of everything done so far (ServiceProcesses').
  common_v1::CausalToken& token() { return p_.causal_token(); }
  // The causal token without the positions of the logs a service does not
  // follow: the scheduling service follows case and consent, the conference
  // service all three; a service refuses positions of logs it does not follow.
  common_v1::CausalToken Without(bool scheduling, bool conference);

  // A consent `answer` recorded by the facilitator for `participant` on
  // `scope` (informed by the current leaflet, through `channel`); the causal
  // token takes its position. Returns the consent-log position, 0 on failure.
  uint64_t Answer(const std::string& case_id, const std::string& participant,
                  consent_v1::ConsentScope scope, const std::string& request_id,
                  consent_v1::ConsentAnswer answer = consent_v1::GIVEN,
                  consent_v1::InformedChannel channel = consent_v1::IN_PERSON);
  // The facilitator records that `participant` withdrew consent on `scope`;
  // the causal token takes its position. Returns the consent-log position,
  // 0 on failure.
  uint64_t Withdraw(const std::string& case_id, const std::string& participant,
                    consent_v1::ConsentScope scope, const std::string& request_id,
                    consent_v1::InformedChannel channel = consent_v1::PHONE);

  // A conference command as `who` (a token; empty: none), with the causal
  // token; on success the token takes its last position.
  template <typename Request>
  absl::StatusOr<conference_v1::CommandResult> Do(
      grpc::Status (conference_v1::ConferenceService::Stub::*method)(
          grpc::ClientContext*, const Request&, conference_v1::CommandResult*),
      Request request, const std::string& who) {
    *request.mutable_causal_token() = Without(true, true);
    absl::StatusOr<conference_v1::CommandResult> out = Call<conference_v1::CommandResult>(
        who, [&](grpc::ClientContext* c, conference_v1::CommandResult* o) {
          return (p_.conference_stub().*method)(c, request, o);
        });
    if (out.ok()) {
      token().set_conference_position(
          std::max(token().conference_position(), out->last_position()));
    }
    return out;
  }
  // A scheduling command as `who`, with the causal token (less the
  // conference position); on success the token takes its last position.
  template <typename Request>
  absl::StatusOr<scheduling_v1::CommandResult> Book(
      grpc::Status (scheduling_v1::SchedulingService::Stub::*method)(
          grpc::ClientContext*, const Request&, scheduling_v1::CommandResult*),
      Request request, const std::string& who) {
    *request.mutable_causal_token() = Without(true, false);
    absl::StatusOr<scheduling_v1::CommandResult> out = Call<scheduling_v1::CommandResult>(
        who, [&](grpc::ClientContext* c, scheduling_v1::CommandResult* o) {
          return (p_.scheduling_stub().*method)(c, request, o);
        });
    if (out.ok()) {
      token().set_scheduling_position(
          std::max(token().scheduling_position(), out->last_position()));
    }
    return out;
  }

  // The conference service's view of a case as `who`, once it has handled
  // everything the causal token names.
  absl::StatusOr<conference_v1::CaseContactView> Contact(const std::string& case_id,
                                                         const std::string& who);

  // Every event of the log served on `channel` (any service's), from
  // position 1 to the head, by EventLog.Read as an auditor, 1000 a page.
  std::vector<LogEvent> ReadLog(const std::shared_ptr<grpc::Channel>& channel);
  // Every event of type `Message` in that log (in `stream_id` only, unless
  // empty), decoded, in log order.
  template <typename Message>
  std::vector<Message> Events(const std::shared_ptr<grpc::Channel>& channel,
                              const std::string& stream_id = "") {
    std::vector<Message> out;
    for (const LogEvent& e : ReadLog(channel)) {
      if (!stream_id.empty() && e.envelope.stream_id() != stream_id) continue;
      if (e.envelope.event_type() != Message::descriptor()->full_name()) continue;
      Message m;
      EXPECT_TRUE(m.ParseFromString(e.payload))
          << e.envelope.event_type() << " at position " << e.position;
      out.push_back(std::move(m));
    }
    return out;
  }
  // Every event of type `Message` in the conference log.
  template <typename Message>
  std::vector<Message> ConferenceEvents() {
    return Events<Message>(p_.conference_channel());
  }
  // Every event of type `Message` in the scheduling log's stream of a case.
  template <typename Message>
  std::vector<Message> SchedulingEvents(const std::string& case_id) {
    return Events<Message>(p_.scheduling_channel(), "schedule-" + case_id);
  }

  // A letter written by the facilitator, changes requested, rewritten and
  // approved for offer (request ids `case_id`-draft-1 ...): the letter's id,
  // empty on failure.
  std::string ApprovedLetter(const std::string& case_id);

  // A new risk assessment (LOW, review in 90 days) by the facilitator that
  // allows `kinds`. Returns its case-log position, 0 on failure.
  uint64_t Assess(const std::string& case_id, const std::string& request_id,
                  const std::vector<common_v1::ContactKind>& kinds);
  // ReadyCase(`prefix`), assessed again (`prefix`-risk-f2f) to allow `kinds`:
  // by default an approach and a face-to-face conference.
  std::string FaceToFaceCase(const std::string& prefix,
                             const std::vector<common_v1::ContactKind>& kinds = {
                                 common_v1::APPROACH_VICTIM,
                                 common_v1::FACE_TO_FACE_CONFERENCE});
  // Both parties' (v-1's, then su-1's) consent to take part and to meet face
  // to face (request ids `prefix`-<participant>-p and -f2f).
  void ConsentToFaceToFace(const std::string& case_id, const std::string& prefix);

  // What BookConferenceFor booked: the preparation meetings (the victim's
  // first) and the conference.
  struct Booked {
    std::vector<std::string> meetings;
    std::string conference;
  };
  // Booked in scheduling by the facilitator, with them: a preparation meeting
  // with each party (in two and three days) and the conference, starting in
  // forty minutes. Empty ids for bookings that failed.
  Booked BookConferenceFor(const std::string& case_id, const std::string& prefix);
  // Each preparation meeting's outcome recorded by the facilitator: both
  // parties ready; the service user's with support needs.
  void Prepare(const std::string& case_id, const Booked& booked,
               const std::string& prefix);
  // StartConference on `booking_id` by the facilitator.
  absl::StatusOr<conference_v1::CommandResult> Start(const std::string& case_id,
                                                     const std::string& booking_id,
                                                     const std::string& request_id);
  // After Start: the conference held (both attended, an apology made), the
  // outcome agreement (one item, every party consenting), the item
  // completed, the victim informed (APPROACH_VICTIM), feedback from both and
  // the follow-up completed (request ids `prefix`-held, ...). Each step a
  // test failure if it fails.
  void HoldAndFollowUp(const std::string& case_id, const std::string& booking_id,
                       const std::string& prefix);

  // The case as the case service answers GetCase for the facilitator once it
  // has handled the scheduling and conference positions of the causal token
  // (the stages it derives from them).
  absl::StatusOr<case_v1::CaseView> Case(const std::string& case_id);

  // Waits until what the test did has settled across the logs, for reads
  // that must answer the same before and after a restart (their views say
  // how far each service has handled the others): the case service handles
  // the causal token's scheduling and conference positions (the stages it
  // derives from them are case-log events no command returned a position
  // for), then consent the case log's head (it records what it observes in
  // its own log); the token then takes the case and consent heads.
  void Settle(const std::string& case_id);

 private:
  ServiceProcesses& p_;
  const std::string facilitator_id_;
};

}  // namespace mend::testing

#endif  // MEND_TESTS_SUPPORT_CASE_STUDY_H_
