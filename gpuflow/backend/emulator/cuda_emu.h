// cuda_emu.h — the CUDA built-ins for running unmodified .cu kernels on the CPU.
//
// Part of gpuflow's CUDA emulator (see README.md in this folder). The loader compiles
//     #include "cuda_emu.h"
//     #line 1 "<name>.cu"
//     <the kernel source, with `extern __shared__ T s[];` rewritten, line count unchanged>
//     <one thunk per extern "C" __global__ entry point>
// with g++ into a shared library, linked with cuda_emu_runtime.cpp (the fiber scheduler that runs
// the threads of a block; it implements every gfemu_* function declared here).
//
// Model: one OS thread runs a launch, block after block. Inside a block, every CUDA thread is a
// fiber with its own stack; fibers switch only at __syncthreads*, __syncwarp and the warp
// intrinsics (*_sync). Hence:
//   * threadIdx / blockIdx / blockDim / gridDim are plain globals that the scheduler sets before
//     it resumes a fiber (declared const here, as in CUDA);
//   * `__shared__` is `static`: one instance, shared by all fibers of the block that is running —
//     exactly CUDA's per-block storage, because blocks never overlap. The loader finds these
//     function-local statics in the library's symbol table (`_ZZ<function>E<name>`) and the runtime
//     fills them with 0xff bytes (NaN as float, -1 as int) before every block, so reading shared
//     memory that the block did not write gives NaN/-1, not the previous block's values. Under
//     AddressSanitizer each is an instrumented global with redzones (a named section would
//     disable that, and GCC cannot put template statics in one anyway);
//   * dynamic shared memory (`extern __shared__ T s[];`) is rewritten by the loader into
//     `T* const s = reinterpret_cast<T*>(gfemu_dynamic_smem);` — a fixed buffer whose bytes past the
//     launch's shared_mem are poisoned under AddressSanitizer;
//   * atomics are plain read-modify-writes (no two fibers ever run at the same time).
#ifndef GPUFLOW_CUDA_EMU_H
#define GPUFLOW_CUDA_EMU_H

// System headers come first, before any kernel macro can change their meaning.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <type_traits>
#include <utility>

#define GPUFLOW_EMULATOR 1
#define __CUDACC__ 1
#define __CUDACC_RTC__ 1
#ifndef __CUDA_ARCH__
#define __CUDA_ARCH__ 800
#endif

// ---- qualifiers ---------------------------------------------------------------------------------
#ifndef GFEMU_SCAN  // the loader preprocesses once with GFEMU_SCAN to find the entry points
#define __global__
#define __launch_bounds__(...)
#endif
#define __device__
#define __host__
#define __constant__
#define __managed__
#define __grid_constant__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __align__(n) __attribute__((aligned(n)))
// __restrict__ is a GCC keyword already.
#define __shared__ static

// ---- vector types -------------------------------------------------------------------------------
#define GFEMU_VEC2(T, N, A) struct __attribute__((aligned(A))) N { T x, y; }; \
    __forceinline__ N make_##N(T x, T y) { N v; v.x = x; v.y = y; return v; }
#define GFEMU_VEC3(T, N) struct N { T x, y, z; }; \
    __forceinline__ N make_##N(T x, T y, T z) { N v; v.x = x; v.y = y; v.z = z; return v; }
#define GFEMU_VEC4(T, N, A) struct __attribute__((aligned(A))) N { T x, y, z, w; }; \
    __forceinline__ N make_##N(T x, T y, T z, T w) { N v; v.x = x; v.y = y; v.z = z; v.w = w; return v; }
GFEMU_VEC2(float, float2, 8)  GFEMU_VEC3(float, float3)  GFEMU_VEC4(float, float4, 16)
GFEMU_VEC2(double, double2, 16) GFEMU_VEC3(double, double3)
GFEMU_VEC2(int, int2, 8)       GFEMU_VEC3(int, int3)      GFEMU_VEC4(int, int4, 16)
GFEMU_VEC2(unsigned int, uint2, 8) GFEMU_VEC4(unsigned int, uint4, 16)
GFEMU_VEC2(long long, longlong2, 16) GFEMU_VEC2(unsigned long long, ulonglong2, 16)
GFEMU_VEC2(short, short2, 4)   GFEMU_VEC4(short, short4, 8)
GFEMU_VEC2(signed char, char2, 2) GFEMU_VEC4(signed char, char4, 4)
GFEMU_VEC2(unsigned char, uchar2, 2) GFEMU_VEC4(unsigned char, uchar4, 4)
#undef GFEMU_VEC2
#undef GFEMU_VEC3
#undef GFEMU_VEC4
struct uint3 { unsigned int x, y, z; };
__forceinline__ uint3 make_uint3(unsigned x, unsigned y, unsigned z) { uint3 v; v.x = x; v.y = y; v.z = z; return v; }
struct dim3 {
    unsigned int x, y, z;
    constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
    constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
    constexpr operator uint3() const { return uint3{x, y, z}; }
};

// ---- built-in variables -------------------------------------------------------------------------
#ifdef GFEMU_RUNTIME
#define GFEMU_BUILTIN_CONST
#else
#define GFEMU_BUILTIN_CONST const
#endif
extern "C++" {
extern GFEMU_BUILTIN_CONST uint3 threadIdx __attribute__((visibility("hidden")));
extern GFEMU_BUILTIN_CONST uint3 blockIdx __attribute__((visibility("hidden")));
extern GFEMU_BUILTIN_CONST dim3 blockDim __attribute__((visibility("hidden")));
extern GFEMU_BUILTIN_CONST dim3 gridDim __attribute__((visibility("hidden")));
}
static constexpr int warpSize = 32;
extern "C" char gfemu_dynamic_smem[] __attribute__((visibility("hidden")));

