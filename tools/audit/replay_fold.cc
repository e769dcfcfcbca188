#include "tools/audit/replay_fold.h"

#include <algorithm>
#include <deque>
#include <functional>
#include <future>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/base/status_macros.h"
#include "common/runtime/command_path.h"
#include "common/runtime/replayed_event.h"
#include "services/case/case_state.h"
#include "services/conference/conference_state.h"
#include "services/consent/consent_state.h"
#include "services/scheduling/schedule_state.h"
#include "tools/audit/log_verifier.h"
#include "tools/audit/replay_json.h"

namespace mend::audit {
namespace {

using Json = nlohmann::ordered_json;

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime(absl::RFC3339_full, t, absl::UTCTimeZone());
}

// A service's CommandPath used for its Apply alone: the same stream,
// version and fold checks as the service's replay. Apply never touches the
// store (only commands and Sync do), so there is none.
template <typename State>
class PathFold : public ServiceFold {
 public:
  using Evolve = std::function<absl::Status(State& state, const ReplayedEvent& event)>;
  using Render = std::function<absl::StatusOr<Json>(const State& state)>;

  PathFold(std::string stream_prefix, Evolve evolve,
           std::function<uint64_t(const State&)> version, Render render)
      : path_(/*store=*/nullptr,
              typename Path::Hooks{.stream_prefix = std::move(stream_prefix),
                                   .evolve = std::move(evolve),
                                   .version = std::move(version),
                                   .answer = [](const CommandRecord&,
                                                const State&) { return NoAnswer{}; }},
              /*new_id=*/[] { return std::string(); },
              /*clock=*/[] { return absl::UnixEpoch(); }),
        render_(std::move(render)) {}

  absl::Status Apply(uint64_t position, std::string_view bytes,
                     const eventlog::RecordView& view) override {
    return path_.Apply(ReplayedEvent{.position = position, .bytes = bytes, .view = view});
  }

  absl::StatusOr<std::vector<Json>> Cases(std::string_view case_id) const override {
    std::vector<Json> out;
    absl::Status status = absl::OkStatus();
    path_.ForEachAfter("", [&](const std::string& id, const State& state) {
      if (!case_id.empty() && id != case_id) return true;
      absl::StatusOr<Json> json = render_(state);
      if (!json.ok()) {
        status = json.status();
        return false;
      }
      out.push_back(*std::move(json));
      return true;
    });
    MEND_RETURN_IF_ERROR(status);
    return out;
  }

 private:
  struct NoAnswer {};
  using Path = CommandPath<State, NoAnswer>;
  Path path_;
  const Render render_;
};

// case_service.cc, CaseServiceImpl::Evolve: the domain's fold of one record
// (the event parsed, its case the one its stream is of, folded).
absl::Status EvolveCase(casesvc::CaseState& state, const ReplayedEvent& event) {
  return casesvc::EvolveRecord(state, event.position, event.view).status();
}

// consent_service.cc, ConsentServiceImpl::Evolve (observed case events are
// folded inside consentsvc::Evolve by consent's projection).
absl::Status EvolveConsent(consentsvc::CaseFacts& facts, const ReplayedEvent& e) {
  return consentsvc::Evolve(facts, consentsvc::ConsentLogEvent::Of(e.position, e.view));
}

// scheduling_service.cc, the path's evolve hook (UpstreamFactRecorded
// included).
absl::Status EvolveSchedule(schedulingsvc::ScheduleState& state, const ReplayedEvent& e) {
  return schedulingsvc::Evolve(state,
                               schedulingsvc::ScheduleLogEvent::Of(e.position, e.view));
}

// conference_service.cc, the path's evolve hook (UpstreamFactRecorded
// included).
absl::Status EvolveConference(conferencesvc::ConferenceState& state,
                              const ReplayedEvent& e) {
  return conferencesvc::Evolve(state,
                               conferencesvc::ConferenceLogEvent::Of(e.position, e.view));
}

// Records handed from the thread that reads and checks them to the one that
// folds them, a batch at a time (copied: the reader's bytes are gone after
// its next step), at most a few batches ahead.
class FoldPipe {
 public:
  struct Batch {
    std::vector<uint64_t> positions;
    std::vector<size_t> ends;  // of each record in `bytes`
    std::string bytes;
    void Clear() {
      positions.clear();
      ends.clear();
      bytes.clear();
    }
  };
  static constexpr size_t kBatchRecords = 2048;
  static constexpr size_t kBatchesAhead = 4;

