#include "runtime/mpi/MpiCollective.h"

#include <mpi.h>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace lrc::runtime {

namespace {

// MPI counts are ints: tensors go in pieces of at most 2^30 elements.
constexpr int64_t kMaxPiece = int64_t{1} << 30;

void check(int rc, const char* call) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(rc, text, &length);
  throw std::runtime_error(std::string(call) + ": " + std::string(text, static_cast<size_t>(length)));
}

}  // namespace

MpiCollective::MpiCollective(int* argc, char*** argv) {
  int provided = 0;
  check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  check(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup");
  MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
  check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
}

MpiCollective::~MpiCollective() {
  MPI_Comm_free(&comm_);
  MPI_Finalize();
}

void MpiCollective::startAverage(int bucket, float* data, int64_t count) {
  Pending& p = pending_[bucket];
  p.tensors.emplace_back(data, count);
  for (int64_t at = 0; at < count; at += kMaxPiece) {
    MPI_Request r = MPI_REQUEST_NULL;
    check(MPI_Iallreduce(MPI_IN_PLACE, data + at, static_cast<int>(std::min(kMaxPiece, count - at)), MPI_FLOAT, MPI_SUM,
                         comm_, &r),
          "MPI_Iallreduce");
    p.requests.push_back(r);
  }
}

void MpiCollective::wait(int bucket) {
  auto it = pending_.find(bucket);
  if (it == pending_.end()) throw std::logic_error("allreduce_wait of bucket " + std::to_string(bucket) + " never started");
  std::vector<MPI_Request>& requests = it->second.requests;
  check(MPI_Waitall(static_cast<int>(requests.size()), requests.data(), MPI_STATUSES_IGNORE), "MPI_Waitall");
  const float scale = 1.0f / static_cast<float>(size_);
  for (const auto& [data, count] : it->second.tensors)
    for (int64_t i = 0; i < count; ++i) data[i] *= scale;
  pending_.erase(it);
}

void MpiCollective::progress() {
  for (auto& [bucket, p] : pending_) {
    int done = 0;
    check(MPI_Testall(static_cast<int>(p.requests.size()), p.requests.data(), &done, MPI_STATUSES_IGNORE),
          "MPI_Testall");
  }
}

void MpiCollective::sumNow(double* data, int64_t count) {
  for (int64_t at = 0; at < count; at += kMaxPiece)
    check(MPI_Allreduce(MPI_IN_PLACE, data + at, static_cast<int>(std::min(kMaxPiece, count - at)), MPI_DOUBLE, MPI_SUM,
                        comm_),
          "MPI_Allreduce");
}

void MpiCollective::broadcastFromRank0(void* data, int64_t bytes) {
  if (bytes > kMaxPiece) throw std::logic_error("broadcastFromRank0: " + std::to_string(bytes) + " bytes");
  check(MPI_Bcast(data, static_cast<int>(bytes), MPI_BYTE, 0, comm_), "MPI_Bcast");
}

void MpiCollective::checkSame(uint64_t value, const std::string& what) {
  std::vector<unsigned long long> all(static_cast<size_t>(size_));
  unsigned long long mine = value;
  check(MPI_Allgather(&mine, 1, MPI_UNSIGNED_LONG_LONG, all.data(), 1, MPI_UNSIGNED_LONG_LONG, comm_),
        "MPI_Allgather");
  for (int r = 1; r < size_; ++r)
    if (all[static_cast<size_t>(r)] != all[0])
      throw std::runtime_error("rank " + std::to_string(r) + "'s " + what + " differs from rank 0's");
}

void MpiCollective::abort(int code) {
  MPI_Abort(comm_, code);
  std::_Exit(code);  // MPI_Abort does not return; in case it does
}

}  // namespace lrc::runtime
