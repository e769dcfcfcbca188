#include "tests/support/service_processes.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/security/key_store.h"
#include "gtest/gtest.h"

namespace mend::testing {
namespace {

void Write(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

}  // namespace

KeyPair NewTreeHeadKey() {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"), &EVP_PKEY_free);
  EXPECT_NE(key, nullptr) << "EVP_PKEY_Q_keygen(ED25519) failed";
  if (key == nullptr) return {};
  const auto pem = [](const std::function<int(BIO*)>& write) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
    EXPECT_EQ(write(bio.get()), 1) << "writing a PEM key failed";
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<size_t>(size));
  };
  return KeyPair{
      .private_pem = pem([&](BIO* b) {
        return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr,
                                        nullptr);
      }),
      .public_pem = pem([&](BIO* b) { return PEM_write_bio_PUBKEY(b, key.get()); })};
}

ServiceProcesses::ServiceProcesses(std::string case_binary, std::string consent_binary,
                                   std::string scheduling_binary,
                                   std::string conference_binary)
    : case_binary_(std::move(case_binary)),
      consent_binary_(std::move(consent_binary)),
      scheduling_binary_(std::move(scheduling_binary)),
      conference_binary_(std::move(conference_binary)) {
  key_ = NewSigningKey();
  Write(dir_.Sub("token.pub"), key_.public_pem);
  Write(dir_.Sub("consent.token"), Token(Role::kService, "consent"));
  Write(dir_.Sub("scheduling.token"), Token(Role::kService, "scheduling"));
  Write(dir_.Sub("conference.token"), Token(Role::kService, "conference"));
  Write(dir_.Sub("case.token"), Token(Role::kService, "case"));
  Write(TokenKeyPath(), key_.private_pem);
  EXPECT_THAT(crypto::KeyStore::WriteNewMasterKey(dir_.Sub("master.key")), IsOk());
  case_port_ = PickFreePort();
  consent_port_ = PickFreePort();
  scheduling_port_ = PickFreePort();
  conference_port_ = PickFreePort();
}

void ServiceProcesses::UseTreeHeads(int every_events) {
  ASSERT_GE(every_events, 1);
  ASSERT_EQ(starts_, 0) << "UseTreeHeads must come before the first Start";
  tree_head_every_events_ = every_events;
  for (const char* service : {"case", "consent", "scheduling", "conference"}) {
    const KeyPair key = NewTreeHeadKey();
    Write(TreeHeadPrivateKeyPath(service), key.private_pem);
    Write(TreeHeadPublicKeyPath(service), key.public_pem);
  }
}

std::string ServiceProcesses::TreeHeadPublicKeyPath(const std::string& service) const {
  return tree_head_every_events_ == 0 ? "" : dir_.Sub(service + "-tree-pub.pem");
}

std::string ServiceProcesses::TreeHeadPrivateKeyPath(const std::string& service) const {
  return tree_head_every_events_ == 0 ? "" : dir_.Sub(service + "-tree-key.pem");
}

std::vector<std::string> ServiceProcesses::TreeHeadArgs(
    const std::string& service) const {
  if (tree_head_every_events_ == 0) return {};
  return {"--tree_head_key=" + TreeHeadPrivateKeyPath(service),
          absl::StrCat("--tree_head_every_events=", tree_head_every_events_)};
}

std::string ServiceProcesses::Token(Role role, const std::string& subject) {
  return TokenFor(role, subject, &key_);
}

void ServiceProcesses::Launch(const std::string& service, int& port, bool& started_before,
                              const std::function<absl::StatusOr<ChildProcess>()>& spawn,
                              std::optional<ChildProcess>& child,
                              std::shared_ptr<grpc::Channel>& channel) {
  const int attempts = started_before ? 1 : 3;
  started_before = true;
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    absl::StatusOr<ChildProcess> spawned = spawn();
    ASSERT_THAT(spawned, IsOk());
    child = *std::move(spawned);
    channel = Connect(port);
    if (WaitServing(channel, absl::Seconds(30), service)) return;
    if (attempt == attempts) break;
    // Another process took the port: this one could not listen. Again, on
    // another port.
    child->Signal(SIGKILL);
    child->Wait(absl::Seconds(30));
    child.reset();
    port = PickFreePort();
  }
  FAIL() << service << " did not start serving: " << (child ? child->Output() : "");
}

