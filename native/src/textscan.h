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
  size_t rows = 0;     // rows written to out
  size_t pos = 0;      // first byte not consumed (start of a line)
  size_t lines = 0;    // lines consumed ('\n'-terminated, rows and blank ones)
  size_t lineEnd = 0;  // for SLOW: index of the '\n' ending the line at pos
  Stop stop = NEED_MORE;
};

// Doubles written per row: the fields, then the line's index relative to the
// first line of this call, then its byte offset (to find it again for an error).
inline size_t rowWidth(size_t nFields) { return nFields + 2; }

static const double kPow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

inline bool fieldEnd(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

enum LineResult { BLANK, ROW, OUTSIDE, INCOMPLETE };

// Parse the line starting at p, in one pass over its bytes (no memchr first:
// this loop is the reader's hot path). For BLANK, ROW and OUTSIDE, *eol is the
// index of its '\n'; INCOMPLETE when [p, e) holds no '\n'. A '\r' is only
// accepted right before the '\n' (the reader drops exactly that one).
inline LineResult parseLine(const uint8_t* p, const uint8_t* e, const uint8_t* kinds, size_t nFields, double* v, const uint8_t** eol) {
  size_t n = 0;
  for (;;) {
    while (p < e && (*p == ' ' || *p == '\t')) p++;
    if (p == e) return INCOMPLETE;
    uint8_t c = *p;
    if (c == '\n' || (c == '\r' && p + 1 < e && p[1] == '\n')) {
      *eol = c == '\n' ? p : p + 1;
      return n == 0 ? BLANK : n == nFields ? ROW : OUTSIDE;
    }
    if (n == nFields) break;
    if (kinds[n] == BIT) {
      if ((c != '0' && c != '1') || p + 1 == e || !fieldEnd(p[1])) break;
      v[n++] = c - '0';
      p++;
      continue;
    }
    const bool dec = kinds[n] == DEC;
    uint64_t m = 0;
    int digits = 0, frac = -1;  // frac: digits after the '.', -1 when none
    for (; p < e; p++) {
      unsigned d = static_cast<unsigned>(*p) - '0';
      if (d <= 9) {
        if (++digits > 15) break;
        m = m * 10 + d;
        if (frac >= 0) frac++;
      } else if (*p == '.' && dec && frac < 0 && digits > 0) {
        frac = 0;
      } else {
        break;
      }
    }
    // "" and "12." go the ordinary way, as does a field cut by the end of the buffer.
    if (p == e || !fieldEnd(*p) || digits == 0 || digits > 15 || frac == 0) break;
    v[n++] = frac > 0 ? static_cast<double>(m) / kPow10[frac] : static_cast<double>(m);
  }
  // Outside the grammar: the caller needs the line's end to hand it over whole.
  const void* nl = std::memchr(p, '\n', e - p);
  if (!nl) return INCOMPLETE;
  *eol = static_cast<const uint8_t*>(nl);
  return OUTSIDE;
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
    double* row = out + r.rows * w;
    const uint8_t* nl = nullptr;
    LineResult k = parseLine(buf + pos, buf + end, kinds, nFields, row, &nl);
    if (k == INCOMPLETE) {
      r.stop = NEED_MORE;
      break;
    }
    size_t eol = nl - buf;
    if (k == OUTSIDE) {
      r.stop = SLOW;
      r.lineEnd = eol;
      break;
    }
    if (k == ROW) {
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
