"""The predictor alone over flush sizes, pass limits and precisions; prints one JSON object per line.

    .venv/bin/python bench/predictor_sweep.py [--device cuda] [--n 40000] [--backbone-shape DIR]

Each configuration classifies the same bundled tweets in flushes of ``flush`` texts (what the worker
hands the predictor), after a warm-up; the device's defaults (``monitor worker`` with every batch
setting on auto) are marked ``"default": true`` and compared with the best configuration measured.
Also times the tokenizer alone (the CPU half of a prediction) on the largest flush.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from throughput import build_untrained_minilm, emit, load_texts

GPU_GRID = [(1024, 1024, None), (1024, 256, None), (4096, 4096, None), (4096, 1024, None), (256, 256, None)]
CPU_GRID = [(128, 32, None), (128, 64, None), (256, 32, None), (128, 128, None)]


def timed(predictor, texts: list[str], flush: int) -> float:
    predictor.predict(texts[:flush])  # warm-up: kernels, allocator
    if predictor.device.type == "cuda":
        import torch

        torch.cuda.synchronize()
    started = time.perf_counter()
    for i in range(0, len(texts), flush):
        predictor.predict(texts[i : i + flush])
    return len(texts) / (time.perf_counter() - started)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto")
    p.add_argument("--n", type=int, default=None, help="texts per configuration (40000 on CUDA, 2000 on CPU)")
    p.add_argument("--backbone-shape", type=Path, help="MiniLM config + tokenizer folder: random weights")
    p.add_argument("--precisions", default="auto,fp32,bf16", help="comma-separated (auto = the device's default)")
    args = p.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from monitor.model.devices import resolve_device
    from monitor.model.predictor import Predictor

    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    texts = load_texts(args.n or (40000 if cuda else 2000))
    grid = GPU_GRID if cuda else CPU_GRID
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_untrained_minilm(Path(tmp) / "minilm", args.backbone_shape)
        for precision in args.precisions.split(","):
            for flush, rows, tokens in grid:
                predictor = Predictor.from_directory(
                    model_dir, device=str(device), precision=precision, batch_size=rows, max_tokens=tokens
                )
                rate = timed(predictor, texts, flush)
                default = precision == "auto" and (flush, rows, tokens) == grid[0]
                row = {"precision": precision, "flush": flush, "max_rows": rows, "max_tokens": predictor.max_tokens}
                results.append((rate, row))
                emit(event="predictor", texts_per_s=rate, default=default, **row, load_average=os.getloadavg())
        flush = max(f for f, _, _ in grid)
        started = time.perf_counter()
        for i in range(0, len(texts), flush):
            predictor.encode(texts[i : i + flush])
        emit(event="tokenizer", texts_per_s=len(texts) / (time.perf_counter() - started), flush=flush)
    best_rate, best = max(results, key=lambda r: r[0])
    default_rate = next(rate for rate, row in results if row["precision"] == "auto" and row["flush"] == grid[0][0]
                        and row["max_rows"] == grid[0][1])
    emit(event="summary", device=str(device), best_texts_per_s=best_rate, best=best,
         default_texts_per_s=default_rate, default_vs_best=default_rate / best_rate, load_average=os.getloadavg())


if __name__ == "__main__":
    main()
