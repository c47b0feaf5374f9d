// cuda_emu_runtime.cpp — the fiber scheduler behind gpuflow's CUDA emulator (see README.md).
//
// Compiled once per (compiler, flags) into an object that is linked into every emulated module.
// gfemu_launch() runs a grid on the calling OS thread, one block after another. The threads of a
// block are fibers (one stack each, taken from a pool); a fiber runs until it reaches
// __syncthreads*, __syncwarp / a *_sync warp intrinsic, or the end of the kernel, and then switches
// back to the scheduler. The scheduler runs in rounds: every runnable thread once, in forward,
// reverse or shuffled (seeded) order. A warp operation completes when the last lane named in its
// mask arrives; a block barrier completes when every thread of the block waits at it. When no thread
// can run and the block has not finished (a barrier in divergent code, a lane that exited before a
// warp operation, ...), the launch fails with a description instead of hanging.
//
// Context switch: on x86-64 a hand-written stack switch (saves the callee-saved registers and the
// stack pointer, ~10 ns); elsewhere (or with -DGFEMU_FORCE_UCONTEXT) ucontext's swapcontext, which
// makes a system call per switch. Under AddressSanitizer every switch is announced with
// __sanitizer_start_switch_fiber / __sanitizer_finish_switch_fiber.
#include <algorithm>
#include <atomic>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if !defined(__x86_64__) || defined(GFEMU_FORCE_UCONTEXT)
#define GFEMU_UCONTEXT 1
#include <ucontext.h>
#endif

#define GFEMU_RUNTIME 1
#include "cuda_emu.h"

#define GFEMU_EXPORT extern "C" __attribute__((visibility("default")))
#define GFEMU_MAX_DYNAMIC_SMEM (227 * 1024)  // sm_90's opt-in maximum per block

uint3 threadIdx, blockIdx;
dim3 blockDim, gridDim;
alignas(256) char gfemu_dynamic_smem[GFEMU_MAX_DYNAMIC_SMEM];

namespace {

enum State { RUNNABLE, AT_BARRIER, AT_WARP, EXITED };
enum Schedule { FORWARD = 0, REVERSE = 1, SHUFFLE = 2 };

struct Fiber {
#ifdef GFEMU_UCONTEXT
    ucontext_t uc;
#else
    void* sp = nullptr;
#endif
    char* stack_lo = nullptr;
    size_t stack_size = 0;
    void* asan_fake = nullptr;
};

struct Thread {
    Fiber fiber;
    uint3 tid;
    int index, lane, warp;
    int state;
    // What the thread waits at (barrier kind or warp op), with its arguments and result.
    int op;
    const char* file;
    int line;
    unsigned mask;
    unsigned long long value;
    int arg, width, pred;
    unsigned long long result;
    int result_pred;
    // cp.async (__pipeline_memcpy_async) copies issued and not yet waited for, oldest first, and the
    // number of copies in each committed group (the rest, at the end, is the uncommitted group).
    struct AsyncCopy {
        char* dst;
        unsigned char bytes[16];  // the source, read when the copy was issued, zero-filled past size - zfill
        unsigned size;
    };
    std::vector<AsyncCopy> copies;
    std::vector<size_t> groups;
};

struct Launch {
    void (*thunk)(void**) = nullptr;
    void** args = nullptr;
    unsigned nthreads = 0;
    int schedule = FORWARD;
    unsigned long long seed = 0, rng = 0;
    unsigned long long nonce = 0, launches = 0;  // nonce: per launch, seeds the wmma fragment layouts
    std::vector<Thread> threads;
    std::vector<int> runlist, next, all;  // all: 0..n-1 in schedule order (forward/reverse)
    int n_exited = 0, n_at_barrier = 0;
    Fiber sched;
    const void* sched_stack_lo = nullptr;
    size_t sched_stack_size = 0;
    Thread* cur = nullptr;
    size_t pos = 0;  // next index into runlist in the current round
    bool failed = false;
    std::string error;
};
Launch L;

// ---- watchdog: a spin-wait never yields, so a launch that waits for another thread or block hangs.
// A background thread notices when no fiber switch happened for GPUFLOW_EMU_WATCHDOG_S seconds
// (default 60, 0 = off) and says so on stderr (it cannot stop the fiber).
std::atomic<unsigned long long> g_progress{0};
std::atomic<int> g_active{0};
const char* g_kernel = "";
pthread_once_t g_watchdog_once = PTHREAD_ONCE_INIT;

void* watchdog(void* arg) {
    const long limit = (long)(intptr_t)arg;
    unsigned long long last = ~0ull;
    long still = 0;
    for (;;) {
        sleep(1);
        const unsigned long long p = g_progress.load(std::memory_order_relaxed);
        if (!g_active.load(std::memory_order_relaxed) || p != last) { last = p; still = 0; continue; }
        if (++still == limit) {
            fprintf(stderr, "gpuflow emulator: kernel '%s' has run for %ld s without any thread reaching a barrier, "
                    "a warp operation or its end. If a thread spins waiting for another thread or block, it "
                    "never finishes: the emulator runs one thread at a time and cannot emulate spin-waits.\n",
                    g_kernel, limit);
            fflush(stderr);
        }
    }
    return nullptr;
}

void start_watchdog() {
    long limit = 60;
    if (const char* s = getenv("GPUFLOW_EMU_WATCHDOG_S")) limit = strtol(s, nullptr, 10);
    if (limit <= 0) return;
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    pthread_create(&th, &attr, watchdog, (void*)(intptr_t)limit);
    pthread_attr_destroy(&attr);
}

// ---- stacks -------------------------------------------------------------------------------------
char* g_stacks = nullptr;
size_t g_stack_count = 0, g_stack_size = 0, g_stack_stride = 0;

size_t stack_size_setting() {
#if defined(__SANITIZE_ADDRESS__)
    size_t kb = 512;
#else
    size_t kb = 64;
#endif
    if (const char* s = getenv("GPUFLOW_EMU_STACK_KB")) {
        long v = strtol(s, nullptr, 10);
        if (v >= 16) kb = (size_t)v;
    }
    return kb * 1024;
}

bool ensure_stacks(size_t n) {
    if (n <= g_stack_count) return true;
    if (g_stacks) {
#if defined(__SANITIZE_ADDRESS__)
        // Fibers that ended inside leave() left their frames' redzones poisoned in ASan's shadow, and
        // munmap does not clear it: a library loaded later into these addresses would inherit the
        // poison on its uninstrumented globals (template statics) and report a false
        // stack-buffer-underflow there.
        ASAN_UNPOISON_MEMORY_REGION(g_stacks, g_stack_count * g_stack_stride);
#endif
        munmap(g_stacks, g_stack_count * g_stack_stride);
    }
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    g_stack_size = (stack_size_setting() + page - 1) / page * page;
    g_stack_stride = g_stack_size + page;  // one guard page below each stack
    void* p = mmap(nullptr, n * g_stack_stride, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) { g_stacks = nullptr; g_stack_count = 0; return false; }
    g_stacks = (char*)p;
    g_stack_count = n;
    for (size_t i = 0; i < n; ++i) mprotect(g_stacks + i * g_stack_stride, page, PROT_NONE);
    return true;
}

// ---- context switch -----------------------------------------------------------------------------
inline void asan_start(void** fake, const void* lo, size_t size) {
#if defined(__SANITIZE_ADDRESS__)
    __sanitizer_start_switch_fiber(fake, lo, size);
#else
    (void)fake; (void)lo; (void)size;
#endif
}
inline void asan_finish(void* fake, const void** lo, size_t* size) {
#if defined(__SANITIZE_ADDRESS__)
    __sanitizer_finish_switch_fiber(fake, lo, size);
#else
    (void)fake; (void)lo; (void)size;
#endif
}

}  // namespace

