"""Save and load a model directory: config.json + model.safetensors + tokenizer files. No pickle."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from safetensors.torch import load_model as load_safetensors
from safetensors.torch import save_model as save_safetensors
from transformers import AutoConfig, AutoModel, AutoTokenizer, PreTrainedTokenizerBase

from monitor.model.config import CONFIG_NAME, WEIGHTS_NAME, ModelConfig, library_versions
from monitor.model.errors import ModelLoadError
from monitor.model.modeling import MultiTaskModel


def save_model(model: MultiTaskModel, tokenizer: PreTrainedTokenizerBase, directory: str | Path) -> Path:
    """Write the model directory; files appear at once (written aside, then moved), config.json last."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = model.config
    config.encoder = model.encoder.config.to_dict()
    config.library_versions = library_versions()
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        tokenizer.save_pretrained(str(staging))
        save_safetensors(model, str(staging / WEIGHTS_NAME))
        config.save(staging)
        names = sorted(p.name for p in staging.iterdir() if p.name != CONFIG_NAME) + [CONFIG_NAME]
        for name in names:
            os.replace(staging / name, directory / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return directory


def build_encoder(config: ModelConfig):
    """A randomly initialised encoder of the saved architecture (weights come from model.safetensors)."""
    encoder_cfg = dict(config.encoder)
    model_type = encoder_cfg.pop("model_type", None)
    if not model_type:
        raise ModelLoadError("config.json has no encoder.model_type; retrain the model with `monitor train`")
    hf_config = AutoConfig.for_model(model_type, **encoder_cfg)
    return AutoModel.from_config(hf_config)


def load_model(directory: str | Path) -> tuple[MultiTaskModel, PreTrainedTokenizerBase]:
    """The model (eval mode, CPU) and its tokenizer, from the directory alone."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelLoadError(f"model directory {directory} does not exist; train one with `monitor train --out DIR`")
    config = ModelConfig.load(directory)
    model = MultiTaskModel(config, build_encoder(config))
    weights = directory / WEIGHTS_NAME
    if not weights.is_file():
        raise ModelLoadError(f"{weights} is missing; the model directory is incomplete, retrain or restore it")
    try:
        load_safetensors(model, str(weights), strict=True)
        tokenizer = AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
    except (OSError, RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"cannot load model from {directory}: {first}") from None
    return model.eval(), tokenizer
