#include "runtime/cpu/Parallel.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

// OpenMP's, where a library that uses it (oneDNN) is loaded; absent otherwise.
extern "C" void omp_set_num_threads(int) __attribute__((weak));

namespace lrc::cpu {

namespace {

thread_local bool insideChunk = false;  // nested parallel_for calls run where they are

// threads() - 1 workers that sleep on a condition variable between loops (no spinning: they
// share the cores with BLAS's threads, which run between the element-wise kernels).
class Pool {
 public:
  ~Pool() { resize(1); }

  int threads() const { return threads_.load(std::memory_order_relaxed); }

  void resize(int n) {
    std::lock_guard<std::mutex> busy(runMutex_);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : workers_) t.join();
    workers_.clear();
    stopping_ = false;
    threads_.store(n, std::memory_order_relaxed);
    // The generation now: a worker that first runs after the next loop began must take part.
    const uint64_t now = generation_;
    for (int i = 1; i < n; ++i) workers_.emplace_back([this, now] { work(now); });
  }

  void run(int64_t count, parallel_detail::Body body, const void* ctx) {
    std::unique_lock<std::mutex> busy(runMutex_, std::try_to_lock);
    if (!busy.owns_lock() || workers_.empty()) return body(ctx, 0, count);  // another thread's loop runs
    {
      std::lock_guard<std::mutex> lock(mutex_);
      body_ = body;
      ctx_ = ctx;
      count_ = count;
      chunks_ = std::min<int64_t>(count, 4 * static_cast<int64_t>(workers_.size() + 1));
      next_.store(0, std::memory_order_relaxed);
      active_ = static_cast<int>(workers_.size());
      error_ = nullptr;
      ++generation_;
    }
    wake_.notify_all();
    chunks();
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return active_ == 0; });
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }

 private:
  // Takes chunks until none is left; chunk k is [k * count / chunks, (k + 1) * count / chunks).
  void chunks() {
    insideChunk = true;
    for (int64_t k; (k = next_.fetch_add(1, std::memory_order_relaxed)) < chunks_;) {
      try {
        body_(ctx_, k * count_ / chunks_, (k + 1) * count_ / chunks_);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
    }
    insideChunk = false;
  }

  void work(uint64_t seen) {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
      lock.unlock();
      chunks();
      lock.lock();
      if (--active_ == 0) done_.notify_one();
    }
  }

  std::atomic<int> threads_{1};
  std::mutex runMutex_;  // one loop at a time; held by resize
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  bool stopping_ = false;
  uint64_t generation_ = 0;
  // The loop of this generation (written under mutex_ before the workers wake).
  parallel_detail::Body body_ = nullptr;
  const void* ctx_ = nullptr;
  int64_t count_ = 0, chunks_ = 0;
  std::atomic<int64_t> next_{0};
  int active_ = 0;  // workers not yet done with this generation
  std::exception_ptr error_;
};

Pool& pool() {
  static Pool p;
  return p;
}

int64_t minElements() {
  static const int64_t value = [] {
    const char* text = std::getenv("LRC_PARALLEL_MIN_ELEMENTS");
    const long long v = text != nullptr ? std::atoll(text) : 0;
    return v > 0 ? static_cast<int64_t>(v) : kParallelMinElements;
  }();
  return value;
}

bool readInt(const std::string& path, long& value) {
  std::ifstream in(path);
  return static_cast<bool>(in >> value);
}

}  // namespace

void set_threads(int n) {
  if (n < 1) throw std::invalid_argument("set_threads: the thread count must be at least 1, got " + std::to_string(n));
  if (n != pool().threads()) pool().resize(n);
  // oneDNN's convolutions (DnnlConv.cpp) run on OpenMP threads: the same count, set for the
  // calling thread, which runs the plan's kernels.
  if (omp_set_num_threads) omp_set_num_threads(n);
}

int threads() { return pool().threads(); }

int physical_cores() {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  std::set<std::pair<long, long>> cores;  // (package, core) of the CPUs this process may run on
  if (sched_getaffinity(0, sizeof allowed, &allowed) == 0) {
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (!CPU_ISSET(cpu, &allowed)) continue;
      const std::string dir = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
      long package = 0, core = 0;
      if (readInt(dir + "physical_package_id", package) && readInt(dir + "core_id", core))
        cores.insert({package, core});
      else
        cores.insert({-1, cpu});  // no topology: a core of its own
    }
  }
  if (!cores.empty()) return static_cast<int>(cores.size());
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

namespace parallel_detail {

bool worth(int64_t count, int64_t elementsPerItem) {
  return count > 1 && !insideChunk && pool().threads() > 1 &&
         count * std::max<int64_t>(elementsPerItem, 1) >= minElements();
}

void run(int64_t count, Body body, const void* ctx) { pool().run(count, body, ctx); }

}  // namespace parallel_detail

}  // namespace lrc::cpu