extern "C" __attribute__((visibility("hidden"), used, noreturn)) void gfemu_fiber_main(Thread* t);

#ifndef GFEMU_UCONTEXT
// gfemu_switch(save, to): push the callee-saved registers, store rsp in *save, load rsp = to, pop
// the other fiber's registers and return into it. gfemu_fiber_entry is where a new fiber's first
// switch "returns" to: its Thread* sits in r12 (see fiber_init).
extern "C" void gfemu_switch(void** save, void* to) __attribute__((visibility("hidden")));
extern "C" void gfemu_fiber_entry() __attribute__((visibility("hidden")));
asm(R"(
    .text
    .p2align 4
    .globl gfemu_switch
    .hidden gfemu_switch
    .type gfemu_switch, @function
gfemu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size gfemu_switch, .-gfemu_switch
    .p2align 4
    .globl gfemu_fiber_entry
    .hidden gfemu_fiber_entry
    .type gfemu_fiber_entry, @function
gfemu_fiber_entry:
    movq %r12, %rdi
    call gfemu_fiber_main
    ud2
    .size gfemu_fiber_entry, .-gfemu_fiber_entry
)");
#else
static void gfemu_uc_entry(unsigned hi, unsigned lo) {
    gfemu_fiber_main((Thread*)(((uintptr_t)hi << 32) | (uintptr_t)lo));
}
#endif

