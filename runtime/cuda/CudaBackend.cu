// The CUDA backend on the GPU: CudaDevice (Device.h) over the CUDA runtime and cuBLAS, and
// the entry points of Backends.h. Every CUDA and cuBLAS call is checked; an error is a
// std::runtime_error naming the call. All work goes to one stream in plan order, so a step's
// kernels see every earlier step's results; copies in are asynchronous from pinned memory
// (the host prepares the next batch while the GPU computes), copies out synchronous.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#ifdef LRC_HAVE_NCCL
#include <dlfcn.h>
#include <nccl.h>
#endif
#include <iostream>

#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

#include "runtime/Collective.h"
#include "runtime/cuda/Backends.h"
#include "runtime/cuda/DeviceBackend.h"

namespace lrc::cuda {

namespace {

void check(cudaError_t status, const char* call) {
  if (status != cudaSuccess)
    throw std::runtime_error(std::string(call) + ": " + cudaGetErrorName(status) + " (" + cudaGetErrorString(status) +
                             ")");
}

void check(cublasStatus_t status, const char* call) {
  if (status != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string(call) + ": " + cublasGetStatusName(status) + " (" +
                             cublasGetStatusString(status) + ")");
}

#ifdef LRC_HAVE_NCCL
// NCCL is loaded when a data-parallel job first runs on GPUs (dlopen), not linked: lrc-run
// starts without it (libnccl is 200+ MB, and most runs are one process), and without it the
// job averages through the host. Only nccl.h's types are taken at build time.
struct Nccl {
  decltype(&ncclGetUniqueId) getUniqueId = nullptr;
  decltype(&ncclCommInitRank) commInitRank = nullptr;
  decltype(&ncclAllReduce) allReduce = nullptr;
  decltype(&ncclCommDestroy) commDestroy = nullptr;
  decltype(&ncclGetErrorString) errorString = nullptr;

  // The library's functions, or nullptr with `why` saying what is missing.
  static const Nccl* load(std::string* why) {
    static const Nccl nccl = [] {
      Nccl n;
      void* lib = nullptr;
      for (const char* name : {"libnccl.so.2", "libnccl.so", "/usr/local/cuda/lib/libnccl.so.2",
                               "/usr/local/cuda/lib64/libnccl.so.2"})
        if ((lib = dlopen(name, RTLD_NOW | RTLD_LOCAL)) != nullptr) break;
      if (!lib) return n;
      n.getUniqueId = reinterpret_cast<decltype(&ncclGetUniqueId)>(dlsym(lib, "ncclGetUniqueId"));
      n.commInitRank = reinterpret_cast<decltype(&ncclCommInitRank)>(dlsym(lib, "ncclCommInitRank"));
      n.allReduce = reinterpret_cast<decltype(&ncclAllReduce)>(dlsym(lib, "ncclAllReduce"));
      n.commDestroy = reinterpret_cast<decltype(&ncclCommDestroy)>(dlsym(lib, "ncclCommDestroy"));
      n.errorString = reinterpret_cast<decltype(&ncclGetErrorString)>(dlsym(lib, "ncclGetErrorString"));
      return n;
    }();
    if (nccl.getUniqueId && nccl.commInitRank && nccl.allReduce && nccl.commDestroy && nccl.errorString) return &nccl;
    if (why) *why = "libnccl.so.2 cannot be loaded (or lacks the functions lrc calls)";
    return nullptr;
  }
};

void check(const Nccl& nccl, ncclResult_t status, const char* call) {
  if (status != ncclSuccess) throw std::runtime_error(std::string(call) + ": " + nccl.errorString(status));
}
#endif

#define CUDA_CHECK(call) check((call), #call)

std::string mib(uint64_t bytes) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(1);
  out << static_cast<double>(bytes) / (1024.0 * 1024.0) << " MiB";
  return out.str();
}

template <class F>
__global__ void forEachKernel(int64_t n, F f) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    f(i);
}

