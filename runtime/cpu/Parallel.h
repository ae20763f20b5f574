// The CPU backend's threads for its element-wise kernels (BLAS has its own): a small pool that
// splits a loop over independent outputs into contiguous chunks. Each output is computed by
// exactly one thread with the same arithmetic in the same order as on one thread, so results
// are bit for bit those of one thread whatever the count; a reduction is parallel only over its
// results (e.g. BatchNorm's channels), each summed in its sequential order.
#pragma once

#include <cstdint>

namespace lrc::cpu {

// The threads parallel_for uses (>= 1; default 1), and oneDNN's (OpenMP's, where loaded).
// lrc-run sets it from --threads.
void set_threads(int n);
int threads();

// The machine's physical cores: distinct (package, core) ids of the online CPUs in
// /sys/devices/system/cpu/cpu*/topology, else std::thread::hardware_concurrency(), else 1.
int physical_cores();

// Loops of fewer elements than this run on the calling thread (waking threads costs more).
// The environment variable LRC_PARALLEL_MIN_ELEMENTS, read once, replaces it (tests set 1 so
// that small maps are split too).
inline constexpr int64_t kParallelMinElements = 1 << 15;

namespace parallel_detail {
using Body = void (*)(const void* ctx, int64_t begin, int64_t end);
// Runs body over [0, count) in chunks on up to threads() threads; the first exception thrown
// by a chunk is rethrown here after every chunk ended.
void run(int64_t count, Body body, const void* ctx);
bool worth(int64_t count, int64_t elementsPerItem);
}  // namespace parallel_detail

// f(begin, end) over chunks covering [0, count) once each, in parallel when count *
// elementsPerItem reaches the minimum above and threads() > 1 (else f(0, count) here).
// Nested calls (from inside f) run on the calling thread.
template <class F>
void parallel_for(int64_t count, int64_t elementsPerItem, const F& f) {
  if (count <= 0) return;
  if (!parallel_detail::worth(count, elementsPerItem)) return f(int64_t{0}, count);
  parallel_detail::run(
      count, [](const void* ctx, int64_t begin, int64_t end) { (*static_cast<const F*>(ctx))(begin, end); }, &f);
}

// f(i) for every i in [0, count), as parallel_for.
template <class F>
void parallel_each(int64_t count, int64_t elementsPerItem, const F& f) {
  parallel_for(count, elementsPerItem, [&f](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) f(i);
  });
}

// f(n, c) for every image n < N and channel c < C (planes of elementsPerPlane elements), as
// parallel_for.
template <class F>
void parallel_planes(int64_t N, int64_t C, int64_t elementsPerPlane, const F& f) {
  parallel_each(N * C, elementsPerPlane, [&f, C](int64_t p) { f(p / C, p % C); });
}

}  // namespace lrc::cpu