void ServiceProcesses::StartCase() {
  Launch(
      "mend.case.v1.CaseService", case_port_, case_started_,
      [&] {
        std::vector<std::string> args = {absl::StrCat("--listen=127.0.0.1:", case_port_),
                                         "--data_dir=" + dir_.Sub("case"),
                                         "--token_public_key=" + dir_.Sub("token.pub"),
                                         "--master_key=" + dir_.Sub("master.key"),
                                         "--log_level=warn"};
        // The cycle case ⇄ scheduling, conference: the ports are picked
        // before any service starts, so each follows the other's address.
        if (!scheduling_binary_.empty() || !conference_binary_.empty()) {
          args.push_back("--service_token_file=" + dir_.Sub("case.token"));
        }
        if (!scheduling_binary_.empty()) {
          args.push_back(
              absl::StrCat("--upstream_scheduling=127.0.0.1:", scheduling_port_));
        }
        if (!conference_binary_.empty()) {
          args.push_back(
              absl::StrCat("--upstream_conference=127.0.0.1:", conference_port_));
        }
        for (std::string& a : TreeHeadArgs("case")) args.push_back(std::move(a));
        return ChildProcess::Start(case_binary_, args,
                                   dir_.Sub(absl::StrCat("case-", ++starts_)));
      },
      case_, case_channel_);
  case_stub_ = case_v1::CaseService::NewStub(case_channel_);
}

// The operator's configuration comes from the environment here, as a
// manifest would set it.
absl::StatusOr<ChildProcess> ServiceProcesses::SpawnConsent() {
  std::vector<std::string> env = {
      absl::StrCat("MEND_LISTEN=127.0.0.1:", consent_port_),
      "MEND_DATA_DIR=" + dir_.Sub("consent"),
      "MEND_TOKEN_PUBLIC_KEY=" + dir_.Sub("token.pub"),
      "MEND_SERVICE_TOKEN_FILE=" + dir_.Sub("consent.token"),
      absl::StrCat("MEND_UPSTREAM_CASE=127.0.0.1:", case_port_)};
  if (tree_head_every_events_ > 0) {
    env.push_back("MEND_TREE_HEAD_KEY=" + TreeHeadPrivateKeyPath("consent"));
    env.push_back(absl::StrCat("MEND_TREE_HEAD_EVERY_EVENTS=", tree_head_every_events_));
  }
  return ChildProcess::Start(consent_binary_, {"--log_level=warn"},
                             dir_.Sub(absl::StrCat("consent-", ++starts_)), env);
}

std::optional<int> ServiceProcesses::ConsentExitStatus(std::string* output) {
  absl::StatusOr<ChildProcess> child = SpawnConsent();
  EXPECT_THAT(child, IsOk());
  if (!child.ok()) return std::nullopt;
  std::optional<int> status = child->Wait(absl::Seconds(30));
  *output = child->Output();
  return status;
}

void ServiceProcesses::StartConsent() {
  Launch(
      "mend.consent.v1.ConsentService", consent_port_, consent_started_,
      [&] { return SpawnConsent(); }, consent_, consent_channel_);
  consent_stub_ = consent_v1::ConsentService::NewStub(consent_channel_);
}

void ServiceProcesses::StartScheduling() {
  ASSERT_FALSE(scheduling_binary_.empty());
  Launch(
      "mend.scheduling.v1.SchedulingService", scheduling_port_, scheduling_started_,
      [&] {
        std::vector<std::string> args = {
            absl::StrCat("--listen=127.0.0.1:", scheduling_port_),
            "--data_dir=" + dir_.Sub("scheduling"),
            "--token_public_key=" + dir_.Sub("token.pub"),
            "--service_token_file=" + dir_.Sub("scheduling.token"),
            absl::StrCat("--upstream_case=127.0.0.1:", case_port_),
            absl::StrCat("--upstream_consent=127.0.0.1:", consent_port_),
            "--log_level=warn"};
        for (std::string& a : TreeHeadArgs("scheduling")) args.push_back(std::move(a));
        return ChildProcess::Start(scheduling_binary_, args,
                                   dir_.Sub(absl::StrCat("scheduling-", ++starts_)));
      },
      scheduling_, scheduling_channel_);
  scheduling_stub_ = scheduling_v1::SchedulingService::NewStub(scheduling_channel_);
}

