// libFuzzer harness over the text tokenizer (textscan.h, no Node). The first
// bytes choose the field kinds and the rows per call; the rest is the text.
// The input is scanned the way the reader drives it (repeated calls, FULL and
// SLOW stops) and every outcome is checked against an independent reference:
//   - every complete line is consumed exactly once, in order, as a row, a
//     blank line or a SLOW line, and the scan ends at the last '\n';
//   - a row's values are bit-identical to strtod() of the fields (correctly
//     rounded, what JavaScript's Number() gives), and its line index/offset
//     point at the line it came from;
//   - a SLOW line really is outside the grammar, a blank line really is blank.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "textscan.h"

using namespace ssdtune::textscan;

namespace {

// The line as the JS reader sees it (one trailing '\r' dropped), split on spaces/tabs.
std::vector<std::string> fields(const uint8_t* p, const uint8_t* e) {
  std::string s(reinterpret_cast<const char*>(p), e - p);
  if (!s.empty() && s.back() == '\r') s.pop_back();
  std::vector<std::string> f;
  std::string cur;
  for (char c : s) {
    if (c == ' ' || c == '\t') {
      if (!cur.empty()) f.push_back(cur), cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) f.push_back(cur);
  return f;
}

// The grammar, written independently of parseField.
bool inGrammar(const std::string& s, uint8_t kind) {
  if (kind == BIT) return s == "0" || s == "1";
  size_t dot = s.find('.');
  std::string ip = dot == std::string::npos ? s : s.substr(0, dot);
  std::string fp = dot == std::string::npos ? "" : s.substr(dot + 1);
  auto digits = [](const std::string& x) { return !x.empty() && x.find_first_not_of("0123456789") == std::string::npos; };
  if (!digits(ip)) return false;
  if (dot != std::string::npos && (kind != DEC || !digits(fp))) return false;
  return ip.size() + fp.size() <= 15;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  size_t nf = 1 + data[0] % 6;
  uint8_t kinds[6];
  for (size_t i = 0, k = data[1]; i < nf; i++, k /= 3) kinds[i] = k % 3;  // base-3 digits of data[1]
  size_t maxRows = 1 + data[2] % 8;
  const uint8_t* buf = data + 3;
  size_t len = size - 3;
  std::vector<double> out(rowWidth(nf) * maxRows);

  size_t pos = 0;
  size_t line = 0;  // reference: lines consumed so far
  for (;;) {
    Result r = scan(buf, pos, len, kinds, nf, out.data(), maxRows);
    if (r.rows > maxRows || r.pos < pos || r.pos > len) __builtin_trap();
    // Walk the consumed lines in the reference and match the rows to them.
    size_t at = pos, row = 0;
    for (size_t k = 0; k < r.lines; k++) {
      const void* nl = std::memchr(buf + at, '\n', len - at);
      if (!nl) __builtin_trap();
      size_t eol = static_cast<const uint8_t*>(nl) - buf;
      std::vector<std::string> f = fields(buf + at, buf + eol);
      if (!f.empty()) {
        const double* v = out.data() + row * rowWidth(nf);
        if (row >= r.rows || f.size() != nf || v[nf] != static_cast<double>(k) || v[nf + 1] != static_cast<double>(at)) __builtin_trap();
        for (size_t i = 0; i < nf; i++) {
          if (!inGrammar(f[i], kinds[i])) __builtin_trap();
          double ref = std::strtod(f[i].c_str(), nullptr);
          if (std::memcmp(&ref, &v[i], sizeof ref) != 0) __builtin_trap();
        }
        row++;
      }
      at = eol + 1;
    }
    if (row != r.rows || at != r.pos) __builtin_trap();
    line += r.lines;
    pos = r.pos;
    if (r.stop == NEED_MORE) {
      if (std::memchr(buf + pos, '\n', len - pos)) __builtin_trap();  // a complete line was left behind
      break;
    }
    if (r.stop == SLOW) {
      if (r.lineEnd < pos || r.lineEnd >= len || buf[r.lineEnd] != '\n' || std::memchr(buf + pos, '\n', r.lineEnd - pos)) __builtin_trap();
      std::vector<std::string> f = fields(buf + pos, buf + r.lineEnd);
      bool fits = f.size() == nf;
      for (size_t i = 0; fits && i < nf; i++) fits = inGrammar(f[i], kinds[i]);
      if (fits || f.empty()) __builtin_trap();  // the tokenizer gave up on a line it should have parsed
      pos = r.lineEnd + 1;
      line++;
    } else if (r.stop != FULL || r.rows != maxRows) {
      __builtin_trap();
    }
  }
  (void)line;
  return 0;
}
