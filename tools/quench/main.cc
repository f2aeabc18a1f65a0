#include <cstdio>

int main() {
  std::puts("quench");
  return 0;
}