void ServiceProcesses::StartConferenceService() {
  ASSERT_FALSE(conference_binary_.empty());
  Launch(
      "mend.conference.v1.ConferenceService", conference_port_, conference_started_,
      [&] {
        std::vector<std::string> args = {
            absl::StrCat("--listen=127.0.0.1:", conference_port_),
            "--data_dir=" + dir_.Sub("conference"),
            "--token_public_key=" + dir_.Sub("token.pub"),
            "--master_key=" + dir_.Sub("master.key"),
            "--service_token_file=" + dir_.Sub("conference.token"),
            absl::StrCat("--upstream_case=127.0.0.1:", case_port_),
            absl::StrCat("--upstream_consent=127.0.0.1:", consent_port_),
            absl::StrCat("--upstream_scheduling=127.0.0.1:", scheduling_port_),
            "--log_level=warn"};
        for (std::string& a : TreeHeadArgs("conference")) args.push_back(std::move(a));
        return ChildProcess::Start(conference_binary_, args,
                                   dir_.Sub(absl::StrCat("conference-", ++starts_)));
      },
      conference_, conference_channel_);
  conference_stub_ = conference_v1::ConferenceService::NewStub(conference_channel_);
}

void ServiceProcesses::Kill(std::optional<ChildProcess>& child) {
  ASSERT_TRUE(child.has_value()) << "not running";
  child->Signal(SIGKILL);
  std::optional<int> status = child->Wait(absl::Seconds(30));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFSIGNALED(*status)) << child->Output();
  child.reset();
}

void ServiceProcesses::Stop(std::optional<ChildProcess>& child) {
  EXPECT_EQ(StopCleanly(*child), "");
  child.reset();
}

common_v1::CausalToken ServiceProcesses::ConsentToken() const {
  common_v1::CausalToken t;
  t.set_case_position(token_.case_position());
  t.set_consent_position(token_.consent_position());
  return t;
}

case_v1::ReferCaseRequest ServiceProcesses::Referral(const std::string& prefix) const {
  case_v1::ReferCaseRequest refer;
  refer.set_request_id(prefix + "-refer");
  refer.set_source(case_v1::VICTIM_SERVICE);
  refer.set_referral_date("2026-02-10");
  refer.set_offence_category(case_v1::ACQUISITIVE);
  refer.set_offence_summary("Street robbery");
  auto* su = refer.add_participants();
  su->set_participant_id("su-1");
  su->set_role(case_v1::SERVICE_USER);
  su->mutable_details()->set_full_name("Samuel Offleigh");
  auto* v = refer.add_participants();
  v->set_participant_id("v-1");
  v->set_role(case_v1::VICTIM);
  v->mutable_details()->set_full_name("Verity Quill");
  return refer;
}

std::string ServiceProcesses::ReadyCase(const std::string& prefix) {
  const std::string manager = Token(Role::kManager, kManager);
  const std::string ann = Token(Role::kFacilitator, kAnn);
  absl::StatusOr<case_v1::CommandResult> referred =
      CaseCommand(&case_v1::CaseService::Stub::ReferCase, Referral(prefix), manager);
  EXPECT_THAT(referred, IsOk());
  if (!referred.ok()) return "";
  const std::string case_id = referred->case_id();
  case_v1::RecordSuitabilityRequest suitable;
  suitable.set_request_id(prefix + "-suitable");
  suitable.set_case_id(case_id);
  suitable.set_suitable(true);
  EXPECT_THAT(
      CaseCommand(&case_v1::CaseService::Stub::RecordSuitability, suitable, manager),
      IsOk());
  case_v1::AllocateFacilitatorRequest allocate;
  allocate.set_request_id(prefix + "-allocate");
  allocate.set_case_id(case_id);
  allocate.set_facilitator_id(kAnn);
  EXPECT_THAT(
      CaseCommand(&case_v1::CaseService::Stub::AllocateFacilitator, allocate, manager),
      IsOk());
  case_v1::RecordAcknowledgementRequest ack;
  ack.set_request_id(prefix + "-ack");
  ack.set_case_id(case_id);
  ack.set_acknowledged(true);
  EXPECT_THAT(CaseCommand(&case_v1::CaseService::Stub::RecordAcknowledgement, ack, ann),
              IsOk());
  case_v1::RecordRiskAssessmentRequest risk;
  risk.set_request_id(prefix + "-risk");
  risk.set_case_id(case_id);
  risk.set_level(case_v1::LOW);
  risk.add_allowed_kinds(common_v1::APPROACH_VICTIM);
  risk.add_allowed_kinds(common_v1::LETTER_DELIVERY);
  risk.set_review_date(absl::FormatTime("%Y-%m-%d", absl::Now() + absl::Hours(24 * 90),
                                        absl::UTCTimeZone()));
  EXPECT_THAT(CaseCommand(&case_v1::CaseService::Stub::RecordRiskAssessment, risk, ann),
              IsOk());
  return case_id;
}

