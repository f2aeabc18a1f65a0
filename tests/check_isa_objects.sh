#!/usr/bin/env bash
# Fails when an object file compiled for one instruction set (src/**/*_<isa>.cc, built with that
# ISA's flags) defines a global symbol outside its own namespace quench::x86::<isa>. Such a symbol
# (an inline function or template instantiated there) could be picked by the linker for callers
# compiled for the baseline and crash a CPU without that ISA.
set -euo pipefail
build="${1:?usage: check_isa_objects.sh BUILD_DIR}"
bad=0
checked=0
while IFS= read -r object; do
  name="$(basename "$object" .cc.o)"
  isa="${name##*_}"
  prefix="_ZN6quench3x86${#isa}${isa}"
  checked=$((checked + 1))
  while read -r _ type symbol; do
    case "$type" in [a-z]) continue ;; esac  # local symbols cannot be shared
    # The exception personality pointer: data, the same in every object file.
    [[ "$symbol" == DW.ref.__gxx_personality_v0 ]] && continue
    if [[ "$symbol" != "$prefix"* ]]; then
      echo "$object: $type $(echo "$symbol" | c++filt) is outside quench::x86::$isa"
      bad=1
    fi
  done < <(nm --defined-only "$object")
done < <(find "$build" -name '*_avx2.cc.o' -o -name '*_avx512.cc.o' -o -name '*_avx512vnni.cc.o' \
           -o -name '*_avx512vbmi.cc.o')
if ((checked == 0)); then
  echo "no ISA object files found under $build"
  exit 1
fi
if ((bad)); then
  echo "of $checked ISA object file(s), the ones above define code outside their namespace"
else
  echo "$checked ISA object file(s) define symbols in their own namespaces only"
fi
exit $bad
