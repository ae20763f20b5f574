// LRC_HD marks a function that CUDA code also calls on the device (__host__ __device__ under
// nvcc, nothing for the host compiler): the helpers both backends must share bit for bit.
#pragma once

#if defined(__CUDACC__)
#define LRC_HD __host__ __device__
#else
#define LRC_HD
#endif
