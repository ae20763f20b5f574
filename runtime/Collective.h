// Data parallel (SPEC.md section 8, docs/distributed.md): what the ranks of one job do
// together, behind one small interface so that the backends and the executor do not depend on
// MPI. runtime/mpi/MpiCollective implements it over Open MPI; a single process has none
// (RunContext::collective is null and the collective steps do nothing).
//
// The plan's collective steps (passes/DataParallel.cpp) average tensors over the ranks in
// place: allreduce_start begins a bucket as backward completes it, allreduce_wait ends it
// before its first reader. In between the executor calls progress() after every step, so that
// the reduction advances while the rest of backward runs.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace lrc::runtime {

class Collective {
 public:
  virtual ~Collective() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;

  // Starts summing `count` floats at `data` (host memory) over every rank, in place, as part
  // of bucket `bucket`; wait(bucket) ends every sum the bucket started and divides each by
  // size(), so that every rank holds the average. The memory must not be touched in between.
  virtual void startAverage(int bucket, float* data, int64_t count) = 0;
  virtual void wait(int bucket) = 0;
  // Lets the started reductions advance (called between plan steps); cheap when none is.
  virtual void progress() = 0;

  // Blocking: `data` becomes the sum over every rank (BatchNorm's per-channel sums, bn-sync).
  virtual void sumNow(double* data, int64_t count) = 0;

  // `bytes` at `data` on every rank become rank 0's (NCCL's unique id).
  virtual void broadcastFromRank0(void* data, int64_t bytes) = 0;

  // Throws std::runtime_error naming the first rank whose `value` differs from rank 0's;
  // `what` names the value ("plan").
  virtual void checkSame(uint64_t value, const std::string& what) = 0;
};

// The job's size when an MPI launcher started this process (Open MPI's mpirun or a PMIx/PMI
// launcher sets it in the environment), else 0: lrc-run starts MPI only then, so a plain run
// never depends on it.
inline int launcherWorldSize() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE"})
    if (const char* v = std::getenv(name)) return std::max(1, std::atoi(v));
  return 0;
}

// A step's bucket (allreduce_start / allreduce_wait's attribute `bucket`).
struct CollectiveParams {
  int bucket = 0;
};

}  // namespace lrc::runtime
