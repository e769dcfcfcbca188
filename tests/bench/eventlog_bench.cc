// mend-eventlog-bench: measures the event store against raw RocksDB on this
// machine and prints one line per figure:
//
//   ratio group_commit_gain VALUE target 15
//   ratio append_vs_rocksdb VALUE target 1
//   ratio replay_vs_scan VALUE target 0.5
//   ratio verified_replay_vs_scan VALUE target 0.3
//
// --slow_sync_micros and --slow_sync_nanos_per_byte slow every WAL fsync
// down (a fixed cost plus one per byte written since the last fsync), so the
// figures of a slower disk can be reproduced on any machine.
//
// Every ratio compares two measurements taken in the same run on the same
// disk, so it can be compared across machines; absolute figures cannot.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/eventlog/event_store.h"
#include "common/eventlog/record_codec.h"
#include "mend/eventlog/v1/record.pb.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/options.h"
#include "tests/fault/fault_file_system.h"

ABSL_FLAG(std::string, dir, "", "working directory (default: a new one under /tmp)");
ABSL_FLAG(double, seconds, 2.0, "duration of each throughput measurement");
ABSL_FLAG(int, rounds, 3,
          "rounds of the append measurements; each figure is the median over rounds, "
          "so one disk hiccup cannot decide a ratio");
ABSL_FLAG(int, threads, 64, "concurrent appenders for the grouped phases");
ABSL_FLAG(int64_t, replay_events, 1000000, "events in the replay phase");
ABSL_FLAG(int, payload_bytes, 200, "payload size of every event");
ABSL_FLAG(bool, keep, false, "keep the working directory");
ABSL_FLAG(int64_t, slow_sync_micros, 0,
          "a slower disk on any machine: every WAL fsync (of the store and of raw "
          "RocksDB alike) first sleeps this long ...");
ABSL_FLAG(int64_t, slow_sync_nanos_per_byte, 0,
          "... plus this much per byte written to the WAL since its last fsync");

namespace mend::eventlog {
namespace {

using Clock = std::chrono::steady_clock;

struct Throughput {
  double per_second = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  uint64_t operations = 0;
};

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

// Runs `op(thread, i)` from `threads` threads for `seconds`; each call is one
// operation whose latency is recorded.
template <typename Op>
Throughput RunLoad(int threads, double seconds, Op op) {
  std::atomic<bool> stop{false};
  std::atomic<bool> failed{false};
  std::vector<std::vector<double>> latencies(threads);
  std::vector<std::thread> workers;
  const auto start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      latencies[t].reserve(1 << 16);
      for (uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        const auto begin = Clock::now();
        if (!op(t, i)) {
          failed = true;
          return;
        }
        latencies[t].push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - begin).count());
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& w : workers) w.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  if (failed) {
    std::fprintf(stderr, "an operation failed; figures are invalid\n");
    std::exit(1);
  }
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  Throughput out;
  out.operations = all.size();
  out.per_second = static_cast<double>(all.size()) / elapsed;
  out.p50_ms = Percentile(all, 0.50);
  out.p99_ms = Percentile(all, 0.99);
  return out;
}

// The file system every measured database runs on: the real one, with WAL
// fsyncs slowed down when --slow_sync_* ask for it.
rocksdb::Env* BenchEnv() {
  static rocksdb::Env* env = [] {
    auto fs = std::make_shared<FaultFileSystem>(rocksdb::FileSystem::Default());
    fs->sync_delay_micros = absl::GetFlag(FLAGS_slow_sync_micros);
    fs->sync_nanos_per_byte = absl::GetFlag(FLAGS_slow_sync_nanos_per_byte);
    return rocksdb::NewCompositeEnv(fs).release();  // lives as long as the process
  }();
  return env;
}

