// lrc-run PLAN.bin --data SPEC [--val SPEC] [--steps N | --epochs N]
//         [--device cpu|cuda|cuda-emulated] [--precision fp32|tf32] [--lr X] [--weight-decay X]
//         [--momentum X] [--nesterov] [--beta1 X] [--beta2 X] [--eps X]
//         [--lr-schedule constant|step|cosine] [--lr-step-size N] [--lr-gamma G] [--lr-min X]
//         [--warmup-steps N] [--seed N] [--save-onnx OUT.onnx]
//         [--metrics OUT.jsonl] [--threads N] [--profile OUT.json]
//         [--checkpoint DIR [--checkpoint-every N]] [--resume DIR]
//         [--train-transform LIST] [--val-transform LIST]
//         [--mean A,B,C --std A,B,C | --normalize imagenet] [--workers N]
// Trains a plan made by lrc-compile (SPEC.md §3): loads and validates it, runs training steps
// (the plan's optimizer: SGD or AdamW) on shuffled batches, evaluates on --val after each
// epoch, and ends with the measured peak arena bytes next to the predicted ones.
//
// Defaults and choices:
// - neither --steps nor --epochs: one epoch. An epoch is size / batch steps (the last partial
//   batch is dropped; data::BatchLoader), shuffled by --seed (default 0) and the epoch.
// - --val SPEC: accuracy of the plan's eval program over the whole Test split after every
//   epoch and after the last step (a partial last batch is padded; only real samples count).
//   A segmentation plan (labels per pixel, docs/training.md): pixel accuracy and mean IoU
//   over the pixels not ignored (runtime/PixelMetrics.h), "val_accuracy" and "val_mean_iou"
//   in --metrics.
// - --lr/--weight-decay (any plan), --momentum/--nesterov (sgd plans), --beta1/--beta2/--eps
//   (adamw plans) override the plan's optimizer defaults; a flag of the other optimizer is a
//   usage error (tools/TrainingFlags.h). --seed also changes every Dropout mask (seed 0 keeps
//   the plan's seeds).
// - --lr-schedule, --warmup-steps: the lr of each training step (runtime/LrSchedule.h, torch's
//   StepLR, CosineAnnealingLR over the run's steps, LinearLR warm-up), stepped per training
//   step, not per epoch; each step's lr is in its --metrics line ("lr").
// - Data transforms (runtime/data/Transforms.h, docs/training.md): --train-transform LIST of
//   resize[:S], center-crop, random-resized-crop, flip (default none: the images must have
//   the plan's size); --val-transform LIST (default resize,center-crop when the training list
//   resizes or crops, else none); --mean/--std or --normalize imagenet normalize after them,
//   in training and evaluation alike. Random steps are keyed by --seed, the epoch and the
//   sample, so --workers does not change the images.
// - --workers N (default 1): threads that decode and transform batches ahead of the step
//   (runtime/data/BatchLoader.h); 0 makes each batch in the step loop. The end report gives
//   the time the steps waited for data.
// - --threads N: the CPU backend's threads, BLAS's (OpenBLAS) and the element-wise kernels'
//   (runtime/cpu/Parallel.h); default the physical cores this process may run on (divided
//   among the ranks of a node under mpirun). The element-wise kernels give the same bits for
//   every N; OpenBLAS may round some GEMMs differently on another count (docs/training.md).
// - Progress goes to stdout: one updating line on a terminal, about 20 plain lines otherwise.
// - --device cuda runs on the GPU (runtime/cuda; a clear error without one), cuda-emulated
//   runs the CUDA backend's own kernels on the host (for tests without a GPU; slow).
//   --precision tf32 lets cuBLAS use TF32 tensor cores (cuda only; the default is full FP32).
//   A device backend also reports the device memory it used: the arena, its own workspace
//   and the libraries', apart.
// - --profile OUT.json: wall time of every kernel call of the train program (evaluation is
//   not timed), per plan step and per kernel name, summed over the training steps after the
//   first (warm-up), as JSON (runtime::profileJson: steps_timed, warmup_steps, wall_seconds,
//   kernels, per_step). Each kernel call is timed on its own (steady_clock), so the run is
//   a little slower; bench/calibrate.py fits the cost model's constants to these files.
// - Output files are whole or absent: --metrics streams to PATH.tmp (follow it with tail -f)
//   and renames it at the end; --save-onnx and --profile write PATH.tmp then rename (both
//   paths are checked writable before training, --save-onnx's with the model's size
//   reserved, so that a full disk fails then). An error removes the temporaries. The run
//   fails (exit 1) when the measured peak exceeds the prediction or a kernel wrote past the
//   arena.
// - A NaN or infinite loss stops the run at that step (exit 1), one line naming the step and
//   the first non-finite parameter: --metrics is written with the steps done and a last
//   {"stopped_at_step": N, "reason": "non-finite loss"}; no model is written.
// - SIGINT or SIGTERM: the step (or evaluation) under way finishes, then the run stops:
//   --metrics is written whole with the steps done and a last {"stopped_at_step": N,
//   "reason": "SIGINT"}; --save-onnx and --profile are not written (a model saved part way
//   under the name asked for could pass for the trained one: rerun with --steps N); one line
//   on stderr; exit 130 (SIGINT) or 143 (SIGTERM). A second signal ends the process at
//   once, removing every temporary. A signal after the last step lets the outputs be
//   finished first, then exits the same way.
// - Memory: the plan's weights go from the file straight into the arena (plan::PlanFile), so
//   the process's peak resident size is its size at start, the arena, and a small fixed
//   rest (the plan without weights, --workers + 1 batches, the data set's index). The end report and the
//   last --metrics line give rss_start_bytes (VmRSS first thing in main) and rss_peak_bytes
//   (VmHWM after training, the whole process's peak so far; --save-onnx comes after and
//   holds a copy of the model's weights).
// - --checkpoint DIR: DIR/checkpoint.lrck (runtime/Checkpoint.h: parameters, optimizer
//   state, BatchNorm statistics, the steps done, the loader's epoch and batch, the seed and
//   settings) written atomically after every epoch, or every N steps with
//   --checkpoint-every N, at the end of the run and when SIGINT or SIGTERM stops it (not
//   after a non-finite loss). DIR is created; it is checked writable, with the file's size
//   reserved, before training. A line on stdout says each one.
// - --resume DIR: continues from DIR/checkpoint.lrck, so that the run ends bit for bit where
//   the uninterrupted one would have: give the command the interrupted run had, plus
//   --resume (with --checkpoint DIR it goes on writing there). --steps/--epochs count from
//   the run's start, so a larger one extends a finished run. The checkpoint is checked whole
//   (size, checksum, every tensor's name and shape and the plan hash against the plan, the
//   seed, the optimizer's settings, the lr schedule and the training set's size against this run) before
//   anything is written: a mismatch is one line naming the file and what differs, exit 1.
//   --metrics of a resumed run holds its own steps (numbered from the run's start).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/Checkpoint.h"
#include "runtime/Executor.h"
#include "runtime/OnnxExport.h"
#include "runtime/PixelMetrics.h"
#include "runtime/PlanChecks.h"
#include "runtime/PlanLoader.h"
#include "runtime/cpu/CpuBackend.h"
#include "runtime/cpu/Parallel.h"
#include "runtime/cuda/Backends.h"
#include "runtime/data/BatchLoader.h"
#include "tools/TrainingFlags.h"
#ifdef LRC_HAVE_MPI
#include "runtime/mpi/MpiCollective.h"
#endif

