#!/usr/bin/env bash
# Installs what jess needs to build and test on Debian 12 (idempotent, non-interactive), then
# selects the OpenMP build of OpenBLAS for all three BLAS/LAPACK alternatives (the default
# reference BLAS is 20x slower; a pthread OpenBLAS core fights libtorch's OpenMP threads).
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build clang
  libtorch-dev libgloo-dev libopenblas0-openmp
  libhdf5-dev libyaml-cpp-dev libcli11-dev nlohmann-json3-dev zlib1g-dev libpng-dev libcairo2-dev fonts-dejavu-core libfftw3-dev
  libgtest-dev libbenchmark-dev
  python3-torch python3-numpy python3-scipy python3-h5py
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
