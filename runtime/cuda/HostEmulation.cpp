// The CUDA backend on the host (HostDevice): the same DeviceBackend and kernel families the
// GPU runs, compiled by the host compiler. "lrc-run --device cuda-emulated".
#include "runtime/cuda/Backends.h"
#include "runtime/cuda/DeviceBackend.h"
#include "runtime/cuda/HostDevice.h"

namespace lrc::runtime {

std::unique_ptr<Backend> makeEmulatedCudaBackend() {
  return std::make_unique<cuda::DeviceBackend<cuda::HostDevice>>(cuda::HostDevice{});
}

}  // namespace lrc::runtime