// OpenBLAS's thread control, when the BLAS linked is OpenBLAS (weak: other BLAS lack them).
extern "C" void openblas_set_num_threads(int) __attribute__((weak));
extern "C" int openblas_get_num_threads() __attribute__((weak));

using namespace lrc;

#ifdef LRC_HAVE_MPI
constexpr bool kHaveMpi = true;
#else
constexpr bool kHaveMpi = false;
#endif

namespace {

constexpr const char* kUsage =
    "usage: lrc-run PLAN.bin --data SPEC [--val SPEC] [--steps N | --epochs N] [--device cpu|cuda|cuda-emulated] "
    "[--precision fp32|tf32] [--lr X] [--weight-decay X] [--seed N] [--save-onnx OUT.onnx] [--metrics OUT.jsonl] "
    "[--threads N] [--profile OUT.json] [--checkpoint DIR [--checkpoint-every N]] [--resume DIR] "
    "[--train-transform LIST] [--val-transform LIST] [--mean A,B,C --std A,B,C | --normalize imagenet] [--workers N]\n"
    "  sgd plans: [--momentum X] [--nesterov]; adamw plans: [--beta1 X] [--beta2 X] [--eps X]\n"
    "  [--lr-schedule constant|step|cosine] [--warmup-steps N]: the lr per training step; step: --lr-step-size N\n"
    "    [--lr-gamma G] (StepLR), cosine: [--lr-min X] (CosineAnnealingLR over the run's steps)\n"
    "  --threads N: CPU threads, BLAS and element-wise kernels (default: the physical cores)\n"
    "  --profile OUT.json: per-kernel wall time of the train program (the first step is warm-up)\n"
    "  --checkpoint DIR: keep DIR/checkpoint.lrck after every epoch (or every N steps), at the end and on SIGINT/SIGTERM\n"
    "  --resume DIR: continue the run whose checkpoint DIR holds (same plan, data and settings)\n"
    "  SPEC: npy:X.npy,Y.npy | idx:DIR | cifar10:DIR | folder:DIR | synthetic\n"
    "  LIST: comma-separated resize[:S], center-crop, random-resized-crop, flip (torchvision's Resize,\n"
    "        CenterCrop, RandomResizedCrop, RandomHorizontalFlip; crops give the plan's HxW)\n"
    "  --val-transform: default resize,center-crop when --train-transform resizes or crops\n"
    "  --mean/--std, --normalize imagenet: per-channel normalization after the transforms, train and val\n"
    "  --workers N: threads decoding and transforming batches ahead of the step (default 1; 0: none)\n"
    "  data parallel: mpirun -np N lrc-run PLAN ... with a plan compiled --data-parallel; each rank trains\n"
    "    its slice of every global batch of N x the plan's batch (--global-batch B checks it); rank 0 prints,\n"
    "    writes metrics, checkpoints and --save-onnx (docs/distributed.md)\n";

struct Options {
  std::string plan;
  std::string data, val;
  std::optional<int64_t> steps, epochs;
  std::string device = "cpu";
  bool tf32 = false;
  tools::OptimizerFlags optimizer;  // overrides of the plan's defaults
  tools::ScheduleFlags schedule;
  uint64_t seed = 0;
  std::string saveOnnx, metrics, profile;
  std::optional<int> threads;
  std::string checkpoint, resume;
  std::optional<int64_t> checkpointEvery;
  std::vector<data::TransformStep> trainTransform;
  std::optional<std::vector<data::TransformStep>> valTransform;
  data::Normalization normalization;
  std::string normalizationFlag;  // how it was given, for errors
  int workers = 1;
  std::optional<int64_t> globalBatch;  // data parallel: must be ranks x the plan's batch
};

// A bad command line: one line (the usage is --help's), exit 2.
[[noreturn]] void usage(const std::string& problem) {
  const std::string line = "lrc-run: error: " + problem + " (see lrc-run --help)\n";
  std::fwrite(line.data(), 1, line.size(), stderr);  // one write: the ranks of a job share the terminal
  std::exit(2);
}

uint64_t parseCount(const std::string& flag, const std::string& text, bool allowZero) {
  try {
    return tools::countFlag(flag, text, allowZero);
  } catch (const std::invalid_argument& e) {
    usage(e.what());
  }
}

// "A,B,C": finite numbers, at least one; with `positive`, each > 0.
std::vector<float> parseNumberList(const std::string& flag, const std::string& text, bool positive) {
  std::vector<float> values;
  size_t at = 0;
  for (;;) {
    const size_t comma = text.find(',', at);
    const std::string item = text.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    double v = 0;
    bool ok = false;
    try {
      size_t used = 0;
      v = std::stod(item, &used);
      ok = used == item.size() && std::isfinite(v) && std::abs(v) < 1e30;
    } catch (const std::exception&) {
    }
    if (!ok) usage(flag + " expects comma-separated numbers, got '" + text + "'");
    if (positive && v <= 0) usage(flag + " values must be positive, got '" + item + "'");
    values.push_back(static_cast<float>(v));
    if (comma == std::string::npos) return values;
    at = comma + 1;
  }
}

std::vector<data::TransformStep> parseTransforms(const std::string& flag, const std::string& text) {
  try {
    return data::parseTransformList(flag, text);
  } catch (const std::invalid_argument& e) {
    usage(e.what());
  }
}

// An optimizer or schedule flag read into `o` (tools/TrainingFlags.h); false when `a` is neither.
bool trainingFlag(const std::string& a, const std::function<std::string()>& value, Options& o) {
  try {
    return tools::readOptimizerFlag(a, value, o.optimizer) || tools::readScheduleFlag(a, value, o.schedule);
  } catch (const std::invalid_argument& e) {
    usage(e.what());
  }
}

Options parseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (++i >= argc) usage(a + " needs a value");
      return argv[i];
    };
    if (a == "--data") {
      o.data = value();
    } else if (a == "--val") {
      o.val = value();
    } else if (a == "--steps") {
      o.steps = static_cast<int64_t>(parseCount(a, value(), false));
    } else if (a == "--epochs") {
      o.epochs = static_cast<int64_t>(parseCount(a, value(), false));
    } else if (a == "--device") {
      o.device = value();
      if (o.device != "cpu" && o.device != "cuda" && o.device != "cuda-emulated")
        usage("--device expects cpu, cuda or cuda-emulated, got '" + o.device + "'");
    } else if (a == "--precision") {
      const std::string precision = value();
      if (precision != "fp32" && precision != "tf32")
        usage("--precision expects fp32 or tf32, got '" + precision + "'");
      o.tf32 = precision == "tf32";
    } else if (trainingFlag(a, value, o)) {
    } else if (a == "--seed") {
      o.seed = parseCount(a, value(), true);
    } else if (a == "--save-onnx") {
      o.saveOnnx = value();
    } else if (a == "--metrics") {
      o.metrics = value();
    } else if (a == "--profile") {
      o.profile = value();
    } else if (a == "--train-transform") {
      o.trainTransform = parseTransforms(a, value());
    } else if (a == "--val-transform") {
      o.valTransform = parseTransforms(a, value());
    } else if (a == "--mean") {
      o.normalization.mean = parseNumberList(a, value(), false);
    } else if (a == "--std") {
      o.normalization.std = parseNumberList(a, value(), true);
    } else if (a == "--normalize") {
      const std::string name = value();
      if (name != "imagenet") usage("--normalize expects imagenet, got '" + name + "'");
      o.normalizationFlag = "--normalize imagenet";
    } else if (a == "--workers") {
      const uint64_t n = parseCount(a, value(), true);
      if (n > 256) usage("--workers expects at most 256, got " + std::to_string(n));
      o.workers = static_cast<int>(n);
    } else if (a == "--threads") {
      const uint64_t n = parseCount(a, value(), false);
      if (n > 4096) usage("--threads expects at most 4096, got " + std::to_string(n));
      o.threads = static_cast<int>(n);
    } else if (a == "--checkpoint") {
      o.checkpoint = value();
    } else if (a == "--checkpoint-every") {
      o.checkpointEvery = static_cast<int64_t>(parseCount(a, value(), false));
    } else if (a == "--resume") {
      o.resume = value();
    } else if (a == "--global-batch") {
      o.globalBatch = static_cast<int64_t>(parseCount(a, value(), false));
    } else if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      std::exit(0);
    } else if (!a.empty() && a[0] == '-') {
      usage("unknown option '" + a + "'");
    } else if (o.plan.empty()) {
      o.plan = a;
    } else {
      usage("more than one plan file ('" + o.plan + "' and '" + a + "')");
    }
  }
  if (o.plan.empty()) usage("no plan file");
  if (o.data.empty()) usage("no training data: give --data SPEC");
  if (o.steps && o.epochs) usage("give --steps or --epochs, not both");
  try {
    tools::scheduleOf(o.schedule);
  } catch (const std::invalid_argument& e) {
    usage(e.what());
  }
  if (o.checkpointEvery && o.checkpoint.empty()) usage("--checkpoint-every needs --checkpoint DIR");
  if (o.valTransform && o.val.empty()) usage("--val-transform needs --val SPEC");
  const bool meanOrStd = !o.normalization.mean.empty() || !o.normalization.std.empty();
  if (!o.normalizationFlag.empty() && meanOrStd) usage("give --normalize or --mean and --std, not both");
  if (!o.normalizationFlag.empty()) o.normalization = data::imagenetNormalization();
  if (meanOrStd) {
    if (o.normalization.mean.empty() || o.normalization.std.empty()) usage("--mean and --std go together");
    if (o.normalization.mean.size() != o.normalization.std.size())
      usage("--mean has " + std::to_string(o.normalization.mean.size()) + " values but --std has " +
            std::to_string(o.normalization.std.size()));
    o.normalizationFlag = "--mean";
  }
  return o;
}