absl::StatusOr<consent_v1::CommandResult> ServiceProcesses::Consent(
    const std::string& case_id, const std::string& participant,
    consent_v1::ConsentScope scope) {
  consent_v1::RecordConsentRequest r;
  r.set_request_id(absl::StrCat("e2e-consent-", case_id, "-", participant, "-", scope));
  r.set_case_id(case_id);
  r.set_participant_id(participant);
  r.set_scope(scope);
  r.set_answer(consent_v1::GIVEN);
  r.mutable_informed()->set_leaflet_version("RJ-leaflet-2026-03");
  r.mutable_informed()->set_channel(consent_v1::PHONE);
  *r.mutable_causal_token() = ConsentToken();
  return Call<consent_v1::CommandResult>(
      Token(Role::kFacilitator, kAnn),
      [&](grpc::ClientContext* c, consent_v1::CommandResult* out) {
        return consent_stub_->RecordConsent(c, r, out);
      });
}

void ServiceProcesses::ConsentToLetters(const std::string& case_id) {
  EXPECT_THAT(Consent(case_id, "v-1", consent_v1::PARTICIPATE), IsOk());
  EXPECT_THAT(Consent(case_id, "v-1", consent_v1::RECEIVE_LETTER), IsOk());
  EXPECT_THAT(Consent(case_id, "su-1", consent_v1::RECEIVE_LETTER), IsOk());
}

absl::StatusOr<consent_v1::ContactDecision> ServiceProcesses::Decide(
    const std::string& case_id, const std::string& request_id,
    common_v1::ContactKind kind, absl::Duration timeout) {
  consent_v1::DecideContactRequest r;
  r.set_request_id(request_id);
  r.set_case_id(case_id);
  r.set_kind(kind);
  r.set_facilitator_id(kAnn);
  r.set_purpose("deliver-apology-letter");
  *r.mutable_causal_token() = ConsentToken();
  return Call<consent_v1::ContactDecision>(
      Token(Role::kService, "conference"),
      [&](grpc::ClientContext* c, consent_v1::ContactDecision* out) {
        return consent_stub_->DecideContact(c, r, out);
      },
      timeout);
}

absl::StatusOr<consent_v1::ListDecisionsResponse> ServiceProcesses::ListDecisions(
    const std::string& case_id) {
  consent_v1::ListDecisionsRequest r;
  r.set_case_id(case_id);
  return Call<consent_v1::ListDecisionsResponse>(
      Token(Role::kAuditor, "auditor-al"),
      [&](grpc::ClientContext* c, consent_v1::ListDecisionsResponse* out) {
        return consent_stub_->ListDecisions(c, r, out);
      });
}

absl::StatusOr<case_v1::CaseView> ServiceProcesses::GetCase(const std::string& case_id,
                                                            const std::string& token) {
  case_v1::GetCaseRequest r;
  r.set_case_id(case_id);
  return Call<case_v1::CaseView>(token,
                                 [&](grpc::ClientContext* c, case_v1::CaseView* out) {
                                   return case_stub_->GetCase(c, r, out);
                                 });
}

void ServiceProcesses::WaitConsentCaughtUp(const std::string& case_id) {
  consent_v1::GetConsentsRequest r;
  r.set_case_id(case_id);
  *r.mutable_causal_token() = ConsentToken();
  EXPECT_THAT(Call<consent_v1::GetConsentsResponse>(
                  Token(Role::kAuditor, "auditor-al"),
                  [&](grpc::ClientContext* c, consent_v1::GetConsentsResponse* out) {
                    return consent_stub_->GetConsents(c, r, out);
                  }),
              IsOk());
}

uint64_t ServiceProcesses::Head(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = eventlog::v1::EventLog::NewStub(channel);
  absl::StatusOr<eventlog::v1::GetHeadResponse> head =
      Call<eventlog::v1::GetHeadResponse>(
          Token(Role::kAuditor, "auditor-al"),
          [&](grpc::ClientContext* c, eventlog::v1::GetHeadResponse* out) {
            return stub->GetHead(c, eventlog::v1::GetHeadRequest(), out);
          });
  EXPECT_THAT(head, IsOk());
  return head.ok() ? head->position() : 0;
}

uint64_t ServiceProcesses::CaseHead() { return Head(case_channel_); }
uint64_t ServiceProcesses::ConsentHead() { return Head(consent_channel_); }
uint64_t ServiceProcesses::SchedulingHead() { return Head(scheduling_channel_); }
uint64_t ServiceProcesses::ConferenceHead() { return Head(conference_channel_); }

}  // namespace mend::testing