namespace {

void fiber_init(Thread* t, char* lo, size_t size) {
    Fiber& f = t->fiber;
    f.stack_lo = lo;
    f.stack_size = size;
    f.asan_fake = nullptr;
#ifdef GFEMU_UCONTEXT
    getcontext(&f.uc);
    f.uc.uc_stack.ss_sp = lo;
    f.uc.uc_stack.ss_size = size;
    f.uc.uc_link = nullptr;
    const uintptr_t p = (uintptr_t)t;
    makecontext(&f.uc, (void (*)())gfemu_uc_entry, 2, (unsigned)(p >> 32), (unsigned)(p & 0xffffffffu));
#else
    void** sp = (void**)(((uintptr_t)(lo + size)) & ~(uintptr_t)15);
    *--sp = nullptr;                       // never used: keeps the frame below 16-byte aligned
    *--sp = nullptr;
    *--sp = (void*)&gfemu_fiber_entry;     // "return address" of the first switch
    *--sp = nullptr;                       // rbp
    *--sp = nullptr;                       // rbx
    *--sp = (void*)t;                      // r12: the Thread*, moved to rdi by gfemu_fiber_entry
    *--sp = nullptr;                       // r13
    *--sp = nullptr;                       // r14
    *--sp = nullptr;                       // r15
    f.sp = sp;
#endif
}

inline void resume(Thread* t) {  // scheduler -> fiber t
    L.cur = t;
    threadIdx = t->tid;
    asan_start(&L.sched.asan_fake, t->fiber.stack_lo, t->fiber.stack_size);
#ifdef GFEMU_UCONTEXT
    swapcontext(&L.sched.uc, &t->fiber.uc);
#else
    gfemu_switch(&L.sched.sp, t->fiber.sp);
#endif
    asan_finish(L.sched.asan_fake, nullptr, nullptr);
}

void leave(Thread* t, bool dying);  // fiber t -> the next fiber of the round, or the scheduler

std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char* f, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, sizeof buf, f, ap);
    va_end(ap);
    return buf;
}

std::string tid_str(const Thread& t) { return fmt("(%u,%u,%u)", t.tid.x, t.tid.y, t.tid.z); }
std::string block_str() { return fmt("block (%u,%u,%u)", blockIdx.x, blockIdx.y, blockIdx.z); }

void fail(const std::string& msg) {
    if (!L.failed) { L.failed = true; L.error = msg; }
}

// Called on a fiber: records the error and parks the fiber for good (the scheduler stops the launch).
[[noreturn]] void fail_in_fiber(const std::string& msg) {
    Thread* t = L.cur;
    fail(fmt("%s, thread %s: ", block_str().c_str(), tid_str(*t).c_str()) + msg);
    t->state = EXITED;
    for (;;) leave(t, false);
}

const char* op_name(int op) {
    static const char* names[] = {"__syncwarp", "__shfl_sync", "__shfl_up_sync", "__shfl_down_sync",
                                  "__shfl_xor_sync", "__ballot_sync", "__any_sync", "__all_sync",
                                  "__match_any_sync", "__match_all_sync", "__reduce_add_sync",
                                  "__reduce_min_sync", "__reduce_max_sync", "__reduce_min_sync",
                                  "__reduce_max_sync", "__reduce_and_sync", "__reduce_or_sync",
                                  "__reduce_xor_sync", "nvcuda::wmma::*_sync"};
    return op >= 0 && op < GFEMU_NUM_WARP_OPS ? names[op] : "?";
}
const char* barrier_name(int kind) {
    static const char* names[] = {"__syncthreads()", "__syncthreads_count()", "__syncthreads_and()",
                                  "__syncthreads_or()"};
    return names[kind];
}
std::string where(const Thread& t) {
    if (t.state == EXITED) return "exited";
    if (t.state == RUNNABLE) return "runnable";
    if (t.state == AT_BARRIER) return fmt("wait at %s (%s:%d)", barrier_name(t.op), t.file, t.line);
    if (t.op == GFEMU_WMMA)
        return fmt("wait at nvcuda::wmma::%s (%s:%d)", ((const gfemu::wmma_call*)(uintptr_t)t.value)->what, t.file,
                   t.line);
    return fmt("wait at %s(mask 0x%08x) (%s:%d)", op_name(t.op), t.mask, t.file, t.line);
}
bool same_site(const Thread& a, const Thread& b) {
    return a.line == b.line && (a.file == b.file || strcmp(a.file, b.file) == 0);
}

// "32 threads (first (0,0,0)) wait at __syncthreads() (k.cu:7); 32 threads (first (32,0,0)) exited"
std::string summarize(const std::vector<int>& idx) {
    std::vector<std::pair<std::string, std::pair<int, int>>> groups;  // text -> (count, first)
    for (int i : idx) {
        std::string w = where(L.threads[i]);
        auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == w; });
        if (it == groups.end()) groups.push_back({w, {1, i}});
        else it->second.first++;
    }
    std::string s;
    for (size_t g = 0; g < groups.size(); ++g) {
        if (g) s += "; ";
        if (g == 4) { s += fmt("... (%zu more groups)", groups.size() - 4); break; }
        const int n = groups[g].second.first;
        s += fmt("%d thread%s (first %s) %s", n, n == 1 ? "" : "s",
                 tid_str(L.threads[groups[g].second.second]).c_str(), groups[g].first.c_str());
    }
    return s;
}

unsigned long long splitmix(unsigned long long& x) {
    unsigned long long z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void order(std::vector<int>& v) {
    if (L.schedule == FORWARD) std::sort(v.begin(), v.end());
    else if (L.schedule == REVERSE) std::sort(v.begin(), v.end(), [](int a, int b) { return a > b; });
    else
        for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[splitmix(L.rng) % i]);
}

