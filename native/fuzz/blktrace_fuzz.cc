// libFuzzer harness over the blktrace parsing core (no Node): the input is
// split into up to 3 per-CPU "files" and run through both the events and the
// requests pipeline, strict and with skipBad. Strict mode may throw
// ParseError (that is the reader's job); anything else is a bug.
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "blktrace_parser.h"

using namespace ssdtune::blktrace;

static std::vector<std::unique_ptr<RecordStream>> streams(const uint8_t* data, size_t size, bool skipBad) {
  // First byte picks how many CPU files (1..3); the rest is cut in equal parts.
  size_t k = size ? 1 + data[0] % 3 : 1;
  const uint8_t* p = size ? data + 1 : data;
  size_t n = size ? size - 1 : 0;
  std::vector<std::unique_ptr<RecordStream>> v;
  for (size_t i = 0; i < k; i++) {
    size_t a = n * i / k, b = n * (i + 1) / k;
    // Small buffers exercise the refill and record-spanning paths.
    v.push_back(std::make_unique<RecordStream>(std::make_unique<MemSource>(p + a, b - a), "cpu" + std::to_string(i), 97, skipBad));
  }
  return v;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (int skip = 0; skip < 2; skip++) {
    ParserOptions o;
    o.skipBad = skip != 0;
    o.maxPending = 64;  // force the stale-request path too
    double t[97], s[97], a[97], iss[97], cmp[97];
    uint32_t b[97], pid[97], dev[97], cpu[97], seq[97], cat[97], ad[97];
    uint16_t op[97], act[97], err[97];
    try {
      Parser pr(streams(data, size, o.skipBad), o);
      RequestCols rc{t, s, b, op, dev, pid, iss, cmp};
      uint64_t rows = 0;
      while (size_t n = pr.nextRequests(rc, 97)) rows += n;
      (void)pr.baseTimeNs();
      // Every request comes from one queued bio or a split of one: more rows means a pairing bug.
      const Stats& st = pr.stats();
      if (rows != st.requests || rows > st.byAct[TA_QUEUE] + st.splits) __builtin_trap();
    } catch (const ParseError&) {
    }
    try {
      Parser pr(streams(data, size, o.skipBad), o);
      EventCols ec{t, s, b, act, cat, pid, dev, cpu, seq, err, a, ad};
      while (pr.nextEvents(ec, 97)) {
      }
    } catch (const ParseError&) {
    }
  }
  return 0;
}