  // The reader: false once the folder has stopped (a record refused).
  bool Put(Batch batch) {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &FoldPipe::HasRoom));
    if (stopped_) return false;
    queue_.push_back(std::move(batch));
    return true;
  }
  void Close() {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }
  // The folder: nullopt when the reader is done and everything is taken.
  std::optional<Batch> Take() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &FoldPipe::HasBatchOrClosed));
    if (queue_.empty()) return std::nullopt;
    Batch batch = std::move(queue_.front());
    queue_.pop_front();
    return batch;
  }
  void Stop() {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
    queue_.clear();
  }

 private:
  bool HasRoom() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopped_ || queue_.size() < kBatchesAhead;
  }
  bool HasBatchOrClosed() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return closed_ || !queue_.empty();
  }

  absl::Mutex mu_;
  std::deque<Batch> queue_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

absl::StatusOr<ReplayUntil> ParseUntil(std::string_view text) {
  ReplayUntil until;
  const std::string s(absl::StripAsciiWhitespace(std::string(text)));
  if (s.empty()) return until;
  const bool digits =
      std::all_of(s.begin(), s.end(), [](char c) { return absl::ascii_isdigit(c); });
  if (digits) {
    uint64_t position = 0;
    if (!absl::SimpleAtoi(s, &position)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--until ", s, ": the position is too large"));
    }
    until.position = position;
    return until;
  }
  if ((s[0] == '-' || s[0] == '+') && s.size() > 1 &&
      std::all_of(s.begin() + 1, s.end(),
                  [](char c) { return absl::ascii_isdigit(c); })) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--until ", s, ": a position is an integer >= 0 (1 is the first record)"));
  }
  absl::Time time;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, s, &time, &error)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--until ", s,
        ": neither a position (an integer >= 0) nor an RFC 3339 time such as "
        "2026-03-01T10:00:00Z (",
        error, ")"));
  }
  until.time = time;
  return until;
}

std::unique_ptr<ServiceFold> NewServiceFold(Service service) {
  switch (service) {
    case Service::kCase:
      return std::make_unique<PathFold<casesvc::CaseState>>(
          casesvc::CaseStreamId(""), EvolveCase,
          [](const casesvc::CaseState& s) { return s.version; },
          [](const casesvc::CaseState& s) { return CaseJson(s); });
    case Service::kConsent:
      return std::make_unique<PathFold<consentsvc::CaseFacts>>(
          consentsvc::ConsentStreamId(""), EvolveConsent,
          [](const consentsvc::CaseFacts& f) { return f.version; },
          [](const consentsvc::CaseFacts& f) -> absl::StatusOr<Json> {
            return ConsentJson(f);
          });
    case Service::kScheduling:
      return std::make_unique<PathFold<schedulingsvc::ScheduleState>>(
          schedulingsvc::kScheduleStreamPrefix, EvolveSchedule,
          [](const schedulingsvc::ScheduleState& s) { return s.version; },
          [](const schedulingsvc::ScheduleState& s) -> absl::StatusOr<Json> {
            return ScheduleJson(s);
          });
    case Service::kConference:
      return std::make_unique<PathFold<conferencesvc::ConferenceState>>(
          conferencesvc::kConferenceStreamPrefix, EvolveConference,
          [](const conferencesvc::ConferenceState& s) { return s.version; },
          [](const conferencesvc::ConferenceState& s) -> absl::StatusOr<Json> {
            return ConferenceJson(s);
          });
    case Service::kUnknown:
      break;
  }
  return nullptr;
}

