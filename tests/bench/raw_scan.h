// The floor the benchmarks measure reading against: a raw RocksDB iterator
// over a log's events column family, nothing decoded, nothing checked.
#ifndef MEND_TESTS_BENCH_RAW_SCAN_H_
#define MEND_TESTS_BENCH_RAW_SCAN_H_

#include <cstdint>
#include <string>

namespace mend::bench {

// Records per second of one scan of the event store at `path` (opened
// read-only by RocksDB itself, with the read options of the store's own
// scan), touching every key and value. Exits the program if it does not see
// `expected` records: a figure over the wrong log is no figure.
double RawScanRate(const std::string& path, int64_t expected);

}  // namespace mend::bench

#endif  // MEND_TESTS_BENCH_RAW_SCAN_H_
