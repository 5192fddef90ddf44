"""RFC 6962 trees: hand-computed small trees, the RFC's worked example, and the property
that every honest proof verifies while every mutated one fails."""

from __future__ import annotations

import hashlib

import pytest

from nvr.audit.merkle import (
    EMPTY_ROOT,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

MAX = 33


def leaves(n: int) -> list[bytes]:
    return [leaf_hash(f"entry {i}".encode()) for i in range(n)]


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def mutations(proof: list[bytes]) -> list[list[bytes]]:
    """Every way of spoiling a proof a little: flip a bit, drop, add, swap, truncate."""
    out: list[list[bytes]] = []
    for i in range(len(proof)):
        flipped = bytearray(proof[i])
        flipped[i % 32] ^= 1
        out.append([*proof[:i], bytes(flipped), *proof[i + 1 :]])
        out.append(proof[:i] + proof[i + 1 :])
        out.append([*proof[:i], proof[i], *proof[i:]])
    for i in range(len(proof) - 1):
        if proof[i] != proof[i + 1]:
            out.append([*proof[:i], proof[i + 1], proof[i], *proof[i + 2 :]])
    out.append([*proof, sha(b"extra")])
    out.append([sha(b"extra"), *proof])
    out.append([p[:31] for p in proof] if proof else [b"short"])
    return out


def test_hashes_are_domain_separated() -> None:
    assert sha(b"") == EMPTY_ROOT
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"") == sha(b"\x00")
    assert leaf_hash(b"abc") == sha(b"\x00abc")
    assert node_hash(b"L" * 32, b"R" * 32) == sha(b"\x01" + b"L" * 32 + b"R" * 32)


def test_known_leaf_hash_of_the_empty_entry() -> None:
    # SHA-256 of the single byte 0x00, the RFC 6962 leaf hash of an empty entry.
    assert (
        leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )


def test_roots_of_small_trees_by_hand() -> None:
    a, b, c, d, e = leaves(5)
    assert root([]) == EMPTY_ROOT
    assert root([a]) == a
    assert root([a, b]) == node_hash(a, b)
    assert root([a, b, c]) == node_hash(node_hash(a, b), c)
    assert root([a, b, c, d]) == node_hash(node_hash(a, b), node_hash(c, d))
    assert root([a, b, c, d, e]) == node_hash(node_hash(node_hash(a, b), node_hash(c, d)), e)


def test_the_rfc_6962_example_tree_of_seven() -> None:
    d = leaves(7)
    a, b, c, dd, e, f, j = d
    g, h, i = node_hash(a, b), node_hash(c, dd), node_hash(e, f)
    k, l_ = node_hash(g, h), node_hash(i, j)
    assert root(d) == node_hash(k, l_)
    assert inclusion_proof(0, d) == [b, h, l_]
    assert inclusion_proof(3, d) == [c, g, l_]
    assert inclusion_proof(4, d) == [f, j, k]
    assert inclusion_proof(6, d) == [i, k]
    assert consistency_proof(3, d) == [c, dd, g, l_]
    assert consistency_proof(4, d) == [l_]
    assert consistency_proof(6, d) == [i, j, k]


def test_degenerate_proofs_are_empty() -> None:
    d = leaves(4)
    assert inclusion_proof(0, d[:1]) == []
    assert verify_inclusion(d[0], 0, 1, [], d[0])
    assert consistency_proof(0, d) == []
    assert consistency_proof(4, d) == []
    assert verify_consistency(0, 4, EMPTY_ROOT, root(d), [])
    assert verify_consistency(4, 4, root(d), root(d), [])
    assert not verify_consistency(4, 4, root(d), root(d[:3]), [])
    assert not verify_consistency(4, 4, root(d), root(d), [d[0]])
    assert not verify_consistency(0, 4, EMPTY_ROOT, root(d), [d[0]])
    assert not verify_consistency(2, 4, root(d[:2]), root(d), [])


def test_out_of_range_is_a_caller_bug_for_generators_and_false_for_verifiers() -> None:
    d = leaves(3)
    with pytest.raises(ValueError, match="outside"):
        inclusion_proof(3, d)
    with pytest.raises(ValueError, match="outside"):
        inclusion_proof(-1, d)
    with pytest.raises(ValueError, match="outside"):
        consistency_proof(4, d)
    assert not verify_inclusion(d[0], 3, 3, inclusion_proof(0, d), root(d))
    assert not verify_inclusion(d[0], -1, 3, inclusion_proof(0, d), root(d))
    assert not verify_consistency(3, 2, root(d), root(d[:2]), [])


@pytest.mark.parametrize("size", range(1, MAX))
def test_every_inclusion_proof_verifies_and_every_mutation_fails(size: int) -> None:
    d = leaves(size)
    r = root(d)
    for index in range(size):
        proof = inclusion_proof(index, d)
        assert verify_inclusion(d[index], index, size, proof, r), (index, size)
        for bad in mutations(proof):
            assert not verify_inclusion(d[index], index, size, bad, r), (index, size, bad)
        other = d[(index + 1) % size] if size > 1 else leaf_hash(b"x")
        assert not verify_inclusion(other, index, size, proof, r)
        assert not verify_inclusion(d[index], index, size, proof, leaf_hash(b"root"))
        if size > 1:
            assert not verify_inclusion(d[index], (index + 1) % size, size, proof, r)


@pytest.mark.parametrize("new_size", range(1, MAX))
def test_every_consistency_proof_verifies_and_every_mutation_fails(new_size: int) -> None:
    d = leaves(new_size)
    new_root = root(d)
    for old_size in range(1, new_size + 1):
        old_root = root(d[:old_size])
        proof = consistency_proof(old_size, d)
        assert verify_consistency(old_size, new_size, old_root, new_root, proof)
        if old_size == new_size:
            continue
        for bad in mutations(proof):
            assert not verify_consistency(old_size, new_size, old_root, new_root, bad), (
                old_size,
                new_size,
                bad,
            )
        assert not verify_consistency(old_size, new_size, leaf_hash(b"x"), new_root, proof)
        assert not verify_consistency(old_size, new_size, old_root, leaf_hash(b"x"), proof)
        # A forked history: same size, one leaf changed before old_size.
        forked = list(d)
        forked[old_size - 1] = leaf_hash(b"forged")
        assert not verify_consistency(old_size, new_size, old_root, root(forked), proof)
        assert not verify_consistency(
            old_size, new_size, old_root, root(forked), consistency_proof(old_size, forked)
        )
