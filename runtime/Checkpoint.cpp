#include "runtime/Checkpoint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "runtime/plan/Bytes.h"

namespace lrc::runtime {

namespace {

using plan::getLittleEndian;
using plan::putLittleEndian;

constexpr char kMagic[8] = {'L', 'R', 'C', 'C', 'K', 'P', 'T', '\0'};
// magic, version, plan hash, file size, steps, epoch, batch in epoch, samples, seed
constexpr uint64_t kFixedBytes = 8 + 4 + 4 + 6 * 8;
constexpr uint64_t kCrcBytes = 4;
constexpr uint64_t kChunkBytes = uint64_t{1} << 20;
constexpr uint32_t kMaxNameBytes = 1 << 16;  // beyond any name a plan holds: a corrupt table
constexpr uint32_t kMaxRank = 64;

using Settings = std::vector<std::pair<std::string, double>>;

// The optimizer's hyper-parameters and the lr schedule (its step count only where it
// matters: cosine's T).
Settings namedSettings(const RunSettings& s) {
  const kernels::OptimizerParams& o = s.optimizer;
  const LrSchedule& lr = s.schedule;
  const bool cosine = lr.kind == LrSchedule::Kind::Cosine;
  return {{"lr", o.lr},
          {"momentum", o.momentum},
          {"weight_decay", o.weightDecay},
          {"nesterov", o.nesterov ? 1.0 : 0.0},
          {"beta1", o.beta1},
          {"beta2", o.beta2},
          {"eps", o.eps},
          {"lr_schedule", static_cast<double>(lr.kind)},
          {"warmup_steps", static_cast<double>(lr.warmupSteps)},
          {"lr_step_size", static_cast<double>(lr.stepSize)},
          {"lr_gamma", lr.gamma},
          {"lr_min", lr.lrMin},
          {"schedule_steps", cosine ? static_cast<double>(s.scheduleSteps) : 0.0}};
}

void putName(std::string& out, const std::string& name) {
  putLittleEndian<uint32_t>(out, static_cast<uint32_t>(name.size()));
  out += name;
}

void putDouble(std::string& out, double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  putLittleEndian<uint64_t>(out, bits);
}

double getDouble(const char* in) {
  const uint64_t bits = getLittleEndian<uint64_t>(in);
  double v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

// Everything before the first tensor record: the fixed header, the settings, the tensor count.
std::string headerBytes(uint32_t hash, uint64_t fileBytes, uint64_t steps, const LoaderPosition& loader,
                        const RunSettings& settings, uint64_t tensors) {
  std::string out(kMagic, sizeof kMagic);
  putLittleEndian<uint32_t>(out, kCheckpointVersion);
  putLittleEndian<uint32_t>(out, hash);
  putLittleEndian<uint64_t>(out, fileBytes);
  putLittleEndian<uint64_t>(out, steps);
  putLittleEndian<uint64_t>(out, static_cast<uint64_t>(loader.epoch));
  putLittleEndian<uint64_t>(out, static_cast<uint64_t>(loader.batchInEpoch));
  putLittleEndian<uint64_t>(out, static_cast<uint64_t>(loader.samples));
  putLittleEndian<uint64_t>(out, settings.seed);
  const Settings named = namedSettings(settings);
  putLittleEndian<uint32_t>(out, static_cast<uint32_t>(named.size()));
  for (const auto& [name, value] : named) {
    putName(out, name);
    putDouble(out, value);
  }
  putLittleEndian<uint32_t>(out, static_cast<uint32_t>(tensors));
  return out;
}

// A tensor record without its data.
std::string tensorMeta(const plan::Buffer& b) {
  std::string out;
  putName(out, b.name());
  putLittleEndian<uint32_t>(out, static_cast<uint32_t>(b.dtype()));
  putLittleEndian<uint32_t>(out, static_cast<uint32_t>(b.shape_size()));
  for (const int64_t d : b.shape()) putLittleEndian<uint64_t>(out, static_cast<uint64_t>(d));
  putLittleEndian<uint64_t>(out, b.bytes());
  return out;
}

// The shortest decimal text that reads back as `v`.
std::string numberText(double v) {
  char text[64];
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(text, sizeof text, "%.*g", digits, v);
    if (std::strtod(text, nullptr) == v) break;
  }
  return text;
}

// A tensor record as read back.
struct TensorRecord {
  plan::Buffer type;  // name, dtype, shape
  uint64_t dataAt = 0, dataBytes = 0;
};

std::string recordText(const plan::Buffer& b) { return "'" + b.name() + "' " + plan::bufferType(b); }

}  // namespace

std::string checkpointPath(const std::string& dir) { return dir + "/checkpoint.lrck"; }

uint32_t planHash(const plan::Plan& plan) {
  std::string payload;
  if (!plan.SerializeToString(&payload)) throw std::runtime_error("cannot serialize the plan (over 2 GiB?)");
  return plan::crc32Of(payload);
}

std::vector<uint32_t> checkpointBuffers(const plan::Plan& plan) {
  std::vector<uint32_t> out;
  for (int i = 0; i < plan.buffers_size(); ++i) {
    const plan::Role role = plan.buffers(i).role();
    if (role == plan::PARAMETER || role == plan::OPTIMIZER_STATE || role == plan::STATE)
      out.push_back(static_cast<uint32_t>(i));
  }
  return out;
}

uint64_t checkpointBytes(const plan::Plan& plan, const RunSettings& settings) {
  const std::vector<uint32_t> buffers = checkpointBuffers(plan);
  uint64_t bytes = headerBytes(0, 0, 0, {}, settings, buffers.size()).size() + kCrcBytes;
  for (const uint32_t i : buffers) {
    const plan::Buffer& b = plan.buffers(static_cast<int>(i));
    bytes += tensorMeta(b).size() + b.bytes();
  }
  return bytes;
}

void writeCheckpoint(const std::string& dir, const plan::Plan& plan, Executor& executor, const LoaderPosition& loader) {
  const std::string path = checkpointPath(dir), tmp = path + ".tmp";
  auto cannotWrite = [&](int error) { return std::runtime_error(path + ": cannot write: " + std::strerror(error)); };
  const std::vector<uint32_t> buffers = checkpointBuffers(plan);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw cannotWrite(errno);
  uint32_t crc = plan::crc32Begin();
  auto put = [&](const std::string& bytes) {
    crc = plan::crc32Add(crc, bytes.data(), bytes.size());
    for (size_t done = 0; done < bytes.size();) {
      const ssize_t wrote = ::write(fd, bytes.data() + done, std::min<size_t>(bytes.size() - done, size_t{1} << 30));
      if (wrote < 0 && errno == EINTR) continue;
      if (wrote < 0) throw cannotWrite(errno);
      done += static_cast<size_t>(wrote);
    }
  };
  try {
    put(headerBytes(planHash(plan), checkpointBytes(plan, executor.settings()), executor.stepsDone(), loader,
                    executor.settings(), buffers.size()));
    for (const uint32_t i : buffers) {
      put(tensorMeta(plan.buffers(static_cast<int>(i))));
      put(executor.readBuffer(i));
    }
    std::string tail;
    putLittleEndian<uint32_t>(tail, crc);
    put(tail);
    if (::fsync(fd) != 0) throw cannotWrite(errno);
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::close(fd) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(tmp.c_str());
    throw cannotWrite(error);
  }
  // The rename lasts only once the directory is on disk too.
  const int dirFd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  const bool synced = dirFd >= 0 && ::fsync(dirFd) == 0;
  const int error = errno;
  if (dirFd >= 0) ::close(dirFd);
  if (!synced) throw cannotWrite(error);
}

// ---- reading ----

Checkpoint::Checkpoint(const std::string& dir, const plan::Plan& plan) : path_(checkpointPath(dir)), plan_(plan) {
  try {
    load();
  } catch (...) {
    if (fd_ >= 0) ::close(fd_);
    throw;
  }
}

void Checkpoint::load() {
  auto failRead = [&] { fail(std::string("cannot read: ") + std::strerror(errno)); };
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) failRead();
  struct stat st {};
  if (::fstat(fd_, &st) != 0) failRead();
  if (!S_ISREG(st.st_mode)) fail("cannot read: not a regular file");
  const uint64_t fileBytes = static_cast<uint64_t>(st.st_size);
  auto readAt = [&](uint64_t at, char* data, uint64_t bytes) {
    const int read = plan::readFullyAt(fd_, at, data, bytes);
    if (read < 0) failRead();
    if (read > 0) fail("truncated checkpoint (the file shrank while being read)");
  };

