// The CUDA backend's entry points in a build without the CUDA toolkit: the GPU form is
// absent, and asking for it is a one-line error.
#include <stdexcept>

#include "runtime/cuda/Backends.h"

namespace lrc::runtime {

bool cudaBackendBuilt() { return false; }

bool cudaDeviceAvailable(std::string* why) {
  if (why) *why = "this build has no CUDA backend (the CUDA toolkit was not found when it was configured)";
  return false;
}

std::unique_ptr<Backend> makeCudaBackend(const CudaOptions&) {
  std::string why;
  cudaDeviceAvailable(&why);
  throw std::runtime_error(why);
}

}  // namespace lrc::runtime
