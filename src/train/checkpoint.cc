// The checkpoint file: "QUENCHCK", the header's length (8 bytes, little-endian), a JSON header
// (format, key, state, one entry per tensor with its offset and size in the data, the data's size
// and digest), then the tensors' bytes.
#include "train/checkpoint.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/file_util.h"

namespace quench::train {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr char kMagic[8] = {'Q', 'U', 'E', 'N', 'C', 'H', 'C', 'K'};
constexpr int kFormat = 1;
constexpr uint64_t kMaxHeader = 64ull << 20;

void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t get_u64(const std::string& in, size_t at) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(in[at + i]);
  return v;
}

json epoch_json(const TrainEpoch& e) {
  return {{"epoch", e.epoch},
          {"steps", e.steps},
          {"loss", e.loss},
          {"train_accuracy", e.train_accuracy},
          {"val_accuracy", e.val_accuracy},
          {"seconds", e.seconds},
          {"throughput", e.throughput}};
}

TrainEpoch epoch_from(const json& j) {
  TrainEpoch e;
  e.epoch = j.at("epoch").get<int64_t>();
  e.steps = j.at("steps").get<int64_t>();
  e.loss = j.at("loss").get<double>();
  e.train_accuracy = j.at("train_accuracy").get<double>();
  e.val_accuracy = j.at("val_accuracy").get<double>();
  e.seconds = j.at("seconds").get<double>();
  e.throughput = j.at("throughput").get<double>();
  return e;
}

json key_json(const CheckpointKey& k) {
  json params = json::object();
  for (const auto& [name, shape] : k.parameters) params[name] = shape;
  return {{"parameters", params}, {"start_hash", k.start_hash}, {"settings", k.settings}};
}

// The first difference between the checkpoint's key and this run's, as a sentence.
std::string key_difference(const json& got, const CheckpointKey& want) {
  const auto& params = got.at("parameters");
  for (const auto& [name, shape] : want.parameters) {
    if (!params.contains(name)) {
      return fmt::format("it has no parameter '{}' (this model's {})", name, shape_str(shape));
    }
    const Shape theirs = params.at(name).get<Shape>();
    if (theirs != shape) {
      return fmt::format("its parameter '{}' has shape {}, this model's {}", name,
                         shape_str(theirs), shape_str(shape));
    }
  }
  for (const auto& [name, _] : params.items()) {
    if (!want.parameters.count(name)) {
      return fmt::format("it has a parameter '{}' that this model does not train", name);
    }
  }
  const auto theirs = got.at("settings").get<std::map<std::string, std::string>>();
  for (const auto& [name, value] : want.settings) {
    auto it = theirs.find(name);
    const std::string old = it == theirs.end() ? "(none)" : it->second;
    if (old != value) {
      return fmt::format("it was written with {} {}, this run has {} {}", name, old, name, value);
    }
  }
  if (got.at("start_hash").get<std::string>() != want.start_hash) {
    return "the model's graph or its starting weights differ (same parameter names and shapes: "
           "another model file, calibration or initialisation)";
  }
  return {};
}

DType tensor_dtype(const std::string& name, const fs::path& file) {
  for (DType t : {DType::kFloat32, DType::kInt64}) {
    if (name == dtype_name(t)) return t;
  }
  fail(ErrorKind::kIo, "checkpoint '{}' is corrupt: tensor type '{}' (expected {} or {})",
       file.string(), name, dtype_name(DType::kFloat32), dtype_name(DType::kInt64));
}

}  // namespace

void Digest::add(const void* data, size_t bytes) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < bytes; ++i) {
    h_ ^= p[i];
    h_ *= 0x100000001b3ULL;
  }
}

void Digest::add(const std::string& text) {
  add(text.data(), text.size());
  add("\0", 1);  // "ab"+"c" and "a"+"bc" differ
}

std::string Digest::hex() const { return fmt::format("{:016x}", h_); }

fs::path checkpoint_path(const fs::path& dir) { return dir / "checkpoint.qckpt"; }

void prepare_checkpoint_dir(const fs::path& dir) {
  QUENCH_CHECK(!dir.empty(), ErrorKind::kInvalidArgument, "the checkpoint folder path is empty");
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    fs::create_directory(dir, ec);
    if (ec) {
      fail(ErrorKind::kIo, "cannot create checkpoint folder '{}': {}", dir.string(), ec.message());
    }
  }
  QUENCH_CHECK(fs::is_directory(dir, ec), ErrorKind::kIo,
               "checkpoint folder '{}' is a file, not a folder", dir.string());
  if (::access(dir.c_str(), W_OK) != 0) {
    fail(ErrorKind::kIo, "checkpoint folder '{}' is not writable ({})", dir.string(),
         std::strerror(errno));
  }
  check_writable(checkpoint_path(dir), "checkpoint");
}