  // The framing: magic, version, size, checksum.
  char head[kFixedBytes];
  readAt(0, head, std::min(kFixedBytes, fileBytes));
  if (fileBytes < sizeof kMagic || std::memcmp(head, kMagic, sizeof kMagic) != 0)
    fail("not an lrc checkpoint (no LRCCKPT header)");
  if (fileBytes < kFixedBytes + kCrcBytes) fail("truncated checkpoint (header cut short)");
  const uint32_t version = getLittleEndian<uint32_t>(head + 8);
  if (version != kCheckpointVersion)
    fail("checkpoint format version " + std::to_string(version) + ", this lrc-run reads version " +
         std::to_string(kCheckpointVersion));
  const uint32_t hash = getLittleEndian<uint32_t>(head + 12);
  const uint64_t announced = getLittleEndian<uint64_t>(head + 16);
  const std::string sizes = std::to_string(fileBytes) + " bytes, the header announces " + std::to_string(announced);
  if (fileBytes < announced) fail("truncated checkpoint (" + sizes + ")");
  if (fileBytes > announced) fail("trailing bytes after the checkpoint (" + sizes + ")");
  const uint64_t end = fileBytes - kCrcBytes;  // where the checksummed bytes end
  {
    std::unique_ptr<char[]> chunk(new char[kChunkBytes]);
    uint32_t crc = plan::crc32Begin();
    for (uint64_t at = 0; at < end; at += kChunkBytes) {
      const uint64_t n = std::min(kChunkBytes, end - at);
      readAt(at, chunk.get(), n);
      crc = plan::crc32Add(crc, chunk.get(), n);
    }
    char stored[kCrcBytes];
    readAt(end, stored, kCrcBytes);
    if (crc != getLittleEndian<uint32_t>(stored)) fail("corrupt checkpoint (checksum mismatch)");
  }
  steps_ = getLittleEndian<uint64_t>(head + 24);
  loader_.epoch = static_cast<int64_t>(getLittleEndian<uint64_t>(head + 32));
  loader_.batchInEpoch = static_cast<int64_t>(getLittleEndian<uint64_t>(head + 40));
  loader_.samples = static_cast<int64_t>(getLittleEndian<uint64_t>(head + 48));
  seed_ = getLittleEndian<uint64_t>(head + 56);

