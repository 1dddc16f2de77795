#!/usr/bin/env bash
# Installs what jess needs to build and test on Debian 12 (idempotent, non-interactive), then
# selects the OpenMP build of OpenBLAS for all three BLAS/LAPACK alternatives (the default
# reference BLAS is 20x slower; a pthread OpenBLAS core fights libtorch's OpenMP threads).
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build clang libclang-rt-14-dev
  libtorch-dev libgloo-dev libopenblas0-openmp
  libhdf5-dev libyaml-cpp-dev libcli11-dev nlohmann-json3-dev zlib1g-dev libpng-dev libcairo2-dev fonts-dejavu-core libfftw3-dev
  libgtest-dev libbenchmark-dev libboost-graph-dev
  libosmesa6-dev libassimp-dev libjpeg-dev
  pybind11-dev python3-pytest
  python3-torch python3-torchvision python3-numpy python3-scipy python3-h5py python3-sklearn python3-pil umap-learn
  dataset-fashion-mnist
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

if ((${#missing[@]})); then
  echo "[setup] installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "[setup] all packages present" >&2
fi

M=/usr/lib/x86_64-linux-gnu/openblas-openmp
for alt in libblas.so.3 liblapack.so.3 libopenblas.so.0; do
  name="${alt}-x86_64-linux-gnu"
  cur=$(update-alternatives --query "$name" 2>/dev/null | awk '/^Value:/{print $2}')
  if [[ "$cur" != "$M/$alt" ]]; then
    $SUDO update-alternatives --set "$name" "$M/$alt" >/dev/null
    echo "[setup] $name -> $M/$alt" >&2
  fi
done

# Single-cell data (jess cells): the R data files of Debian's r-bioc-hsmmsinglecell (HSMM myoblasts)
# and r-bioc-monocle (lung), unpacked into data/cells/ without installing R: jess reads R's
# serialisation format itself.
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CELLS="$ROOT/data/cells"
if [[ ! -f "$CELLS/HSMMSingleCell/data/HSMM_expr_matrix.rda" || ! -f "$CELLS/monocle/extdata/lung_exprs_data.RData" ]]; then
  echo "[setup] fetching single-cell data (r-bioc-hsmmsinglecell, r-bioc-monocle; 18 MB) into data/cells" >&2
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -qq r-bioc-hsmmsinglecell r-bioc-monocle 2>/dev/null) || {
    $SUDO apt-get update -qq
    (cd "$tmp" && apt-get download -qq r-bioc-hsmmsinglecell r-bioc-monocle)
  }
  mkdir -p "$tmp/x" "$CELLS"
  for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$tmp/x"; done
  rm -rf "$CELLS/HSMMSingleCell" "$CELLS/monocle"
  cp -r "$tmp/x/usr/lib/R/site-library/HSMMSingleCell" "$CELLS/"
  cp -r "$tmp/x/usr/lib/R/site-library/monocle" "$CELLS/"
  rm -rf "$tmp"
fi