unsigned lanes_of_warp(int warp) {
    const unsigned first = (unsigned)warp * 32u, n = std::min(32u, L.nthreads - first);
    return n == 32 ? 0xffffffffu : ((1u << n) - 1u);
}

const char* const kWmmaCollective =
    " (nvcuda::wmma operations are warp-collective: all 32 lanes of the warp must call the same one at the same "
    "place together; a call from a diverged warp is undefined on a GPU)";

// Called by the scheduler after thread t arrived at a warp operation: completes the operation if
// every lane named in the mask has arrived.
void check_warp(Thread* t) {
    const unsigned mask = t->mask;
    const unsigned exist = lanes_of_warp(t->warp);
    Thread* base = &L.threads[(size_t)t->warp * 32];
    if (mask & ~exist) {
        fail(fmt("%s, thread %s: %s(mask 0x%08x) at %s:%d names lanes that do not exist (warp %d has lanes "
                 "mask 0x%08x with blockDim (%u,%u,%u)); on a GPU the result is undefined",
                 block_str().c_str(), tid_str(*t).c_str(), op_name(t->op), mask, t->file, t->line, t->warp, exist,
                 blockDim.x, blockDim.y, blockDim.z));
        return;
    }
    for (int l = 0; l < 32; ++l) {
        if (!(mask >> l & 1u)) continue;
        Thread* u = base + l;
        if (u->state == EXITED) {
            fail(fmt("%s: thread %s waits at %s(mask 0x%08x) (%s:%d), but lane %d (thread %s) named in the mask "
                     "has exited; every lane in the mask must reach the same warp operation%s",
                     block_str().c_str(), tid_str(*t).c_str(), op_name(t->op), mask, t->file, t->line, l,
                     tid_str(*u).c_str(), t->op == GFEMU_WMMA ? kWmmaCollective : ""));
            return;
        }
        if (u->state != AT_WARP) return;  // not there yet
        const bool wmma_apart = t->op == GFEMU_WMMA && u->op == GFEMU_WMMA &&
            (!same_site(*t, *u) || ((const gfemu::wmma_call*)(uintptr_t)u->value)->complete !=
                                   ((const gfemu::wmma_call*)(uintptr_t)t->value)->complete);
        if (wmma_apart) {
            fail(fmt("%s: lanes of warp %d are at different wmma operations: thread %s %s, thread %s %s%s",
                     block_str().c_str(), t->warp, tid_str(*t).c_str(), where(*t).c_str(), tid_str(*u).c_str(),
                     where(*u).c_str(), kWmmaCollective));
            return;
        }
        if (u->op != t->op || u->mask != t->mask) {
            fail(fmt("%s: lanes of warp %d disagree: thread %s %s, thread %s %s (all lanes in a mask must "
                     "execute the same warp operation with the same mask)",
                     block_str().c_str(), t->warp, tid_str(*t).c_str(), where(*t).c_str(), tid_str(*u).c_str(),
                     where(*u).c_str()));
            return;
        }
    }
    // Everyone is here: compute every lane's result from the values deposited.
    const int op = t->op;
    if (op == GFEMU_WMMA) {  // the header's typed code does the work for the whole warp
        gfemu::wmma_call* calls[32];
        for (int l = 0; l < 32; ++l) calls[l] = (gfemu::wmma_call*)(uintptr_t)base[l].value;
        calls[0]->complete(calls);
        if (L.failed) return;
        for (int l = 0; l < 32; ++l) { base[l].state = RUNNABLE; L.next.push_back(base[l].index); }
        return;
    }
    unsigned ballot = 0;
    for (int l = 0; l < 32; ++l)
        if ((mask >> l & 1u) && base[l].value) ballot |= 1u << l;
    for (int l = 0; l < 32; ++l) {
        if (!(mask >> l & 1u)) continue;
        Thread& u = base[l];
        u.result_pred = 0;
        const int w = u.width;
        const int seg = l & ~(w - 1) & 31, max_lane = seg | (w - 1);
        int src = l;
        switch (op) {
            case GFEMU_SHFL_IDX: src = seg | (u.arg & (w - 1)); break;
            case GFEMU_SHFL_UP: src = ((unsigned)u.arg > 31u || l - u.arg < seg) ? l : l - u.arg; break;
            case GFEMU_SHFL_DOWN: src = ((unsigned)u.arg > 31u || l + u.arg > max_lane) ? l : l + u.arg; break;
            case GFEMU_SHFL_XOR: src = l ^ (u.arg & 31); if (src > max_lane) src = l; break;
            default: break;
        }
        switch (op) {
            case GFEMU_SHFL_IDX: case GFEMU_SHFL_UP: case GFEMU_SHFL_DOWN: case GFEMU_SHFL_XOR:
                // A source lane outside the mask is undefined on a GPU; the emulator returns the own value.
                u.result = (mask >> src & 1u) ? base[src].value : u.value;
                break;
            case GFEMU_BALLOT: u.result = ballot; break;
            case GFEMU_ANY: u.result = ballot != 0; break;
            case GFEMU_ALL: u.result = ballot == mask; break;
            case GFEMU_MATCH_ANY: case GFEMU_MATCH_ALL: {
                unsigned m = 0;
                for (int k = 0; k < 32; ++k)
                    if ((mask >> k & 1u) && base[k].value == u.value) m |= 1u << k;
                if (op == GFEMU_MATCH_ANY) u.result = m;
                else { u.result_pred = (m == mask); u.result = m == mask ? mask : 0u; }
                break;
            }
            default: {  // 32-bit reductions over the lanes in the mask
                unsigned long long acc = 0;
                bool first = true;
                for (int k = 0; k < 32; ++k) {
                    if (!(mask >> k & 1u)) continue;
                    const unsigned v = (unsigned)base[k].value;
                    if (first) { acc = v; first = false; continue; }
                    const unsigned a = (unsigned)acc;
                    switch (op) {
                        case GFEMU_REDUCE_ADD: acc = a + v; break;
                        case GFEMU_REDUCE_MIN_U: acc = std::min(a, v); break;
                        case GFEMU_REDUCE_MAX_U: acc = std::max(a, v); break;
                        case GFEMU_REDUCE_MIN_I: acc = (unsigned)std::min((int)a, (int)v); break;
                        case GFEMU_REDUCE_MAX_I: acc = (unsigned)std::max((int)a, (int)v); break;
                        case GFEMU_REDUCE_AND: acc = a & v; break;
                        case GFEMU_REDUCE_OR: acc = a | v; break;
                        case GFEMU_REDUCE_XOR: acc = a ^ v; break;
                        default: break;
                    }
                }
                u.result = op == GFEMU_SYNCWARP ? 0 : acc;
            }
        }
    }
    for (int l = 0; l < 32; ++l)
        if (mask >> l & 1u) { base[l].state = RUNNABLE; L.next.push_back(base[l].index); }
}

