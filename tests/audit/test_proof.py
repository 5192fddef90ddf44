"""tlog-proof text: the format by hand, and proofs that must fail, each for its reason."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from nvr.audit.merkle import inclusion_proof, leaf_hash, root
from nvr.audit.note import Checkpoint, Signer, sign_checkpoint
from nvr.audit.proof import InclusionProof, ProofError, format_proof, parse_proof, verify_proof

ORIGIN = "porchlight.example/audit"
SIGNER = Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
ENTRIES = [f"entry {i}".encode() for i in range(5)]
LEAVES = [leaf_hash(e) for e in ENTRIES]
NOTE = sign_checkpoint(Checkpoint(ORIGIN, 5, root(LEAVES)), SIGNER)


def proof_for(index: int, note: str = NOTE) -> str:
    return format_proof(InclusionProof(index, tuple(inclusion_proof(index, LEAVES)), note))


def test_format_by_hand() -> None:
    path = inclusion_proof(4, LEAVES)
    lines = "".join(f"{base64.b64encode(h).decode()}\n" for h in path)
    assert proof_for(4) == f"c2sp.org/tlog-proof@v1\nindex 4\n{lines}\n{NOTE}"
    with_extra = InclusionProof(4, tuple(path), NOTE, b"\x01\x02")
    assert format_proof(with_extra).startswith("c2sp.org/tlog-proof@v1\nextra AQI=\nindex 4\n")
    assert parse_proof(format_proof(with_extra)) == with_extra


def test_every_entry_verifies_at_its_index() -> None:
    for index, entry in enumerate(ENTRIES):
        assert verify_proof(proof_for(index), entry, ORIGIN, [SIGNER.verifier()]).size == 5


def test_a_single_leaf_tree_has_an_empty_path() -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 1, LEAVES[0]), SIGNER)
    text = format_proof(InclusionProof(0, (), note))
    assert text.startswith("c2sp.org/tlog-proof@v1\nindex 0\n\n")
    verify_proof(text, ENTRIES[0], ORIGIN, [SIGNER.verifier()])


def test_failures_name_their_reason() -> None:
    v = [SIGNER.verifier()]
    with pytest.raises(ProofError, match="not at index 1"):
        verify_proof(proof_for(1), ENTRIES[2], ORIGIN, v)
    with pytest.raises(ProofError, match="not at index 2"):
        verify_proof(proof_for(1).replace("index 1", "index 2"), ENTRIES[1], ORIGIN, v)
    forged = sign_checkpoint(Checkpoint(ORIGIN, 5, leaf_hash(b"x")), SIGNER)
    with pytest.raises(ProofError, match="not at index 1"):
        verify_proof(proof_for(1, forged), ENTRIES[1], ORIGIN, v)
    other = Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(bytes(32)))
    with pytest.raises(ProofError, match="checkpoint: no signature by a known key"):
        verify_proof(proof_for(1), ENTRIES[1], ORIGIN, [other.verifier()])
    with pytest.raises(ProofError, match="checkpoint: checkpoint origin"):
        verify_proof(proof_for(1), ENTRIES[1], "another/log", v)
    with pytest.raises(ProofError, match="outside the checkpoint's 5"):
        verify_proof(proof_for(1).replace("index 1", "index 5"), ENTRIES[1], ORIGIN, v)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("c2sp.org/tlog-proof@v1\nindex 1\n", "no blank line"),
        ("c2sp.org/tlog-proof@v2\nindex 1\n\nnote", "first line"),
        ("c2sp.org/tlog-proof@v1\nextra !!\nindex 1\n\nnote", "extra: invalid base64"),
        ("c2sp.org/tlog-proof@v1\nindx 1\n\nnote", "missing 'index N'"),
        ("c2sp.org/tlog-proof@v1\nindex 01\n\nnote", "not a decimal"),
        ("c2sp.org/tlog-proof@v1\nindex 1\nAAAA\n\nnote", "hash 1 is not 32 bytes"),
        ("c2sp.org/tlog-proof@v1\nindex 1\nAA\n\nnote", "hash 1: invalid base64"),
        ("c2sp.org/tlog-proof@v1\nindex 1\n" + ("A" * 43 + "=\n") * 64 + "\nn", "more than 63"),
    ],
)
def test_malformed_proofs(text: str, reason: str) -> None:
    with pytest.raises(ProofError, match=reason):
        parse_proof(text)