// ---- runtime entry points (cuda_emu_runtime.cpp) ------------------------------------------------
enum gfemu_barrier_kind { GFEMU_BAR = 0, GFEMU_BAR_COUNT, GFEMU_BAR_AND, GFEMU_BAR_OR };
enum gfemu_warp_op {
    GFEMU_SYNCWARP = 0, GFEMU_SHFL_IDX, GFEMU_SHFL_UP, GFEMU_SHFL_DOWN, GFEMU_SHFL_XOR,
    GFEMU_BALLOT, GFEMU_ANY, GFEMU_ALL, GFEMU_MATCH_ANY, GFEMU_MATCH_ALL,
    GFEMU_REDUCE_ADD, GFEMU_REDUCE_MIN_U, GFEMU_REDUCE_MAX_U, GFEMU_REDUCE_MIN_I, GFEMU_REDUCE_MAX_I,
    GFEMU_REDUCE_AND, GFEMU_REDUCE_OR, GFEMU_REDUCE_XOR,
    GFEMU_WMMA,  // an nvcuda::wmma *_sync operation; value = the lane's gfemu::wmma_call*
    GFEMU_NUM_WARP_OPS
};
extern "C" {
__attribute__((visibility("hidden"))) int gfemu_barrier(int kind, int pred, const char* file, int line);
// Blocks until every lane named in mask has reached a warp operation, then returns this lane's
// result (the raw bits of a source lane's value for the shuffles, a lane mask or predicate else).
__attribute__((visibility("hidden"))) unsigned long long gfemu_warp(int op, unsigned mask,
    unsigned long long value, int arg, int width, const char* file, int line, int* pred_out);
__attribute__((visibility("hidden"))) unsigned gfemu_activemask(void);
__attribute__((noreturn, visibility("hidden"))) void gfemu_trap(const char* what, const char* file, int line);
// Per-launch random value (never ~0): seeds the randomised wmma fragment layouts of that launch.
__attribute__((visibility("hidden"))) unsigned long long gfemu_launch_nonce(void);
// Fails the launch with msg (for checks made while a warp operation completes).
__attribute__((visibility("hidden"))) void gfemu_warp_error(const char* msg);
// cp.async: issue (source read now, destination poisoned), commit a group, wait for older groups.
__attribute__((visibility("hidden"))) void gfemu_cp_async(void* dst, const void* src, size_t size, size_t zfill,
                                                          const char* file, int line);
__attribute__((visibility("hidden"))) void gfemu_cp_commit(void);
__attribute__((visibility("hidden"))) void gfemu_cp_wait_prior(size_t prior);
}

// ---- barriers -----------------------------------------------------------------------------------
#define __syncthreads() gfemu_barrier(GFEMU_BAR, 1, __FILE__, __LINE__)
#define __syncthreads_count(p) gfemu_barrier(GFEMU_BAR_COUNT, (p) != 0, __FILE__, __LINE__)
#define __syncthreads_and(p) gfemu_barrier(GFEMU_BAR_AND, (p) != 0, __FILE__, __LINE__)
#define __syncthreads_or(p) gfemu_barrier(GFEMU_BAR_OR, (p) != 0, __FILE__, __LINE__)
#define __syncwarp(...) gfemu::site{__FILE__, __LINE__}.syncwarp(__VA_ARGS__)
#define __threadfence() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define __threadfence_block() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define __threadfence_system() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define __trap() gfemu_trap("__trap()", __FILE__, __LINE__)
#define __brkpt() gfemu_trap("__brkpt()", __FILE__, __LINE__)
#define assert(e) ((e) ? (void)0 : gfemu_trap("assertion failed: " #e, __FILE__, __LINE__))
#define __activemask() gfemu_activemask()

// ---- warp intrinsics ----------------------------------------------------------------------------
#define __shfl_sync(...) gfemu::shfl(GFEMU_SHFL_IDX, __FILE__, __LINE__, __VA_ARGS__)
#define __shfl_up_sync(...) gfemu::shfl(GFEMU_SHFL_UP, __FILE__, __LINE__, __VA_ARGS__)
#define __shfl_down_sync(...) gfemu::shfl(GFEMU_SHFL_DOWN, __FILE__, __LINE__, __VA_ARGS__)
#define __shfl_xor_sync(...) gfemu::shfl(GFEMU_SHFL_XOR, __FILE__, __LINE__, __VA_ARGS__)
#define __ballot_sync(mask, p) \
    ((unsigned)gfemu_warp(GFEMU_BALLOT, (mask), (p) != 0, 0, 32, __FILE__, __LINE__, nullptr))
#define __any_sync(mask, p) ((int)gfemu_warp(GFEMU_ANY, (mask), (p) != 0, 0, 32, __FILE__, __LINE__, nullptr))
#define __all_sync(mask, p) ((int)gfemu_warp(GFEMU_ALL, (mask), (p) != 0, 0, 32, __FILE__, __LINE__, nullptr))
#define __uni_sync(mask, p) __all_sync(mask, p)
#define __match_any_sync(mask, v) gfemu::match_any((mask), (v), __FILE__, __LINE__)
#define __match_all_sync(mask, v, pred) gfemu::match_all((mask), (v), (pred), __FILE__, __LINE__)
#define __reduce_add_sync(mask, v) gfemu::reduce(GFEMU_REDUCE_ADD, (mask), (v), __FILE__, __LINE__)
#define __reduce_min_sync(mask, v) gfemu::reduce_minmax(false, (mask), (v), __FILE__, __LINE__)
#define __reduce_max_sync(mask, v) gfemu::reduce_minmax(true, (mask), (v), __FILE__, __LINE__)
#define __reduce_and_sync(mask, v) gfemu::reduce(GFEMU_REDUCE_AND, (mask), (v), __FILE__, __LINE__)
#define __reduce_or_sync(mask, v) gfemu::reduce(GFEMU_REDUCE_OR, (mask), (v), __FILE__, __LINE__)
#define __reduce_xor_sync(mask, v) gfemu::reduce(GFEMU_REDUCE_XOR, (mask), (v), __FILE__, __LINE__)

