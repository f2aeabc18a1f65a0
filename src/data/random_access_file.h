// A read-only file read at explicit offsets (pread), so that several threads can share it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace quench {

class RandomAccessFile {
 public:
  // kIo naming `what` and the path if the file is missing, a folder or unreadable.
  RandomAccessFile(const std::filesystem::path& path, std::string_view what);
  ~RandomAccessFile();
  RandomAccessFile(const RandomAccessFile&) = delete;
  RandomAccessFile& operator=(const RandomAccessFile&) = delete;

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  // Reads exactly `bytes` at `offset`; kIo if the file is shorter (it changed since it was
  // opened) or a read fails.
  void read_exact(uint64_t offset, uint64_t bytes, void* dst) const;

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

}  // namespace quench
