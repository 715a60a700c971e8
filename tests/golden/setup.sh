#!/usr/bin/env bash
# Create tests/golden/.venv with the exact library versions the golden fixtures were made with.
# Usage: bash tests/golden/setup.sh        (needs python3.11 and network access to PyPI)
#
# torch on PyPI is the CUDA build: it will not even import on a CPU-only machine unless the
# NVIDIA runtime wheels it pins are installed. We install torch/torchaudio/openai-whisper with
# --no-deps and then exactly the runtime wheels torch 2.11.0 pins (from its METADATA), leaving
# out triton (only needed for torch.compile / whisper's GPU kernels, never imported here).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
py="${PYTHON:-python3}"
venv="$here/.venv"

if [ ! -x "$venv/bin/python" ]; then
    "$py" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip install --disable-pip-version-check -q)
"$venv/bin/python" -m pip install -q --upgrade pip

# 1. Keras + JAX (CPU) + scipy, librosa, and everything whisper/torch import at run time.
"${pip[@]}" \
    'numpy==2.4.6' 'scipy==1.17.1' \
    'keras==3.15.1' 'jax[cpu]==0.10.2' 'jaxlib==0.10.2' \
    'librosa==0.11.0' 'kaldi-native-fbank==1.23.0' \
    'filelock' 'typing-extensions>=4.10.0' 'setuptools<82' 'sympy>=1.13.3' 'networkx>=2.5.1' \
    'jinja2' 'fsspec>=0.8.5' \
    'more-itertools' 'tiktoken' 'tqdm' 'numba'

# 2. torch / torchaudio / whisper themselves, without dependency resolution.
"${pip[@]}" --no-deps 'torch==2.11.0' 'torchaudio==2.11.0' 'openai-whisper==20250625'

# 3. The NVIDIA runtime wheels torch 2.11.0 pins (Requires-Dist for Linux), without triton.
"${pip[@]}" \
    'cuda-toolkit[cublas,cudart,cufft,cufile,cupti,curand,cusolver,cusparse,nvjitlink,nvrtc,nvtx]==13.0.2' \
    'cuda-bindings>=13.0.3,<14' \
    'nvidia-cudnn-cu13==9.19.0.56' \
    'nvidia-cusparselt-cu13==0.8.0' \
    'nvidia-nccl-cu13==2.28.9' \
    'nvidia-nvshmem-cu13==3.4.5'

KERAS_BACKEND=jax "$venv/bin/python" - <<'PY'
import keras, jax, librosa, numpy, scipy, torch, torchaudio, whisper.audio
from importlib.metadata import version
print("golden venv ok:", "keras", keras.__version__, "jax", jax.__version__, "librosa", librosa.__version__,
      "torch", torch.__version__, "torchaudio", torchaudio.__version__, "numpy", numpy.__version__,
      "scipy", scipy.__version__, "whisper", version("openai-whisper"))
PY
