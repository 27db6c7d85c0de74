// Byte-level tokenizer for line-oriented numeric text traces (MQSim ASCII,
// MSN-FS replayer text...): parses whole lines of space/tab-separated fields
// straight into doubles, with no per-line strings or garbage.
//
// It only accepts a deliberately narrow grammar whose value is provably the
// same as the JavaScript reader's `Number(field)`:
//   INT  : 1..15 ASCII digits                  (exact below 2^53)
//   DEC  : INT, or digits '.' digits with at most 15 digits in all
//          (m / 10^k with m, 10^k exact doubles: one IEEE division is the
//          correctly rounded value, the same as Number())
//   BIT  : exactly "0" or "1"                   (the op/type columns compare strings)
// Any line outside that grammar (wrong field count, signs, exponents, hex,
// 16+ digits, stray bytes, a '\r' other than the last byte) is NOT an error
// here: the scan stops before it and the caller parses that one line with its
// ordinary string parser, which decides (and words any error) exactly as before.
// Header-only so that the libFuzzer harness needs no Node.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace ssdtune {
namespace textscan {

enum Kind : uint8_t { INT = 0, DEC = 1, BIT = 2 };

enum Stop : int {
  NEED_MORE = 0,  // no complete line left at `pos`: append more input (or EOF: parse the rest as a string)
  FULL = 1,       // `out` is full: consume the rows and call again from `pos`
  SLOW = 2,       // the line [pos, lineEnd) is outside the grammar: parse it the ordinary way
};

struct Result {
  size_t rows = 0;      // rows written to out
  size_t pos = 0;       // first byte not consumed (start of a line)
  size_t lines = 0;     // lines consumed ('\n'-terminated, rows and blank ones)
  size_t lineEnd = 0;   // for SLOW: index of the '\n' ending the line at pos
  Stop stop = NEED_MORE;
};

// Doubles written per row: the fields, then the line's index relative to the
// first line of this call, then its byte offset (to find it again for an error).
inline size_t rowWidth(size_t nFields) { return nFields + 2; }

static const double kPow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

// Parse one field [p, e) of `kind`; false when it is outside the grammar.
inline bool parseField(const uint8_t* p, const uint8_t* e, Kind kind, double* v) {
  if (kind == BIT) {
    if (e - p != 1 || (*p != '0' && *p != '1')) return false;
    *v = *p - '0';
    return true;
  }
  uint64_t m = 0;
  int digits = 0, frac = -1;  // frac: digits after the '.', -1 when none
  for (; p < e; p++) {
    unsigned c = *p;
    if (c - '0' <= 9) {
      if (++digits > 15) return false;
      m = m * 10 + (c - '0');
      if (frac >= 0) frac++;
    } else if (c == '.' && kind == DEC && frac < 0 && digits > 0) {
      frac = 0;
    } else {
      return false;
    }
  }
  if (digits == 0 || frac == 0) return false;  // "" or "12." go the ordinary way
  *v = frac > 0 ? static_cast<double>(m) / kPow10[frac] : static_cast<double>(m);
  return true;
}

// Parse one line [p, e) ('\n' excluded) of nFields fields. Returns 0 for a
// blank line, 1 for a row written to `v`, -1 when outside the grammar.
inline int parseLine(const uint8_t* p, const uint8_t* e, const uint8_t* kinds, size_t nFields, double* v) {
  if (e > p && e[-1] == '\r') e--;  // the reader strips exactly one trailing '\r'
  size_t n = 0;
  for (;;) {
    while (p < e && (*p == ' ' || *p == '\t')) p++;
    if (p == e) break;
    const uint8_t* s = p;
    while (p < e && *p != ' ' && *p != '\t') p++;
    if (n == nFields || !parseField(s, p, static_cast<Kind>(kinds[n]), v + n)) return -1;
    n++;
  }
  if (n == 0) return 0;
  return n == nFields ? 1 : -1;
}

// Scan complete lines of buf[pos, end) into out (maxRows rows of rowWidth(nFields) doubles).
inline Result scan(const uint8_t* buf, size_t pos, size_t end, const uint8_t* kinds, size_t nFields, double* out, size_t maxRows) {
  Result r;
  const size_t w = rowWidth(nFields);
  for (;;) {
    if (r.rows == maxRows) {
      r.stop = FULL;
      break;
    }
    const void* nl = pos < end ? std::memchr(buf + pos, '\n', end - pos) : nullptr;
    if (!nl) {
      r.stop = NEED_MORE;
      break;
    }
    size_t eol = static_cast<const uint8_t*>(nl) - buf;
    double* row = out + r.rows * w;
    int k = parseLine(buf + pos, buf + eol, kinds, nFields, row);
    if (k < 0) {
      r.stop = SLOW;
      r.lineEnd = eol;
      break;
    }
    if (k > 0) {
      row[nFields] = static_cast<double>(r.lines);
      row[nFields + 1] = static_cast<double>(pos);
      r.rows++;
    }
    r.lines++;
    pos = eol + 1;
  }
  r.pos = pos;
  return r;
}

}  // namespace textscan
}  // namespace ssdtune
