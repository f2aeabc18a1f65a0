// What this CPU can run, read once from CPUID (and XGETBV: the operating system must save the
// wider registers), capped by QUENCH_MAX_CPU_ISA (else ONEDNN_MAX_CPU_ISA, so that one variable
// caps quench's own kernels and oneDNN's alike). The one place quench's own kernels ask; they are
// compiled for their instruction set file by file and chosen here at run time.
#pragma once

#include <string>
#include <string_view>

namespace quench::x86 {

// Instruction-set levels, each including those before it (oneDNN's names and order).
enum class IsaLevel {
  kBaseline,        // x86-64: SSE2
  kAvx2,            // AVX2, FMA, F16C (x86-64-v3)
  kAvx2Vnni,        // + AVX-VNNI
  kAvx512Core,      // AVX-512 F, BW, VL, DQ (x86-64-v4)
  kAvx512CoreVnni,  // + AVX512_VNNI, AVX512_VBMI
  kAvx512CoreBf16,  // + AVX512_BF16
  kAvx512CoreAmx,   // + AMX tiles (int8, bf16)
  kAll,
};

struct CpuFeatures {
  bool avx2 = false;  // with FMA and F16C
  bool avx_vnni = false;
  bool avx512 = false;  // F, BW, VL and DQ
  bool avx512_vnni = false;
  bool avx512_vbmi = false;
  bool avx512_bf16 = false;
  bool amx = false;  // AMX tiles with int8 and bf16
  bool vendor_amd = false;

  // Whether bfloat16 products beat float32 ones: AMX's tiles, or AVX512_BF16 on AMD (Zen 4 runs
  // vdpbf16ps at twice the rate of float32 FMA; the Xeons without AMX measured run it at half,
  // docs/benchmarks.md "quench quantize --mode fp16 / --mode bf16").
  bool fast_bf16_dot() const { return amx || (avx512_bf16 && vendor_amd); }

  // The highest level every feature of which is present.
  IsaLevel level() const;
  // "avx2 avx512 avx512_vnni ..." (the features present), for `inspect` and benchmarks.
  std::string describe() const;
};

// The features of the CPU, capped by the environment variable (read once).
const CpuFeatures& cpu_features();

// What CPUID and XGETBV report, uncapped.
CpuFeatures detect_cpu_features();
// `features` without what lies above `max` (tests run each level a CPU allows).
CpuFeatures cap_cpu_features(CpuFeatures features, IsaLevel max);
// Parses a level name as ONEDNN_MAX_CPU_ISA spells it (case-insensitive: "AVX2",
// "AVX512_CORE_VNNI", "ALL", ...); false when it is not one.
bool parse_isa_level(std::string_view name, IsaLevel& level);
std::string_view isa_level_name(IsaLevel level);

}  // namespace quench::x86
