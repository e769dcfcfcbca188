#include "common/eventlog/record_codec.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/reflection.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "mend/eventlog/v1/record.pb.h"
#include "tests/support/test_util.h"

namespace mend::eventlog {
namespace {

using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::Message;
using ::mend::testing::IsOk;
using ::mend::testing::StatusIs;

std::string Serialized(const v1::StoredRecord& record) {
  std::string out;
  record.SerializeToString(&out);
  return out;
}

v1::StoredRecord Sample() {
  v1::StoredRecord record;
  record.mutable_envelope()->set_position(7);
  record.mutable_envelope()->set_stream_id("case-1");
  record.mutable_envelope()->set_event_type("mend.case.v1.CaseReferred");
  record.set_payload(std::string("\0payload\xff", 9));
  record.set_prev_hash(std::string(32, 'h'));
  return record;
}

// Sets every field of `message` (recursively) to a distinct non-default
// value through reflection, so a field added to record.proto is set too.
void FillEveryField(Message* message, int* counter) {
  const auto* descriptor = message->GetDescriptor();
  const auto* reflection = message->GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    ASSERT_FALSE(field->is_repeated()) << field->full_name() << ": extend the decoder";
    const int n = ++*counter;
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_UINT64:
        reflection->SetUInt64(message, field, 1000000000000ull + n);
        break;
      case FieldDescriptor::CPPTYPE_INT64:
        reflection->SetInt64(message, field, -1000000000000ll - n);
        break;
      case FieldDescriptor::CPPTYPE_UINT32:
        reflection->SetUInt32(message, field, 100000u + n);
        break;
      case FieldDescriptor::CPPTYPE_STRING:
        reflection->SetString(message, field, absl::StrCat(field->name(), "-", n));
        break;
      case FieldDescriptor::CPPTYPE_MESSAGE:
        FillEveryField(reflection->MutableMessage(message, field), counter);
        break;
      default:
        FAIL() << field->full_name() << " has a type the decoder does not read";
    }
  }
}

TEST(RecordCodecTest, DecodesEveryEnvelopeFieldWithoutCopying) {
  v1::StoredRecord record;
  int counter = 0;
  FillEveryField(record.mutable_envelope(), &counter);
  record.set_payload("the payload");
  record.set_prev_hash(std::string(32, 'h'));
  const std::string bytes = Serialized(record);

  RecordView view;
  ASSERT_THAT(DecodeRecord(bytes, &view), IsOk());
  v1::Envelope decoded;
  ToEnvelope(view, &decoded);
  std::string diff;
  google::protobuf::util::MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&diff);
  EXPECT_TRUE(differencer.Compare(record.envelope(), decoded)) << diff;
  EXPECT_EQ(view.payload, "the payload");
  EXPECT_EQ(view.prev_hash, std::string(32, 'h'));
  // The views point into the input, not into a copy.
  EXPECT_GE(view.payload.data(), bytes.data());
  EXPECT_LT(view.payload.data(), bytes.data() + bytes.size());
  EXPECT_GE(view.stream_id.data(), bytes.data());
}

TEST(RecordCodecTest, DecodesBinaryPayloadAndResetsTheView) {
  RecordView view;
  const std::string first = Serialized(Sample());  // views point into it
  ASSERT_THAT(DecodeRecord(first, &view), IsOk());
  EXPECT_EQ(view.payload, std::string("\0payload\xff", 9));
  EXPECT_EQ(view.position, 7u);
  v1::StoredRecord other;
  other.mutable_envelope()->set_position(8);
  other.set_prev_hash(std::string(32, 'x'));
  const std::string second = Serialized(other);
  ASSERT_THAT(DecodeRecord(second, &view), IsOk());
  EXPECT_EQ(view.stream_id, "");
  EXPECT_TRUE(view.payload.empty());
  EXPECT_EQ(view.position, 8u);
}

TEST(RecordCodecTest, SkipsUnknownFields) {
  std::string bytes = Serialized(Sample());
  bytes.append("\x20\x05", 2);  // field 4, varint: from a newer writer
  bytes.append(
      "\x29"
      "12345678",
      9);  // field 5, fixed64
  bytes.append(
      "\x32\x03"
      "abc",
      5);  // field 6, length-delimited
  bytes.append(
      "\x3d"
      "1234",
      5);  // field 7, fixed32
  RecordView view;
  ASSERT_THAT(DecodeRecord(bytes, &view), IsOk());
  EXPECT_EQ(view.stream_id, "case-1");
}

TEST(RecordCodecTest, MalformedRecordsAreDataLoss) {
  RecordView view;
  const std::string good = Serialized(Sample());
  const auto kDataLoss = absl::StatusCode::kDataLoss;
  EXPECT_THAT(DecodeRecord(good.substr(0, good.size() - 3), &view), StatusIs(kDataLoss));
  EXPECT_THAT(DecodeRecord("\x0a\x7f", &view), StatusIs(kDataLoss));  // length past end
  EXPECT_THAT(DecodeRecord(std::string("\x08\x01", 2), &view),
              StatusIs(kDataLoss));  // field 1 as a varint
  EXPECT_THAT(DecodeRecord(std::string("\x0b", 1), &view), StatusIs(kDataLoss));  // group
  EXPECT_THAT(DecodeRecord(
                  std::string("\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 11), &view),
              StatusIs(kDataLoss));  // overlong varint
  v1::StoredRecord no_envelope;
  no_envelope.set_prev_hash(std::string(32, 'h'));
  EXPECT_THAT(DecodeRecord(Serialized(no_envelope), &view), StatusIs(kDataLoss));
  v1::StoredRecord short_hash = Sample();
  short_hash.set_prev_hash("short");
  EXPECT_THAT(DecodeRecord(Serialized(short_hash), &view), StatusIs(kDataLoss));
  EXPECT_THAT(DecodeRecord(good + good, &view), StatusIs(kDataLoss));  // two envelopes
  EXPECT_THAT(DecodeRecord("", &view), StatusIs(kDataLoss));
  // An envelope whose inner field has the wrong wire type.
  std::string bad_envelope = std::string("\x0a\x02\x12\x01", 4);
  EXPECT_THAT(DecodeRecord(bad_envelope, &view), StatusIs(kDataLoss));
}

TEST(RecordCodecTest, NeverReadsOutOfBoundsOnAnyPrefixOrByteFlip) {
  const std::string good = Serialized(Sample());
  RecordView view;
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(DecodeRecord(good.substr(0, n), &view).ok()) << "prefix " << n;
  }
  for (size_t i = 0; i < good.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = good;
      flipped[i] ^= static_cast<char>(1 << bit);
      (void)DecodeRecord(flipped, &view);  // any answer; ASan checks the reads
    }
  }
}

}  // namespace
}  // namespace mend::eventlog