// ---- reports ----

std::string fixed(double x, int digits) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", digits, x);
  return text;
}

std::string mib(double bytes) { return fixed(bytes / (1 << 20), 1) + " MiB"; }

std::string duration(double seconds) {
  const long s = std::lround(std::max(0.0, seconds));
  char text[32];
  if (s >= 3600)
    std::snprintf(text, sizeof text, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  else
    std::snprintf(text, sizeof text, "%ld:%02ld", s / 60, s % 60);
  return text;
}

// A JSON number, or null for NaN and infinities (which JSON cannot hold).
std::string jsonNumber(double x) {
  if (!std::isfinite(x)) return "null";
  char text[64];
  std::snprintf(text, sizeof text, "%.9g", x);
  return text;
}

// Kibibytes of a /proc/self/status field (VmRSS, VmHWM), 0 when unavailable.
uint64_t procStatusKiB(const char* field) {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind(field, 0) == 0 && line.size() > std::strlen(field) && line[std::strlen(field)] == ':')
      return std::strtoull(line.c_str() + std::strlen(field) + 1, nullptr, 10);
  return 0;
}

// ---- SIGINT and SIGTERM ----

// The first SIGINT or SIGTERM only records itself here: the step under way finishes, then the
// run stops (the loop in run() looks after every step) and keeps what it has. A second one
// ends the process at once, removing the output temporaries first: the handler only
// unlinks, which is async-signal-safe, paths written before the handlers were installed.
volatile std::sig_atomic_t stopSignal = 0;
char temporaries[4][4096];  // PATH.tmp of --metrics, --save-onnx, --profile, the checkpoint