// One block per segment: each thread adds a strided share of the segment, then a fixed tree
// over shared memory adds the threads' sums (deterministic), and thread 0 finishes.
template <int K, int Threads, class V, class F>
__global__ void segmentReduceKernel(int64_t length, V value, F finish) {
  __shared__ double shared[K][Threads];
  const int64_t segment = blockIdx.x;
  double acc[K] = {};
  for (int64_t i = threadIdx.x; i < length; i += Threads) value(segment, i, acc);
  for (int k = 0; k < K; ++k) shared[k][threadIdx.x] = acc[k];
  __syncthreads();
  for (int half = Threads / 2; half > 0; half /= 2) {
    if (static_cast<int>(threadIdx.x) < half)
      for (int k = 0; k < K; ++k) shared[k][threadIdx.x] += shared[k][threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    double total[K];
    for (int k = 0; k < K; ++k) total[k] = shared[k][0];
    finish(segment, total);
  }
}

int toInt(int64_t v, const char* what) {
  if (v < 0 || v > INT32_MAX) throw std::runtime_error(std::string("cublasSgemm: ") + what + " out of int range");
  return static_cast<int>(v);
}

}  // namespace

class CudaDevice {
 public:
  static constexpr const char* kName = "cuda";
  static constexpr int kThreads = 256;
  static constexpr uint64_t kStagingBytes = 16 << 20;  // pinned staging for copies in (x2)
  static constexpr uint64_t kBlasWorkspaceBytes = 32 << 20;

  explicit CudaDevice(const runtime::CudaOptions& options) : options_(options) {
    CUDA_CHECK(cudaSetDevice(options.device));
    CUDA_CHECK(cudaMemGetInfo(&freeAtStart_, &total_));
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    check(cublasCreate(&blas_), "cublasCreate");
    check(cublasSetStream(blas_, stream_), "cublasSetStream");
    // cuBLAS's workspace is ours, of a known size, so that it is reported exactly (32 MiB is
    // NVIDIA's recommendation for Hopper; cuBLAS would otherwise allocate its own).
    CUDA_CHECK(cudaMalloc(&blasWorkspace_, kBlasWorkspaceBytes));
    check(cublasSetWorkspace(blas_, blasWorkspace_, kBlasWorkspaceBytes), "cublasSetWorkspace");
    check(cublasSetMathMode(blas_, options.tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH),
          "cublasSetMathMode");
    cudaDeviceProp prop{};
    CUDA_CHECK(cudaGetDeviceProperties(&prop, options.device));
    name_ = prop.name;
    blocksCap_ = prop.multiProcessorCount * 32;
    for (Staging& s : staging_) {
      CUDA_CHECK(cudaMallocHost(&s.host, kStagingBytes));
      CUDA_CHECK(cudaEventCreateWithFlags(&s.done, cudaEventDisableTiming));
    }
  }
  CudaDevice(CudaDevice&& other) noexcept { swap(other); }
  CudaDevice(const CudaDevice&) = delete;
  CudaDevice& operator=(const CudaDevice&) = delete;
  ~CudaDevice() {
    // Destructors do not throw: errors here are ignored, the process is ending the run.
    if (stream_) cudaStreamSynchronize(stream_);
#ifdef LRC_HAVE_NCCL
    if (ncclStream_) cudaStreamSynchronize(ncclStream_);
    for (auto& [bucket, event] : bucketDone_) cudaEventDestroy(event);
    if (gradientsReady_) cudaEventDestroy(gradientsReady_);
    if (nccl_) api_->commDestroy(nccl_);
    if (ncclStream_) cudaStreamDestroy(ncclStream_);
#endif
    for (Staging& s : staging_) {
      if (s.host) cudaFreeHost(s.host);
      if (s.done) cudaEventDestroy(s.done);
    }
    if (blas_) cublasDestroy(blas_);
    if (blasWorkspace_) cudaFree(blasWorkspace_);
    if (stream_) cudaStreamDestroy(stream_);
  }

