#include "onnx/external_data.h"

#include <fstream>

#include "core/check.h"
#include "quench/error.h"

namespace quench::onnx_io {
namespace fs = std::filesystem;

fs::path resolve_external_path(const fs::path& base_dir, const std::string& location,
                               const std::string& tensor_name) {
  QUENCH_CHECK(!base_dir.empty(), ErrorKind::kInvalidModel,
               "tensor '{}' stores its data in external file '{}', but the model was not read "
               "from a folder",
               tensor_name, location);
  QUENCH_CHECK(!location.empty(), ErrorKind::kInvalidModel,
               "tensor '{}': external data has an empty location", tensor_name);
  const fs::path rel(location);
  QUENCH_CHECK(!rel.is_absolute() && !rel.has_root_name() && !rel.has_root_directory(),
               ErrorKind::kInvalidModel,
               "tensor '{}': external data location '{}' is an absolute path; it must be relative "
               "to the model's folder",
               tensor_name, location);
  std::error_code ec;
  const fs::path base = fs::weakly_canonical(base_dir, ec);
  QUENCH_CHECK(!ec, ErrorKind::kIo, "cannot resolve model folder '{}': {}", base_dir.string(),
               ec.message());
  const fs::path full = fs::weakly_canonical(base / rel, ec);
  QUENCH_CHECK(!ec, ErrorKind::kIo, "tensor '{}': cannot resolve external data path '{}': {}",
               tensor_name, location, ec.message());
  // `full` must have `base` as a prefix, component by component.
  auto b = base.begin();
  auto f = full.begin();
  for (; b != base.end() && f != full.end(); ++b, ++f) {
    if (*b != *f) break;
  }
  const bool inside = b == base.end() && f != full.end();
  QUENCH_CHECK(inside, ErrorKind::kInvalidModel,
               "tensor '{}': external data location '{}' leads outside the model's folder '{}'",
               tensor_name, location, base.string());
  return full;
}

void read_external_bytes(const fs::path& file, uint64_t offset, uint64_t length, void* out,
                         const std::string& tensor_name) {
  std::error_code ec;
  QUENCH_CHECK(fs::is_regular_file(file, ec), ErrorKind::kIo,
               "tensor '{}': external data file '{}' does not exist", tensor_name, file.string());
  const uint64_t size = fs::file_size(file, ec);
  QUENCH_CHECK(!ec && offset <= size && length <= size - offset, ErrorKind::kInvalidModel,
               "tensor '{}': external data file '{}' has {} bytes, but the tensor needs bytes "
               "[{}, {})",
               tensor_name, file.string(), size, offset, offset + length);
  std::ifstream in(file, std::ios::binary);
  QUENCH_CHECK(in.good(), ErrorKind::kIo, "cannot open external data file '{}'", file.string());
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(static_cast<char*>(out), static_cast<std::streamsize>(length));
  QUENCH_CHECK(static_cast<uint64_t>(in.gcount()) == length, ErrorKind::kIo,
               "tensor '{}': short read from external data file '{}'", tensor_name, file.string());
}

}  // namespace quench::onnx_io