  // The settings and the tensor table, read in order (the checksum held: what does not add
  // up was written so, by another program).
  uint64_t at = kFixedBytes;
  auto take = [&](uint64_t bytes) {
    if (bytes > end - at) fail("corrupt checkpoint (its table runs past the end)");
    std::string out(bytes, '\0');
    readAt(at, out.data(), bytes);
    at += bytes;
    return out;
  };
  auto takeU32 = [&] { return getLittleEndian<uint32_t>(take(4).data()); };
  auto takeU64 = [&] { return getLittleEndian<uint64_t>(take(8).data()); };
  auto takeName = [&] {
    const uint32_t bytes = takeU32();
    if (bytes > kMaxNameBytes) fail("corrupt checkpoint (a name of " + std::to_string(bytes) + " bytes)");
    return take(bytes);
  };
  const uint32_t settings = takeU32();
  for (uint32_t i = 0; i < settings; ++i) {
    std::string name = takeName();
    settings_.emplace_back(std::move(name), getDouble(take(8).data()));
  }
  const uint32_t tensors = takeU32();
  std::vector<TensorRecord> records;
  for (uint32_t i = 0; i < tensors; ++i) {
    TensorRecord r;
    r.type.set_name(takeName());
    const uint32_t dtype = takeU32();
    if (!plan::DType_IsValid(static_cast<int>(dtype)))
      fail("corrupt checkpoint (tensor '" + r.type.name() + "' has dtype " + std::to_string(dtype) + ")");
    r.type.set_dtype(static_cast<plan::DType>(dtype));
    const uint32_t rank = takeU32();
    if (rank > kMaxRank) fail("corrupt checkpoint (tensor '" + r.type.name() + "' has rank " + std::to_string(rank) + ")");
    for (uint32_t d = 0; d < rank; ++d) r.type.add_shape(static_cast<int64_t>(takeU64()));
    r.dataBytes = takeU64();
    if (r.dataBytes > end - at) fail("corrupt checkpoint (its table runs past the end)");
    r.dataAt = at;
    at += r.dataBytes;
    records.push_back(std::move(r));
  }
  if (at != end) fail("corrupt checkpoint (" + std::to_string(end - at) + " bytes after the last tensor)");