  template <class F>
  void forEach(int64_t n, const F& f) {
    if (n <= 0) return;
    const int64_t blocks = std::min<int64_t>((n + kThreads - 1) / kThreads, blocksCap_);
    forEachKernel<<<static_cast<unsigned>(blocks), kThreads, 0, stream_>>>(n, f);
    CUDA_CHECK(cudaGetLastError());
  }

  template <int K, class V, class F>
  void segmentReduce(int64_t segments, int64_t length, const V& value, const F& finish) {
    if (segments <= 0) return;
    if (segments > INT32_MAX) throw std::runtime_error("segmentReduce: too many segments");
    segmentReduceKernel<K, kThreads><<<static_cast<unsigned>(segments), kThreads, 0, stream_>>>(length, value, finish);
    CUDA_CHECK(cudaGetLastError());
  }

  void gemm(const GemmCall& c) {
    const cublasOperation_t opA = c.transA ? CUBLAS_OP_T : CUBLAS_OP_N, opB = c.transB ? CUBLAS_OP_T : CUBLAS_OP_N;
    const int m = toInt(c.m, "m"), n = toInt(c.n, "n"), k = toInt(c.k, "k");
    const int lda = toInt(c.lda, "lda"), ldb = toInt(c.ldb, "ldb"), ldc = toInt(c.ldc, "ldc");
    if (c.batch == 1) {
      check(cublasSgemm(blas_, opA, opB, m, n, k, &c.alpha, c.A, lda, c.B, ldb, &c.beta, c.C, ldc), "cublasSgemm");
      return;
    }
    check(cublasSgemmStridedBatched(blas_, opA, opB, m, n, k, &c.alpha, c.A, lda, c.strideA, c.B, ldb, c.strideB,
                                    &c.beta, c.C, ldc, c.strideC, toInt(c.batch, "batch")),
          "cublasSgemmStridedBatched");
  }

  unsigned char* allocate(uint64_t bytes) {
    void* p = nullptr;
    const cudaError_t status = cudaMalloc(&p, bytes);
    if (status != cudaSuccess) {
      size_t free = 0, total = 0;
      cudaMemGetInfo(&free, &total);
      throw std::runtime_error("cudaMalloc of " + std::to_string(bytes) + " bytes (" + mib(bytes) + ") on " + name_ +
                               " failed: " + cudaGetErrorName(status) + "; " + mib(free) + " of " + mib(total) +
                               " free");
    }
    return static_cast<unsigned char*>(p);
  }
  void release(unsigned char* p) { CUDA_CHECK(cudaFree(p)); }
  runtime::AvailableMemory availableMemory() {
    size_t free = 0, total = 0;
    CUDA_CHECK(cudaMemGetInfo(&free, &total));
    return {free, "free on " + name_ + " (cudaMemGetInfo)"};
  }
  void fill(void* p, unsigned char byte, uint64_t bytes) { CUDA_CHECK(cudaMemsetAsync(p, byte, bytes, stream_)); }

  // Through pinned staging buffers, alternately, so the call returns before the copy ends;
  // a staging buffer is reused only after its previous copy finished.
  void toDevice(void* dst, const void* src, uint64_t bytes) {
    for (uint64_t done = 0; done < bytes;) {
      Staging& s = staging_[next_];
      next_ = (next_ + 1) % kStaging;
      CUDA_CHECK(cudaEventSynchronize(s.done));
      const uint64_t n = std::min(bytes - done, kStagingBytes);
      std::memcpy(s.host, static_cast<const unsigned char*>(src) + done, n);
      CUDA_CHECK(cudaMemcpyAsync(static_cast<unsigned char*>(dst) + done, s.host, n, cudaMemcpyHostToDevice, stream_));
      CUDA_CHECK(cudaEventRecord(s.done, stream_));
      done += n;
    }
  }
  void toHost(void* dst, const void* src, uint64_t bytes) {
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_));
    CUDA_CHECK(cudaStreamSynchronize(stream_));
  }
  void onDevice(void* dst, const void* src, uint64_t bytes) {
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_));
  }
  void synchronize() { CUDA_CHECK(cudaStreamSynchronize(stream_)); }

  // The device memory the run holds, by cudaMemGetInfo against the free memory when the
  // device was opened (so the CUDA context itself is not counted): the arena, apart from it
  // the backend's workspace and cuBLAS's, and whatever else (the status word, allocation
  // rounding, cuBLAS's own handles).
  // ---- data parallel: NCCL on device buffers ----
