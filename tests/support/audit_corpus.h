// Real logs for the audit's tests: a case taken through the letter path on
// the four real services (the letter offered and delivered, each on its own
// decision, then the victim's withdrawal), and the tamperer's tool — an
// event appended to a copy of a log through the store itself, so the chain
// and the tree are re-made around it and only the audit's cross-log checks
// can tell.
#ifndef MEND_TESTS_SUPPORT_AUDIT_CORPUS_H_
#define MEND_TESTS_SUPPORT_AUDIT_CORPUS_H_

#include <cstdint>
#include <memory>
#include <string>

#include "google/protobuf/message.h"
#include "mend/common/v1/contact.pb.h"
#include "mend/conference/v1/events.pb.h"
#include "tests/support/case_study.h"
#include "tests/support/service_processes.h"

namespace mend::testing {

struct LetterCase {
  std::string case_id;
  std::string letter_id;
  conference_v1::Approval offer;     // APPROACH_VICTIM, for LetterOffered
  conference_v1::Approval delivery;  // LETTER_DELIVERY, for LetterDelivered
  // v-1 withdrew RECEIVE_LETTER after the delivery: its consent-log position.
  uint64_t withdrawal_position = 0;
};

// On running case, consent, scheduling and conference services: ReadyCase,
// both PARTICIPATE, the letter approved (CaseStudy::ApprovedLetter),
// offered, the letter consents (ConsentToLetters), delivered, then v-1's
// withdrawal of RECEIVE_LETTER (waited for by the conference service).
// Failures are test failures.
LetterCase DeliverLetterThenWithdraw(ServiceProcesses& p, CaseStudy& study,
                                     const std::string& prefix);

// The four services started in a temporary directory, the letter case of
// DeliverLetterThenWithdraw (prefix `prefix`) recorded, and the services
// stopped (drained: their shutdown heads signed, their logs closed) — the
// logs an audit test reads and copies. For a suite's SetUpTestSuite, with
// the four binaries (MEND_CASE_SERVICE, ...).
struct RecordedLetterCase {
  std::unique_ptr<ServiceProcesses> processes;
  LetterCase letter;
};
RecordedLetterCase RecordLetterCase(const std::string& prefix,
                                    const std::string& case_binary,
                                    const std::string& consent_binary,
                                    const std::string& scheduling_binary,
                                    const std::string& conference_binary);

// Appends `payload` (its type is the event type) to `stream_id` of the log
// in `log_dir` — a copy, with no service running on it — as `actor`.
// Returns the new event's position (0 and a test failure on error).
uint64_t InjectEvent(const std::string& log_dir, const std::string& stream_id,
                     const google::protobuf::Message& payload, const std::string& actor);

// A copy of a service's data (its log directory) under `dir`, to tamper with.
std::string CopyLog(const std::string& log_dir, const std::string& dir);

}  // namespace mend::testing

#endif  // MEND_TESTS_SUPPORT_AUDIT_CORPUS_H_