// No thread can run: either the block is done, or every live thread waits at the same barrier
// (release it), or the block is stuck (fail). Returns true when the block finished.
bool settle(bool& released) {
    released = false;
    if ((unsigned)L.n_exited == L.nthreads) return true;
    std::vector<int> all;  // for messages only
    if ((unsigned)L.n_at_barrier == L.nthreads) {
        const Thread* first = &L.threads[0];
        int count = 0;
        bool same = true;
        for (const Thread& t : L.threads) {
            count += t.pred;
            same &= t.op == first->op && same_site(t, *first);
        }
        if (!same) {
            for (unsigned i = 0; i < L.nthreads; ++i) all.push_back((int)i);
            fail(fmt("%s: threads wait at different barriers: %s. A barrier in divergent code is undefined "
                     "behaviour in CUDA; every thread of the block must reach the same __syncthreads()",
                     block_str().c_str(), summarize(all).c_str()));
            return false;
        }
        const int kind = first->op, n = (int)L.nthreads;
        const int r = kind == GFEMU_BAR_COUNT ? count : kind == GFEMU_BAR_AND ? count == n
                    : kind == GFEMU_BAR_OR ? count > 0 : 0;
        for (Thread& t : L.threads) { t.state = RUNNABLE; t.result_pred = r; }
        L.n_at_barrier = 0;
        if (L.schedule == SHUFFLE) {
            for (unsigned i = 0; i < L.nthreads; ++i) L.runlist.push_back((int)i);
            order(L.runlist);
        } else {
            L.runlist = L.all;
        }
        released = true;
        return false;
    }
    for (unsigned i = 0; i < L.nthreads; ++i) all.push_back((int)i);
    if (L.n_at_barrier > 0 && L.n_at_barrier + L.n_exited == (int)L.nthreads)
        fail(fmt("%s cannot finish: %s. Every thread of the block must reach each __syncthreads() (a barrier "
                 "after an early return or in a divergent branch hangs on a GPU)",
                 block_str().c_str(), summarize(all).c_str()));
    else {
        const bool wmma = std::any_of(L.threads.begin(), L.threads.end(),
                                      [](const Thread& t) { return t.state == AT_WARP && t.op == GFEMU_WMMA; });
        fail(fmt("%s cannot finish (deadlock): %s%s", block_str().c_str(), summarize(all).c_str(),
                 wmma ? kWmmaCollective : ""));
    }
    return false;
}

