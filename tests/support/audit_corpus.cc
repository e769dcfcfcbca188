#include "tests/support/audit_corpus.h"

#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/eventlog/event_store.h"

namespace mend::testing {

LetterCase DeliverLetterThenWithdraw(ServiceProcesses& p, CaseStudy& study,
                                     const std::string& prefix) {
  LetterCase out;
  out.case_id = p.ReadyCase(prefix);
  study.Answer(out.case_id, "v-1", consent_v1::PARTICIPATE, prefix + "-v-participate");
  study.Answer(out.case_id, "su-1", consent_v1::PARTICIPATE, prefix + "-su-participate");
  out.letter_id = study.ApprovedLetter(out.case_id);
  conference_v1::OfferLetterRequest offer;
  offer.set_request_id(prefix + "-offer");
  offer.set_case_id(out.case_id);
  offer.set_letter_id(out.letter_id);
  auto offered = study.Do(&conference_v1::ConferenceService::Stub::OfferLetter, offer,
                          study.Facilitator());
  EXPECT_THAT(offered, IsOk());
  if (offered.ok()) out.offer = offered->approval();
  p.ConsentToLetters(out.case_id);
  study.token().set_consent_position(p.ConsentHead());
  conference_v1::DeliverLetterRequest deliver;
  deliver.set_request_id(prefix + "-deliver");
  deliver.set_case_id(out.case_id);
  deliver.set_letter_id(out.letter_id);
  deliver.set_version(2);
  auto delivered = study.Do(&conference_v1::ConferenceService::Stub::DeliverLetter,
                            deliver, study.Facilitator());
  EXPECT_THAT(delivered, IsOk());
  if (delivered.ok()) out.delivery = delivered->approval();
  out.withdrawal_position = study.Withdraw(out.case_id, "v-1", consent_v1::RECEIVE_LETTER,
                                           prefix + "-withdraw");
  // The conference service has handled the withdrawal (its view waits for
  // the causal token).
  EXPECT_THAT(study.Contact(out.case_id, study.Facilitator()), IsOk());
  return out;
}

RecordedLetterCase RecordLetterCase(const std::string& prefix,
                                    const std::string& case_binary,
                                    const std::string& consent_binary,
                                    const std::string& scheduling_binary,
                                    const std::string& conference_binary) {
  RecordedLetterCase out;
  out.processes = std::make_unique<ServiceProcesses>(
      case_binary, consent_binary, scheduling_binary, conference_binary);
  ServiceProcesses& p = *out.processes;
  p.StartCase();
  p.StartConsent();
  p.StartScheduling();
  p.StartConferenceService();
  CaseStudy study(p);
  out.letter = DeliverLetterThenWithdraw(p, study, prefix);
  p.StopConferenceService();
  p.StopScheduling();
  p.StopConsent();
  p.StopCase();
  return out;
}

uint64_t InjectEvent(const std::string& log_dir, const std::string& stream_id,
                     const google::protobuf::Message& payload, const std::string& actor) {
  auto store = eventlog::EventStore::Open({.path = log_dir, .create_if_missing = false});
  EXPECT_THAT(store, IsOk());
  if (!store.ok()) return 0;
  static int injected = 0;
  auto appended = (*store)->Append(stream_id, eventlog::ExpectedVersion::Any(),
                                   {{.event_id = absl::StrCat("injected-", ++injected),
                                     .event_type = payload.GetDescriptor()->full_name(),
                                     .payload = payload.SerializeAsString(),
                                     .actor_id = actor,
                                     .actor_role = "facilitator",
                                     .correlation_id = "",
                                     .causation_id = ""}});
  EXPECT_THAT(appended, IsOk());
  return appended.ok() ? appended->first_position : 0;
}

std::string CopyLog(const std::string& log_dir, const std::string& dir) {
  static int copies = 0;
  const std::string copy = absl::StrCat(dir, "/copy-", ++copies);
  std::filesystem::copy(log_dir, copy, std::filesystem::copy_options::recursive);
  return copy;
}

}  // namespace mend::testing