  // Against the plan: the tensors first (the difference they show says most), then the hash.
  const std::vector<uint32_t> buffers = checkpointBuffers(plan_);
  for (size_t i = 0; i < std::min(records.size(), buffers.size()); ++i) {
    const plan::Buffer& b = plan_.buffers(static_cast<int>(buffers[i]));
    const TensorRecord& r = records[i];
    if (r.type.name() != b.name() || r.type.dtype() != b.dtype() ||
        !std::equal(r.type.shape().begin(), r.type.shape().end(), b.shape().begin(), b.shape().end()))
      fail("made for another plan: its tensor " + std::to_string(i) + " is " + recordText(r.type) + ", the plan's " +
           recordText(b));
    if (r.dataBytes != b.bytes())
      fail("corrupt checkpoint (tensor " + recordText(b) + " has " + std::to_string(r.dataBytes) + " bytes of data, not " +
           std::to_string(b.bytes()) + ")");
    dataAt_.push_back(r.dataAt);
  }
  if (records.size() != buffers.size())
    fail("made for another plan: it holds " + std::to_string(records.size()) + " tensors, the plan has " +
         std::to_string(buffers.size()) + " to restore");
  const uint32_t expected = planHash(plan_);
  if (hash != expected) {
    char text[96];
    std::snprintf(text, sizeof text, "plan hash %08x, the plan's %08x", hash, expected);
    fail(std::string("made for another plan (") + text + "; the same tensors, other steps or layout)");
  }
}

Checkpoint::~Checkpoint() {
  if (fd_ >= 0) ::close(fd_);
}

void Checkpoint::fail(const std::string& what) const { throw std::runtime_error(path_ + ": " + what); }

void Checkpoint::checkRun(const RunSettings& settings, int64_t samples) const {
  auto differs = [&](const std::string& what, const std::string& saved, const std::string& now) {
    fail("the checkpoint was made with " + what + " " + saved + ", this run has " + what + " " + now +
         " (resume with the settings the run started with)");
  };
  if (seed_ != settings.seed) differs("seed", std::to_string(seed_), std::to_string(settings.seed));
  const Settings now = namedSettings(settings);
  // (Loops over pairs, not structured bindings: clang 14 lets no lambda capture a binding.)
  for (const auto& setting : now) {
    const std::string& name = setting.first;
    const auto saved = std::find_if(settings_.begin(), settings_.end(), [&](const auto& s) { return s.first == name; });
    if (saved == settings_.end()) fail("the checkpoint has no setting '" + name + "'");
    if (saved->second != setting.second) differs(name, numberText(saved->second), numberText(setting.second));
  }
  for (const auto& setting : settings_) {
    const std::string& name = setting.first;
    if (std::none_of(now.begin(), now.end(), [&](const auto& s) { return s.first == name; }))
      fail("the checkpoint has setting '" + name + "', which this lrc-run does not know");
  }
  if (samples != loader_.samples)
    fail("the checkpoint was made on a training set of " + std::to_string(loader_.samples) +
         " samples, this run's has " + std::to_string(samples) + " (resume with the same --data)");
}

void Checkpoint::restore(Executor& executor) const {
  const std::vector<uint32_t> buffers = checkpointBuffers(plan_);
  for (size_t i = 0; i < buffers.size(); ++i) {
    std::string data(plan_.buffers(static_cast<int>(buffers[i])).bytes(), '\0');
    const int read = plan::readFullyAt(fd_, dataAt_[i], data.data(), data.size());
    if (read < 0) fail(std::string("cannot read: ") + std::strerror(errno));
    if (read > 0) fail("truncated checkpoint (the file shrank while being read)");
    executor.writeBuffer(buffers[i], data);
  }
  executor.setStepsDone(steps_);
}

}  // namespace lrc::runtime