// Fibers hand over to each other directly: the one that stops (at a barrier, a warp operation or the
// end) records its state and switches to the next thread of the round; the last one of the round
// switches back to the scheduler. One context switch per thread per round.
void leave(Thread* t, bool dying) {
    g_progress.fetch_add(1, std::memory_order_relaxed);
    if (t->state == AT_BARRIER) ++L.n_at_barrier;
    else if (t->state == EXITED) ++L.n_exited;
    else if (t->state == AT_WARP && !L.failed) check_warp(t);
    Thread* n = (!L.failed && L.pos < L.runlist.size()) ? &L.threads[L.runlist[L.pos++]] : nullptr;
    if (n) {
        L.cur = n;
        threadIdx = n->tid;
    }
    asan_start(dying ? nullptr : &t->fiber.asan_fake, n ? n->fiber.stack_lo : L.sched_stack_lo,
               n ? n->fiber.stack_size : L.sched_stack_size);
#ifdef GFEMU_UCONTEXT
    ucontext_t* to = n ? &n->fiber.uc : &L.sched.uc;
    if (dying) setcontext(to);
    else swapcontext(&t->fiber.uc, to);
#else
    void* dead;
    gfemu_switch(dying ? &dead : &t->fiber.sp, n ? n->fiber.sp : L.sched.sp);
#endif
    asan_finish(t->fiber.asan_fake, nullptr, nullptr);
}

bool run_block() {
    for (unsigned i = 0; i < L.nthreads; ++i) {
        Thread& t = L.threads[i];
        t.index = (int)i;
        t.tid.x = i % blockDim.x;
        t.tid.y = (i / blockDim.x) % blockDim.y;
        t.tid.z = i / (blockDim.x * blockDim.y);
        t.lane = (int)(i & 31u);
        t.warp = (int)(i >> 5);
        t.state = RUNNABLE;
        t.result_pred = 0;
        t.copies.clear();
        t.groups.clear();
        // Stack tops at different offsets within a page ("colouring"): with equal offsets the hot
        // top frames of all fibers compete for the same L1 cache sets.
        const size_t colour = (i % 63u) * 64u;
        char* stack = g_stacks + i * g_stack_stride + (g_stack_stride - g_stack_size);
#if defined(__SANITIZE_ADDRESS__)
        // The previous block's fibers ended inside leave() (which never returns) or were abandoned:
        // their frames' redzones are still poisoned in ASan's shadow. A fresh fiber on the same
        // stack must start clean, else its own locals (a fragment passed by reference, ...) land on
        // stale poison and report a false stack-buffer-underflow.
        ASAN_UNPOISON_MEMORY_REGION(stack, g_stack_size);
#endif
        fiber_init(&t, stack, g_stack_size - colour);
    }
    L.n_exited = L.n_at_barrier = 0;
    L.runlist.clear();
    for (unsigned i = 0; i < L.nthreads; ++i) L.runlist.push_back((int)i);
    order(L.runlist);
    for (;;) {
        L.pos = 0;
        if (!L.runlist.empty()) resume(&L.threads[L.runlist[L.pos++]]);  // returns when the round is over
        if (L.failed) return false;
        L.runlist.clear();
        if (!L.next.empty()) {
            std::swap(L.runlist, L.next);
            order(L.runlist);
            continue;
        }
        bool released;
        if (settle(released)) return true;
        if (!released) return false;
    }
}

}  // namespace

extern "C" void gfemu_fiber_main(Thread* t) {
    asan_finish(nullptr, nullptr, nullptr);
    L.thunk(L.args);
    t->state = EXITED;
    leave(t, true);
    __builtin_unreachable();
}

extern "C" int gfemu_barrier(int kind, int pred, const char* file, int line) {
    Thread* t = L.cur;
    t->state = AT_BARRIER;
    t->op = kind;
    t->pred = pred != 0;
    t->file = file;
    t->line = line;
    leave(t, false);
    return t->result_pred;
}

extern "C" unsigned long long gfemu_warp(int op, unsigned mask, unsigned long long value, int arg, int width,
                                         const char* file, int line, int* pred_out) {
    Thread* t = L.cur;
    if (!(mask >> t->lane & 1u))
        fail_in_fiber(fmt("%s(mask 0x%08x) at %s:%d is called by lane %d, which is not in the mask",
                          op_name(op), mask, file, line, t->lane));
    if (width < 1 || width > 32 || (width & (width - 1)))
        fail_in_fiber(fmt("%s at %s:%d: width %d is not a power of 2 in [1, 32]", op_name(op), file, line, width));
    t->state = AT_WARP;
    t->op = op;
    t->mask = mask;
    t->value = value;
    t->arg = arg;
    t->width = width;
    t->file = file;
    t->line = line;
    leave(t, false);
    if (pred_out) *pred_out = t->result_pred;
    return t->result;
}

extern "C" unsigned long long gfemu_launch_nonce(void) { return L.nonce; }

// cp.async (cuda_pipeline_primitives.h). The copy reads its source now and fills its destination with
// 0xff bytes (NaN as float): the data lands only when the thread waits for its group, so a read
// before __pipeline_wait_prior (plus the __syncthreads that makes other threads' copies visible)
// sees the poison, as it would see stale data on a GPU.
extern "C" void gfemu_cp_async(void* dst, const void* src, size_t size, size_t zfill, const char* file, int line) {
    if ((size != 4 && size != 8 && size != 16) || zfill > size)
        fail_in_fiber(fmt("__pipeline_memcpy_async at %s:%d: size_and_align must be 4, 8 or 16 and zfill at most "
                          "that. Received: size_and_align=%zu, zfill=%zu", file, line, size, zfill));
    if (((uintptr_t)dst | (uintptr_t)src) & (size - 1))
        fail_in_fiber(fmt("__pipeline_memcpy_async at %s:%d: dst %p and src %p must be aligned to size_and_align=%zu",
                          file, line, dst, src, size));
    Thread::AsyncCopy c;
    c.dst = (char*)dst;
    c.size = (unsigned)size;
    memset(c.bytes, 0, sizeof c.bytes);
    if (size > zfill) memcpy(c.bytes, src, size - zfill);
    memset(dst, 0xff, size);
    L.cur->copies.push_back(c);
}