#ifdef LRC_HAVE_NCCL
  // One communicator over the job's ranks (rank 0's unique id sent over `ranks`), and a stream
  // of its own so that a bucket's reduction overlaps the compute stream's backward work.
  void openNccl(const Nccl& api, runtime::Collective& ranks) {
    api_ = &api;
    ncclUniqueId id{};
    if (ranks.rank() == 0) check(api, api.getUniqueId(&id), "ncclGetUniqueId");
    ranks.broadcastFromRank0(&id, sizeof id);
    check(api, api.commInitRank(&nccl_, ranks.size(), id, ranks.rank()), "ncclCommInitRank");
    CUDA_CHECK(cudaStreamCreateWithFlags(&ncclStream_, cudaStreamNonBlocking));
    CUDA_CHECK(cudaEventCreateWithFlags(&gradientsReady_, cudaEventDisableTiming));
  }
  bool averagesOnDevice() const { return nccl_ != nullptr; }
  // The tensor is complete once the compute stream's queued work ends: the NCCL stream waits
  // for that, then averages it in place (ncclAvg); the bucket's event marks its last average.
  void startDeviceAverage(int bucket, float* data, int64_t count) {
    CUDA_CHECK(cudaEventRecord(gradientsReady_, stream_));
    CUDA_CHECK(cudaStreamWaitEvent(ncclStream_, gradientsReady_, 0));
    check(*api_, api_->allReduce(data, data, static_cast<size_t>(count), ncclFloat, ncclAvg, nccl_, ncclStream_),
          "ncclAllReduce");
    cudaEvent_t& done = bucketDone_[bucket];
    if (!done) CUDA_CHECK(cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
    CUDA_CHECK(cudaEventRecord(done, ncclStream_));
  }
  // The compute stream goes on only after the bucket's averages (no host wait).
  void waitDeviceAverage(int bucket) {
    const auto it = bucketDone_.find(bucket);
    if (it == bucketDone_.end()) throw std::logic_error("allreduce_wait of bucket " + std::to_string(bucket) + " never started");
    CUDA_CHECK(cudaStreamWaitEvent(stream_, it->second, 0));
  }
#else
  bool averagesOnDevice() const { return false; }
  void startDeviceAverage(int, float*, int64_t) { throw std::logic_error("this build has no NCCL"); }
  void waitDeviceAverage(int) { throw std::logic_error("this build has no NCCL"); }
#endif

  std::string memoryReport(uint64_t arenaBytes, uint64_t workspaceBytes) {
    size_t free = 0, total = 0;
    CUDA_CHECK(cudaMemGetInfo(&free, &total));
    const uint64_t used = freeAtStart_ > free ? freeAtStart_ - free : 0;
    const uint64_t known = arenaBytes + workspaceBytes + kBlasWorkspaceBytes;
    return "device memory on " + name_ + (options_.tf32 ? " (tf32)" : "") + ": " + mib(used) +
           " used (cudaMemGetInfo): arena " + mib(arenaBytes) + " (one cudaMalloc), lrc workspace " +
           mib(workspaceBytes) + ", cuBLAS workspace " + mib(kBlasWorkspaceBytes) + ", other " +
           mib(used > known ? used - known : 0) + " (device_memory_used_bytes=" + std::to_string(used) + ")";
  }

 private:
  static constexpr int kStaging = 2;
  struct Staging {
    void* host = nullptr;
    cudaEvent_t done = nullptr;
  };

  runtime::CudaOptions options_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  void* blasWorkspace_ = nullptr;
  Staging staging_[kStaging];
  int next_ = 0;
  size_t freeAtStart_ = 0, total_ = 0;
  std::string name_;
  int64_t blocksCap_ = 1;
#ifdef LRC_HAVE_NCCL
  const Nccl* api_ = nullptr;
  ncclComm_t nccl_ = nullptr;
  cudaStream_t ncclStream_ = nullptr;
  cudaEvent_t gradientsReady_ = nullptr;
  std::map<int, cudaEvent_t> bucketDone_;
#endif

  void swap(CudaDevice& o) {
    std::swap(options_, o.options_);
    std::swap(stream_, o.stream_);
    std::swap(blas_, o.blas_);
    std::swap(blasWorkspace_, o.blasWorkspace_);
    std::swap(staging_, o.staging_);
    std::swap(next_, o.next_);
    std::swap(freeAtStart_, o.freeAtStart_);
    std::swap(total_, o.total_);
    std::swap(name_, o.name_);
    std::swap(blocksCap_, o.blocksCap_);
#ifdef LRC_HAVE_NCCL
    std::swap(api_, o.api_);
    std::swap(nccl_, o.nccl_);
    std::swap(ncclStream_, o.ncclStream_);
    std::swap(gradientsReady_, o.gradientsReady_);
    std::swap(bucketDone_, o.bucketDone_);
#endif
  }
};

}  // namespace lrc::cuda

