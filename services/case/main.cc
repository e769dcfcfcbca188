// mend-case: the case service (mend.case.v1.CaseService, and EventLog over
// its own log). See README.md, "Case service".
//
// It follows the scheduling log (--upstream_scheduling) and the conference
// log (--upstream_conference), from which it derives the stages after
// PREPARING.
//
// It refuses to start without --master_key: every referral carries personal
// data, which must never be stored in plain text (I6).
#include <string>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/base/config.h"
#include "common/runtime/service_runtime.h"
#include "services/case/case_decide.h"
#include "services/case/case_service.h"

ABSL_FLAG(std::string, upstream_scheduling, "",
          "host:port of the scheduling service, whose log the case follows (programme "
          "completed, conference bookings): without it the case never enters "
          "INDIRECT_CONTACT or CONFERENCE_SCHEDULED");
ABSL_FLAG(std::string, upstream_conference, "",
          "host:port of the conference service, whose log the case follows (conference "
          "held, follow-up done): without it the case never enters CONFERENCE_HELD or "
          "FOLLOW_UP");
ABSL_FLAG(absl::Duration, retention_period, mend::casesvc::kDefaultRetentionPeriod,
          "how long a closed case's personal data is kept: EraseParticipant with basis "
          "RETENTION_PERIOD_ELAPSED is allowed once this has passed since the case was "
          "closed (default 52560h = 2190 days, six years; whole seconds)");

int main(int argc, char** argv) {
  mend::BlockTerminationSignals();
  mend::ParseFlagsWithEnvironment(argc, argv);
  mend::ServiceRuntime::Options options = mend::ServiceRuntime::OptionsFromFlags("case");
  mend::casesvc::CaseServiceImpl::Options case_options;
  case_options.retention_period = absl::GetFlag(FLAGS_retention_period);
  if (absl::Status s =
          mend::casesvc::ValidateRetentionPeriod(case_options.retention_period);
      !s.ok()) {
    mend::ExitWithFlagError("retention_period", std::string(s.message()));
  }
  if (options.master_key.empty()) {
    return mend::ExitOnError(absl::FailedPreconditionError(
        "--master_key is required: the case service seals personal data with per-person "
        "keys and never stores it in plain text (make a key file with "
        "`(umask 077; openssl rand -hex 32 > master.key)`)"));
  }
  options.policies = {&mend::casesvc::CasePolicy()};
  auto runtime = mend::ServiceRuntime::Create(options);
  if (!runtime.ok()) return mend::ExitOnError(runtime.status());

  mend::casesvc::CaseServiceImpl service(runtime->get(), case_options);
  (*runtime)->RegisterService(&service);
  (*runtime)->SetReplay([&](const mend::ReplayedEvent& e) { return service.Apply(e); });
  // The stages after PREPARING follow the scheduling and conference logs
  // (case_decide.h, "Derived stages"). Each is optional, so the case service
  // can run before, or without, the services that follow it in turn.
  auto committed = [&](const mend::eventlog::WriteRequest& r,
                       const mend::eventlog::WriteResult& w) { service.Observed(r, w); };
  const mend::Follower* scheduling = nullptr;
  const mend::Follower* conference = nullptr;
  if (const std::string address = absl::GetFlag(FLAGS_upstream_scheduling);
      !address.empty()) {
    auto follower = (*runtime)->AddFollower(
        "scheduling", address,
        [&](absl::Span<const mend::UpstreamEvent> events) {
          return service.ObserveScheduling(events);
        },
        committed);
    if (!follower.ok()) return mend::ExitOnError(follower.status());
    scheduling = *follower;
  }
  if (const std::string address = absl::GetFlag(FLAGS_upstream_conference);
      !address.empty()) {
    auto follower = (*runtime)->AddFollower(
        "conference", address,
        [&](absl::Span<const mend::UpstreamEvent> events) {
          return service.ObserveConference(events);
        },
        committed);
    if (!follower.ok()) return mend::ExitOnError(follower.status());
    conference = *follower;
  }
  service.SetFollowers(scheduling, conference);
  if (absl::Status s = (*runtime)->Start(); !s.ok()) return mend::ExitOnError(s);
  (*runtime)->RunUntilSignal();
  return 0;
}
