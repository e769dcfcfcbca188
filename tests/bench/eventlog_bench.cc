// mend-eventlog-bench: measures the event store against raw RocksDB on this
// machine and prints one line per figure:
//
//   ratio group_commit_gain VALUE target 15
//   ratio append_vs_rocksdb VALUE target 1
//   ratio replay_vs_scan VALUE target 0.5
//   ratio verified_replay_vs_scan VALUE target 0.3
//   ratio tree_append_cost VALUE target 0.8
//
// tree_append_cost: durable appends/s from --threads appenders with the
// Merkle tree (the default store, as in append_vs_rocksdb) ÷ the same with
// maintain_tree = false, both measured in every round (in alternating order)
// and each taken as the median over rounds.
//
// On the replay log (--replay_events) it also prints, single-threaded for
// --seconds each, the inclusion proofs/s (a random position at the full tree
// size: the record read, the proof fetched from the store and checked with
// merkle::VerifyInclusion against the store's TreeRoot) and the consistency
// proofs/s (a random from_size < head: its root and the proof fetched, then
// checked with merkle::VerifyConsistency). A proof that fails to verify ends
// the program with status 1.
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
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/eventlog/event_store.h"
#include "common/eventlog/record_codec.h"
#include "common/merkle/merkle.h"
#include "mend/eventlog/v1/record.pb.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/options.h"
#include "tests/bench/raw_scan.h"
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

