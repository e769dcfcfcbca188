// Replay equality of the contact gate over recorded case events: a corpus of
// consent streams (case events as the follower observes them, consents and
// withdrawals between them), generated from a fixed seed, folded with
// Evolve and asked every question after every event. What the rule
// "contact-gate/1" answered, how parties resolved and the status codes of
// the consent commands and reads are digested per step and compared with
// testdata/contact_gate_v1_corpus.txt.
//
// The digests were recorded with the code that folded case events through
// the case service's own domain (casesvc::Evolve into casesvc::CaseState),
// before consent had its own projection: a change to how consent folds case
// facts that would change an old decision's explanation fails here. The
// corpus uses only events that fold (the generator keeps a model of the
// case), so every step is asked.
//
// A second corpus holds contact-gate/2 the same way from now on (its digests
// recorded when /2 was made): the same walk plus the case events /1's fold
// could not read (ParticipantLinked, erasures naming linked cases, findings
// of unsuitability with the stage FOUND_UNSUITABLE), asked at a fixed time.
//
// MEND_WRITE_CORPUS=<dir> writes the digests there (contact_gate_v1_corpus.txt,
// contact_gate_v2_corpus.txt) instead of comparing, and
// MEND_WRITE_CORPUS_TEXT=<dir> the undigested answers (*.answers), for a diff.
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/base/command_context.h"
#include "common/base/sha256.h"
#include "gtest/gtest.h"
#include "mend/case/v1/events.pb.h"
#include "services/consent/consent_decide.h"
#include "services/consent/consent_state.h"
#include "services/consent/contact_rule.h"

#ifndef MEND_CONSENT_TESTDATA
#error "MEND_CONSENT_TESTDATA must name services/consent/testdata"
#endif

#include "services/consent/contact_gate_corpus_scenario.h"

namespace mend::consentsvc {
namespace {

namespace case_v1 = ::mend::case_::v1;

constexpr int kScenarios = 80;
constexpr int kSteps = 36;
// The time contact-gate/2 is asked at: after the walk's early review date
// (2026-06-01), before its late one (2027-06-01).
const absl::Time kDecidedAt = absl::FromUnixSeconds(1'788'000'000);  // 2026-08-29

const common_v1::ContactKind kKinds[] = {
    common_v1::APPROACH_VICTIM, common_v1::LETTER_DELIVERY, common_v1::SHUTTLE_MESSAGE,
    common_v1::VIDEO_MEETING, common_v1::FACE_TO_FACE_CONFERENCE};

using corpus::Random;
using corpus::Scenario;

// Every answer the consent domain gives on these facts, as text.
std::string Answers(const Scenario& s, std::string_view version) {
  const CaseFacts& facts = s.facts();
  const ContactRule rule = FindContactRule(version);
  std::ostringstream out;
  std::vector<std::string> victims = {""};
  for (const std::string& id : s.participant_ids()) victims.push_back(id);
  victims.push_back("nobody");
  for (const std::string& victim : victims) {
    absl::StatusOr<ContactParties> parties = ResolveParties(facts, victim);
    out << "resolve " << victim << ": ";
    if (!parties.ok()) {
      out << parties.status() << "\n";
      continue;
    }
    out << parties->victim_id << " " << parties->service_user_id << "\n";
    for (common_v1::ContactKind kind : kKinds) {
      for (const char* facilitator : {"f1", "f3"}) {
        const ContactRuling r =
            rule(facts, ContactQuestion{.kind = kind,
                                        .victim_id = parties->victim_id,
                                        .service_user_id = parties->service_user_id,
                                        .facilitator_id = facilitator,
                                        .decided_at = kDecidedAt});
        consent_v1::ContactDecisionMade d;
        d.set_outcome(r.outcome);
        for (const auto& reason : r.reasons) *d.add_reasons() = reason;
        for (const auto& fact : r.consulted) *d.add_consulted() = fact;
        d.set_policy_version(r.policy_version);
        out << common_v1::ContactKind_Name(kind) << " " << facilitator << " "
            << d.ShortDebugString() << "\n";
      }
    }
  }
  // The consent commands' and reads' checks of the case facts, by code (the
  // messages are free to improve).
  for (const char* facilitator : {"f1", "f2", "f3"}) {
    const CommandContext ctx{.actor_id = facilitator, .role = Role::kFacilitator};
    out << "read " << facilitator << ": " << CheckCanRead(facts, s.case_id(), ctx).code()
        << "\n";
    std::vector<std::string> people = s.participant_ids();
    people.push_back("nobody");
    for (const std::string& person : people) {
      RecordConsentCommand command;
      command.case_id = s.case_id();
      command.consent_id = "k-new";
      command.participant_id = person;
      command.scope = consent_v1::VIDEO;
      command.answer = consent_v1::GIVEN;
      out << "record " << facilitator << " " << person << ": "
          << DecideRecordConsent(facts, command, ctx).status().code() << "\n";
    }
  }
  return out.str();
}

// Walks the corpus, asking `version` after every step, and compares each
// step's digest with testdata/<golden> (or writes them: MEND_WRITE_CORPUS).
void CheckCorpus(const std::string& golden, std::string_view version, bool later_events) {
  std::map<std::string, std::string> want;
  const char* write = std::getenv("MEND_WRITE_CORPUS");
  const char* write_text = std::getenv("MEND_WRITE_CORPUS_TEXT");
  if (write == nullptr) {
    const std::string path = absl::StrCat(MEND_CONSENT_TESTDATA, "/", golden);
    std::ifstream in(path);
    ASSERT_TRUE(in.good()) << "cannot read " << path;
    std::string key, step, digest;
    while (in >> key >> step >> digest) want[absl::StrCat(key, " ", step)] = digest;
    ASSERT_EQ(want.size(), static_cast<size_t>(kScenarios * kSteps));
  }
  std::ostringstream digests;
  std::ofstream text;
  if (write_text != nullptr) text.open(absl::StrCat(write_text, "/", golden, ".answers"));
  int mismatches = 0;
  for (int i = 0; i < kScenarios; ++i) {
    Scenario s(i, later_events);
    for (int step = 0; step < kSteps; ++step) {
      s.Step();
      ASSERT_FALSE(s.failed()) << "scenario " << i << " step " << step << ": "
                               << s.error();
      const std::string answers = Answers(s, version);
      const std::string key = absl::StrCat(s.case_id(), " ", step);
      // 64 bits of SHA-256 per step tell a changed answer apart well enough.
      const std::string digest = HexEncode(Sha256Bytes(answers)).substr(0, 16);
      digests << key << " " << digest << "\n";
      if (text.is_open()) text << "== " << key << "\n" << answers;
      if (write == nullptr && want[key] != digest && ++mismatches <= 3) {
        ADD_FAILURE() << "scenario " << key << " answers differently now:\n" << answers;
      }
    }
  }
  EXPECT_EQ(mismatches, 0);
  if (write != nullptr) {
    std::ofstream out(absl::StrCat(write, "/", golden));
    out << digests.str();
    ASSERT_TRUE(out.good()) << "cannot write " << golden << " in " << write;
  }
}

TEST(ContactGateCorpusTest, RecordedCaseEventsGiveTheSameAnswers) {
  CheckCorpus("contact_gate_v1_corpus.txt", kContactGateV1, /*later_events=*/false);
}

TEST(ContactGateCorpusTest, ContactGateV2GivesTheAnswersItGaveWhenMade) {
  CheckCorpus("contact_gate_v2_corpus.txt", kContactGateV2, /*later_events=*/true);
}

}  // namespace
}  // namespace mend::consentsvc
