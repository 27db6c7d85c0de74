// Dense Cholesky factorisation and inverse for the Gaussian-process fit
// (src/gpr/cholesky.ts documents the maths and is the only caller). The GP
// fit factors and inverts an n x n kernel matrix at every likelihood
// evaluation: O(n^3) work that dominated the fit at n = 500 in JavaScript.
//
//   choleskyInto(A: Float64Array, n, L: Float64Array): boolean
//       L (row-major, lower triangle; the upper triangle is zeroed) with
//       A = L L^T; false when A is not numerically positive definite.
//   choInverseInto(L: Float64Array, n, out: Float64Array): void
//       out = A^{-1} in full symmetric row-major storage, from A's factor L.
//
// Both work on row-major n x n arrays and keep every inner loop a dot product
// over two contiguous rows, which the compiler vectorises (omp simd: the
// reduction may be reordered, so results differ from a sequential sum by
// rounding only). The work is synchronous: a factorisation of n = 500 takes
// milliseconds, less than an async hop would cost in a fit of ~100 of them.
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "modules.h"

namespace ssdtune {
namespace {

// The O(n^3) loops are compiled twice on x86-64, for AVX2+FMA and for the
// baseline, and the loader picks what the CPU has (GCC function multiversioning):
// 4-wide fused multiply-adds roughly halve the fit time where available, and
// the addon still runs on any x86-64.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SSDTUNE_MULTIVERSION __attribute__((target_clones("arch=haswell", "default")))
#else
#define SSDTUNE_MULTIVERSION
#endif

__attribute__((always_inline)) inline double Dot(const double* a, const double* b, size_t len) {
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (size_t k = 0; k < len; k++) s += a[k] * b[k];
  return s;
}

// Lower-triangular L with A = L L^T (left-looking, by rows).
SSDTUNE_MULTIVERSION bool Cholesky(const double* A, size_t n, double* L) {
  for (size_t i = 0; i < n * n; i++) L[i] = 0;
  for (size_t j = 0; j < n; j++) {
    double* rj = L + j * n;
    const double s = A[j * n + j] - Dot(rj, rj, j);
    if (!(s > 0)) return false;
    const double ljj = std::sqrt(s);
    rj[j] = ljj;
    for (size_t i = j + 1; i < n; i++) {
      double* ri = L + i * n;
      ri[j] = (A[i * n + j] - Dot(ri, rj, j)) / ljj;
    }
  }
  return true;
}

// A^{-1} = U U^T with U = L^{-T}, U stored row-major (row j of U is column j
// of L^{-1}), so both steps run along contiguous rows.
SSDTUNE_MULTIVERSION void ChoInverse(const double* L, size_t n, double* U, double* out) {
  for (size_t i = 0; i < n * n; i++) U[i] = 0;
  for (size_t j = 0; j < n; j++) {
    double* uj = U + j * n;
    uj[j] = 1 / L[j * n + j];
    for (size_t i = j + 1; i < n; i++) {
      const double* li = L + i * n;
      uj[i] = -Dot(li + j, uj + j, i - j) / li[i];
    }
  }
  for (size_t i = 0; i < n; i++) {
    const double* ui = U + i * n;
    for (size_t j = 0; j <= i; j++) {
      const double s = Dot(ui + i, U + j * n + i, n - i);
      out[i * n + j] = s;
      out[j * n + i] = s;
    }
  }
}

// A Float64Array argument of exactly n*n elements.
double* Square(const Napi::CallbackInfo& info, size_t at, size_t n, const char* what) {
  const Napi::Value v = info[at];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a Float64Array");
  }
  Napi::Float64Array a = v.As<Napi::Float64Array>();
  if (a.ElementLength() != n * n) {
    throw Napi::TypeError::New(info.Env(),
                               std::string(what) + " has " + std::to_string(a.ElementLength()) + " elements, expected n*n = " + std::to_string(n * n));
  }
  return a.Data();
}

size_t Order(const Napi::CallbackInfo& info) {
  if (info.Length() != 3) throw Napi::TypeError::New(info.Env(), "expected 3 arguments (matrix, n, output)");
  if (!info[1].IsNumber()) throw Napi::TypeError::New(info.Env(), "n must be a number");
  const double n = info[1].As<Napi::Number>().DoubleValue();
  if (!(n >= 1) || n != std::floor(n) || n > 46340) throw Napi::TypeError::New(info.Env(), "n must be an integer in 1..46340");
  return static_cast<size_t>(n);
}

Napi::Value CholeskyInto(const Napi::CallbackInfo& info) {
  const size_t n = Order(info);
  const double* A = Square(info, 0, n, "matrix");
  double* L = Square(info, 2, n, "output");
  if (A == L) throw Napi::TypeError::New(info.Env(), "output must not be the input matrix");
  return Napi::Boolean::New(info.Env(), Cholesky(A, n, L));
}

Napi::Value ChoInverseInto(const Napi::CallbackInfo& info) {
  const size_t n = Order(info);
  const double* L = Square(info, 0, n, "factor");
  double* out = Square(info, 2, n, "output");
  if (L == out) throw Napi::TypeError::New(info.Env(), "output must not be the factor");
  std::vector<double> U(n * n);
  ChoInverse(L, n, U.data(), out);
  return info.Env().Undefined();
}

}  // namespace

void InitLinalg(Napi::Env env, Napi::Object exports) {
  exports.Set("choleskyInto", Napi::Function::New(env, CholeskyInto, "choleskyInto"));
  exports.Set("choInverseInto", Napi::Function::New(env, ChoInverseInto, "choInverseInto"));
}

}  // namespace ssdtune