extern "C" void onStopSignal(int sig) {
  if (stopSignal == 0) {
    stopSignal = sig;
    return;
  }
  for (const char* tmp : temporaries)
    if (tmp[0]) unlink(tmp);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

void installStopHandlers(const std::vector<std::string>& outputs) {
  size_t slot = 0;
  for (const std::string& path : outputs) {
    if (path.empty()) continue;
    const std::string tmp = path + ".tmp";
    if (tmp.size() >= sizeof temporaries[0]) throw std::runtime_error(path + ": cannot write: path too long");
    std::memcpy(temporaries[slot++], tmp.c_str(), tmp.size() + 1);
  }
  std::signal(SIGINT, onStopSignal);
  std::signal(SIGTERM, onStopSignal);
}

const char* signalName(int sig) { return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal"; }

// --metrics: JSON lines written to PATH.tmp as they come (so a long run can be followed)
// and renamed to PATH when the run succeeds or stops early; the temporary is removed when it
// fails.
class MetricsFile {
 public:
  explicit MetricsFile(std::string path) : path_(std::move(path)), tmp_(path_ + ".tmp") {
    if (path_.empty()) return;
    file_ = std::fopen(tmp_.c_str(), "w");
    if (!file_) throw std::runtime_error(path_ + ": cannot write: " + std::strerror(errno));
  }
  ~MetricsFile() {
    if (!file_) return;
    std::fclose(file_);
    std::remove(tmp_.c_str());
  }
  void line(const std::string& json) {
    if (!file_) return;
    if (std::fputs((json + "\n").c_str(), file_) < 0 || std::fflush(file_) != 0)
      throw std::runtime_error(path_ + ": cannot write: " + std::strerror(errno));
  }
  void commit() {
    if (!file_) return;
    const bool closed = std::fclose(file_) == 0;
    file_ = nullptr;
    if (!closed || std::rename(tmp_.c_str(), path_.c_str()) != 0) {
      const std::string reason = std::strerror(errno);
      std::remove(tmp_.c_str());
      throw std::runtime_error(path_ + ": cannot write: " + reason);
    }
  }

 private:
  std::string path_, tmp_;
  std::FILE* file_ = nullptr;
};

// The progress line: one line updated in place on a terminal, plain lines (about 20 per
// run) otherwise.
class Progress {
 public:
  // `firstStep`: the steps done before this process (a resumed run's).
  Progress(int64_t totalSteps, int64_t firstStep)
      : total_(totalSteps),
        first_(firstStep),
        terminal_(isatty(STDOUT_FILENO) != 0),
        every_(std::max<int64_t>(1, (totalSteps + 19) / 20)) {}

  // `trainSeconds`: time spent in training steps so far (evaluation excluded).
  void update(int64_t step, float loss, double imagesPerSecond, double trainSeconds) {
    const bool last = step == total_;
    const auto now = std::chrono::steady_clock::now();
    if (terminal_ && !last && now - lastDraw_ < std::chrono::milliseconds(100)) return;
    if (!terminal_ && !last && step % every_ != 0 && step != first_ + 1) return;
    lastDraw_ = now;
    const double eta = trainSeconds / static_cast<double>(step - first_) * static_cast<double>(total_ - step);
    const std::string text = "step " + std::to_string(step) + "/" + std::to_string(total_) + "  loss " +
                             fixed(loss, 4) + "  " + std::to_string(std::lround(imagesPerSecond)) + " img/s  ETA " +
                             duration(eta);
    if (terminal_) {
      std::cout << "\r" << text << "\033[K" << std::flush;
      open_ = !last;
      if (last) std::cout << "\n";
    } else {
      std::cout << text << "\n" << std::flush;
    }
  }
  // Ends an updating line before other output.
  void breakLine() {
    if (open_) std::cout << "\n";
    open_ = false;
  }

 private:
  int64_t total_, first_;
  bool terminal_;
  int64_t every_;
  bool open_ = false;
  std::chrono::steady_clock::time_point lastDraw_{};
};

// What --val reports: top-1 accuracy (a classifier), or pixel accuracy and mean IoU (a
// segmentation plan).
struct ValScores {
  double accuracy = 0;
  std::optional<double> meanIoU;
};

// Accuracy of the eval program over the whole data set, in order: the last partial batch is
// padded with zero images and only its real samples count.
ValScores evaluate(runtime::Executor& executor, const data::Dataset& data, const data::Transforms& transforms,
                   int workers) {
  const runtime::IoShape& s = executor.shape();
  const int64_t batches = data::BatchLoader::batchesPerEpoch(data.size(), s.batch, /*padLastBatch=*/true);
  data::BatchLoader loader(data, s.batch,
                           {.shuffle = false, .padLastBatch = true, .transforms = &transforms, .workers = workers,
                            .batches = batches});
  std::vector<float> logits(static_cast<size_t>(s.batch * s.classes * s.labelsPerSample()));
  if (s.perPixel()) {
    runtime::PixelMetrics metrics(s.classes);
    for (int64_t b = 0; b < batches; ++b) {
      const data::Batch batch = loader.next();
      executor.evaluate(batch.images, logits.data());
      metrics.add(logits.data(), batch.labels, batch.samples, s.labelHeight, s.labelWidth, s.ignoreIndex);
    }
    return {metrics.pixelAccuracy(), metrics.meanIoU()};
  }
  int64_t correct = 0;
  for (int64_t b = 0; b < batches; ++b) {
    const data::Batch batch = loader.next();
    executor.evaluate(batch.images, logits.data());
    for (int64_t i = 0; i < batch.samples; ++i) {
      const float* row = logits.data() + i * s.classes;
      int64_t best = 0;
      for (int64_t k = 1; k < s.classes; ++k)
        if (row[k] > row[best]) best = k;
      correct += best == batch.labels[i];
    }
  }
  return {static_cast<double>(correct) / static_cast<double>(data.size()), std::nullopt};
}

std::unique_ptr<runtime::Backend> makeBackend(const Options& o, runtime::Collective* collective) {
  if (o.tf32 && o.device != "cuda") throw std::runtime_error("--precision tf32 needs --device cuda");
  if (o.device == "cuda") {
    runtime::CudaOptions options;
    options.tf32 = o.tf32;
    options.collective = collective;  // each rank's GPU, NCCL where this build has it
    try {
      return runtime::makeCudaBackend(options);
    } catch (const std::runtime_error& e) {
      throw std::runtime_error(std::string("--device cuda: ") + e.what());
    }
  }
  if (o.device == "cuda-emulated") return runtime::makeEmulatedCudaBackend();
  return std::make_unique<runtime::CpuBackend>();
}

// Fails now, before any training, when PATH cannot be written: creates PATH.tmp (where
// writeFileAtomically will write), reserves `bytes` in it (a full disk still lets an empty
// file be created), and removes it again. A file system that cannot reserve is not refused.
void checkWritable(const std::string& path, uint64_t bytes = 0) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw std::runtime_error(path + ": cannot write: Is a directory");
  const std::string tmp = path + ".tmp";
  std::FILE* file = std::fopen(tmp.c_str(), "w");
  if (!file) throw std::runtime_error(path + ": cannot write: " + std::strerror(errno));
  const int reserved = bytes ? posix_fallocate(fileno(file), 0, static_cast<off_t>(bytes)) : 0;
  std::fclose(file);
  std::remove(tmp.c_str());
  if (reserved == ENOSPC || reserved == EDQUOT || reserved == EFBIG)
    throw std::runtime_error(path + ": cannot write: " + std::strerror(reserved) + " (the model needs about " +
                             std::to_string(bytes) + " bytes)");
}

// About the bytes --save-onnx writes: the model without its initializers' data, and that data.
uint64_t onnxExportBytes(const plan::Plan& plan) {
  uint64_t bytes = plan.onnx_model().size();
  for (const plan::Buffer& b : plan.buffers())
    if (!b.onnx_name().empty()) bytes += b.bytes();
  return bytes;
}

// A JSON number of bytes from kibibytes, or null when unknown (0).
std::string jsonBytes(uint64_t kib) { return kib ? std::to_string(kib * 1024) : "null"; }

// Data parallel: the plan has collective steps (lrc-compile --data-parallel).
bool averagesOverRanks(const plan::Plan& plan) {
  for (const plan::Step& step : plan.train().steps())
    if (step.kernel() == "allreduce_start") return true;
  return false;
}

// FNV-1a over the settings every rank must share (the data order and the run's length).
uint64_t settingsHash(std::initializer_list<int64_t> values) {
  uint64_t h = 1469598103934665603ull;
  for (int64_t v : values)
    for (int i = 0; i < 8; ++i) h = (h ^ (static_cast<uint64_t>(v) >> (8 * i) & 0xff)) * 1099511628211ull;
  return h;
}

// `collective`: the job's ranks under mpirun (null: one process). Rank 0 alone prints (the
// others' std::cout is silenced by main), writes the metrics, checkpoints, --save-onnx and
// --profile, and validates.
int run(const Options& o, uint64_t rssStartKiB, runtime::Collective* collective) {
  const int ranks = collective ? collective->size() : 1;
  const bool rank0 = !collective || collective->rank() == 0;
  const std::string checkpointFile = o.checkpoint.empty() ? "" : runtime::checkpointPath(o.checkpoint);
  installStopHandlers({o.metrics, o.saveOnnx, o.profile, checkpointFile});
  std::unique_ptr<runtime::Backend> backend = makeBackend(o, collective);
  // The plan without its weights: those stay in the file until the executor streams them.
  const plan::PlanFile planFile = runtime::loadPlan(o.plan, *backend);
  const plan::Plan& plan = planFile.plan();
  if (ranks > 1 && !averagesOverRanks(plan))
    throw std::runtime_error(o.plan + ": the plan trains one process (no gradient averaging): compile it with "
                             "lrc-compile --data-parallel to train on " + std::to_string(ranks) + " ranks");
  if (collective) {
    try {
      collective->checkSame(planFile.identity(), "plan");
    } catch (const std::runtime_error& e) {
      throw std::runtime_error(o.plan + ": " + e.what() + " (every rank must load the same plan)");
    }
  }
  plan::Optimizer optimizer = plan.optimizer();
  try {
    tools::applyOptimizerFlags(o.optimizer, optimizer, o.plan + "'s optimizer");
  } catch (const std::invalid_argument& e) {
    usage(e.what());
  }
  if (optimizer.nesterov() && runtime::fusesOptimizerGrads(plan))
    usage("--nesterov: " + o.plan + " adds its weight gradients into the momentum buffers, and Nesterov momentum needs "
          "them apart (compile it with lrc-compile --no-fuse-sgd-grads)");
  if (!o.saveOnnx.empty()) runtime::checkOnnxExport(plan, o.plan);  // before training, not after
  const runtime::IoShape shape = runtime::ioShape(plan);

  const data::Shape chw = {shape.channels, shape.height, shape.width};
  if (!o.normalization.empty() && o.normalization.mean.size() != static_cast<size_t>(shape.channels))
    throw std::runtime_error(o.normalizationFlag + " has " + std::to_string(o.normalization.mean.size()) +
                             " values but the plan's images have " + std::to_string(shape.channels) + " channel" +
                             (shape.channels == 1 ? "" : "s"));
  const std::vector<data::TransformStep> valSteps = o.valTransform.value_or(data::evaluationSteps(o.trainTransform));
  const data::Transforms trainTransforms(o.trainTransform, o.normalization, chw, o.seed, shape.ignoreIndex);
  const data::Transforms valTransforms(valSteps, o.normalization, chw, o.seed, shape.ignoreIndex);
  std::optional<data::PixelLabels> pixels;
  if (shape.perPixel()) pixels = data::PixelLabels{shape.labelHeight, shape.labelWidth, shape.ignoreIndex};
  // Masks are resized and cropped with their images, to the images' size.
  if (shape.perPixel() && (shape.labelHeight != shape.height || shape.labelWidth != shape.width) &&
      (trainTransforms.changesSize() || valTransforms.changesSize()))
    usage("the plan labels " + std::to_string(shape.labelHeight) + "x" + std::to_string(shape.labelWidth) +
          " pixels but its images are " + std::to_string(shape.height) + "x" + std::to_string(shape.width) +
          ": transforms that resize or crop (which give masks their images' size) need the two equal");
  std::unique_ptr<data::Dataset> train = data::openDataset(o.data, data::Split::Train, chw, shape.classes, o.seed,
                                                           trainTransforms.changesSize(), pixels);
  std::unique_ptr<data::Dataset> val;
  if (!o.val.empty())
    val = data::openDataset(o.val, data::Split::Test, chw, shape.classes, o.seed, valTransforms.changesSize(), pixels);
  if (o.globalBatch && *o.globalBatch != shape.batch * ranks)
    usage("--global-batch " + std::to_string(*o.globalBatch) + " is not " + std::to_string(ranks) + " rank" +
          (ranks == 1 ? "" : "s") + " x the plan's batch of " + std::to_string(shape.batch));
  const int64_t perEpoch =
      data::BatchLoader::batchesPerEpoch(train->size(), shape.batch, /*padLastBatch=*/false, ranks);
  const int64_t totalSteps = o.steps ? *o.steps : o.epochs.value_or(1) * perEpoch;
  const runtime::LrSchedule schedule = tools::scheduleOf(o.schedule);
  if (const std::string problem = runtime::lrScheduleProblem(schedule, totalSteps); !problem.empty()) usage(problem);
  if (collective)  // the same data order, length and optimizer on every rank, or none starts
    collective->checkSame(settingsHash({static_cast<int64_t>(o.seed), totalSteps, train->size(), shape.batch,
                                        static_cast<int64_t>(optimizer.SerializeAsString().size())}),
                          "--seed, --steps/--epochs or training data");
  data::BatchLoader loader(*train, shape.batch,
                           {.seed = o.seed,
                            .transforms = &trainTransforms,
                            .workers = o.workers,
                            .batches = totalSteps,
                            .ranks = ranks,
                            .rank = collective ? collective->rank() : 0});

  // One count for BLAS and the element-wise kernels; without --threads the physical cores,
  // shared by the ranks of this node under mpirun (Open MPI's OMPI_COMM_WORLD_LOCAL_SIZE).
  int threads = o.threads.value_or(0);
  if (threads == 0) {
    const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    const int perNode = local != nullptr && std::atoi(local) > 0 ? std::atoi(local) : 1;
    threads = std::max(1, cpu::physical_cores() / perNode);
  }
  if (openblas_set_num_threads) openblas_set_num_threads(threads);
  cpu::set_threads(threads);
  const int blasThreads = openblas_get_num_threads ? openblas_get_num_threads() : 1;

  runtime::RunSettings settings;
  settings.optimizer = runtime::optimizerParams(optimizer);
  settings.seed = o.seed;
  settings.schedule = schedule;
  settings.scheduleSteps = totalSteps;
  settings.collective = collective;

  // The checkpoint checked whole against the plan and this run, before anything is written.
  std::unique_ptr<runtime::Checkpoint> resume;
  if (!o.resume.empty()) {
    resume = std::make_unique<runtime::Checkpoint>(o.resume, plan);
    resume->checkRun(settings, train->size());
    if (resume->stepsDone() > static_cast<uint64_t>(totalSteps))
      throw std::runtime_error(resume->path() + ": the checkpoint is at step " + std::to_string(resume->stepsDone()) +
                               ", past this run's " + std::to_string(totalSteps) + " steps (give --steps or --epochs)");
  }
  const int64_t firstStep = resume ? static_cast<int64_t>(resume->stepsDone()) : 0;

  MetricsFile metrics(rank0 ? o.metrics : "");
  if (rank0 && !o.profile.empty()) checkWritable(o.profile);
  if (rank0 && !o.saveOnnx.empty()) checkWritable(o.saveOnnx, onnxExportBytes(plan));
  if (rank0 && !o.checkpoint.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(o.checkpoint, ec);
    if (ec) throw std::runtime_error(o.checkpoint + ": cannot create the checkpoint directory: " + ec.message());
    checkWritable(checkpointFile, runtime::checkpointBytes(plan, settings));
  }
  // The resident size before the arena: the plan (without weights) and the data opened. The
  // peak (VmHWM) is never reset: the report gives the whole process's.
  const uint64_t rssBeforeKiB = procStatusKiB("VmRSS");
  runtime::Executor executor(plan, planFile, *backend, settings);  // checks the weights' checksum
  if (!o.profile.empty()) executor.enableProfile(/*warmupSteps=*/1);
  if (resume) {
    resume->restore(executor);
    loader.seek(resume->loader().epoch, resume->loader().batchInEpoch);
  }
  std::cout << "lrc-run: " << o.plan << ": model " << plan.model_name() << ", batch " << shape.batch << " x "
            << shape.channels << "x" << shape.height << "x" << shape.width << ", " << shape.classes
            << " classes, arena " << mib(static_cast<double>(plan.arena_bytes())) << " (" << plan.arena_bytes()
            << " bytes), " << backend->name() << " backend, " << threads << " thread" << (threads == 1 ? "" : "s") << " ("
            << blasThreads << " BLAS)"
            << "\n"
            << "train: " << train->describe() << ", " << loader.batchesPerEpoch() << " steps per epoch\n";
  if (collective)
    std::cout << "data parallel: " << ranks << (ranks == 1 ? " rank" : " ranks") << " x batch " << shape.batch << " = global batch "
              << ranks * shape.batch << " (MPI); gradients averaged in the plan's buckets; the arena is each rank's\n";
  if (val) std::cout << "val: " << val->describe() << "\n";
  std::cout << "transforms: train " << trainTransforms.describe();
  if (val) std::cout << "; val " << valTransforms.describe();
  std::cout << "; " << o.workers << " worker" << (o.workers == 1 ? "" : "s") << " ahead of the step\n";
  std::cout << plan::optimizerText(optimizer) << "; " << totalSteps << " steps\n";
  if (const std::string line = runtime::describeLrSchedule(schedule, totalSteps); !line.empty())
    std::cout << line << "\n";
  if (resume)
    std::cout << "resumed from " << resume->path() << ": step " << firstStep << ", epoch " << loader.epoch() + 1
              << " at batch " << loader.batchInEpoch() + 1 << " of " << loader.batchesPerEpoch() << "\n";
  resume.reset();
  std::cout << std::flush;

  Progress progress(totalSteps, firstStep);
  double trainSeconds = 0;
  double dataSeconds = 0;  // the steps' waits for their batch
  bool evaluatedLast = false;
  auto validate = [&](int64_t epoch, int64_t step) {
    const auto start = std::chrono::steady_clock::now();
    const ValScores scores = evaluate(executor, *val, valTransforms, o.workers);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    progress.breakLine();
    std::cout << "epoch " << epoch << " (step " << step << "): val " << (scores.meanIoU ? "pixel accuracy " : "accuracy ")
              << fixed(scores.accuracy, 4);
    if (scores.meanIoU) std::cout << ", mean IoU " << fixed(*scores.meanIoU, 4);
    std::cout << " (" << val->size() << " images, " << fixed(seconds, 1) << " s)\n" << std::flush;
    metrics.line("{\"epoch\":" + std::to_string(epoch) + ",\"step\":" + std::to_string(step) +
                 ",\"val_accuracy\":" + jsonNumber(scores.accuracy) +
                 (scores.meanIoU ? ",\"val_mean_iou\":" + jsonNumber(*scores.meanIoU) : std::string()) + "}");
  };

  // Stops the run early, after `stepsDone` steps, keeping the metrics of those steps: the
  // file whole, a last line saying why.
  auto stopEarly = [&](int64_t stepsDone, const std::string& reason) {
    progress.breakLine();
    metrics.line("{\"stopped_at_step\":" + std::to_string(stepsDone) + ",\"reason\":\"" + reason + "\"}");
    metrics.commit();
    std::cout << std::flush;
  };

  // --checkpoint: once per step at most.
  int64_t checkpointedAt = -1;
  auto checkpoint = [&](int64_t step) {
    if (!rank0 || o.checkpoint.empty() || checkpointedAt == step) return;
    runtime::writeCheckpoint(o.checkpoint, plan, executor, {loader.epoch(), loader.batchInEpoch(), train->size()});
    checkpointedAt = step;
    progress.breakLine();
    std::cout << "checkpoint: step " << step << " written to " << checkpointFile << "\n" << std::flush;
  };

  int64_t stepsDone = firstStep;
  for (int64_t step = firstStep + 1; step <= totalSteps && !stopSignal; ++step) {
    const int64_t epoch = loader.epoch();
    float loss;
    double seconds = 0;
    const double lr = executor.stepLr();
    try {
      const auto wait = std::chrono::steady_clock::now();
      const data::Batch batch = loader.next();
      const auto start = std::chrono::steady_clock::now();
      dataSeconds += std::chrono::duration<double>(start - wait).count();
      loss = executor.trainStep(batch.images, batch.labels);
      if (collective) {  // the global batch's loss, and whether any rank was told to stop
        double agree[2] = {loss, stopSignal ? 1.0 : 0.0};
        collective->sumNow(agree, 2);
        loss = static_cast<float>(agree[0] / ranks);
        if (agree[1] > 0 && !stopSignal) stopSignal = SIGTERM;
      }
      seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    } catch (const std::exception& e) {
      progress.breakLine();
      throw std::runtime_error("step " + std::to_string(step) + " on " + o.data + ": " + e.what());
    }
    trainSeconds += seconds;
    const double imagesPerSecond = static_cast<double>(shape.batch * ranks) / std::max(seconds, 1e-9);
    metrics.line("{\"step\":" + std::to_string(step) + ",\"epoch\":" + std::to_string(epoch + 1) +
                 ",\"loss\":" + jsonNumber(loss) + ",\"lr\":" + jsonNumber(lr) + ",\"images_per_s\":" + jsonNumber(imagesPerSecond) +
                 ",\"step_seconds\":" + jsonNumber(seconds) + "}");
    // A NaN or infinite loss never comes back: every later step and the saved model would
    // be NaN. Stop here, and say which parameter went first (read once, now).
    if (!std::isfinite(loss)) {
      const std::string parameter = executor.firstNonFiniteParameter();
      stopEarly(step, "non-finite loss");
      throw std::runtime_error("step " + std::to_string(step) + ": the loss is " + (std::isnan(loss) ? "NaN" : "infinite") +
                               ", training diverged (" +
                               (parameter.empty() ? "every parameter is still finite"
                                                  : "first non-finite parameter: " + parameter) +
                               "; lr " + jsonNumber(lr) + ")");
    }
    progress.update(step, loss, static_cast<double>((step - firstStep) * shape.batch * ranks) / std::max(trainSeconds, 1e-9),
                    trainSeconds);
    stepsDone = step;
    evaluatedLast = false;
    if (val && rank0 && loader.epoch() != epoch) {
      validate(epoch + 1, step);
      evaluatedLast = true;
    }
    if (o.checkpointEvery ? step % *o.checkpointEvery == 0 : loader.epoch() != epoch) checkpoint(step);
  }
  if (const int sig = stopSignal) {
    checkpoint(stepsDone);
    stopEarly(stepsDone, signalName(sig));
    if (rank0)  // what it says (metrics, checkpoint) is rank 0's
    std::cerr << "lrc-run: interrupted by " << signalName(sig) << " at step " << stepsDone << " of " << totalSteps
              << (o.metrics.empty() ? "" : ": wrote the metrics of the steps done to " + o.metrics)
              << (o.saveOnnx.empty() ? "" : "; --save-onnx not written")
              << (o.profile.empty() ? "" : "; --profile not written")
              << (o.checkpoint.empty() ? "" : "; checkpoint of step " + std::to_string(stepsDone) + " in " + o.checkpoint)
              << "\n";
    return 128 + sig;
  }
  checkpoint(totalSteps);
  if (val && rank0 && !evaluatedLast) validate(loader.epoch() + 1, totalSteps);
  progress.breakLine();

  const uint64_t measured = executor.measuredPeakBytes();  // throws if a kernel wrote past the arena
  const uint64_t predicted = executor.predictedPeakBytes();
  const int64_t stepsRun = totalSteps - firstStep;
  std::cout << "trained " << stepsRun << " steps in " << fixed(trainSeconds, 1) << " s ("
            << std::lround(static_cast<double>(stepsRun * shape.batch * ranks) / std::max(trainSeconds, 1e-9)) << " img/s), "
            << fixed(dataSeconds, 1) << " s more waiting for data\n";
  const uint64_t rssPeakKiB = procStatusKiB("VmHWM");
  std::cout << "peak arena bytes: measured " << measured << ", predicted " << predicted << "\n";
  if (const std::string device = backend->memoryReport(); !device.empty()) std::cout << device << "\n";
  if (measured < predicted)
    std::cout << "note: the run never touched the plan's last " << predicted - measured << " arena bytes\n";
  if (rssStartKiB && rssBeforeKiB && rssPeakKiB) {
    const double above = (rssPeakKiB > rssStartKiB ? rssPeakKiB - rssStartKiB : 0) * 1024.0;
    const double arena = static_cast<double>(plan.arena_bytes());
    std::cout << "process RSS: " << mib(rssStartKiB * 1024.0) << " at start, " << mib(rssBeforeKiB * 1024.0)
              << " before the arena (plan and data loaded), peak " << mib(rssPeakKiB * 1024.0) << ": "
              << mib(above) << " above the start, the arena's " << mib(arena) << (above >= arena ? " + " : " - ")
              << mib(std::abs(above - arena)) << "\n";
  }
  std::cout << std::flush;
  if (measured > predicted)
    throw std::runtime_error("the run touched " + std::to_string(measured) + " arena bytes, more than the " +
                             std::to_string(predicted) + " the plan predicts");

  metrics.line("{\"measured_peak_bytes\":" + std::to_string(measured) + ",\"predicted_peak_bytes\":" +
               std::to_string(predicted) + ",\"rss_start_bytes\":" + jsonBytes(rssStartKiB) +
               ",\"rss_peak_bytes\":" + jsonBytes(rssPeakKiB) + "}");
  if (const runtime::Profile* profile = rank0 ? executor.profile() : nullptr) {
    runtime::writeFileAtomically(o.profile, runtime::profileJson(plan, *profile));
    std::cout << "wrote " << o.profile << " (kernel times of " << profile->stepsTimed << " step"
              << (profile->stepsTimed == 1 ? "" : "s") << " after " << profile->warmupSteps << " warm-up)\n";
  }
  if (rank0 && !o.saveOnnx.empty()) {
    runtime::writeFileAtomically(
        o.saveOnnx, runtime::exportOnnx(plan, o.plan, [&](uint32_t index) { return executor.readBuffer(index); }));
    std::cout << "wrote " << o.saveOnnx << "\n";
  }
  metrics.commit();
  // A signal after the last step: the outputs were finished first, whole.
  if (const int sig = stopSignal) {
    std::cerr << "lrc-run: interrupted by " << signalName(sig) << " after the last step; the outputs were written first\n";
    return 128 + sig;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t rssStartKiB = procStatusKiB("VmRSS");  // before anything is read
  const Options o = parseArgs(argc, argv);
  const int world = runtime::launcherWorldSize();
#ifdef LRC_HAVE_MPI
  std::unique_ptr<runtime::MpiCollective> mpi;
#endif
  try {
    if (world > 1 || (world == 1 && kHaveMpi)) {  // under mpirun (one rank too: a GPU's NCCL path alone)
#ifdef LRC_HAVE_MPI
      mpi = std::make_unique<runtime::MpiCollective>(&argc, &argv);
      if (mpi->rank() != 0) std::cout.setstate(std::ios::badbit);  // rank 0 alone prints
#else
      throw std::runtime_error("started as one of " + std::to_string(world) +
                               " ranks, but this lrc-run was built without MPI (libopenmpi-dev)");
#endif
    }
#ifdef LRC_HAVE_MPI
    return run(o, rssStartKiB, mpi.get());
#else
    return run(o, rssStartKiB, nullptr);
#endif
  } catch (const std::exception& e) {
    std::cout.flush();
#ifdef LRC_HAVE_MPI
    if (mpi) {  // one line naming the rank, in one write (ranks share the terminal); mpirun then ends the others
      const std::string line = "lrc-run: rank " + std::to_string(mpi->rank()) + ": error: " + e.what() + "\n";
      std::fwrite(line.data(), 1, line.size(), stderr);
      std::fflush(stderr);
      mpi->abort(1);
    }
#endif
    std::cerr << "lrc-run: error: " << e.what() << "\n";
    return 1;
  }
}
