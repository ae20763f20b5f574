// The CUDA backend's entry points. The backend itself (DeviceBackend.h) is one template over
// a device (Device.h): CudaDevice runs it on the GPU, HostDevice on the host.
#pragma once

#include <memory>
#include <string>

#include "runtime/Backend.h"

namespace lrc::runtime {

class Collective;  // runtime/Collective.h

struct CudaOptions {
  bool tf32 = false;  // cuBLAS may use TF32 tensor cores (--precision tf32); off: full FP32
  int device = 0;     // the CUDA device ordinal
  // Data parallel (docs/distributed.md): the job's ranks (one too, under mpirun -np 1: NCCL's
  // path on its own). The rank then takes device
  // (local rank) mod (devices on its machine); with NCCL in this build and a device for each
  // of the machine's ranks, the plan's gradient averages run on device buffers over NCCL (its
  // unique id sent by rank 0 over `collective`); otherwise through host memory over MPI.
  Collective* collective = nullptr;
};

// Whether this build has the GPU form of the CUDA backend (nvcc was found at configure time).
bool cudaBackendBuilt();

// Whether a usable CUDA device is present; when not, `why` says why in one line (no CUDA
// backend in this build, no driver, no device, ...).
bool cudaDeviceAvailable(std::string* why);

// The CUDA backend on the GPU. Throws std::runtime_error with a one-line reason when this
// build has no CUDA backend or no GPU can be used.
std::unique_ptr<Backend> makeCudaBackend(const CudaOptions& options);

// The CUDA backend's own kernels and dispatch run on the host (serial loops, a reference
// SGEMM in cuBLAS's place): "--device cuda-emulated", for testing without a GPU. Slow.
std::unique_ptr<Backend> makeEmulatedCudaBackend();

}  // namespace lrc::runtime