namespace lrc::runtime {

bool cudaBackendBuilt() { return true; }

bool cudaDeviceAvailable(std::string* why) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    if (why) *why = std::string("no usable CUDA device: cudaGetDeviceCount says ") + cudaGetErrorName(status) + " (" +
                    cudaGetErrorString(status) + ")";
    return false;
  }
  if (count == 0) {
    if (why) *why = "no CUDA device found";
    return false;
  }
  return true;
}

namespace {

// Open MPI's (or PMIx's) local rank and the ranks on this machine; 0 and 1 without a launcher.
std::pair<int, int> localRank() {
  auto env = [](std::initializer_list<const char*> names, int otherwise) {
    for (const char* name : names)
      if (const char* v = std::getenv(name)) return std::atoi(v);
    return otherwise;
  };
  return {env({"OMPI_COMM_WORLD_LOCAL_RANK", "PMIX_LOCAL_RANK", "MPI_LOCALRANKID"}, 0),
          env({"OMPI_COMM_WORLD_LOCAL_SIZE", "PMIX_LOCAL_SIZE", "MPI_LOCALNRANKS"}, 1)};
}

}  // namespace

std::unique_ptr<Backend> makeCudaBackend(const CudaOptions& given) {
  std::string why;
  if (!cudaDeviceAvailable(&why)) throw std::runtime_error(why);
  CudaOptions options = given;
  bool deviceAverages = false;  // NCCL: only with a device of its own for each of this machine's ranks
  if (options.collective != nullptr) {
    int count = 0;
    cuda::check(cudaGetDeviceCount(&count), "cudaGetDeviceCount");
    const auto [rank, ranks] = localRank();
    options.device = rank % count;
#ifdef LRC_HAVE_NCCL
    deviceAverages = ranks <= count;
#else
    (void)ranks;
#endif
  }
  cuda::CudaDevice device(options);
#ifdef LRC_HAVE_NCCL
  if (deviceAverages) {
    std::string why;
    if (const cuda::Nccl* nccl = cuda::Nccl::load(&why))
      device.openNccl(*nccl, *options.collective);
    else if (options.collective->rank() == 0)
      std::cerr << "lrc-run: note: " << why << ": gradients are averaged through host memory over MPI\n";
  }
#else
  (void)deviceAverages;
#endif
  return std::make_unique<cuda::DeviceBackend<cuda::CudaDevice>>(std::move(device));
}

}  // namespace lrc::runtime
