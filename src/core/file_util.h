// Whole-file reads and atomic writes.
#pragma once

#include <filesystem>
#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>

namespace quench {

// The file's bytes; kIo naming the path when it is missing or unreadable.
std::string read_file(const std::filesystem::path& path, std::string_view what = "file");

// Calls `write` with a stream to a temporary file beside `path`, then renames it over `path`.
// If `write` throws (or the process is interrupted), the temporary file is removed and `path`
// is untouched.
void write_file_atomic(const std::filesystem::path& path,
                       const std::function<void(std::ostream&)>& write);
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

// Checks, before long work starts, that `path` can be created or replaced: its folder exists
// and is writable, and `path` is not a folder. kIo with the reason otherwise.
void check_writable(const std::filesystem::path& path, std::string_view what = "output");

// A fresh folder under the system's temporary folder, removed with everything in it when the
// object goes away (also during stack unwinding after an error). kIo when it cannot be created.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "quench");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // The path of `name` inside the folder (its parent folders are created).
  std::string file(const std::string& name) const;

 private:
  std::filesystem::path path_;
};

}  // namespace quench