std::unique_ptr<EventStore> OpenStore(const std::string& path) {
  auto store = EventStore::Open({.path = path, .env = BenchEnv()});
  if (!store.ok()) {
    std::fprintf(stderr, "open %s: %s\n", path.c_str(),
                 store.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(store);
}

Throughput StoreAppends(const std::string& path, int threads, double seconds,
                        const std::string& payload) {
  std::unique_ptr<EventStore> store = OpenStore(path);
  Throughput t = RunLoad(threads, seconds, [&](int thread, uint64_t i) {
    NewEvent e{.event_id = absl::StrCat("b", threads, "-", thread, "-", i),
               .event_type = "mend.bench.v1.Appended",
               .payload = payload,
               .actor_id = "bench",
               .actor_role = "service",
               .correlation_id = "",
               .causation_id = ""};
    auto r = store->Append(absl::StrCat("bench-", threads, "-", thread),
                           ExpectedVersion::Any(), {std::move(e)});
    if (!r.ok()) std::fprintf(stderr, "append: %s\n", r.status().ToString().c_str());
    return r.ok();
  });
  const StoreStats& s = store->stats();
  const double batches = static_cast<double>(s.batches_committed.load());
  const double syncs = static_cast<double>(s.syncs.load());
  std::printf(
      "  %d appender(s): %.0f appends/s, p50 %.3f ms, p99 %.3f ms; "
      "%.1f requests a batch, %.1f batches an fsync, write %.3f ms, fsync %.3f ms\n",
      threads, t.per_second, t.p50_ms, t.p99_ms,
      batches > 0 ? static_cast<double>(s.requests_committed.load()) / batches : 0,
      syncs > 0 ? batches / syncs : 0,
      batches > 0 ? static_cast<double>(s.write_nanos_total.load()) / batches / 1e6 : 0,
      syncs > 0 ? static_cast<double>(s.sync_nanos_total.load()) / syncs / 1e6 : 0);
  return t;
}

Throughput RawRocksDbPuts(const std::string& path, int threads, double seconds,
                          const std::string& payload) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.env = BenchEnv();
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, path, &raw);
  if (!s.ok()) {
    std::fprintf(stderr, "open raw rocksdb: %s\n", s.ToString().c_str());
    std::exit(1);
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  std::atomic<uint64_t> next{0};
  Throughput t = RunLoad(threads, seconds, [&](int, uint64_t) {
    return db->Put(wo, PositionKey(++next), payload).ok();
  });
  std::printf(
      "  raw RocksDB Put(sync) from %d threads: %.0f puts/s, p50 %.3f ms, "
      "p99 %.3f ms\n",
      threads, t.per_second, t.p50_ms, t.p99_ms);
  db->Close().PermitUncheckedError();
  return t;
}

void Populate(const std::string& path, int64_t events, const std::string& payload) {
  std::unique_ptr<EventStore> store = OpenStore(path);
  constexpr int kWriters = 4;
  constexpr int kPerAppend = 500;
  std::atomic<int64_t> next{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (;;) {
        const int64_t first = next.fetch_add(kPerAppend);
        if (first >= events) return;
        const int64_t n = std::min<int64_t>(kPerAppend, events - first);
        std::vector<NewEvent> batch;
        batch.reserve(n);
        for (int64_t i = first; i < first + n; ++i) {
          batch.push_back(NewEvent{.event_id = absl::StrCat("r", i),
                                   .event_type = "mend.bench.v1.Replayed",
                                   .payload = payload,
                                   .actor_id = "bench",
                                   .actor_role = "service",
                                   .correlation_id = "",
                                   .causation_id = ""});
        }
        auto r = store->Append(absl::StrCat("replay-", w, "-", first / 100000),
                               ExpectedVersion::Any(), std::move(batch));
        if (!r.ok()) {
          std::fprintf(stderr, "populate: %s\n", r.status().ToString().c_str());
          std::exit(1);
        }
      }
    });
  }
  for (auto& w : writers) w.join();
}

// Events/s of a replay: the store's forward scan, decoding every record's
// envelope (the payload is left as a view for the service to decode).
double ReplayRate(EventStore& store, int64_t expected) {
  RecordView view;
  int64_t count = 0;
  uint64_t checksum = 0;
  const auto start = Clock::now();
  absl::Status s = store.Scan(1, [&](uint64_t position, std::string_view bytes) {
    if (!DecodeRecord(bytes, &view).ok() || view.position != position) return false;
    checksum += view.stream_version + view.payload.size();
    ++count;
    return true;
  });
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  if (!s.ok() || count != expected || checksum == 0) {
    std::fprintf(stderr, "replay read %lld of %lld events: %s\n",
                 static_cast<long long>(count), static_cast<long long>(expected),
                 s.ToString().c_str());
    std::exit(1);
  }
  return static_cast<double>(count) / elapsed;
}

// Events/s of the replay services run: the verified scan, which decodes and
// hashes every record and checks its link and the stored head.
double VerifiedReplayRate(EventStore& store, int64_t expected) {
  int64_t count = 0;
  uint64_t checksum = 0;
  const auto start = Clock::now();
  absl::Status s = store.ScanVerified(
      [&](uint64_t position, std::string_view, const RecordView& view) {
        if (view.position != position) return absl::DataLossError("position");
        checksum += view.stream_version + view.payload.size();
        ++count;
        return absl::OkStatus();
      });
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  if (!s.ok() || count != expected || checksum == 0) {
    std::fprintf(stderr, "verified replay read %lld of %lld events: %s\n",
                 static_cast<long long>(count), static_cast<long long>(expected),
                 s.ToString().c_str());
    std::exit(1);
  }
  return static_cast<double>(count) / elapsed;
}

