#!/usr/bin/env bash
# The unit tests under AddressSanitizer + UndefinedBehaviorSanitizer (issue 20): a second build directory
# (build-asan/, clang, -O1, jess's code instrumented; LibTorch, HDF5 and the other system libraries are
# not), then each chosen suite run with leak checking (upstream leaks suppressed: fuzz/lsan_upstream.supp)
# and UBSan made fatal. A report fails the script.
#   scripts/sanitize.sh [SUITE...]     suites: core cells render eval pde learn vision equivariance
#                                      (default: all; CI runs the readers' and renderer's: core cells render)
set -euo pipefail
cd "$(dirname "$0")/.."
suites=${*:-"core cells render eval pde learn vision equivariance"}
dir=${SANITIZE_BUILD_DIR:-build-asan}
if [[ ! -f $dir/build.ninja ]]; then
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g0" \
    -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang -DJESS_BUILD_BENCH=OFF \
    -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" > /dev/null
fi
targets=()
for s in $suites; do targets+=("jess_tests_$s"); done
cmake --build "$dir" -j "${JOBS:-$(nproc)}" --target "${targets[@]}"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 LSAN_OPTIONS=suppressions=$PWD/fuzz/lsan_upstream.supp
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 JESS_PROGRESS=0 JESS_QUIET_BLAS=1
status=0
for s in $suites; do
  start=$(date +%s)
  if "$dir/jess_tests_$s" --gtest_brief=1 > "$dir/sanitize_$s.log" 2>&1; then
    echo "sanitize $s: passed ($(( $(date +%s) - start )) s)"
  else
    echo "sanitize $s: FAILED (see $dir/sanitize_$s.log)"
    tail -40 "$dir/sanitize_$s.log"
    status=1
  fi
done
exit $status
