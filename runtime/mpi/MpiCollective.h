// runtime::Collective over Open MPI (SPEC.md section 8, docs/distributed.md): `mpirun -np N
// lrc-run PLAN ...` starts the ranks, and this carries the gradient averages, BatchNorm's
// synchronised sums and the per-step agreement (loss, stop). Errors are one line: every MPI
// call returns its error (MPI_ERRORS_RETURN) and a failed one throws std::runtime_error
// "MPI_Xxx: <MPI's message>".
#pragma once

#include <mpi.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "runtime/Collective.h"

namespace lrc::runtime {

class MpiCollective final : public Collective {
 public:
  MpiCollective(int* argc, char*** argv);  // MPI_Init_thread (funneled)
  ~MpiCollective() override;               // MPI_Finalize
  MpiCollective(const MpiCollective&) = delete;
  MpiCollective& operator=(const MpiCollective&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void startAverage(int bucket, float* data, int64_t count) override;
  void wait(int bucket) override;
  void progress() override;
  void sumNow(double* data, int64_t count) override;
  void broadcastFromRank0(void* data, int64_t bytes) override;
  void checkSame(uint64_t value, const std::string& what) override;

  // Ends every rank of the job now (MPI_Abort): mpirun stops the others.
  [[noreturn]] void abort(int code);

 private:
  struct Pending {
    std::vector<MPI_Request> requests;
    std::vector<std::pair<float*, int64_t>> tensors;
  };
  int rank_ = 0, size_ = 1;
  MPI_Comm comm_ = MPI_COMM_NULL;  // the job's own (a duplicate of MPI_COMM_WORLD)
  std::map<int, Pending> pending_;
};

}  // namespace lrc::runtime