absl::StatusOr<ReplayResult> Replay(AuditLog& log, Service service,
                                    const ReplayUntil& until, std::string_view case_id) {
  std::unique_ptr<ServiceFold> fold = NewServiceFold(service);
  if (fold == nullptr) {
    return absl::InvalidArgumentError("replay needs the service whose log it is");
  }
  const std::string name(ServiceName(service));
  ReplayResult result;
  MEND_ASSIGN_OR_RETURN(const eventlog::Head head, log.GetHead());
  result.head_position = head.position;
  if (until.position.has_value() && *until.position > result.head_position) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--until ", *until.position, " is past the head of ", log.spec(), " (the ", name,
        " log ends at position ", result.head_position, ")"));
  }
  const uint64_t to = until.position.value_or(result.head_position);

  // The records are checked as the service's replay checks them before it
  // folds anything: a state folded from a broken log is not the service's.
  // This thread reads and checks them; a second folds those found good, in
  // order, as the service's replay would.
  LogVerifier verifier(name, {.root_sizes = {}, .decode_payloads = false, .tree = false});
  bool stopped = false;  // at the first record after --until's time
  Progress progress(absl::StrCat("replay ", name), to);
  FoldPipe pipe;
  struct Folded {
    std::optional<Finding> refused;
    uint64_t until_position = 0;
    int64_t last_micros = 0;
  };
  std::future<Folded> folder = std::async(std::launch::async, [&]() -> Folded {
    Folded folded;
    while (std::optional<FoldPipe::Batch> batch = pipe.Take()) {
      size_t begin = 0;
      for (size_t i = 0; i < batch->positions.size(); ++i) {
        const uint64_t position = batch->positions[i];
        const std::string_view bytes =
            std::string_view(batch->bytes).substr(begin, batch->ends[i] - begin);
        begin = batch->ends[i];
        eventlog::RecordView view;
        absl::Status s = eventlog::DecodeRecord(bytes, &view);  // (checked: it decodes)
        if (s.ok()) s = fold->Apply(position, bytes, view);
        if (!s.ok()) {
          folded.refused = Finding{
              name, position,
              absl::StrCat("the ", name,
                           " service's replay refuses it: ", std::string(s.message()))};
          pipe.Stop();
          return folded;
        }
        folded.until_position = position;
        folded.last_micros = view.recorded_unix_micros;
      }
    }
    return folded;
  });
  absl::Status scan = absl::OkStatus();
  if (to > 0) {
    FoldPipe::Batch batch;
    bool folding = true;
    scan = log.Scan(1, to, [&](uint64_t position, std::string_view bytes) {
      eventlog::RecordView view;
      if (!verifier.Add(position, bytes, view)) return false;
      if (until.time.has_value() &&
          absl::FromUnixMicros(view.recorded_unix_micros) > *until.time) {
        stopped = true;
        return false;
      }
      batch.positions.push_back(position);
      batch.bytes.append(bytes);
      batch.ends.push_back(batch.bytes.size());
      if (batch.positions.size() == FoldPipe::kBatchRecords) {
        folding = pipe.Put(std::move(batch));
        batch = {};
        batch.Clear();
      }
      progress.Update(position);
      return folding;
    });
    if (folding && !batch.positions.empty()) pipe.Put(std::move(batch));
  }
  pipe.Close();
  Folded folded = folder.get();
  MEND_RETURN_IF_ERROR(scan);
  result.finding = folded.refused;
  result.until_position = folded.until_position;
  const int64_t last_micros = folded.last_micros;
  progress.Done();
  if (!result.finding.has_value() && !stopped && !verifier.finding().has_value()) {
    // The scan must have reached `to`; at the head, the last record must
    // also hash to the head's hash (nothing after it covers it).
    if (to == head.position) {
      verifier.Finish(head);
    } else {
      verifier.Finish(to);
    }
  }
  // A record the fold refused was checked first, so anything the check
  // found is later (it read ahead): the refusal is the first finding.
  if (!result.finding.has_value() && verifier.finding().has_value()) {
    result.finding = verifier.finding();
  }
  if (result.finding.has_value()) return result;

  MEND_ASSIGN_OR_RETURN(std::vector<Json> cases, fold->Cases(case_id));
  Json& out = result.json;
  out["service"] = name;
  out["log"] = log.spec();
  out["head_position"] = result.head_position;
  out["until_position"] = result.until_position;
  out["until_time"] = until.time.has_value() ? Json(Rfc3339(*until.time)) : Json(nullptr);
  out["last_recorded_at"] = result.until_position == 0
                                ? Json(nullptr)
                                : Json(Rfc3339(absl::FromUnixMicros(last_micros)));
  if (!case_id.empty()) out["case"] = std::string(case_id);
  out["cases"] = Json::array();
  for (Json& c : cases) out["cases"].push_back(std::move(c));
  return result;
}

}  // namespace mend::audit
