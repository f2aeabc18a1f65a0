#include "core/file_util.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include <fmt/format.h>

#include "core/check.h"
#include "quench/error.h"

namespace quench {
namespace fs = std::filesystem;

std::string read_file(const fs::path& path, std::string_view what) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (ec || !fs::exists(status))
    fail(ErrorKind::kIo, "{} '{}' does not exist", what, path.string());
  QUENCH_CHECK(!fs::is_directory(status), ErrorKind::kIo, "{} '{}' is a folder, not a file", what,
               path.string());
  std::ifstream in(path, std::ios::binary);
  if (!in)
    fail(ErrorKind::kIo, "cannot open {} '{}': {}", what, path.string(), std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) fail(ErrorKind::kIo, "error reading {} '{}'", what, path.string());
  return std::move(buffer).str();
}

namespace {

fs::path temp_sibling(const fs::path& path) {
  std::random_device rd;
  return path.parent_path() /
         fmt::format(".{}.tmp-{}-{:08x}", path.filename().string(), ::getpid(), rd());
}

fs::path folder_of(const fs::path& path) {
  fs::path dir = path.parent_path();
  return dir.empty() ? fs::path(".") : dir;
}

}  // namespace

void check_writable(const fs::path& path, std::string_view what) {
  QUENCH_CHECK(!path.empty(), ErrorKind::kInvalidArgument, "{} path is empty", what);
  const fs::path dir = folder_of(path);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    fail(ErrorKind::kIo, "cannot write {} '{}': folder '{}' does not exist", what, path.string(),
         dir.string());
  }
  if (fs::is_directory(path, ec)) {
    fail(ErrorKind::kIo, "cannot write {} '{}': it is a folder", what, path.string());
  }
  if (::access(dir.c_str(), W_OK) != 0) {
    fail(ErrorKind::kIo, "cannot write {} '{}': folder '{}' is not writable ({})", what,
         path.string(), dir.string(), std::strerror(errno));
  }
  if (fs::exists(path, ec) && ::access(path.c_str(), W_OK) != 0) {
    fail(ErrorKind::kIo, "cannot write {} '{}': the existing file is not writable ({})", what,
         path.string(), std::strerror(errno));
  }
}

void write_file_atomic(const fs::path& path, const std::function<void(std::ostream&)>& write) {
  check_writable(path);
  const fs::path tmp = temp_sibling(fs::path(folder_of(path)) / path.filename());
  struct Cleanup {
    const fs::path& p;
    bool armed = true;
    ~Cleanup() {
      if (armed) {
        std::error_code ignored;
        fs::remove(p, ignored);
      }
    }
  } cleanup{tmp};
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) {
      fail(ErrorKind::kIo, "cannot create '{}': {}", tmp.string(), std::strerror(errno));
    }
    write(out);
    out.flush();
    if (!out) fail(ErrorKind::kIo, "error writing '{}' (disk full?)", path.string());
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec)
    fail(ErrorKind::kIo, "cannot rename '{}' to '{}': {}", tmp.string(), path.string(),
         ec.message());
  cleanup.armed = false;
}

void write_file_atomic(const fs::path& path, std::string_view bytes) {
  write_file_atomic(path, [&](std::ostream& out) {
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  });
}

TempDir::TempDir(std::string_view prefix) {
  std::random_device rd;
  path_ = fs::temp_directory_path() /
          fmt::format("{}_{}_{:08x}", prefix, static_cast<long>(::getpid()), rd());
  std::error_code ec;
  fs::create_directories(path_, ec);
  if (ec)
    fail(ErrorKind::kIo, "cannot create temporary folder '{}': {}", path_.string(), ec.message());
}

TempDir::~TempDir() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

std::string TempDir::file(const std::string& name) const {
  const fs::path p = path_ / name;
  fs::create_directories(p.parent_path());
  return p.string();
}

}  // namespace quench
