#!/usr/bin/env bash
# libFuzzer campaigns over jess's readers of outside bytes (issue 20). Builds each target with clang's
# -fsanitize=fuzzer,address,undefined into build-fuzz/ (only the reader's own sources: seconds), runs it
# for SECONDS (default 60) from its seed corpus fuzz/corpus/<target> (valid files), keeping what it finds
# in build-fuzz/corpus/<target>, and prints executions/s and coverage. A crash, sanitizer report, leak
# or hang (> 10 s per input) saves the input as build-fuzz/crash-<target>-* and fails the script: turn it
# into a regression test.
#   scripts/fuzz.sh [SECONDS] [TARGET...]        targets: npy config idx cells hdf5 checkpoint image mesh (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
targets=${*:-"npy config idx cells hdf5 checkpoint image mesh"}
out=build-fuzz
mkdir -p "$out"
flags=(-std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Isrc -Ifuzz)
sources_npy=(src/jess/core/npy.cpp src/jess/core/files.cpp)
sources_config=(src/jess/core/config.cpp)
libs_config=(-lyaml-cpp)
sources_idx=(src/jess/vision/idx.cpp src/jess/core/files.cpp src/jess/core/hdf5_file.cpp -I/usr/include/hdf5/serial)
libs_idx=(-lz -L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5)
sources_cells=(src/jess/cells/readers.cpp src/jess/cells/rdata.cpp src/jess/cells/gzip.cpp src/jess/cells/matrix.cpp
               src/jess/core/files.cpp src/jess/core/npy.cpp)
libs_cells=(-lz)
sources_hdf5=(src/jess/core/hdf5_file.cpp -I/usr/include/hdf5/serial)
libs_hdf5=(-L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5)
# libhdf5 asks malloc for sizes read from the file and turns a NULL into an error (a jess binary then
# reports "cannot open"); under ASan such a request would abort instead, so let it return NULL there.
asan_hdf5=allocator_may_return_null=1
lsan_hdf5=suppressions=$PWD/fuzz/lsan_upstream.supp
# A corrupt variable-length string may declare up to 4 GiB: libhdf5 allocates it (untouched) before the
# read fails, which libFuzzer's default single-allocation limit (the RSS limit) would call a crash.
flags_hdf5=(-malloc_limit_mb=8192)
# The checkpoint reader links the system LibTorch (not instrumented: only jess's code is checked).
sources_checkpoint=(src/jess/train/checkpoint_file.cpp)
libs_checkpoint=(-ltorch -ltorch_cpu -lc10)
lsan_checkpoint=suppressions=$PWD/fuzz/lsan_upstream.supp
# Every input allocates a model's worth of tensors; ASan keeps freed pages, and the process's RSS grew
# past 2 GB in a 10-minute campaign with 68 MB live (the input itself reads in 166 MB without ASan).
asan_checkpoint=allocator_release_to_os_interval_ms=100
flags_checkpoint=(-rss_limit_mb=4096)
sources_image=(src/jess/core/image_io.cpp src/jess/core/files.cpp)
libs_image=(-lpng -ljpeg -lz)
sources_mesh=(src/jess/render/mesh_io.cpp src/jess/render/mesh.cpp src/jess/core/files.cpp)
libs_mesh=(-lassimp)
# assimp runs in a child process that jess kills after JESS_MESH_TIMEOUT seconds (it hangs on some
# malformed files): shorter than libFuzzer's 10 s per input here. The child's coverage is not seen by
# the fuzzer, so this target checks that jess survives what assimp does, by mutation from the seeds.
export JESS_MESH_TIMEOUT=${JESS_MESH_TIMEOUT:-3}
status=0
for t in $targets; do
  src="sources_${t}[@]"
  lib="libs_${t}[@]"
  exe="$out/fuzz_$t"
  clang++ "${flags[@]}" "fuzz/fuzz_$t.cpp" "${!src}" ${!lib+"${!lib}"} -o "$exe"
  mkdir -p "$out/corpus/$t"
  log="$out/fuzz_$t.log"
  asan="asan_${t}" lsan="lsan_${t}"
  extra="flags_${t}[@]"
  if ASAN_OPTIONS=${!asan:-} LSAN_OPTIONS=${!lsan:-} "$exe" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 ${!extra+"${!extra}"} -print_final_stats=1 \
      -artifact_prefix="$out/crash-$t-" "$out/corpus/$t" "fuzz/corpus/$t" > "$log" 2>&1; then
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo '?')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo '?')
    echo "fuzz $t: ${execs} inputs in ${secs} s ($(( ${execs:-0} / secs )) /s), coverage ${cov} edges, no crash"
  else
    echo "fuzz $t: FAILED (see $log; the input is in $out/crash-$t-*)"
    tail -30 "$log"
    status=1
  fi
done
exit $status