namespace gfemu {
template <class T> __forceinline__ unsigned long long to_bits(const T& v) {
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value,
                  "warp shuffles take values of at most 8 bytes");
    unsigned long long b = 0;
    std::memcpy(&b, &v, sizeof(T));
    return b;
}
template <class T> __forceinline__ T from_bits(unsigned long long b) {
    T v;
    std::memcpy(&v, &b, sizeof(T));
    return v;
}
struct site {  // __syncwarp() and __syncwarp(mask) through one macro
    const char* file;
    int line;
    __forceinline__ void syncwarp(unsigned mask = 0xffffffffu) const {
        gfemu_warp(GFEMU_SYNCWARP, mask, 0, 0, 32, file, line, nullptr);
    }
};
template <class T>
__forceinline__ T shfl(int op, const char* f, int l, unsigned mask, T v, int arg, int width = 32) {
    return from_bits<T>(gfemu_warp(op, mask, to_bits(v), arg, width, f, l, nullptr));
}
template <class T> __forceinline__ unsigned match_any(unsigned mask, T v, const char* f, int l) {
    return (unsigned)gfemu_warp(GFEMU_MATCH_ANY, mask, to_bits(v), 0, 32, f, l, nullptr);
}
template <class T> __forceinline__ unsigned match_all(unsigned mask, T v, int* pred, const char* f, int l) {
    return (unsigned)gfemu_warp(GFEMU_MATCH_ALL, mask, to_bits(v), 0, 32, f, l, pred);
}
template <class T> __forceinline__ T reduce(int op, unsigned mask, T v, const char* f, int l) {
    static_assert(std::is_integral<T>::value && sizeof(T) == 4, "__reduce_*_sync takes int or unsigned");
    return (T)gfemu_warp(op, mask, (unsigned long long)(unsigned)v, 0, 32, f, l, nullptr);
}
template <class T> __forceinline__ T reduce_minmax(bool is_max, unsigned mask, T v, const char* f, int l) {
    static_assert(std::is_integral<T>::value && sizeof(T) == 4, "__reduce_*_sync takes int or unsigned");
    const int op = std::is_signed<T>::value ? (is_max ? GFEMU_REDUCE_MAX_I : GFEMU_REDUCE_MIN_I)
                                            : (is_max ? GFEMU_REDUCE_MAX_U : GFEMU_REDUCE_MIN_U);
    return (T)gfemu_warp(op, mask, (unsigned long long)(unsigned)v, 0, 32, f, l, nullptr);
}
}  // namespace gfemu

// ---- atomics: plain read-modify-write (fibers never run concurrently) ----------------------------
#define GFEMU_ATOMIC_RMW(NAME, EXPR)                                                              \
    template <class T, class U> __forceinline__ T NAME(T* p, U v_) {                              \
        const T v = (T)v_; T old = *p; *p = (EXPR); return old; }
GFEMU_ATOMIC_RMW(atomicAdd, old + v)
GFEMU_ATOMIC_RMW(atomicSub, old - v)
GFEMU_ATOMIC_RMW(atomicExch, v)
GFEMU_ATOMIC_RMW(atomicMin, v < old ? v : old)
GFEMU_ATOMIC_RMW(atomicMax, v > old ? v : old)
GFEMU_ATOMIC_RMW(atomicAnd, old & v)
GFEMU_ATOMIC_RMW(atomicOr, old | v)
GFEMU_ATOMIC_RMW(atomicXor, old ^ v)
#undef GFEMU_ATOMIC_RMW
__forceinline__ unsigned atomicInc(unsigned* p, unsigned v) { unsigned o = *p; *p = (o >= v) ? 0u : o + 1u; return o; }
__forceinline__ unsigned atomicDec(unsigned* p, unsigned v) { unsigned o = *p; *p = (o == 0u || o > v) ? v : o - 1u; return o; }
template <class T, class U, class V> __forceinline__ T atomicCAS(T* p, U cmp, V val) {
    T old = *p; if (old == (T)cmp) *p = (T)val; return old;
}
#define atomicAdd_block atomicAdd
#define atomicAdd_system atomicAdd
#define atomicMax_block atomicMax
#define atomicMin_block atomicMin
#define atomicExch_block atomicExch
#define atomicCAS_block atomicCAS

// ---- loads, bit reinterpretation, integer intrinsics ---------------------------------------------
template <class T> __forceinline__ T __ldg(const T* p) { return *p; }
template <class T> __forceinline__ T __ldcg(const T* p) { return *p; }
template <class T> __forceinline__ T __ldca(const T* p) { return *p; }
template <class T> __forceinline__ T __ldcs(const T* p) { return *p; }
template <class T> __forceinline__ T __ldlu(const T* p) { return *p; }
template <class T> __forceinline__ T __ldcv(const T* p) { return *p; }
template <class T> __forceinline__ void __stcg(T* p, T v) { *p = v; }
template <class T> __forceinline__ void __stcs(T* p, T v) { *p = v; }
template <class T> __forceinline__ void __stwb(T* p, T v) { *p = v; }
template <class T> __forceinline__ void __stwt(T* p, T v) { *p = v; }
__forceinline__ float __int_as_float(int v) { float f; std::memcpy(&f, &v, 4); return f; }
__forceinline__ float __uint_as_float(unsigned v) { float f; std::memcpy(&f, &v, 4); return f; }
__forceinline__ int __float_as_int(float v) { int i; std::memcpy(&i, &v, 4); return i; }
__forceinline__ unsigned __float_as_uint(float v) { unsigned i; std::memcpy(&i, &v, 4); return i; }
__forceinline__ double __longlong_as_double(long long v) { double d; std::memcpy(&d, &v, 8); return d; }
__forceinline__ long long __double_as_longlong(double v) { long long i; std::memcpy(&i, &v, 8); return i; }
__forceinline__ int __popc(unsigned v) { return __builtin_popcount(v); }
__forceinline__ int __popcll(unsigned long long v) { return __builtin_popcountll(v); }
__forceinline__ int __clz(int v) { return v == 0 ? 32 : __builtin_clz((unsigned)v); }
__forceinline__ int __clzll(long long v) { return v == 0 ? 64 : __builtin_clzll((unsigned long long)v); }
__forceinline__ int __ffs(int v) { return __builtin_ffs(v); }
__forceinline__ int __ffsll(long long v) { return __builtin_ffsll(v); }
__forceinline__ unsigned __brev(unsigned v) {
    unsigned r = 0; for (int i = 0; i < 32; ++i) { r = (r << 1) | (v & 1u); v >>= 1; } return r;
}
__forceinline__ int __mul24(int a, int b) { return (int)(((long long)(a << 8) >> 8) * ((long long)(b << 8) >> 8)); }
__forceinline__ unsigned __umul24(unsigned a, unsigned b) { return (a & 0xffffffu) * (b & 0xffffffu); }
__forceinline__ int __mulhi(int a, int b) { return (int)(((long long)a * b) >> 32); }
__forceinline__ unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((unsigned long long)a * b) >> 32); }
__forceinline__ long long __mul64hi(long long a, long long b) { return (long long)(((__int128)a * b) >> 64); }
__forceinline__ unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
    return (unsigned long long)(((unsigned __int128)a * b) >> 64);
}
#if defined(__x86_64__)
__forceinline__ long long clock64() { return (long long)__builtin_ia32_rdtsc(); }
#endif
__forceinline__ void __nanosleep(unsigned) {}

