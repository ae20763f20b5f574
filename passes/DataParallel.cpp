// data-parallel{bucket-bytes=B,bn-sync=0|1} (SPEC.md section 8, docs/distributed.md): a
// training step that every rank of a data-parallel job runs on its shard of the batch, the
// weight gradients averaged over the ranks before the optimizer applies them.
//
// Runs on a training module after autodiff, lower-row-pipelines and remat, before plan-memory,
// so that the plan places every buffer for the order it makes (the predicted peak is each
// rank's). Walking the program in order, each optimizer update is taken out of its place and
// its gradient joins the open bucket; when the bucket holds at least B bytes of gradients (as
// PyTorch DDP's bucket_cap_mb, 25 MiB by default) it closes: `allreduce_start` of its
// gradients goes where the last one was completed, and the bucket before it is waited for
// there (`allreduce_wait`) and its updates follow. So each bucket's reduction overlaps the
// backward work that completes the next bucket, and a gradient lives at most until the next
// bucket closes (the peak grows by about two buckets of gradients at most). The last buckets
// are waited for at the end of the program. A single gradient larger than B is a bucket alone.
//
// bn-sync=1: BatchNorm statistics over every rank's map (SyncBatchNorm), so that N ranks at
// batch B train exactly as one process at batch N*B. Each batchnorm_stats gets `sync=1` (its
// kernel sums the per-channel sums over the ranks), and the statistics' gradients (dmean,
// dinvstd) are averaged by a blocking allreduce_start/allreduce_wait pair before the first
// batchnorm_stats_grad reads them: with every rank's loss the mean over its own batch, their
// average over the ranks divided by the local count is the whole batch's term (SPEC.md §5).
// A training BatchNorm computed whole by one kernel (--bn strip) cannot be synchronised: an
// error names it.
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "ir/IR.h"
#include "passes/Pass.h"

namespace lrc::passes {

namespace {

using ir::Module;
using ir::Op;
using ir::OpKind;
using ir::Value;

int64_t bytesOf(const Value* v) {
  int64_t n = 4;  // f32
  for (int64_t d : v->type.shape) n *= d;
  return n;
}

class DataParallel : public Pass {
 public:
  explicit DataParallel(const DataParallelOptions& options) : options_(options) {}
  std::string_view name() const override { return "data-parallel"; }

 protected:
  bool transform(Module& m) override {
    bool training = false;
    for (const auto& op : m.ops) {
      if (ops::isCollective(op->kind))
        throw ir::Error("data-parallel: the module already averages over ranks (" + op->describe() + ")", op->loc);
      if (ops::isFusedOptimizerStep(op->kind))
        throw ir::Error("data-parallel: gradients fused into the optimizer state (fuse-sgd-grads, " + op->describe() +
                            ") cannot be averaged over ranks",
                        op->loc);
      training = training || ops::isOptimizerUpdate(op->kind);
      if (options_.bnSync && op->kind == OpKind::BatchNorm && op->has("training") && op->getInt("training") != 0)
        throw ir::Error("data-parallel: bn-sync needs BatchNorm split at its statistics (--bn exact); " +
                            op->describe() + " computes its batch statistics inside one kernel",
                        op->loc);
    }
    if (!training) return false;  // no optimizer updates: nothing to average

    ir::ValueSet synced;  // statistics gradients already averaged (bn-sync)
    for (const auto& op : m.ops) {
      Op* o = op.get();
      if (ops::isOptimizerUpdate(o->kind)) {
        open_.updates.push_back(o);
        Value* g = o->operands.at(1);
        open_.grads.push_back(g);
        open_.bytes += bytesOf(g);
        if (open_.bytes >= options_.bucketBytes) close(m);
        continue;
      }
      if (options_.bnSync && o->kind == OpKind::BatchNormStats) o->attrs["sync"] = int64_t{1};
      if (options_.bnSync && o->kind == OpKind::BatchNormStatsGrad) {
        std::vector<Value*> stats;
        for (size_t i : {size_t{3}, size_t{4}})  // dmean, dinvstd
          if (synced.insert(o->operands.at(i)).second) stats.push_back(o->operands.at(i));
        if (!stats.empty()) {
          const int64_t bucket = nextBucket_++;
          order_.push_back(collective(m, OpKind::AllreduceStart, stats, bucket, o));
          order_.push_back(collective(m, OpKind::AllreduceWait, stats, bucket, o));
        }
      }
      order_.push_back(o);
    }
    if (!open_.updates.empty()) close(m);
    finish(m);

    // m.ops in the new order: the collectives were appended by addOp, every op appears once.
    std::vector<std::unique_ptr<Op>> owned = std::move(m.ops);
    std::vector<std::unique_ptr<Op>> ordered;
    ordered.reserve(owned.size());
    std::map<const Op*, std::unique_ptr<Op>*> slot;
    for (auto& op : owned) slot[op.get()] = &op;
    for (Op* o : order_) ordered.push_back(std::move(*slot.at(o)));
    m.ops = std::move(ordered);
    return true;
  }

 private:
  struct Bucket {
    int64_t id = -1;
    std::vector<Op*> updates;
    std::vector<Value*> grads;
    int64_t bytes = 0;
  };

  Op* collective(Module& m, OpKind kind, const std::vector<Value*>& tensors, int64_t bucket, const Op* near) {
    Op* op = m.addOp(kind, tensors, {{"bucket", bucket}}, {});
    op->origin = near ? near->origin : "";
    if (near) op->loc = near->loc;
    return op;
  }

  // The open bucket starts here; the one in flight before it is waited for and applied.
  void close(Module& m) {
    open_.id = nextBucket_++;
    order_.push_back(collective(m, OpKind::AllreduceStart, open_.grads, open_.id, open_.updates.back()));
    finish(m);
    inFlight_ = std::move(open_);
    open_ = Bucket{};
  }
  // The bucket in flight is waited for, then its updates run.
  void finish(Module& m) {
    if (inFlight_.id < 0) return;
    order_.push_back(collective(m, OpKind::AllreduceWait, inFlight_.grads, inFlight_.id, inFlight_.updates.back()));
    order_.insert(order_.end(), inFlight_.updates.begin(), inFlight_.updates.end());
    inFlight_ = Bucket{};
  }

  DataParallelOptions options_;
  std::vector<Op*> order_;
  Bucket open_, inFlight_;
  int64_t nextBucket_ = 0;
};

}  // namespace

std::unique_ptr<Pass> createDataParallelPass(const DataParallelOptions& options) {
  return std::make_unique<DataParallel>(options);
}

}  // namespace lrc::passes
