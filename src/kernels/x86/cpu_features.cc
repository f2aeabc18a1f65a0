#include "kernels/x86/cpu_features.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstdlib>

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#define QUENCH_X86_64 1
#endif

namespace quench::x86 {
namespace {

struct LevelName {
  IsaLevel level;
  std::string_view name;
};
constexpr std::array<LevelName, 9> kLevelNames{{
    {IsaLevel::kBaseline, "SSE41"},
    {IsaLevel::kBaseline, "BASELINE"},
    {IsaLevel::kAvx2, "AVX2"},
    {IsaLevel::kAvx2Vnni, "AVX2_VNNI"},
    {IsaLevel::kAvx512Core, "AVX512_CORE"},
    {IsaLevel::kAvx512CoreVnni, "AVX512_CORE_VNNI"},
    {IsaLevel::kAvx512CoreBf16, "AVX512_CORE_BF16"},
    {IsaLevel::kAvx512CoreAmx, "AVX512_CORE_AMX"},
    {IsaLevel::kAll, "ALL"},
}};

#ifdef QUENCH_X86_64
struct Registers {
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};
Registers cpuid(uint32_t leaf, uint32_t subleaf) {
  Registers r;
  if (static_cast<uint32_t>(__get_cpuid_max(0, nullptr)) < leaf) return r;
  __cpuid_count(leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
  return r;
}
uint64_t xgetbv0() {
  uint32_t eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (uint64_t{edx} << 32) | eax;
}
bool bit(uint32_t value, int index) { return ((value >> index) & 1u) != 0; }
#endif

}  // namespace

IsaLevel CpuFeatures::level() const {
  if (!avx2) return IsaLevel::kBaseline;
  if (!avx512) return avx_vnni ? IsaLevel::kAvx2Vnni : IsaLevel::kAvx2;
  if (!avx512_vnni || !avx512_vbmi) return IsaLevel::kAvx512Core;
  if (!avx512_bf16) return IsaLevel::kAvx512CoreVnni;
  return amx ? IsaLevel::kAvx512CoreAmx : IsaLevel::kAvx512CoreBf16;
}

std::string CpuFeatures::describe() const {
  std::string out;
  auto add = [&](bool present, std::string_view name) {
    if (!present) return;
    if (!out.empty()) out += ' ';
    out += name;
  };
  add(avx2, "avx2");
  add(avx_vnni, "avx_vnni");
  add(avx512, "avx512");
  add(avx512_vnni, "avx512_vnni");
  add(avx512_vbmi, "avx512_vbmi");
  add(avx512_bf16, "avx512_bf16");
  add(amx, "amx");
  return out.empty() ? "baseline" : out;
}

CpuFeatures detect_cpu_features() {
  CpuFeatures f;
#ifdef QUENCH_X86_64
  const Registers leaf0 = cpuid(0, 0);
  f.vendor_amd = leaf0.ebx == 0x68747541 && leaf0.edx == 0x69746e65 &&
                 leaf0.ecx == 0x444d4163;  // "AuthenticAMD"
  const Registers leaf1 = cpuid(1, 0);
  if (!bit(leaf1.ecx, 27)) return f;  // no OSXSAVE: the OS saves no AVX state
  const uint64_t xcr0 = xgetbv0();
  const bool os_avx = (xcr0 & 0x6) == 0x6;                 // XMM and YMM state
  const bool os_avx512 = os_avx && (xcr0 & 0xe0) == 0xe0;  // opmask, ZMM_Hi256, Hi16_ZMM
  const bool os_amx = (xcr0 & 0x60000) == 0x60000;         // XTILECFG, XTILEDATA
  const Registers leaf7 = cpuid(7, 0);
  const Registers leaf7_1 = cpuid(7, 1);
  f.avx2 =
      os_avx && bit(leaf1.ecx, 28) && bit(leaf1.ecx, 12) && bit(leaf1.ecx, 29) && bit(leaf7.ebx, 5);
  f.avx_vnni = f.avx2 && bit(leaf7_1.eax, 4);
  f.avx512 = f.avx2 && os_avx512 && bit(leaf7.ebx, 16) && bit(leaf7.ebx, 17) &&
             bit(leaf7.ebx, 30) && bit(leaf7.ebx, 31);
  f.avx512_vnni = f.avx512 && bit(leaf7.ecx, 11);
  f.avx512_vbmi = f.avx512 && bit(leaf7.ecx, 1);
  f.avx512_bf16 = f.avx512 && bit(leaf7_1.eax, 5);
  f.amx = f.avx512 && os_amx && bit(leaf7.edx, 24) && bit(leaf7.edx, 25) && bit(leaf7.edx, 22);
#endif
  return f;
}

CpuFeatures cap_cpu_features(CpuFeatures f, IsaLevel max) {
  auto allowed = [max](IsaLevel level) { return static_cast<int>(level) <= static_cast<int>(max); };
  f.avx2 = f.avx2 && allowed(IsaLevel::kAvx2);
  f.avx_vnni = f.avx_vnni && allowed(IsaLevel::kAvx2Vnni);
  f.avx512 = f.avx512 && allowed(IsaLevel::kAvx512Core);
  f.avx512_vnni = f.avx512_vnni && allowed(IsaLevel::kAvx512CoreVnni);
  f.avx512_vbmi = f.avx512_vbmi && allowed(IsaLevel::kAvx512CoreVnni);
  f.avx512_bf16 = f.avx512_bf16 && allowed(IsaLevel::kAvx512CoreBf16);
  f.amx = f.amx && allowed(IsaLevel::kAvx512CoreAmx);
  return f;
}

bool parse_isa_level(std::string_view name, IsaLevel& level) {
  std::string upper(name);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  for (const LevelName& entry : kLevelNames) {
    if (entry.name == upper) {
      level = entry.level;
      return true;
    }
  }
  return false;
}

std::string_view isa_level_name(IsaLevel level) {
  for (const LevelName& entry : kLevelNames) {
    if (entry.level == level && entry.name != "BASELINE") return entry.name;
  }
  return "ALL";
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = [] {
    CpuFeatures f = detect_cpu_features();
    for (const char* variable : {"QUENCH_MAX_CPU_ISA", "ONEDNN_MAX_CPU_ISA"}) {
      const char* value = std::getenv(variable);
      IsaLevel max;
      if (value != nullptr && parse_isa_level(value, max)) return cap_cpu_features(f, max);
    }
    return f;
  }();
  return features;
}

}  // namespace quench::x86