void write_checkpoint(const fs::path& dir, const CheckpointKey& key, const CheckpointState& s) {
  json tensors = json::array();
  uint64_t offset = 0;
  Digest digest;
  for (const auto& [name, t] : s.tensors) {
    QUENCH_CHECK(t.dtype() == DType::kFloat32 || t.dtype() == DType::kInt64, ErrorKind::kInternal,
                 "checkpoint tensor '{}' is {}", name, dtype_name(t.dtype()));
    tensors.push_back({{"name", name},
                       {"dtype", std::string(dtype_name(t.dtype()))},
                       {"shape", t.shape()},
                       {"offset", offset},
                       {"bytes", t.nbytes()}});
    digest.add(t.raw_data(), t.nbytes());
    offset += t.nbytes();
  }
  json epochs = json::array();
  for (const TrainEpoch& e : s.epochs) epochs.push_back(epoch_json(e));
  const json header = {{"format", kFormat},
                       {"key", key_json(key)},
                       {"state",
                        {{"step", s.step},
                         {"epoch", s.epoch},
                         {"index", s.index},
                         {"loss_sum", s.loss_sum},
                         {"correct", s.correct},
                         {"seen", s.seen},
                         {"epoch_seconds", s.epoch_seconds},
                         {"first_loss", s.first_loss},
                         {"tail_loss", s.tail_loss},
                         {"tail_count", s.tail_count},
                         {"seconds", s.seconds},
                         {"epochs", epochs}}},
                       {"tensors", tensors},
                       {"data_bytes", offset},
                       {"data_digest", digest.hex()}};
  std::string head(kMagic, sizeof kMagic);
  const std::string text = header.dump();
  put_u64(head, text.size());
  head += text;
  write_file_atomic(checkpoint_path(dir), [&](std::ostream& out) {
    out.write(head.data(), static_cast<std::streamsize>(head.size()));
    for (const auto& [name, t] : s.tensors) {
      out.write(static_cast<const char*>(t.raw_data()), static_cast<std::streamsize>(t.nbytes()));
    }
  });
}

CheckpointState read_checkpoint(const fs::path& dir, const CheckpointKey& expected) {
  const fs::path file = checkpoint_path(dir);
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    fail(ErrorKind::kIo,
         "no checkpoint to resume in '{}' (expected '{}'; run without --resume to start)",
         dir.string(), file.string());
  }
  const std::string bytes = read_file(file, "checkpoint");
  const auto corrupt = [&](const std::string& why) {
    fail(ErrorKind::kIo, "checkpoint '{}' is not a whole quench checkpoint: {}", file.string(),
         why);
  };
  if (bytes.size() < 16 || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
    corrupt("it does not start with QUENCHCK");
  }
  const uint64_t header_bytes = get_u64(bytes, 8);
  if (header_bytes > kMaxHeader || header_bytes > bytes.size() - 16) {
    corrupt(fmt::format("its header of {} bytes runs past the file's {} bytes", header_bytes,
                        bytes.size()));
  }
  CheckpointState s;
  try {
    const json h = json::parse(bytes.substr(16, header_bytes));
    if (h.at("format").get<int>() != kFormat) {
      corrupt(
          fmt::format("format {} (this quench reads format {})", h.at("format").dump(), kFormat));
    }
    const size_t data_at = 16 + header_bytes;
    const uint64_t data_bytes = h.at("data_bytes").get<uint64_t>();
    if (data_bytes != bytes.size() - data_at) {
      corrupt(fmt::format("{} bytes of tensor data, the header says {} (truncated?)",
                          bytes.size() - data_at, data_bytes));
    }
    Digest digest;
    digest.add(bytes.data() + data_at, data_bytes);
    if (digest.hex() != h.at("data_digest").get<std::string>()) {
      corrupt("its tensor data does not match its digest");
    }
    const std::string diff = key_difference(h.at("key"), expected);
    QUENCH_CHECK(diff.empty(), ErrorKind::kInvalidArgument,
                 "checkpoint '{}' belongs to another run: {}; resume with the model, data and "
                 "options that wrote it, or remove it to start again",
                 file.string(), diff);
    const json& st = h.at("state");
    s.step = st.at("step").get<int64_t>();
    s.epoch = st.at("epoch").get<int64_t>();
    s.index = st.at("index").get<int64_t>();
    s.loss_sum = st.at("loss_sum").get<double>();
    s.correct = st.at("correct").get<int64_t>();
    s.seen = st.at("seen").get<int64_t>();
    s.epoch_seconds = st.at("epoch_seconds").get<double>();
    s.first_loss = st.at("first_loss").get<double>();
    s.tail_loss = st.at("tail_loss").get<double>();
    s.tail_count = st.at("tail_count").get<int64_t>();
    s.seconds = st.at("seconds").get<double>();
    for (const json& e : st.at("epochs")) s.epochs.push_back(epoch_from(e));
    for (const json& t : h.at("tensors")) {
      const std::string name = t.at("name").get<std::string>();
      const DType dtype = tensor_dtype(t.at("dtype").get<std::string>(), file);
      const Shape shape = t.at("shape").get<Shape>();
      const uint64_t offset = t.at("offset").get<uint64_t>();
      const uint64_t size = t.at("bytes").get<uint64_t>();
      // The shape's size, checked against the data before anything is allocated.
      uint64_t count = 1;
      for (int64_t d : shape) {
        if (d < 0 || (d > 0 && count > data_bytes / static_cast<uint64_t>(d))) {
          corrupt(fmt::format("tensor '{}' has shape {}, larger than the data", name,
                              shape_str(shape)));
        }
        count *= static_cast<uint64_t>(d);
      }
      const uint64_t element = dtype == DType::kInt64 ? 8 : 4;
      if (count * element != size || offset > data_bytes || size > data_bytes - offset) {
        corrupt(fmt::format("tensor '{}' ({} bytes at {}) does not fit its shape {} or the data",
                            name, size, offset, shape_str(shape)));
      }
      Tensor x = Tensor::empty(dtype, shape);
      std::memcpy(x.raw_data(), bytes.data() + data_at + offset, size);
      s.tensors[name] = std::move(x);
    }
    if (s.step < 0 || s.epoch < 0 || s.index < 0) corrupt("negative step, epoch or batch");
  } catch (const json::exception& e) {
    corrupt(std::string("its header is not valid (") + e.what() + ")");
  }
  return s;
}

}  // namespace quench::train
