"""The predict side of the transformer: an encoder with mean pooling and a linear head.

Serving code (worker, web) imports this module and never :mod:`classifier.training`.
A saved model holds only what training changed (``delta.safetensors``): the base encoder's
frozen tensors (the e5 word embeddings are 96M of its 118M parameters) are loaded from the
base model folder, whose checksum the version records.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import AutoConfig, AutoModel, AutoTokenizer, PreTrainedTokenizerBase
from transformers.utils import logging as hf_logging

from labeling.errors import ModelError

DELTA_FILE = "delta.safetensors"
HEAD_CONFIG_FILE = "head.json"


@dataclass(frozen=True)
class HeadConfig:
    """What the predict side needs to rebuild a fine-tuned model around its base."""

    labels: tuple[str, ...]
    max_length: int
    text_prefix: str  # e5 expects "query: "; MiniLM nothing
    dropout: float = 0.1


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average of the token vectors, padding excluded (what e5 and MiniLM were trained with)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-6)


class EncoderClassifier(nn.Module):
    """Encoder → mean pooling → dropout → linear layer over the teams."""

    def __init__(self, encoder: nn.Module, hidden_size: int, head: HeadConfig) -> None:
        super().__init__()
        self.encoder = encoder
        self.head_config = head
        self.dropout = nn.Dropout(head.dropout)
        self.classifier = nn.Linear(hidden_size, len(head.labels))

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask)
        return mean_pool(out.last_hidden_state, attention_mask)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.embed(input_ids, attention_mask)))


def base_fingerprint(base_dir: Path) -> str:
    """A cheap identity of a base encoder folder, recorded with every fine-tuned version.

    Hashes config.json, the tokenizer file and the head (first MiB) and size of each weight
    file: enough to notice that a delta is being laid on another base than it was trained
    on, without reading hundreds of MB at every load.
    """
    digest = hashlib.sha256()
    for name in ("config.json", "tokenizer.json"):
        path = base_dir / name
        if path.exists():
            digest.update(path.read_bytes())
    for path in sorted(base_dir.glob("*.safetensors")):
        digest.update(path.name.encode())
        digest.update(str(path.stat().st_size).encode())
        with path.open("rb") as handle:
            digest.update(handle.read(1 << 20))
    return digest.hexdigest()


def load_base(base_dir: Path) -> tuple[nn.Module, PreTrainedTokenizerBase, int]:
    """Encoder, tokenizer and hidden size from a local transformers folder (never the hub)."""
    # transformers prints a load report for weights we leave out on purpose (the pooler).
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        config = AutoConfig.from_pretrained(base_dir, local_files_only=True)
        encoder = AutoModel.from_pretrained(
            base_dir, config=config, local_files_only=True, add_pooling_layer=False
        )
        tokenizer = AutoTokenizer.from_pretrained(base_dir, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load the base encoder at {base_dir}: {exc}") from exc
    finally:
        hf_logging.set_verbosity(verbosity)
        hf_logging.enable_progress_bar()
    return encoder, tokenizer, int(config.hidden_size)


def build(base_dir: Path, head: HeadConfig) -> tuple[EncoderClassifier, PreTrainedTokenizerBase]:
    """A fresh classifier (untrained head) around the base encoder."""
    encoder, tokenizer, hidden = load_base(base_dir)
    return EncoderClassifier(encoder, hidden, head), tokenizer


def save_delta(model: EncoderClassifier, frozen: set[str], out_dir: Path) -> None:
    """Write the tensors training changed (all but ``frozen``) and the head config.

    Stored as float16: half the size, and the rounding is far below what changes a prediction.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    tensors = {
        name: tensor.detach().to(torch.float16).contiguous()
        for name, tensor in model.state_dict().items()
        if name not in frozen
    }
    save_file(tensors, str(out_dir / DELTA_FILE))
    (out_dir / HEAD_CONFIG_FILE).write_text(
        json.dumps(asdict(model.head_config), indent=2), encoding="utf-8"
    )


def load_finetuned(
    base_dir: Path, model_dir: Path
) -> tuple[EncoderClassifier, PreTrainedTokenizerBase]:
    """Rebuild a fine-tuned classifier: base tensors, then the saved delta on top."""
    try:
        head_data = json.loads((model_dir / HEAD_CONFIG_FILE).read_text(encoding="utf-8"))
        head = HeadConfig(**{**head_data, "labels": tuple(head_data["labels"])})
        delta = load_file(str(model_dir / DELTA_FILE))
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise ModelError(f"the model folder {model_dir} is incomplete or corrupt: {exc}") from exc
    model, tokenizer = build(base_dir, head)
    missing, unexpected = model.load_state_dict(delta, strict=False)
    if unexpected:
        raise ModelError(f"{model_dir} does not fit the base encoder: unexpected {unexpected[:3]}")
    if any(name.startswith("classifier.") for name in missing):
        raise ModelError(f"{model_dir} holds no classification head")
    model.eval()
    return model, tokenizer


def batches_by_length(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length, so padding costs little."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


@dataclass(frozen=True)
class Encoded:
    """Logits and L2-normalised mean-pooled embeddings, rows in input order."""

    logits: NDArray[np.float32]
    embeddings: NDArray[np.float32]
    tokens: int  # real (non-padding) tokens processed, for speed figures


@torch.inference_mode()
def encode(
    model: EncoderClassifier,
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    *,
    batch_size: int = 64,
    device: torch.device | None = None,
) -> Encoded:
    """Run the classifier over ``texts``; batches are sorted by length to waste little."""
    head = model.head_config
    device = device or next(model.parameters()).device
    hidden = model.classifier.in_features
    logits = np.zeros((len(texts), len(head.labels)), dtype=np.float32)
    embeddings = np.zeros((len(texts), hidden), dtype=np.float32)
    if not texts:
        return Encoded(logits, embeddings, 0)
    encoded = tokenizer(
        [head.text_prefix + t for t in texts], truncation=True, max_length=head.max_length
    )
    ids: list[list[int]] = encoded["input_ids"]
    for batch in batches_by_length([len(x) for x in ids], batch_size):
        padded = tokenizer.pad({"input_ids": [ids[i] for i in batch]}, return_tensors="pt")
        pooled = model.embed(padded["input_ids"].to(device), padded["attention_mask"].to(device))
        logits[batch] = model.classifier(pooled).float().cpu().numpy()
        embeddings[batch] = torch.nn.functional.normalize(pooled, dim=-1).float().cpu().numpy()
    return Encoded(logits, embeddings, sum(len(x) for x in ids))


def predict_logits(
    model: EncoderClassifier,
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    *,
    batch_size: int = 64,
    device: torch.device | None = None,
) -> NDArray[np.float32]:
    """Logits for ``texts`` in their original order."""
    return encode(model, tokenizer, texts, batch_size=batch_size, device=device).logits