std::unique_ptr<EventStore> OpenStore(const std::string& path,
                                      bool maintain_tree = true) {
  auto store =
      EventStore::Open({.path = path, .env = BenchEnv(), .maintain_tree = maintain_tree});
  if (!store.ok()) {
    std::fprintf(stderr, "open %s: %s\n", path.c_str(),
                 store.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(store);
}

// Durable appends from `threads` appenders into a new store at `path`;
// maintain_tree = false measures the store without its Merkle tree.
Throughput StoreAppends(const std::string& path, int threads, double seconds,
                        const std::string& payload, bool maintain_tree = true) {
  std::unique_ptr<EventStore> store = OpenStore(path, maintain_tree);
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
      "  %d appender(s)%s: %.0f appends/s, p50 %.3f ms, p99 %.3f ms; "
      "%.1f requests a batch, %.1f batches an fsync, write %.3f ms, fsync %.3f ms\n",
      threads, maintain_tree ? "" : " without the tree", t.per_second, t.p50_ms, t.p99_ms,
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

// Ends the program when a tree call or a proof check fails.
template <typename T>
T OrDie(absl::StatusOr<T> v, const char* what, uint64_t a, uint64_t b) {
  if (!v.ok()) {
    std::fprintf(stderr, "%s(%llu, %llu): %s\n", what, static_cast<unsigned long long>(a),
                 static_cast<unsigned long long>(b), v.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(v);
}

void CheckOrDie(const absl::Status& s, const char* what, uint64_t a, uint64_t b) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s(%llu, %llu) failed: %s\n", what,
                 static_cast<unsigned long long>(a), static_cast<unsigned long long>(b),
                 s.ToString().c_str());
    std::exit(1);
  }
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Inclusion proofs/s on one thread for `seconds`: for a random position at
// the full tree size, the record is read, its proof fetched from the store,
// and the proof checked with merkle::VerifyInclusion against the root the
// store gives for that size (fetched once, as a client holds a tree head).
// Prints the share of each step.
double InclusionProofRate(EventStore& store, uint64_t size, double seconds) {
  const std::string root = OrDie(store.TreeRoot(size), "TreeRoot", size, size);
  std::mt19937_64 rng(6962);
  std::uniform_int_distribution<uint64_t> position(1, size);
  double read_s = 0, fetch_s = 0, verify_s = 0;
  uint64_t proofs = 0;
  size_t hashes = 0;
  const auto start = Clock::now();
  while (SecondsSince(start) < seconds) {
    const uint64_t p = position(rng);
    const auto t0 = Clock::now();
    std::vector<RawRecord> record = OrDie(store.Read(p, 1), "Read", p, 1);
    if (record.size() != 1 || record[0].position != p) {
      std::fprintf(stderr, "Read(%llu, 1) did not return the record\n",
                   static_cast<unsigned long long>(p));
      std::exit(1);
    }
    const auto t1 = Clock::now();
    std::vector<std::string> proof =
        OrDie(store.InclusionProof(p, size), "InclusionProof", p, size);
    const auto t2 = Clock::now();
    CheckOrDie(merkle::VerifyInclusion(p - 1, size, merkle::LeafHash(record[0].bytes),
                                       proof, root),
               "VerifyInclusion", p, size);
    const auto t3 = Clock::now();
    read_s += std::chrono::duration<double>(t1 - t0).count();
    fetch_s += std::chrono::duration<double>(t2 - t1).count();
    verify_s += std::chrono::duration<double>(t3 - t2).count();
    hashes += proof.size();
    ++proofs;
  }
  const double elapsed = SecondsSince(start);
  const double busy = std::max(read_s + fetch_s + verify_s, 1e-12);
  std::printf("  inclusion proofs (fetch + verify, %llu events): %.0f/s\n",
              static_cast<unsigned long long>(size),
              static_cast<double>(proofs) / elapsed);
  std::printf(
      "    %llu proofs of %.1f hashes, all verified; record read %.0f%%, proof fetch "
      "%.0f%%, verify %.0f%%\n",
      static_cast<unsigned long long>(proofs),
      proofs > 0 ? static_cast<double>(hashes) / static_cast<double>(proofs) : 0,
      100 * read_s / busy, 100 * fetch_s / busy, 100 * verify_s / busy);
  return static_cast<double>(proofs) / elapsed;
}

// Consistency proofs/s on one thread for `seconds`: for a random from_size
// below the head, the root of that older tree and the proof that the head's
// tree extends it are fetched from the store and checked with
// merkle::VerifyConsistency against the head's root (fetched once).
double ConsistencyProofRate(EventStore& store, uint64_t size, double seconds) {
  const std::string root = OrDie(store.TreeRoot(size), "TreeRoot", size, size);
  std::mt19937_64 rng(9162);
  std::uniform_int_distribution<uint64_t> from_size(1, size - 1);
  double fetch_s = 0, verify_s = 0;
  uint64_t proofs = 0;
  size_t hashes = 0;
  const auto start = Clock::now();
  while (SecondsSince(start) < seconds) {
    const uint64_t from = from_size(rng);
    const auto t0 = Clock::now();
    const std::string old_root = OrDie(store.TreeRoot(from), "TreeRoot", from, from);
    std::vector<std::string> proof =
        OrDie(store.ConsistencyProof(from, size), "ConsistencyProof", from, size);
    const auto t1 = Clock::now();
    CheckOrDie(merkle::VerifyConsistency(from, size, old_root, root, proof),
               "VerifyConsistency", from, size);
    const auto t2 = Clock::now();
    fetch_s += std::chrono::duration<double>(t1 - t0).count();
    verify_s += std::chrono::duration<double>(t2 - t1).count();
    hashes += proof.size();
    ++proofs;
  }
  const double elapsed = SecondsSince(start);
  const double busy = std::max(fetch_s + verify_s, 1e-12);
  std::printf("  consistency proofs (fetch + verify, %llu events): %.0f/s\n",
              static_cast<unsigned long long>(size),
              static_cast<double>(proofs) / elapsed);
  std::printf(
      "    %llu proofs of %.1f hashes, all verified; old root + proof fetch %.0f%%, "
      "verify %.0f%%\n",
      static_cast<unsigned long long>(proofs),
      proofs > 0 ? static_cast<double>(hashes) / static_cast<double>(proofs) : 0,
      100 * fetch_s / busy, 100 * verify_s / busy);
  return static_cast<double>(proofs) / elapsed;
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
  std::vector<double> one_rates, many_rates, raw_rates, raw_one_rates, no_tree_rates;
  for (int round = 1; round <= rounds; ++round) {
    // Interleaved, so a slow stretch of the disk hits all three alike.
    std::printf("durable appends, round %d of %d\n", round, rounds);
    const std::string r = absl::StrCat(round);
    one_rates.push_back(
        StoreAppends(dir + "/appends-1-" + r, 1, seconds, payload).per_second);
    // With and without the tree next to each other, in alternating order, so
    // tree_append_cost compares like with like.
    auto without_tree = [&] {
      no_tree_rates.push_back(StoreAppends(dir + "/appends-n-notree-" + r, threads,
                                           seconds, payload, /*maintain_tree=*/false)
                                  .per_second);
    };
    if (round % 2 == 0) without_tree();
    many_rates.push_back(
        StoreAppends(dir + "/appends-n-" + r, threads, seconds, payload).per_second);
    if (round % 2 == 1) without_tree();
    raw_rates.push_back(
        RawRocksDbPuts(dir + "/raw-" + r, threads, seconds, payload).per_second);
    raw_one_rates.push_back(
        RawRocksDbPuts(dir + "/raw-1-" + r, 1, seconds, payload).per_second);
  }
  const double one = Median(one_rates);
  const double many = Median(many_rates);
  const double raw = Median(raw_rates);
  const double raw_one = Median(raw_one_rates);
  const double no_tree = Median(no_tree_rates);
  std::printf("  median: 1 appender %.0f/s, %d appenders %.0f/s, raw RocksDB %.0f/s\n",
              one, threads, many, raw);
  // RocksDB's own group commit, for comparison with group_commit_gain.
  std::printf("  raw RocksDB: 1 thread %.0f/s, %d threads %.0f/s, gain %.2f\n", raw_one,
              threads, raw, raw / raw_one);
  std::printf("  median without the tree: %d appenders %.0f/s (with it %.0f/s)\n",
              threads, no_tree, many);

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
    scan = std::max(scan, mend::bench::RawScanRate(replay_dir, replay_events));
  }
  std::printf("  replay (decode every record): %.0f events/s\n", replay);
  std::printf("  verified replay (+ hash chain): %.0f events/s\n", verified);
  std::printf("  raw RocksDB iterator scan:    %.0f events/s\n", scan);

  // Merkle proofs on the same log, at its full tree size.
  std::printf("merkle proofs on the replay log, one thread, %.1f s each\n", seconds);
  {
    std::unique_ptr<EventStore> store = OpenStore(replay_dir);
    const uint64_t size = store->GetHead().position;
    if (size != static_cast<uint64_t>(replay_events)) {
      std::fprintf(stderr, "replay log head %llu, expected %lld\n",
                   static_cast<unsigned long long>(size),
                   static_cast<long long>(replay_events));
      return 1;
    }
    InclusionProofRate(*store, size, seconds);
    if (size >= 2) {
      ConsistencyProofRate(*store, size, seconds);
    } else {
      std::printf("  consistency proofs: skipped (a log of one event)\n");
    }
  }

  if (!absl::GetFlag(FLAGS_keep)) std::filesystem::remove_all(dir);
  PrintRatio("group_commit_gain", many / one, 15);
  PrintRatio("append_vs_rocksdb", many / raw, 1.0);
  PrintRatio("replay_vs_scan", replay / scan, 0.5);
  PrintRatio("verified_replay_vs_scan", verified / scan, 0.3);
  PrintRatio("tree_append_cost", many / no_tree, 0.8);
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