// ---- min / max (CUDA's overload set) -------------------------------------------------------------
#define GFEMU_MINMAX(R, A, B)                                                                     \
    __forceinline__ R min(A a, B b) { return (R)a < (R)b ? (R)a : (R)b; }                         \
    __forceinline__ R max(A a, B b) { return (R)a > (R)b ? (R)a : (R)b; }
GFEMU_MINMAX(int, int, int)
GFEMU_MINMAX(unsigned, unsigned, unsigned)
GFEMU_MINMAX(unsigned, int, unsigned)
GFEMU_MINMAX(unsigned, unsigned, int)
GFEMU_MINMAX(long long, long long, long long)
GFEMU_MINMAX(unsigned long long, unsigned long long, unsigned long long)
GFEMU_MINMAX(unsigned long long, long long, unsigned long long)
GFEMU_MINMAX(unsigned long long, unsigned long long, long long)
GFEMU_MINMAX(long, long, long)
GFEMU_MINMAX(unsigned long, unsigned long, unsigned long)
#undef GFEMU_MINMAX
__forceinline__ float min(float a, float b) { return fminf(a, b); }
__forceinline__ float max(float a, float b) { return fmaxf(a, b); }
__forceinline__ double min(double a, double b) { return fmin(a, b); }
__forceinline__ double max(double a, double b) { return fmax(a, b); }
__forceinline__ double min(float a, double b) { return fmin(a, b); }
__forceinline__ double max(float a, double b) { return fmax(a, b); }
__forceinline__ double min(double a, float b) { return fmin(a, b); }
__forceinline__ double max(double a, float b) { return fmax(a, b); }

// ---- math: <cmath> provides expf, logf, sqrtf, fmaxf, fabsf, fmaf, ... in the global namespace ---
using std::isfinite;
using std::isinf;
using std::isnan;
using std::signbit;
__forceinline__ float rsqrtf(float x) { return 1.0f / sqrtf(x); }
__forceinline__ double rsqrt(double x) { return 1.0 / sqrt(x); }
__forceinline__ float rcbrtf(float x) { return 1.0f / cbrtf(x); }
__forceinline__ float saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
__forceinline__ float __saturatef(float x) { return saturatef(x); }
__forceinline__ float normcdff(float x) { return 0.5f * erfcf(-x * 0.70710678118654752f); }
__forceinline__ void __sincosf(float x, float* s, float* c) { *s = sinf(x); *c = cosf(x); }
__forceinline__ float __expf(float x) { return expf(x); }
__forceinline__ float __exp10f(float x) { return powf(10.0f, x); }
__forceinline__ float __logf(float x) { return logf(x); }
__forceinline__ float __log2f(float x) { return log2f(x); }
__forceinline__ float __log10f(float x) { return log10f(x); }
__forceinline__ float __sinf(float x) { return sinf(x); }
__forceinline__ float __cosf(float x) { return cosf(x); }
__forceinline__ float __tanf(float x) { return tanf(x); }
__forceinline__ float __powf(float x, float y) { return powf(x, y); }
__forceinline__ float __fdividef(float x, float y) { return x / y; }
__forceinline__ double __fdiv_rn(double x, double y) { return x / y; }
__forceinline__ float fdividef(float x, float y) { return x / y; }
__forceinline__ float __frcp_rn(float x) { return 1.0f / x; }
__forceinline__ float __fsqrt_rn(float x) { return sqrtf(x); }
__forceinline__ float __frsqrt_rn(float x) { return 1.0f / sqrtf(x); }
__forceinline__ float __fadd_rn(float a, float b) { return a + b; }
__forceinline__ float __fsub_rn(float a, float b) { return a - b; }
__forceinline__ float __fmul_rn(float a, float b) { return a * b; }
__forceinline__ float __fdiv_rn(float a, float b) { return a / b; }
__forceinline__ float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
__forceinline__ double __dadd_rn(double a, double b) { return a + b; }
__forceinline__ double __dmul_rn(double a, double b) { return a * b; }
__forceinline__ double __fma_rn(double a, double b, double c) { return fma(a, b, c); }
__forceinline__ int __float2int_rn(float x) { return (int)nearbyintf(x); }
__forceinline__ int __float2int_rz(float x) { return (int)x; }
__forceinline__ int __float2int_rd(float x) { return (int)floorf(x); }
__forceinline__ int __float2int_ru(float x) { return (int)ceilf(x); }
__forceinline__ unsigned __float2uint_rn(float x) { return (unsigned)nearbyintf(x); }
__forceinline__ unsigned __float2uint_rz(float x) { return (unsigned)x; }
__forceinline__ long long __float2ll_rn(float x) { return (long long)nearbyintf(x); }
__forceinline__ long long __float2ll_rz(float x) { return (long long)x; }
__forceinline__ float __int2float_rn(int x) { return (float)x; }
__forceinline__ float __uint2float_rn(unsigned x) { return (float)x; }
__forceinline__ float __ll2float_rn(long long x) { return (float)x; }
__forceinline__ int __double2int_rn(double x) { return (int)nearbyint(x); }
__forceinline__ int __double2int_rz(double x) { return (int)x; }
__forceinline__ float __double2float_rn(double x) { return (float)x; }

