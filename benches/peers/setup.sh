#!/usr/bin/env bash
# Create benches/peers/.venv (its own venv, git-ignored) with the pinned peer libraries.
# Usage: bash benches/peers/setup.sh      (needs python3.11 and network access to PyPI)
#
# Versions are those of tests/golden/setup.sh (the libraries the golden fixtures come from), plus
# pyfftw for the FFT-only floor. torch on PyPI is the CUDA build: it will not even import on a
# CPU-only machine unless the NVIDIA runtime wheels it pins are installed, so, as in
# tests/golden/setup.sh, torch/torchaudio/openai-whisper go in with --no-deps and then exactly
# the runtime wheels torch 2.11.0 pins (Requires-Dist for Linux), leaving out triton (only for
# torch.compile, never imported here; pip may print a harmless "torch requires triton" warning).
#
# pip's own cache (~/.cache/pip) is shared with tests/golden/setup.sh, so wheels downloaded for
# one venv are reused by the other; the venvs themselves are separate.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
py="${PYTHON:-python3.11}"
command -v "$py" >/dev/null 2>&1 || py=python3
venv="$here/.venv"

if [ ! -x "$venv/bin/python" ]; then
    "$py" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip install --disable-pip-version-check -q)
"$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip

# 1. numpy/scipy as pinned for the goldens, Keras + JAX (CPU), librosa, pyfftw, and everything
#    torch / whisper import at run time.
"${pip[@]}" \
    'numpy==2.4.6' 'scipy==1.17.1' \
    'keras==3.15.1' 'jax[cpu]==0.10.2' 'jaxlib==0.10.2' \
    'librosa==0.11.0' \
    'pyfftw==0.15.1' \
    'filelock' 'typing-extensions>=4.10.0' 'setuptools<82' 'sympy>=1.13.3' 'networkx>=2.5.1' \
    'jinja2' 'fsspec>=0.8.5' \
    'more-itertools' 'tiktoken' 'tqdm' 'numba'

# 2. torch / torchaudio (CPU use of the CUDA wheel) and openai-whisper (the reference
#    implementation of workload W), without dependency resolution.
"${pip[@]}" --no-deps 'torch==2.11.0' 'torchaudio==2.11.0' 'openai-whisper==20250625'

# 3. The NVIDIA runtime wheels torch 2.11.0 pins, without triton.
"${pip[@]}" \
    'cuda-toolkit[cublas,cudart,cufft,cufile,cupti,curand,cusolver,cusparse,nvjitlink,nvrtc,nvtx]==13.0.2' \
    'cuda-bindings>=13.0.3,<14' \
    'nvidia-cudnn-cu13==9.19.0.56' \
    'nvidia-cusparselt-cu13==0.8.0' \
    'nvidia-nccl-cu13==2.28.9' \
    'nvidia-nvshmem-cu13==3.4.5'

KERAS_BACKEND=jax JAX_PLATFORMS=cpu "$venv/bin/python" - <<'PY'
import keras, jax, librosa, numpy, scipy, torch, torchaudio, pyfftw, whisper.audio
from importlib.metadata import version
print("peers venv ok:", "keras", keras.__version__, "jax", jax.__version__, "librosa", librosa.__version__,
      "torch", torch.__version__, "torchaudio", torchaudio.__version__, "pyfftw", version("pyfftw"),
      "numpy", numpy.__version__, "scipy", scipy.__version__, "whisper", version("openai-whisper"))
PY