extern "C" void gfemu_cp_commit(void) {
    Thread* t = L.cur;
    size_t committed = 0;
    for (size_t g : t->groups) committed += g;
    t->groups.push_back(t->copies.size() - committed);
}

extern "C" void gfemu_cp_wait_prior(size_t prior) {
    Thread* t = L.cur;
    if (t->groups.size() <= prior) return;
    size_t done = 0;  // copies of the groups that complete: all but the newest `prior`
    const size_t ngroups = t->groups.size() - prior;
    for (size_t g = 0; g < ngroups; ++g) done += t->groups[g];
    for (size_t i = 0; i < done; ++i) memcpy(t->copies[i].dst, t->copies[i].bytes, t->copies[i].size);
    t->copies.erase(t->copies.begin(), t->copies.begin() + (long)done);
    t->groups.erase(t->groups.begin(), t->groups.begin() + (long)ngroups);
}

extern "C" void gfemu_warp_error(const char* msg) { fail(block_str() + ": " + msg); }

extern "C" unsigned gfemu_activemask(void) {
    const Thread* t = L.cur;
    const Thread* base = &L.threads[(size_t)t->warp * 32];
    const unsigned exist = lanes_of_warp(t->warp);
    unsigned m = 0;
    for (int l = 0; l < 32; ++l)
        if ((exist >> l & 1u) && base[l].state != EXITED) m |= 1u << l;
    return m;
}

extern "C" void gfemu_trap(const char* what, const char* file, int line) {
    fail_in_fiber(fmt("%s at %s:%d", what, file, line));
}

