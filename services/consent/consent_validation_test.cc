#include "services/consent/consent_validation.h"

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_util.h"

namespace mend::consentsvc {
namespace {

using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::StartsWith;
namespace v1 = ::mend::consent::v1;
namespace common_v1 = ::mend::common::v1;

// One broken field of an otherwise good request: the error must be
// INVALID_ARGUMENT and its message must start with the field's name.
template <typename Request>
struct Row {
  std::string field;
  std::function<void(Request&)> Break;
};

template <typename Request>
void ExpectEachRowNamesItsField(const Request& good,
                                const std::vector<Row<Request>>& rows) {
  ASSERT_THAT(Validate(good), IsOk());
  for (size_t i = 0; i < rows.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("row ", i, " (", rows[i].field, ")"));
    Request r = good;
    rows[i].Break(r);
    const absl::Status s = Validate(r);
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_THAT(std::string(s.message()), StartsWith(rows[i].field + ": "));
  }
}

v1::RecordConsentRequest GoodRecord() {
  v1::RecordConsentRequest r;
  r.set_request_id("req-1");
  r.set_case_id("c1");
  r.set_participant_id("v1");
  r.set_scope(v1::PARTICIPATE);
  r.set_answer(v1::GIVEN);
  r.mutable_informed()->set_leaflet_version("RJ-leaflet-2026-03");
  r.mutable_informed()->set_facilitator_present(true);
  r.mutable_informed()->set_channel(v1::IN_PERSON);
  return r;
}

v1::WithdrawConsentRequest GoodWithdraw() {
  v1::WithdrawConsentRequest r;
  r.set_request_id("req-2");
  r.set_case_id("c1");
  r.set_participant_id("v1");
  r.set_scope(v1::FACE_TO_FACE);
  r.mutable_informed()->set_channel(v1::PHONE);
  return r;
}

v1::DecideContactRequest GoodDecide() {
  v1::DecideContactRequest r;
  r.set_request_id("req-3");
  r.set_case_id("c1");
  r.set_kind(common_v1::APPROACH_VICTIM);
  r.set_purpose("first-approach-by-phone");
  return r;
}

TEST(ConsentValidationTest, GoodRecordConsentIsValid) {
  EXPECT_THAT(Validate(GoodRecord()), IsOk());
}

TEST(ConsentValidationTest, RecordConsentAcceptsEveryScopeAnswerAndChannel) {
  for (int scope = v1::PARTICIPATE; scope <= v1::SHARE_INFORMATION; ++scope) {
    for (v1::ConsentAnswer answer : {v1::GIVEN, v1::DECLINED}) {
      for (int channel = v1::IN_PERSON; channel <= v1::VIDEO_CALL; ++channel) {
        v1::RecordConsentRequest r = GoodRecord();
        r.set_scope(static_cast<v1::ConsentScope>(scope));
        r.set_answer(answer);
        r.mutable_informed()->set_channel(static_cast<v1::InformedChannel>(channel));
        EXPECT_THAT(Validate(r), IsOk()) << scope << " " << answer << " " << channel;
      }
    }
  }
}

TEST(ConsentValidationTest, RecordConsentBoundariesThatAreValid) {
  v1::RecordConsentRequest r = GoodRecord();
  r.mutable_informed()->set_leaflet_version(std::string(32, 'L'));
  EXPECT_THAT(Validate(r), IsOk());
  r.mutable_informed()->set_leaflet_version("RJ_leaflet.v2-2026");
  EXPECT_THAT(Validate(r), IsOk());
  r.set_participant_id(std::string(128, 'p'));
  EXPECT_THAT(Validate(r), IsOk());
  r.set_expected_version(1);
  EXPECT_THAT(Validate(r), IsOk());
  r.set_requested_by_participant(true);  // with GIVEN
  EXPECT_THAT(Validate(r), IsOk());
  r.mutable_informed()->set_facilitator_present(false);
  EXPECT_THAT(Validate(r), IsOk());
  r.mutable_causal_token()->set_case_position(~uint64_t{0});  // not validated
  EXPECT_THAT(Validate(r), IsOk());
}

TEST(ConsentValidationTest, EachBrokenRecordConsentFieldIsNamed) {
  using R = v1::RecordConsentRequest;
  ExpectEachRowNamesItsField<R>(
      GoodRecord(),
      {
          {"request_id", [](R& r) { r.clear_request_id(); }},
          {"request_id", [](R& r) { r.set_request_id("has space"); }},
          {"request_id", [](R& r) { r.set_request_id(std::string(129, 'x')); }},
          {"case_id", [](R& r) { r.clear_case_id(); }},
          {"case_id", [](R& r) { r.set_case_id("c\x01"); }},
          {"expected_version", [](R& r) { r.set_expected_version(0); }},
          {"participant_id", [](R& r) { r.clear_participant_id(); }},
          {"participant_id", [](R& r) { r.set_participant_id(std::string(129, 'p')); }},
          {"participant_id", [](R& r) { r.set_participant_id("v 1"); }},
          {"scope", [](R& r) { r.clear_scope(); }},
          {"scope", [](R& r) { r.set_scope(static_cast<v1::ConsentScope>(7)); }},
          {"scope", [](R& r) { r.set_scope(static_cast<v1::ConsentScope>(-1)); }},
          {"answer", [](R& r) { r.clear_answer(); }},
          {"answer", [](R& r) { r.set_answer(static_cast<v1::ConsentAnswer>(3)); }},
          {"informed", [](R& r) { r.clear_informed(); }},
          {"informed.leaflet_version",
           [](R& r) { r.mutable_informed()->clear_leaflet_version(); }},
          {"informed.leaflet_version",
           [](R& r) { r.mutable_informed()->set_leaflet_version(std::string(65, 'L')); }},
          {"informed.leaflet_version",
           [](R& r) { r.mutable_informed()->set_leaflet_version("RJ\nleaflet"); }},
          {"informed.leaflet_version",
           [](R& r) {
             r.mutable_informed()->set_leaflet_version("RJ-leaflet-\xc3\xa9");
           }},
          // The bug: a phone number as leaflet version, now unerasable.
          {"informed.leaflet_version",
           [](R& r) { r.mutable_informed()->set_leaflet_version("+44 7700 900000"); }},
          {"informed.channel", [](R& r) { r.mutable_informed()->clear_channel(); }},
          {"informed.channel",
           [](R& r) {
             r.mutable_informed()->set_channel(static_cast<v1::InformedChannel>(42));
           }},
          {"requested_by_participant",
           [](R& r) {
             r.set_answer(v1::DECLINED);
             r.set_requested_by_participant(true);
           }},
      });
}

TEST(ConsentValidationTest, RequestedByParticipantMessageSaysGivenOnly) {
  v1::RecordConsentRequest r = GoodRecord();
  r.set_answer(v1::DECLINED);
  r.set_requested_by_participant(true);
  EXPECT_THAT(std::string(Validate(r).message()), HasSubstr("GIVEN"));
}

TEST(ConsentValidationTest, UnknownEnumMessageGivesTheNumber) {
  v1::RecordConsentRequest r = GoodRecord();
  r.set_scope(static_cast<v1::ConsentScope>(77));
  EXPECT_THAT(std::string(Validate(r).message()), HasSubstr("77"));
}

TEST(ConsentValidationTest, GoodWithdrawConsentIsValid) {
  EXPECT_THAT(Validate(GoodWithdraw()), IsOk());
  v1::WithdrawConsentRequest all = GoodWithdraw();
  all.clear_scope();
  all.set_all_scopes(true);
  EXPECT_THAT(Validate(all), IsOk());
  // The leaflet is optional for a withdrawal, but checked when given.
  v1::WithdrawConsentRequest with_leaflet = GoodWithdraw();
  with_leaflet.mutable_informed()->set_leaflet_version("RJ-leaflet-2026-03");
  EXPECT_THAT(Validate(with_leaflet), IsOk());
  for (int scope = v1::PARTICIPATE; scope <= v1::SHARE_INFORMATION; ++scope) {
    v1::WithdrawConsentRequest r = GoodWithdraw();
    r.set_scope(static_cast<v1::ConsentScope>(scope));
    EXPECT_THAT(Validate(r), IsOk()) << scope;
  }
}

TEST(ConsentValidationTest, EachBrokenWithdrawConsentFieldIsNamed) {
  using R = v1::WithdrawConsentRequest;
  ExpectEachRowNamesItsField<R>(
      GoodWithdraw(),
      {
          {"request_id", [](R& r) { r.clear_request_id(); }},
          {"case_id", [](R& r) { r.clear_case_id(); }},
          {"case_id", [](R& r) { r.set_case_id(std::string(129, 'c')); }},
          {"expected_version", [](R& r) { r.set_expected_version(0); }},
          {"participant_id", [](R& r) { r.clear_participant_id(); }},
          {"scope", [](R& r) { r.set_scope(static_cast<v1::ConsentScope>(99)); }},
          {"informed", [](R& r) { r.clear_informed(); }},
          {"informed.channel", [](R& r) { r.mutable_informed()->clear_channel(); }},
          {"informed.channel",
           [](R& r) {
             r.mutable_informed()->set_channel(static_cast<v1::InformedChannel>(-4));
           }},
          {"informed.leaflet_version",
           [](R& r) { r.mutable_informed()->set_leaflet_version(std::string(33, 'L')); }},
          {"informed.leaflet_version",
           [](R& r) { r.mutable_informed()->set_leaflet_version("tab\there"); }},
          // A leaflet version is a code, stored in plain text for ever: the
          // phone number that once went in there, and any other free text,
          // is refused.
          {"informed.leaflet_version",
           [](R& r) { r.mutable_informed()->set_leaflet_version("+44 7700 900000"); }},
          {"informed.leaflet_version",
           [](R& r) { r.mutable_informed()->set_leaflet_version("07700900000 Vera"); }},
          {"informed.leaflet_version",
           [](R& r) {
             r.mutable_informed()->set_leaflet_version("RJ leaflet v2 (2026)");
           }},
          {"informed.leaflet_version",
           [](R& r) { r.mutable_informed()->set_leaflet_version("vera@example.org"); }},
      });
}

// Exactly one of a scope or all_scopes.
TEST(ConsentValidationTest, WithdrawConsentNeedsExactlyOneOfScopeAndAllScopes) {
  v1::WithdrawConsentRequest neither = GoodWithdraw();
  neither.clear_scope();
  EXPECT_THAT(Validate(neither), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(Validate(neither).message()), StartsWith("scope: is required"));
  EXPECT_THAT(std::string(Validate(neither).message()), HasSubstr("all_scopes"));

  v1::WithdrawConsentRequest both = GoodWithdraw();
  both.set_all_scopes(true);
  EXPECT_THAT(Validate(both), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(Validate(both).message()), StartsWith("scope: "));
  EXPECT_THAT(std::string(Validate(both).message()), HasSubstr("all_scopes"));

  v1::WithdrawConsentRequest unknown_and_all = GoodWithdraw();
  unknown_and_all.set_scope(static_cast<v1::ConsentScope>(99));
  unknown_and_all.set_all_scopes(true);
  EXPECT_THAT(Validate(unknown_and_all), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ConsentValidationTest, GetConsentsNeedsACaseId) {
  v1::GetConsentsRequest r;
  EXPECT_THAT(Validate(r), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(Validate(r).message()), StartsWith("case_id: "));
  r.set_case_id("c 1");
  EXPECT_THAT(Validate(r), StatusIs(absl::StatusCode::kInvalidArgument));
  r.set_case_id("c1");
  EXPECT_THAT(Validate(r), IsOk());
  r.mutable_causal_token()->set_case_position(12345);
  EXPECT_THAT(Validate(r), IsOk());
}

TEST(ConsentValidationTest, GoodDecideContactIsValid) {
  EXPECT_THAT(Validate(GoodDecide()), IsOk());
  for (int kind = common_v1::APPROACH_VICTIM; kind <= common_v1::FACE_TO_FACE_CONFERENCE;
       ++kind) {
    v1::DecideContactRequest r = GoodDecide();
    r.set_kind(static_cast<common_v1::ContactKind>(kind));
    EXPECT_THAT(Validate(r), IsOk()) << kind;
  }
  v1::DecideContactRequest r = GoodDecide();
  r.set_victim_id("v1");
  r.set_facilitator_id("f1");
  r.set_purpose(std::string(32, 'p'));
  r.mutable_causal_token()->set_case_position(7);
  r.mutable_causal_token()->set_consent_position(9);
  EXPECT_THAT(Validate(r), IsOk());
}

TEST(ConsentValidationTest, EachBrokenDecideContactFieldIsNamed) {
  using R = v1::DecideContactRequest;
  ExpectEachRowNamesItsField<R>(
      GoodDecide(),
      {
          {"request_id", [](R& r) { r.clear_request_id(); }},
          {"request_id", [](R& r) { r.set_request_id(std::string(129, 'r')); }},
          {"case_id", [](R& r) { r.clear_case_id(); }},
          {"kind", [](R& r) { r.clear_kind(); }},
          {"kind", [](R& r) { r.set_kind(static_cast<common_v1::ContactKind>(6)); }},
          {"kind", [](R& r) { r.set_kind(static_cast<common_v1::ContactKind>(-2)); }},
          {"victim_id", [](R& r) { r.set_victim_id("v 1"); }},
          {"victim_id", [](R& r) { r.set_victim_id(std::string(129, 'v')); }},
          {"facilitator_id", [](R& r) { r.set_facilitator_id("f\t1"); }},
          {"facilitator_id", [](R& r) { r.set_facilitator_id(std::string(129, 'f')); }},
          {"purpose", [](R& r) { r.clear_purpose(); }},
          {"purpose", [](R& r) { r.set_purpose(std::string(33, 'p')); }},
          // A purpose is a code too: no sentence about a person.
          {"purpose", [](R& r) { r.set_purpose("call Vera on 07700 900000"); }},
          {"purpose", [](R& r) { r.set_purpose("first approach by phone"); }},
          {"purpose", [](R& r) { r.set_purpose("line one\nline two"); }},
          {"purpose", [](R& r) { r.set_purpose("tab\tseparated"); }},
          {"purpose", [](R& r) { r.set_purpose("delete\x7f"); }},
      });
}

TEST(ConsentValidationTest, DecisionIdIsRequiredForGetAndExplain) {
  v1::GetDecisionRequest get;
  EXPECT_THAT(Validate(get), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(Validate(get).message()), StartsWith("decision_id: "));
  get.set_decision_id(std::string(129, 'd'));
  EXPECT_THAT(Validate(get), StatusIs(absl::StatusCode::kInvalidArgument));
  get.set_decision_id("d-1");
  EXPECT_THAT(Validate(get), IsOk());

  v1::ExplainDecisionRequest explain;
  EXPECT_THAT(Validate(explain), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(Validate(explain).message()), StartsWith("decision_id: "));
  explain.set_decision_id("d 1");
  EXPECT_THAT(Validate(explain), StatusIs(absl::StatusCode::kInvalidArgument));
  explain.set_decision_id("d-1");
  EXPECT_THAT(Validate(explain), IsOk());
}

TEST(ConsentValidationTest, ListDecisionsPagingLimits) {
  v1::ListDecisionsRequest good;
  good.set_case_id("c1");
  EXPECT_THAT(Validate(good), IsOk());  // page_size 0 means the default
  good.set_page_size(200);
  good.set_page_token(std::string(256, 't'));
  EXPECT_THAT(Validate(good), IsOk());
  good.set_page_size(1);
  EXPECT_THAT(Validate(good), IsOk());

  using R = v1::ListDecisionsRequest;
  ExpectEachRowNamesItsField<R>(
      good, {
                {"case_id", [](R& r) { r.clear_case_id(); }},
                {"page_size", [](R& r) { r.set_page_size(-1); }},
                {"page_size", [](R& r) { r.set_page_size(201); }},
                {"page_token", [](R& r) { r.set_page_token(std::string(257, 't')); }},
            });
}

}  // namespace
}  // namespace mend::consentsvc
