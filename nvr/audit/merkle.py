"""RFC 6962 / RFC 9162 Merkle tree hashing, inclusion and consistency proofs.

Pure functions over lists of 32-byte leaf hashes; no I/O. Hashes follow RFC 6962 §2.1:
a leaf is ``SHA-256(0x00 ‖ entry)``, an interior node ``SHA-256(0x01 ‖ left ‖ right)``, and
the empty tree's root is ``SHA-256("")``. Proof generation follows the recursive
definitions of RFC 9162 §2.1.3.1 (PATH) and §2.1.4.1 (PROOF/SUBPROOF); verification follows
the iterative algorithms of §2.1.3.2 and §2.1.4.2, which never rebuild the tree.

Verifiers return ``bool`` and never raise on a malformed proof (wrong length, wrong hash
size): a proof is either accepted or not. Generators raise ``ValueError`` for an index or
size out of range, which is a caller bug.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HASH_SIZE = 32
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(entry: bytes) -> bytes:
    """The hash of one leaf: ``SHA-256(0x00 ‖ entry)``."""
    return hashlib.sha256(_LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an interior node: ``SHA-256(0x01 ‖ left ‖ right)``."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly less than ``n`` (for ``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _mth(leaves: Sequence[bytes], lo: int, hi: int) -> bytes:
    """MTH(D[lo:hi]) for a non-empty range."""
    n = hi - lo
    if n == 1:
        return leaves[lo]
    k = _split(n)
    return node_hash(_mth(leaves, lo, lo + k), _mth(leaves, lo + k, hi))


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """The Merkle tree hash (MTH) of the tree whose leaves have these hashes."""
    if not leaf_hashes:
        return EMPTY_ROOT
    return _mth(leaf_hashes, 0, len(leaf_hashes))


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """The audit path PATH(index, D[n]) proving leaf ``index`` is in the tree of ``n`` leaves.

    Ordered from the leaf's sibling up to the child of the root.
    """
    n = len(leaf_hashes)
    if not 0 <= index < n:
        raise ValueError(f"leaf index {index} is outside a tree of size {n}")
    path: list[bytes] = []
    _path(index, leaf_hashes, 0, n, path)
    return path


def _path(m: int, leaves: Sequence[bytes], lo: int, hi: int, out: list[bytes]) -> None:
    n = hi - lo
    if n == 1:
        return
    k = _split(n)
    if m < k:
        _path(m, leaves, lo, lo + k, out)
        out.append(_mth(leaves, lo + k, hi))
    else:
        _path(m - k, leaves, lo + k, hi, out)
        out.append(_mth(leaves, lo, lo + k))


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], expected_root: bytes
) -> bool:
    """True iff ``proof`` shows ``leaf`` (a leaf hash) at ``index`` in the tree of ``size``
    leaves whose root is ``expected_root`` (RFC 9162 §2.1.3.2)."""
    if not 0 <= index < size or not _all_hashes([leaf, expected_root, *proof]):
        return False
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected_root


def consistency_proof(old_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PROOF(old_size, D[n]): shows the tree of ``old_size`` leaves is a prefix of this one.

    Empty when ``old_size`` is 0 or equals ``n`` (nothing to prove beyond root equality).
    """
    n = len(leaf_hashes)
    if not 0 <= old_size <= n:
        raise ValueError(f"old size {old_size} is outside 0..{n}")
    proof: list[bytes] = []
    if 0 < old_size < n:
        _subproof(old_size, leaf_hashes, 0, n, True, proof)
    return proof


def _subproof(
    m: int, leaves: Sequence[bytes], lo: int, hi: int, complete: bool, out: list[bytes]
) -> None:
    n = hi - lo
    if m == n:
        if not complete:
            out.append(_mth(leaves, lo, hi))
        return
    k = _split(n)
    if m <= k:
        _subproof(m, leaves, lo, lo + k, complete, out)
        out.append(_mth(leaves, lo + k, hi))
    else:
        _subproof(m - k, leaves, lo + k, hi, False, out)
        out.append(_mth(leaves, lo, lo + k))


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """True iff ``proof`` shows the tree (``old_size``, ``old_root``) is a prefix of the tree
    (``new_size``, ``new_root``) (RFC 9162 §2.1.4.2).

    Equal sizes need an empty proof and equal roots; old size 0 needs an empty proof (every
    tree extends the empty one).
    """
    if not 0 <= old_size <= new_size or not _all_hashes([old_root, new_root, *proof]):
        return False
    if old_size == 0:
        return not proof
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


def _all_hashes(values: Sequence[bytes]) -> bool:
    return all(len(v) == HASH_SIZE for v in values)