// Events/s of a raw RocksDB iterator over the same keys, with the same read
// options as the store's scan, touching every key and value.
double RawScanRate(const std::string& path, int64_t expected) {
  std::vector<std::string> names;
  rocksdb::DB::ListColumnFamilies({}, path, &names).PermitUncheckedError();
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const auto& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  if (!rocksdb::DB::OpenForReadOnly({}, path, cfs, &handles, &db).ok()) std::exit(1);
  rocksdb::ColumnFamilyHandle* events = nullptr;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == kEventsColumnFamily) events = handles[i];
  }
  rocksdb::ReadOptions ro;
  ro.readahead_size = 2 << 20;
  ro.fill_cache = false;
  int64_t count = 0;
  uint64_t bytes = 0;
  const auto start = Clock::now();
  {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, events));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      bytes += it->key().size() + it->value().size();
      ++count;
    }
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  delete db;
  if (count != expected || bytes == 0) {
    std::fprintf(stderr, "raw scan saw %lld of %lld events\n",
                 static_cast<long long>(count), static_cast<long long>(expected));
    std::exit(1);
  }
  return static_cast<double>(count) / elapsed;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void PrintRatio(const char* name, double value, double target) {
  std::printf("ratio %s %.2f target %g\n", name, value, target);
}

int Main() {
  std::string dir = absl::GetFlag(FLAGS_dir);
  if (dir.empty()) {
    char tmpl[] = "/tmp/mend-bench-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return 1;
    dir = tmpl;
  }
  std::filesystem::create_directories(dir);
  const double seconds = absl::GetFlag(FLAGS_seconds);
  const int threads = absl::GetFlag(FLAGS_threads);
  const int64_t replay_events = absl::GetFlag(FLAGS_replay_events);
  const std::string payload(absl::GetFlag(FLAGS_payload_bytes), 'p');

  std::printf(
      "mend-eventlog-bench: %d threads, %.1f s a measurement, %zu-byte payloads, "
      "in %s\n",
      threads, seconds, payload.size(), dir.c_str());
  const int rounds = std::max(1, absl::GetFlag(FLAGS_rounds));
  std::vector<double> one_rates, many_rates, raw_rates, raw_one_rates;
  for (int round = 1; round <= rounds; ++round) {
    // Interleaved, so a slow stretch of the disk hits all three alike.
    std::printf("durable appends, round %d of %d\n", round, rounds);
    const std::string r = absl::StrCat(round);
    one_rates.push_back(
        StoreAppends(dir + "/appends-1-" + r, 1, seconds, payload).per_second);
    many_rates.push_back(
        StoreAppends(dir + "/appends-n-" + r, threads, seconds, payload).per_second);
    raw_rates.push_back(
        RawRocksDbPuts(dir + "/raw-" + r, threads, seconds, payload).per_second);
    raw_one_rates.push_back(
        RawRocksDbPuts(dir + "/raw-1-" + r, 1, seconds, payload).per_second);
  }
  const double one = Median(one_rates);
  const double many = Median(many_rates);
  const double raw = Median(raw_rates);
  const double raw_one = Median(raw_one_rates);
  std::printf("  median: 1 appender %.0f/s, %d appenders %.0f/s, raw RocksDB %.0f/s\n",
              one, threads, many, raw);
  // RocksDB's own group commit, for comparison with group_commit_gain.
  std::printf("  raw RocksDB: 1 thread %.0f/s, %d threads %.0f/s, gain %.2f\n", raw_one,
              threads, raw, raw / raw_one);

  std::printf("replay of %lld events\n", static_cast<long long>(replay_events));
  const std::string replay_dir = dir + "/replay";
  const auto populate_start = Clock::now();
  Populate(replay_dir, replay_events, payload);
  std::printf("  populated in %.1f s\n",
              std::chrono::duration<double>(Clock::now() - populate_start).count());
  double replay = 0;
  double verified = 0;
  double scan = 0;
  for (int round = 0; round < 2; ++round) {  // the first round warms the page cache
    {
      std::unique_ptr<EventStore> store = OpenStore(replay_dir);
      replay = std::max(replay, ReplayRate(*store, replay_events));
      verified = std::max(verified, VerifiedReplayRate(*store, replay_events));
    }
    scan = std::max(scan, RawScanRate(replay_dir, replay_events));
  }
  std::printf("  replay (decode every record): %.0f events/s\n", replay);
  std::printf("  verified replay (+ hash chain): %.0f events/s\n", verified);
  std::printf("  raw RocksDB iterator scan:    %.0f events/s\n", scan);

  if (!absl::GetFlag(FLAGS_keep)) std::filesystem::remove_all(dir);
  PrintRatio("group_commit_gain", many / one, 15);
  PrintRatio("append_vs_rocksdb", many / raw, 1.0);
  PrintRatio("replay_vs_scan", replay / scan, 0.5);
  PrintRatio("verified_replay_vs_scan", verified / scan, 0.3);
  return 0;
}

}  // namespace
}  // namespace mend::eventlog

namespace mend::bench {
int FollowerCatchupMain();
}  // namespace mend::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return mend::eventlog::Main() || mend::bench::FollowerCatchupMain();
}
