#!/usr/bin/env bash
# Benchmarks of jess.  Usage: bench/run.sh SUBCOMMAND [options]
#   pde   jess's PDE generator vs NumPy ETDRK4 and SciPy Radau (one Markdown table)
#         options: see `bench/run.sh pde --help`
#   views the Lie-symmetry view maker vs per-sample and batched Python PyTorch peers
#   train VICReg pretraining samples/s: jess vs the same model in Python PyTorch (data pipeline included)
#   python the jess Python package: a PyTorch loop on jess's views vs on Python views vs jess pde pretrain; call overhead
#   vision VICReg/SimCLR image SSL images/s on Fashion-MNIST: jess vs Python PyTorch + torchvision (augmentation included)
#   recipe-peer  the accuracy floor of the Fashion-MNIST recipes: a minimal PyTorch VICReg/SimCLR (full data), judged by jess's probe
#   eval  RankMe vs NumPy's SVD and the Z^T Z floor; k-NN vs the matrix-product floor
#   pde-accuracy  PDE SSL accuracy floor: jess's defaults vs a minimal PyTorch peer, same data and budget
#   cells DTAE end to end on the 10,000-cell synthetic tree: jess vs a Python PyTorch + NumPy/SciPy peer
#   sie-metrics  MRR / H@k / PRE on 10,000 objects x 50 views: jess vs plain PyTorch (target < 1 min)
#   sie   SIE training pairs/s on a rendered set: jess equivariance train vs the same model in Python PyTorch
#   ns2d  2-D Navier-Stokes smoke generation: jess vs a batched NumPy/SciPy peer of the same scheme
#   robustness  the robustness benchmark for one model end to end (render + eval), timed
#   dist  data-parallel throughput: jess --nproc 2 vs 1 process x 2 threads, communication share, Python DDP peer
#   render `jess render dataset` images/s (OpenGL, llvmpipe) vs Blender Cycles on 3DIEBench's scene; options: --quick
# Builds jess first (cmake --build build) when build/ exists.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY=/usr/bin/python3   # Debian's interpreter: numpy, scipy, h5py come from apt

usage() {
  sed -n '2,/^set -euo/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'
}

# The glibc thresholds jess sets for itself, for the Python peers (bench/malloc_env.py).
malloc_tunables() { "$PY" "$ROOT/bench/malloc_env.py"; }

build_jess() {
  if [[ -d build ]]; then
    echo "[bench] cmake --build build" >&2
    cmake --build build >&2
  else
    echo "[bench] no build/ directory: run the setup in bench/README.md first" >&2
    echo "        (scripts/setup.sh && scripts/build.sh)" >&2
    exit 2
  fi
}

cmd="${1:-}"
case "$cmd" in
  render)
    shift
    build_jess
    exec "$PY" bench/render_bench.py "$@"
    ;;
  ns2d)
    shift
    build_jess
    exec "$PY" bench/ns2d_bench.py "$@"
    ;;
  robustness)
    shift
    build_jess
    exec "$PY" bench/robustness_bench.py "$@"
    ;;
  sie)
    shift
    build_jess
    export GLIBC_TUNABLES="$(malloc_tunables)"
    exec "$PY" bench/sie_bench.py "$@"
    ;;
  sie-metrics)
    shift
    build_jess
    exec "$PY" bench/sie_metrics_bench.py "$@"
    ;;
  train)
    shift
    build_jess
    exec "$PY" bench/pde_train_bench.py "$@"
    ;;
  python)
    shift
    build_jess
    exec "$PY" bench/python_bench.py "$@"
    ;;
  dist)
    shift
    build_jess
    export GLIBC_TUNABLES="$(malloc_tunables)"
    exec "$PY" bench/dist_bench.py "$@"
    ;;
  vision)
    shift
    build_jess
    # The Python peer gets the same allocator and thread settings jess applies to itself.
    export GLIBC_TUNABLES="$(malloc_tunables)"
    export OMP_NUM_THREADS=2
    exec "$PY" bench/vision_train_bench.py "$@"
    ;;
  recipe-peer)
    shift
    build_jess
    export GLIBC_TUNABLES="$(malloc_tunables)"
    exec "$PY" bench/fmnist_recipe_peer.py "$@"
    ;;
  pde)
    shift
    if [[ " $* " != *" --help "* && " $* " != *" -h "* ]]; then build_jess; fi
    exec "$PY" bench/pde_bench.py "$@"
    ;;
  views)
    shift
    build_jess
    data="${TMPDIR:-/tmp}/jess_views_bench_kdv.h5"
    if [[ ! -f "$data" ]]; then
      build/jess pde generate --out "$data" --seed 0 equation=kdv n_train=256 n_valid=0 n_test=0 >&2
    fi
    # The Python peers get the same allocator and thread settings jess applies to itself.
    export GLIBC_TUNABLES="$(malloc_tunables)"
    export OMP_NUM_THREADS=2
    exec "$PY" bench/pde_views_bench.py --data "$data" "$@"
    ;;
  eval)
    shift
    build_jess
    export OMP_NUM_THREADS=2
    exec "$PY" bench/eval_bench.py "$@"
    ;;
  cells)
    shift
    if [[ " $* " != *" --help "* && " $* " != *" -h "* ]]; then build_jess; fi
    # The Python peer gets the same allocator and thread settings jess applies to itself, at --threads.
    threads=$(getconf _NPROCESSORS_ONLN)
    prev=""
    for arg in "$@"; do
      if [[ $prev == --threads ]]; then threads=$arg; fi
      if [[ $arg == --threads=* ]]; then threads=${arg#--threads=}; fi
      prev=$arg
    done
    export GLIBC_TUNABLES="$(malloc_tunables)"
    export OMP_NUM_THREADS=$threads
    exec "$PY" bench/cells_bench.py "$@"
    ;;
  pde-accuracy)
    shift
    if [[ " $* " != *" --help "* && " $* " != *" -h "* ]]; then build_jess; fi
    export GLIBC_TUNABLES="$(malloc_tunables)"
    export OMP_NUM_THREADS=2
    exec "$PY" bench/pde_accuracy.py "$@"
    ;;
  ""|-h|--help|help)
    usage
    ;;
  *)
    echo "unknown subcommand: $cmd" >&2
    usage >&2
    exit 2
    ;;
esac