// ---- entry-point thunks and signatures (used by the code the loader appends) ----------------------
namespace gfemu {
// Type codes of the entry point's parameters ("*cf4,i4": const float*, int), read by the loader.
struct sigbuf {
    char s[1024];
    int n = 0;
    void add(const char* t) { while (*t && n < (int)sizeof s - 1) s[n++] = *t++; s[n] = 0; }
};
template <class T, class = void> struct code {
    static void put(sigbuf& b) { char num[24]; snprintf(num, sizeof num, "?%zu", sizeof(T)); b.add(num); }
};
#define GFEMU_CODE(T, C) template <> struct code<T> { static void put(sigbuf& b) { b.add(C); } };
GFEMU_CODE(void, "v") GFEMU_CODE(bool, "b1") GFEMU_CODE(float, "f4") GFEMU_CODE(double, "f8")
GFEMU_CODE(signed char, "i1") GFEMU_CODE(unsigned char, "u1") GFEMU_CODE(char, std::is_signed<char>::value ? "i1" : "u1")
GFEMU_CODE(short, "i2") GFEMU_CODE(unsigned short, "u2") GFEMU_CODE(int, "i4") GFEMU_CODE(unsigned int, "u4")
GFEMU_CODE(long, "i8") GFEMU_CODE(unsigned long, "u8") GFEMU_CODE(long long, "i8") GFEMU_CODE(unsigned long long, "u8")
GFEMU_CODE(float2, "f4x2") GFEMU_CODE(float3, "f4x3") GFEMU_CODE(float4, "f4x4") GFEMU_CODE(double2, "f8x2")
GFEMU_CODE(int2, "i4x2") GFEMU_CODE(int3, "i4x3") GFEMU_CODE(int4, "i4x4") GFEMU_CODE(uint2, "u4x2")
GFEMU_CODE(uint4, "u4x4") GFEMU_CODE(char4, "i1x4") GFEMU_CODE(uchar4, "u1x4")
#undef GFEMU_CODE
template <class T> struct code<T*> {
    static void put(sigbuf& b) {
        b.add("*");
        if (std::is_const<T>::value) b.add("c");
        code<typename std::remove_cv<T>::type>::put(b);
    }
};
template <class... A> const char* signature(void (*)(A...)) {
    static sigbuf sig;
    if (sig.n == 0) {
        int dummy[] = {0, (code<typename std::remove_cv<A>::type>::put(sig), sig.add(","), 0)...};
        (void)dummy;
        if (sig.n > 0) sig.s[--sig.n] = 0;
    }
    return sig.s;
}
template <class... A, std::size_t... I>
__forceinline__ void invoke_impl(void (*f)(A...), void** a, std::index_sequence<I...>) {
    f(*static_cast<typename std::remove_cv<typename std::remove_reference<A>::type>::type*>(a[I])...);
}
template <class... A> __forceinline__ void invoke(void (*f)(A...), void** a) {
    invoke_impl(f, a, std::index_sequence_for<A...>{});
}
}  // namespace gfemu

// ---- cp.async through cuda_pipeline_primitives.h ---------------------------------------------------
// __pipeline_memcpy_async copies size_and_align (4, 8 or 16) bytes from global to shared memory, the
// last zfill of them as zeros, asynchronously: per thread, copies are grouped by __pipeline_commit and
// __pipeline_wait_prior(n) waits until at most the n newest groups are pending. Emulated: the source
// is read at the call, the destination filled with 0xff (NaN) bytes, and the data written when the
// thread waits for its group; so a missing or too lax wait, or a missing __syncthreads after it
// (another thread's copy), reads NaN. Alignment and size are checked as the header asserts.
// __pipeline_arrive_on (mbarriers) is not provided.
#define __pipeline_memcpy_async(dst, src, ...) gfemu::cp_async(__FILE__, __LINE__, (dst), (src), __VA_ARGS__)
#define __pipeline_commit() gfemu_cp_commit()
#define __pipeline_wait_prior(prior) gfemu_cp_wait_prior((size_t)(prior))
namespace gfemu {
__forceinline__ void cp_async(const char* file, int line, void* dst, const void* src, size_t size, size_t zfill = 0) {
    gfemu_cp_async(dst, src, size, zfill, file, line);
}
}  // namespace gfemu