// Runs one grid. args[i] points at the value of parameter i (a device pointer or a scalar).
// smem_regions: n_regions (address, size) pairs of static __shared__ variables, filled with 0xff
// before every block. copy_sizes (bounds checking, may be null): for each argument, -1 for a scalar,
// else the byte size of the array it points to; the launch then runs on exact-size heap copies whose
// start keeps the original address modulo 16 (the bytes before it are poisoned), written back
// afterwards where copy_back[i] is set. Returns 0, or -1 with a message in err.
GFEMU_EXPORT int gfemu_launch(void (*thunk)(void**), void** args, int nargs, const unsigned* grid,
                              const unsigned* block, unsigned long long shared_mem, int schedule,
                              unsigned long long seed, const unsigned long long* smem_regions, int n_regions,
                              const long long* copy_sizes, const int* copy_back, const char* kernel_name,
                              char* err, int errlen) {
    pthread_once(&g_watchdog_once, start_watchdog);
    g_kernel = kernel_name ? kernel_name : "?";
    L.failed = false;
    L.error.clear();
    auto finish = [&](int rc) {
        if (rc && err && errlen > 0) snprintf(err, (size_t)errlen, "%s", L.error.c_str());
        return rc;
    };
    const unsigned long long nthreads = (unsigned long long)block[0] * block[1] * block[2];
    if (nthreads == 0 || nthreads > 1024) { L.error = "invalid block size"; L.failed = true; return finish(-1); }
    if (shared_mem > GFEMU_MAX_DYNAMIC_SMEM) {
        L.error = fmt("shared_mem=%llu bytes exceeds the emulator's maximum of %d", shared_mem, GFEMU_MAX_DYNAMIC_SMEM);
        L.failed = true;
        return finish(-1);
    }
    if (!ensure_stacks(nthreads)) { L.error = "cannot allocate fiber stacks"; L.failed = true; return finish(-1); }

    // Exact-size copies of the array arguments (bounds checking).
    std::vector<void*> orig(nargs, nullptr), alloc(nargs, nullptr), slot(nargs, nullptr);
    std::vector<void*> local_args(args, args + nargs);
    if (copy_sizes) {
        for (int i = 0; i < nargs; ++i) {
            if (copy_sizes[i] < 0) continue;
            orig[i] = *(void**)args[i];
            int same = -1;
            for (int j = 0; j < i; ++j)
                if (copy_sizes[j] == copy_sizes[i] && orig[j] == orig[i]) { same = j; break; }
            if (same >= 0) { slot[i] = slot[same]; }
            else {
                const size_t off = (uintptr_t)orig[i] & 15u, n = (size_t)copy_sizes[i];
                alloc[i] = malloc(off + n);
                char* p = (char*)alloc[i] + off;
                if (n) memcpy(p, orig[i], n);
#if defined(__SANITIZE_ADDRESS__)
                if (off) ASAN_POISON_MEMORY_REGION(alloc[i], off);
#endif
                slot[i] = p;
#if defined(__SANITIZE_ADDRESS__)
                // The loader maps an ASan report's address back to the argument with this line.
                fprintf(stderr, "gfemu-arg %d %p %llu\n", i, (void*)p, (unsigned long long)n);
#endif
            }
            local_args[i] = &slot[i];
        }
    }
#if defined(__SANITIZE_ADDRESS__)
    ASAN_POISON_MEMORY_REGION(gfemu_dynamic_smem + shared_mem, GFEMU_MAX_DYNAMIC_SMEM - shared_mem);
    fprintf(stderr, "gfemu-smem %p %llu\n", (void*)gfemu_dynamic_smem, shared_mem);
#endif

#if defined(__SANITIZE_ADDRESS__)
    {  // the scheduler's stack, announced to ASan when a fiber switches back to it
        pthread_attr_t attr;
        void* lo = nullptr;
        size_t size = 0;
        if (pthread_getattr_np(pthread_self(), &attr) == 0) {
            pthread_attr_getstack(&attr, &lo, &size);
            pthread_attr_destroy(&attr);
        }
        L.sched_stack_lo = lo;
        L.sched_stack_size = size;
    }
#endif
    L.thunk = thunk;
    L.args = local_args.data();
    L.nthreads = (unsigned)nthreads;
    L.schedule = schedule;
    L.seed = seed;
    {  // a new wmma fragment layout for every launch (a function of the seed and the launch count)
        unsigned long long x = seed ^ (++L.launches * 0xd1b54a32d192ed03ull);
        L.nonce = splitmix(x);
        if (L.nonce == ~0ull) L.nonce = 0;
    }
    L.threads.assign(nthreads, Thread());
    L.runlist.clear();
    L.next.clear();
    L.runlist.reserve(nthreads);
    L.next.reserve(nthreads);
    L.all.resize(nthreads);
    for (unsigned i = 0; i < nthreads; ++i) L.all[i] = schedule == REVERSE ? (int)(nthreads - 1 - i) : (int)i;
    blockDim = dim3(block[0], block[1], block[2]);
    gridDim = dim3(grid[0], grid[1], grid[2]);
    const unsigned long long nblocks = (unsigned long long)grid[0] * grid[1] * grid[2];
    std::vector<unsigned long long> border;
    if (schedule != FORWARD && nblocks <= (1ull << 24)) {
        border.resize(nblocks);
        for (unsigned long long b = 0; b < nblocks; ++b) border[b] = schedule == REVERSE ? nblocks - 1 - b : b;
        if (schedule == SHUFFLE) {
            unsigned long long r = seed ^ 0x5bd1e995ull;
            for (size_t i = border.size(); i > 1; --i) std::swap(border[i - 1], border[splitmix(r) % i]);
        }
    }
    int rc = 0;
    g_active.store(1);
    for (unsigned long long k = 0; k < nblocks; ++k) {
        const unsigned long long b = border.empty() ? k : border[k];
        blockIdx.x = (unsigned)(b % grid[0]);
        blockIdx.y = (unsigned)((b / grid[0]) % grid[1]);
        blockIdx.z = (unsigned)(b / ((unsigned long long)grid[0] * grid[1]));
        L.rng = seed * 0x9e3779b97f4a7c15ull + b;
        for (int r = 0; r < n_regions; ++r)
            memset((void*)(uintptr_t)smem_regions[2 * r], 0xff, (size_t)smem_regions[2 * r + 1]);
        memset(gfemu_dynamic_smem, 0xff, (size_t)shared_mem);
        if (!run_block()) { rc = -1; break; }
    }
    g_active.store(0);
#if defined(__SANITIZE_ADDRESS__)
    ASAN_UNPOISON_MEMORY_REGION(gfemu_dynamic_smem, GFEMU_MAX_DYNAMIC_SMEM);
    if (rc) ASAN_UNPOISON_MEMORY_REGION(g_stacks, g_stack_count * g_stack_stride);  // abandoned frames
#endif
    if (copy_sizes) {
        for (int i = 0; i < nargs; ++i) {
            if (!alloc[i]) continue;
            const size_t off = (uintptr_t)orig[i] & 15u;
#if defined(__SANITIZE_ADDRESS__)
            if (off) ASAN_UNPOISON_MEMORY_REGION(alloc[i], off);
#endif
            bool back = false;  // written back if any argument sharing this copy is writable
            for (int j = i; j < nargs && copy_back; ++j) back |= (slot[j] == slot[i] && copy_back[j]);
            if (back && copy_sizes[i] > 0) memcpy(orig[i], (char*)alloc[i] + off, (size_t)copy_sizes[i]);
            free(alloc[i]);
        }
    }
    L.threads.clear();
    return finish(rc);
}

// A single-threaded sanity probe used by the loader's self-test.
GFEMU_EXPORT int gfemu_runtime_version(void) { return 1; }
