// libFuzzer target (clang-14, -DMEND_FUZZ=ON; scripts/test.sh runs it for a
// bounded time): the record decoder and the audit's verifier on mutated
// logs.
//
// The first input byte picks what the rest is:
//   even  one stored record's bytes: DecodeRecord, ToEnvelope and the
//         payload's decoding must not crash, whatever the bytes.
//   odd   a script of mutations of a real log (records a case service
//         writes, chained, with the stored head beside them): change a
//         byte, cut or grow a record, remove a record, swap two, replace one
//         with input bytes. The verifier then runs over the mutated log and
//         must say nothing if and only if the log is exactly the original:
//         every mutation that changed anything stored is named. A mutation
//         that goes unnoticed, or a finding on an unchanged log, aborts.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "common/base/sha256.h"
#include "common/eventlog/record_codec.h"
#include "mend/case/v1/events.pb.h"
#include "mend/eventlog/v1/record.pb.h"
#include "tools/audit/event_json.h"
#include "tools/audit/log_verifier.h"

namespace {

using ::mend::audit::LogVerifier;
namespace case_v1 = ::mend::case_::v1;
namespace eventlog_v1 = ::mend::eventlog::v1;

struct BaseLog {
  std::vector<std::string> records;  // position i + 1
  std::string head_hash;
};

// Eight records of two cases, as the case service stores them.
const BaseLog& Base() {
  static const BaseLog* base = [] {
    auto* log = new BaseLog;
    std::string prev(32, '\0');
    for (int i = 0; i < 8; ++i) {
      const std::string case_id = i % 2 == 0 ? "c-a" : "c-b";
      eventlog_v1::StoredRecord record;
      eventlog_v1::Envelope* env = record.mutable_envelope();
      env->set_position(static_cast<uint64_t>(i + 1));
      env->set_stream_id("case-" + case_id);
      env->set_stream_version(static_cast<uint64_t>(i / 2 + 1));
      env->set_event_id("e-" + std::to_string(i));
      env->set_recorded_unix_micros(1'800'000'000'000'000 + i);
      env->mutable_actor()->set_id("manager-mia");
      env->mutable_actor()->set_role("manager");
      env->set_correlation_id("r-" + std::to_string(i));
      env->set_schema_version(1);
      std::string payload;
      if (i < 2) {
        case_v1::CaseReferred e;
        e.set_case_id(case_id);
        e.set_offence_category(case_v1::VIOLENCE);
        env->set_event_type("mend.case.v1.CaseReferred");
        payload = e.SerializeAsString();
      } else {
        case_v1::StageChanged e;
        e.set_case_id(case_id);
        e.set_to(case_v1::SCREENING);
        env->set_event_type("mend.case.v1.StageChanged");
        payload = e.SerializeAsString();
      }
      record.set_payload(payload);
      record.set_prev_hash(prev);
      std::string bytes = record.SerializeAsString();
      prev = mend::Sha256Bytes(bytes);
      log->records.push_back(std::move(bytes));
    }
    log->head_hash = prev;
    return log;
  }();
  return *base;
}

// Reads the script: little helpers over the input.
struct Reader {
  const uint8_t* data;
  size_t size;
  size_t at = 0;
  bool Done() const { return at >= size; }
  uint8_t Byte() { return at < size ? data[at++] : 0; }
  size_t Index(size_t n) { return n == 0 ? 0 : Byte() % n; }
};

void FuzzRecord(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  mend::eventlog::RecordView view;
  if (!mend::eventlog::DecodeRecord(bytes, &view).ok()) return;
  eventlog_v1::Envelope envelope;
  mend::eventlog::ToEnvelope(view, &envelope);
  static mend::audit::PayloadDecoder* decoder = new mend::audit::PayloadDecoder;
  absl::StatusOr<const google::protobuf::Message*> payload =
      decoder->Decode(view.event_type, view.payload);
  if (payload.ok()) (void)mend::audit::MessageToJson(**payload);
}

void FuzzLog(const uint8_t* data, size_t size) {
  const BaseLog& base = Base();
  // (position, bytes) as the store would hold them: the keys stay with the
  // records they had, except for what the script moves.
  std::vector<std::pair<uint64_t, std::string>> log;
  for (size_t i = 0; i < base.records.size(); ++i)
    log.emplace_back(i + 1, base.records[i]);
  Reader in{data, size};
  for (int ops = 0; !in.Done() && ops < 8 && !log.empty(); ++ops) {
    const uint8_t op = in.Byte() % 6;
    std::string& r = log[in.Index(log.size())].second;
    switch (op) {
      case 0:  // change a byte
        if (!r.empty()) r[in.Index(r.size())] ^= static_cast<char>(in.Byte());
        break;
      case 1:  // cut the record short
        r.resize(in.Index(r.size() + 1));
        break;
      case 2:  // grow it
        r.push_back(static_cast<char>(in.Byte()));
        break;
      case 3:  // remove a record (its key goes too)
        log.erase(log.begin() + static_cast<std::ptrdiff_t>(in.Index(log.size())));
        break;
      case 4: {  // swap two records' bytes (the keys stay)
        std::string& other = log[in.Index(log.size())].second;
        std::swap(r, other);
        break;
      }
      case 5: {  // replace with input bytes
        const size_t n = in.Index(64);
        std::string replacement;
        for (size_t k = 0; k < n && !in.Done(); ++k) {
          replacement.push_back(static_cast<char>(in.Byte()));
        }
        r = std::move(replacement);
        break;
      }
    }
  }
  bool unchanged = log.size() == base.records.size();
  for (size_t i = 0; unchanged && i < log.size(); ++i) {
    unchanged = log[i].first == i + 1 && log[i].second == base.records[i];
  }
  LogVerifier verifier("fuzz", {.root_sizes = {}, .decode_payloads = true});
  for (const auto& [position, bytes] : log) {
    if (!verifier.Add(position, bytes)) break;
  }
  // The stored head is the store's own, beside the records: untouched.
  verifier.Finish(mend::eventlog::Head{base.records.size(), base.head_hash});
  const bool found = verifier.finding().has_value();
  if (found == unchanged) {
    std::fprintf(stderr, "verifier %s an %s log%s%s\n", found ? "refused" : "accepted",
                 unchanged ? "unchanged" : "altered", found ? ": " : "",
                 found ? verifier.finding()->problem.c_str() : "");
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  if (data[0] % 2 == 0) {
    FuzzRecord(data + 1, size - 1);
  } else {
    FuzzLog(data + 1, size - 1);
  }
  return 0;
}