// ---- __half / __nv_bfloat16 (cuda_fp16.h / cuda_bf16.h) ----------------------------------------
// Storage types with the conversion intrinsics the kernels use; no arithmetic operators (a kernel
// that needs them would not compile here: convert to float first, as the tensor-core kernels do).
// Rounding, bit for bit as the GPU's cvt instructions (PTX ISA, "cvt"):
//   __float2half_rn      cvt.rn.f16.f32   round to nearest even; overflow -> inf; subnormals kept;
//                                         NaN -> 0x7fff
//   __float2bfloat16_rn  cvt.rn.bf16.f32  round to nearest even; NaN -> 0x7fff (canonical NaN)
//   __half2float / __bfloat162float       exact
struct __align__(2) __half { unsigned short __x; };
struct __align__(2) __nv_bfloat16 { unsigned short __x; };
typedef __half half;
typedef __nv_bfloat16 nv_bfloat16;
__forceinline__ __half __float2half_rn(float f) {
    unsigned u; std::memcpy(&u, &f, 4);
    const unsigned sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
    unsigned short h;
    if (a > 0x7f800000u) h = 0x7fffu;  // NaN -> canonical NaN
    else if (a >= 0x477ff000u) h = (unsigned short)(sign | 0x7c00u);  // >= 65520: rounds to inf
    else if (a >= 0x38800000u) {  // normal half: drop 13 bits, round to nearest even
        const unsigned m = a - 0x38000000u;  // rebias 127 -> 15
        h = (unsigned short)(sign | ((m + 0xfffu + ((m >> 13) & 1u)) >> 13));
    } else if (a > 0x33000000u) {  // subnormal half (2^-25 < |f| < 2^-14)
        const unsigned e = a >> 23, m = (a & 0x7fffffu) | 0x800000u, shift = 126u - e;  // 14 + 113 - e - 1
        const unsigned q = m >> shift, rem = m & ((1u << shift) - 1u), halfway = 1u << (shift - 1u);
        h = (unsigned short)(sign | (q + (rem > halfway || (rem == halfway && (q & 1u)))));
    } else h = (unsigned short)sign;  // |f| <= 2^-25 rounds to zero (2^-25 itself: tie to even 0)
    __half r; r.__x = h; return r;
}
__forceinline__ float __half2float(__half h) {
    const unsigned sign = (unsigned)(h.__x & 0x8000u) << 16, e = (h.__x >> 10) & 0x1fu, m = h.__x & 0x3ffu;
    float f;
    if (e == 0x1f) { const unsigned u = sign | 0x7f800000u | (m << 13); std::memcpy(&f, &u, 4); }
    else if (e == 0) { f = ldexpf((float)m, -24); if (sign) f = -f; }
    else { const unsigned u = sign | ((e + 112u) << 23) | (m << 13); std::memcpy(&f, &u, 4); }
    return f;
}
__forceinline__ __nv_bfloat16 __float2bfloat16_rn(float f) {
    unsigned u; std::memcpy(&u, &f, 4);
    __nv_bfloat16 r;
    if ((u & 0x7fffffffu) > 0x7f800000u) r.__x = 0x7fffu;
    else r.__x = (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    return r;
}
__forceinline__ float __bfloat162float(__nv_bfloat16 b) {
    const unsigned u = (unsigned)b.__x << 16; float f; std::memcpy(&f, &u, 4); return f;
}
namespace gfemu {  // kernel parameter type codes (see code<> below): float16 and bfloat16 arrays
template <> struct code<__half> { static void put(sigbuf& b) { b.add("f2"); } };
template <> struct code<__nv_bfloat16> { static void put(sigbuf& b) { b.add("bf2"); } };
}  // namespace gfemu

// ---- nvcuda::wmma (mma.h) --------------------------------------------------------------------------
// The shapes the kernels use: TF32 m16n16k8 (wmma::precision::tf32) and FP16 / BF16 m16n16k16, with
// float accumulators; fragment element counts are mma.h's (f16 A/B hold 16, each matrix element
// twice). Anything else (other shapes, half accumulators, integer and sub-byte types, double) is an
// incomplete type here: it fails to compile rather than run wrongly.
//
// Collective: load_matrix_sync, store_matrix_sync and mma_sync are warp operations (mask = all 32
// lanes): they complete when the last lane arrives, and fail the launch when a lane has exited,
// waits elsewhere (a diverged warp), calls from another source line, passes another pointer or ldm,
// or the warp is partial. fill_fragment is per thread, as on the GPU.
// Layout: which (row, column) each x[i] of each lane holds is a random permutation, drawn per
// launch and per fragment type (CUDA leaves it unspecified), so a kernel that indexes fragment
// elements assuming one layout gets wrong results. Element-wise operations on all x[i] (scaling,
// __float_to_tf32) are layout-independent and work.
// Checks as documented for load/store_matrix_sync: the pointer 256-bit (32-byte) aligned, ldm a
// multiple of 16 bytes.
// Arithmetic: D = C + A B with every product exact in float (TF32, FP16 and BF16 significands
// multiply exactly) summed in float, in k order, each addition rounded to nearest even. TF32
// operands are read as the tensor core reads them: the low 13 mantissa bits ignored (truncation),
// so values not converted with __float_to_tf32 are truncated. __float_to_tf32 is mma.h's
// cvt.rna.tf32.f32: round to nearest, ties away from zero (low 13 bits cleared). The GPU's
// internal accumulation order and rounding are not documented (measurements suggest wider,
// truncating adders: Fasi, Higham, Mikaitis, Pranesh, "Numerical behavior of NVIDIA tensor cores",
// PeerJ Comput. Sci. 2021), so emulator and GPU may differ by a few float ulps per K.
namespace nvcuda {
namespace wmma {
struct row_major;
struct col_major;
struct matrix_a;
struct matrix_b;
struct accumulator;
namespace precision { struct tf32; }
enum layout_t { mem_row_major, mem_col_major };

__forceinline__ float __float_to_tf32(float in) {
    unsigned u; std::memcpy(&u, &in, 4);
    if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0x1000u) & 0xffffe000u;  // ties away from zero
    float r; std::memcpy(&r, &u, 4); return r;
}

template <class T> struct helper_traits {
    typedef T element_type;
    typedef T storage_element_type;
    typedef T fill_argument_type;
};
template <> struct helper_traits<precision::tf32> {
    typedef precision::tf32 element_type;
    typedef float storage_element_type;
    typedef float fill_argument_type;
};
template <class T, int size> struct __align__(8) __frag_base {
    enum { num_elements = size, num_storage_elements = size };
    typedef T element_type;
    typedef typename helper_traits<T>::storage_element_type storage_element_type;
    storage_element_type x[size];
};
template <class Use, int m, int n, int k, class T, class Layout = void> class fragment;
#define GFEMU_FRAG(USE, M, N, K, T, L, E) \
    template <> class fragment<USE, M, N, K, T, L> : public __frag_base<T, E> {};
GFEMU_FRAG(matrix_a, 16, 16, 8, precision::tf32, row_major, 4)
GFEMU_FRAG(matrix_a, 16, 16, 8, precision::tf32, col_major, 4)
GFEMU_FRAG(matrix_b, 16, 16, 8, precision::tf32, row_major, 4)
GFEMU_FRAG(matrix_b, 16, 16, 8, precision::tf32, col_major, 4)
GFEMU_FRAG(accumulator, 16, 16, 8, float, void, 8)
GFEMU_FRAG(matrix_a, 16, 16, 16, __half, row_major, 16)
GFEMU_FRAG(matrix_a, 16, 16, 16, __half, col_major, 16)
GFEMU_FRAG(matrix_b, 16, 16, 16, __half, row_major, 16)
GFEMU_FRAG(matrix_b, 16, 16, 16, __half, col_major, 16)
GFEMU_FRAG(matrix_a, 16, 16, 16, __nv_bfloat16, row_major, 8)
GFEMU_FRAG(matrix_a, 16, 16, 16, __nv_bfloat16, col_major, 8)
GFEMU_FRAG(matrix_b, 16, 16, 16, __nv_bfloat16, row_major, 8)
GFEMU_FRAG(matrix_b, 16, 16, 16, __nv_bfloat16, col_major, 8)
GFEMU_FRAG(accumulator, 16, 16, 16, float, void, 8)
#undef GFEMU_FRAG
}  // namespace wmma
}  // namespace nvcuda

