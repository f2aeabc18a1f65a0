// Primitives made once per key and shared: the training kernels (conv, pooling, batch norm,
// eltwise) make theirs on first use for a geometry and keep them for the process.
#pragma once

#include <map>
#include <mutex>
#include <utility>

namespace quench::onednn {

// make() for `key` the first time, the same value after. Each call site (its own `make` type)
// has its own cache; make() runs under the cache's lock, so a primitive is made once.
template <class Key, class Make>
auto cached(const Key& key, Make&& make) -> decltype(make()) {
  using Value = decltype(make());
  static std::mutex mutex;
  static std::map<Key, Value> cache;
  std::lock_guard lock(mutex);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  Value made = make();
  cache.emplace(key, made);
  return made;
}

}  // namespace quench::onednn