namespace gfemu {
namespace wm = nvcuda::wmma;

// One lane's arguments of a collective wmma call; the runtime hands all 32 to `complete`.
struct wmma_call {
    void (*complete)(wmma_call* const* lanes);  // identifies the operation and fragment types
    const char* what;
    void* frag;                   // the fragment written (load, mma: d) or read (store)
    const void *a, *b, *c;        // mma_sync's operands
    const void* ptr;              // load / store: the matrix in memory
    unsigned ldm;
    int col_major;                // memory layout of ptr
};

__forceinline__ void wmma_collective(wmma_call& call, const char* file, int line) {
    gfemu_warp(GFEMU_WMMA, 0xffffffffu, (unsigned long long)(uintptr_t)&call, 0, 32, file, line, nullptr);
}

template <class T> __forceinline__ float to_f(T v) { return (float)v; }
template <> __forceinline__ float to_f(__half v) { return __half2float(v); }
template <> __forceinline__ float to_f(__nv_bfloat16 v) { return __bfloat162float(v); }
template <class T> __forceinline__ T from_f(float v) { return (T)v; }
template <> __forceinline__ __half from_f(float v) { return __float2half_rn(v); }
template <> __forceinline__ __nv_bfloat16 from_f(float v) { return __float2bfloat16_rn(v); }

// Rows x columns of the matrix a fragment holds, and how the tensor core reads an element.
template <class Use, int M, int N, int K> struct frag_dims;
template <int M, int N, int K> struct frag_dims<wm::matrix_a, M, N, K> { enum { rows = M, cols = K }; };
template <int M, int N, int K> struct frag_dims<wm::matrix_b, M, N, K> { enum { rows = K, cols = N }; };
template <int M, int N, int K> struct frag_dims<wm::accumulator, M, N, K> { enum { rows = M, cols = N }; };
template <class T> struct operand { static float read(float v) { return v; } };
template <> struct operand<wm::precision::tf32> {  // the tensor core ignores the low 13 bits
    static float read(float v) {
        unsigned u; std::memcpy(&u, &v, 4);
        if ((u & 0x7f800000u) != 0x7f800000u) u &= 0xffffe000u;
        float r; std::memcpy(&r, &u, 4); return r;
    }
};

// The element-to-lane layout of one fragment type for the running launch: slot (lane * E + i)
// holds matrix element map[slot] (row-major index; a matrix with fewer elements than slots has
// each element in several slots). Redrawn when the launch nonce changes.
template <class Use, int M, int N, int K, class T, class L> struct layout {
    typedef wm::fragment<Use, M, N, K, T, L> Frag;
    enum { E = Frag::num_elements, slots = 32 * E, rows = frag_dims<Use, M, N, K>::rows,
           cols = frag_dims<Use, M, N, K>::cols, size = rows * cols };
    static_assert(slots % size == 0, "fragment slots must cover the matrix evenly");
    static unsigned long long nonce;
    static int map[slots];
    static const int* get() {
        const unsigned long long n = gfemu_launch_nonce();
        if (n != nonce) {
            unsigned long long r = n ^ (unsigned long long)(uintptr_t)&nonce;  // differs per type
            for (int s = 0; s < slots; ++s) map[s] = s % size;
            for (int s = slots - 1; s > 0; --s) {
                r += 0x9e3779b97f4a7c15ull;
                unsigned long long z = r;
                z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
                z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
                z ^= z >> 31;
                const int j = (int)(z % (unsigned long long)(s + 1));
                const int t = map[s]; map[s] = map[j]; map[j] = t;
            }
            nonce = n;
        }
        return map;
    }
};
template <class U, int M, int N, int K, class T, class L> unsigned long long layout<U, M, N, K, T, L>::nonce = ~0ull;
template <class U, int M, int N, int K, class T, class L> int layout<U, M, N, K, T, L>::map[layout<U, M, N, K, T, L>::slots];

// Every lane must pass the same pointer and ldm, as on the GPU (the arguments are warp-uniform).
inline bool wmma_uniform(wmma_call* const* lanes, int elem_bytes) {
    char msg[512];
    for (int l = 1; l < 32; ++l)
        if (lanes[l]->ptr != lanes[0]->ptr || lanes[l]->ldm != lanes[0]->ldm || lanes[l]->col_major != lanes[0]->col_major) {
            snprintf(msg, sizeof msg, "nvcuda::wmma::%s: lanes 0 and %d pass different arguments (pointer %p vs %p, "
                     "ldm %u vs %u); the pointer, ldm and layout must be the same for the whole warp",
                     lanes[0]->what, l, lanes[0]->ptr, lanes[l]->ptr, lanes[0]->ldm, lanes[l]->ldm);
            gfemu_warp_error(msg);
            return false;
        }
    if (((uintptr_t)lanes[0]->ptr & 31u) || (lanes[0]->ldm * (unsigned)elem_bytes) % 16u) {
        snprintf(msg, sizeof msg, "nvcuda::wmma::%s: pointer %p must be 256-bit (32-byte) aligned and ldm (%u "
                 "elements of %d bytes) a multiple of 16 bytes", lanes[0]->what, lanes[0]->ptr, lanes[0]->ldm,
                 elem_bytes);
        gfemu_warp_error(msg);
        return false;
    }
    return true;
}

template <class Use, int M, int N, int K, class T, class L> struct wmma_ops {
    typedef wm::fragment<Use, M, N, K, T, L> Frag;
    typedef typename Frag::storage_element_type S;
    typedef layout<Use, M, N, K, T, L> Lay;
    static void load(wmma_call* const* lanes) {
        if (!wmma_uniform(lanes, (int)sizeof(S))) return;
        const int* map = Lay::get();
        const S* p = static_cast<const S*>(lanes[0]->ptr);
        const unsigned ldm = lanes[0]->ldm;
        for (int l = 0; l < 32; ++l) {
            Frag& f = *static_cast<Frag*>(lanes[l]->frag);
            for (int i = 0; i < Lay::E; ++i) {
                const int r = map[l * Lay::E + i] / Lay::cols, c = map[l * Lay::E + i] % Lay::cols;
                f.x[i] = lanes[0]->col_major ? p[(size_t)c * ldm + r] : p[(size_t)r * ldm + c];
            }
        }
    }
    static void store(wmma_call* const* lanes) {
        if (!wmma_uniform(lanes, (int)sizeof(S))) return;
        const int* map = Lay::get();
        S* p = static_cast<S*>(const_cast<void*>(lanes[0]->ptr));
        const unsigned ldm = lanes[0]->ldm;
        for (int l = 0; l < 32; ++l) {
            const Frag& f = *static_cast<const Frag*>(lanes[l]->frag);
            for (int i = 0; i < Lay::E; ++i) {
                const int r = map[l * Lay::E + i] / Lay::cols, c = map[l * Lay::E + i] % Lay::cols;
                (lanes[0]->col_major ? p[(size_t)c * ldm + r] : p[(size_t)r * ldm + c]) = f.x[i];
            }
        }
    }
    // The warp's fragments as one row-major float matrix (the first slot holding each element wins).
    static void gather(wmma_call* const* lanes, const void* wmma_call::*which, float* m) {
        const int* map = Lay::get();
        for (int l = 31; l >= 0; --l) {
            const Frag& f = *static_cast<const Frag*>(lanes[l]->*which);
            for (int i = Lay::E - 1; i >= 0; --i) m[map[l * Lay::E + i]] = operand<T>::read(to_f(f.x[i]));
        }
    }
    static void scatter(wmma_call* const* lanes, const float* m) {
        const int* map = Lay::get();
        for (int l = 0; l < 32; ++l) {
            Frag& f = *static_cast<Frag*>(lanes[l]->frag);
            for (int i = 0; i < Lay::E; ++i) f.x[i] = from_f<S>(m[map[l * Lay::E + i]]);
        }
    }
};

template <int M, int N, int K, class TA, class LA, class TB, class LB, class TC> struct wmma_mma {
    static void run(wmma_call* const* lanes) {
        float a[M * K], b[K * N], c[M * N];
        wmma_ops<wm::matrix_a, M, N, K, TA, LA>::gather(lanes, &wmma_call::a, a);
        wmma_ops<wm::matrix_b, M, N, K, TB, LB>::gather(lanes, &wmma_call::b, b);
        wmma_ops<wm::accumulator, M, N, K, TC, void>::gather(lanes, &wmma_call::c, c);
        for (int i = 0; i < M; ++i)
            for (int j = 0; j < N; ++j) {
                float acc = c[i * N + j];
                for (int k = 0; k < K; ++k) acc += a[i * K + k] * b[k * N + j];  // exact product, rounded sum
                c[i * N + j] = acc;
            }
        wmma_ops<wm::accumulator, M, N, K, TC, void>::scatter(lanes, c);
    }
};
}  // namespace gfemu

namespace nvcuda {
namespace wmma {
template <class Use, int M, int N, int K, class T, class L>
__forceinline__ void fill_fragment(fragment<Use, M, N, K, T, L>& f, typename helper_traits<T>::fill_argument_type v) {
    for (int i = 0; i < fragment<Use, M, N, K, T, L>::num_elements; ++i) f.x[i] = v;
}
template <class Use, int M, int N, int K, class T, class L>
__forceinline__ void load_matrix_sync(fragment<Use, M, N, K, T, L>& f,
                                      const typename helper_traits<T>::storage_element_type* p, unsigned ldm,
                                      const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    static_assert(!std::is_void<L>::value, "load_matrix_sync of an accumulator takes a layout_t");
    gfemu::wmma_call call{&gfemu::wmma_ops<Use, M, N, K, T, L>::load, "load_matrix_sync", &f, nullptr, nullptr,
                          nullptr, p, ldm, std::is_same<L, col_major>::value};
    gfemu::wmma_collective(call, file, line);
}
template <int M, int N, int K, class T>
__forceinline__ void load_matrix_sync(fragment<accumulator, M, N, K, T>& f, const T* p, unsigned ldm, layout_t layout,
                                      const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    gfemu::wmma_call call{&gfemu::wmma_ops<accumulator, M, N, K, T, void>::load, "load_matrix_sync", &f, nullptr,
                          nullptr, nullptr, p, ldm, layout == mem_col_major};
    gfemu::wmma_collective(call, file, line);
}
template <int M, int N, int K, class T>
__forceinline__ void store_matrix_sync(T* p, const fragment<accumulator, M, N, K, T>& f, unsigned ldm, layout_t layout,
                                       const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    gfemu::wmma_call call{&gfemu::wmma_ops<accumulator, M, N, K, T, void>::store, "store_matrix_sync",
                          const_cast<fragment<accumulator, M, N, K, T>*>(&f), nullptr, nullptr, nullptr, p, ldm,
                          layout == mem_col_major};
    gfemu::wmma_collective(call, file, line);
}
template <int M, int N, int K, class TA, class LA, class TB, class LB, class TC>
__forceinline__ void mma_sync(fragment<accumulator, M, N, K, TC>& d, const fragment<matrix_a, M, N, K, TA, LA>& a,
                              const fragment<matrix_b, M, N, K, TB, LB>& b, const fragment<accumulator, M, N, K, TC>& c,
                              bool satf = false, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    static_assert(std::is_same<TA, TB>::value, "mma_sync: matrix_a and matrix_b must have the same element type");
    (void)satf;
    gfemu::wmma_call call{&gfemu::wmma_mma<M, N, K, TA, LA, TB, LB, TC>::run, "mma_sync", &d, &a, &b, &c, nullptr, 0, 0};
    gfemu::wmma_collective(call, file, line);
}
}  // namespace wmma
}  // namespace nvcuda

#endif  // GPUFLOW_CUDA_EMU_H
