"""Inclusion proofs as C2SP tlog-proof text, bundled with the checkpoint they prove against.

Format (c2sp.org/tlog-proof, version ``@v1``), every line ending in a newline::

    c2sp.org/tlog-proof@v1
    extra <base64>            (optional, at most one; opaque to the verifier)
    index <leaf index, decimal>
    <base64 hash>             (zero or more: the RFC 9162 inclusion path, leaf side first)
    <blank line>
    <signed checkpoint note>

The entry itself is not in the proof: the verifier holds it and hashes it. A proof is
accepted only if the checkpoint verifies under the log's key and the path leads from that
entry's leaf hash at ``index`` to the checkpoint's root. Pure: values in, values out.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass

from nvr.audit.merkle import HASH_SIZE, leaf_hash, verify_inclusion
from nvr.audit.note import Checkpoint, NoteError, Verifier, open_checkpoint

HEADER = "c2sp.org/tlog-proof@v1"
# 63 levels covers any tree size a decimal size line can name here.
MAX_PATH = 63
_DECIMAL_RE = re.compile(r"0|[1-9][0-9]{0,18}")


class ProofError(ValueError):
    """A proof that is malformed or does not prove what it claims."""


@dataclass(frozen=True)
class InclusionProof:
    index: int
    path: tuple[bytes, ...]
    checkpoint_note: str
    extra: bytes | None = None


def format_proof(proof: InclusionProof) -> str:
    lines = [HEADER]
    if proof.extra is not None:
        lines.append(f"extra {base64.b64encode(proof.extra).decode()}")
    lines.append(f"index {proof.index}")
    lines.extend(base64.b64encode(h).decode() for h in proof.path)
    return "".join(f"{line}\n" for line in lines) + "\n" + proof.checkpoint_note


def parse_proof(text: str) -> InclusionProof:
    """Split a tlog-proof into its parts; the checkpoint is not checked here."""
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise ProofError("no blank line between the proof and its checkpoint")
    lines = head.split("\n")
    if lines[0] != HEADER:
        raise ProofError(f"first line is not {HEADER!r}")
    rest = lines[1:]
    extra = None
    if rest and rest[0].startswith("extra "):
        extra = _b64(rest.pop(0)[len("extra ") :], "extra")
    if not rest or not rest[0].startswith("index "):
        raise ProofError("missing 'index N' line")
    index_text = rest.pop(0)[len("index ") :]
    if not _DECIMAL_RE.fullmatch(index_text):
        raise ProofError(f"index {index_text!r} is not a decimal number")
    if len(rest) > MAX_PATH:
        raise ProofError(f"more than {MAX_PATH} hashes")
    path = []
    for number, line in enumerate(rest, start=1):
        h = _b64(line, f"hash {number}")
        if len(h) != HASH_SIZE:
            raise ProofError(f"hash {number} is not 32 bytes")
        path.append(h)
    return InclusionProof(int(index_text), tuple(path), note, extra)


def verify_proof(text: str, entry: bytes, origin: str, verifiers: Sequence[Verifier]) -> Checkpoint:
    """Check that ``entry`` (its canonical bytes) is in the log at the proof's index.

    Returns the verified checkpoint; raises ``ProofError`` saying why not.
    """
    proof = parse_proof(text)
    try:
        checkpoint = open_checkpoint(proof.checkpoint_note, origin, verifiers)
    except NoteError as e:
        raise ProofError(f"checkpoint: {e}") from None
    if proof.index >= checkpoint.size:
        raise ProofError(f"index {proof.index} is outside the checkpoint's {checkpoint.size}")
    if not verify_inclusion(
        leaf_hash(entry), proof.index, checkpoint.size, proof.path, checkpoint.root_hash
    ):
        raise ProofError(f"entry is not at index {proof.index} of the checkpointed tree")
    return checkpoint


def _b64(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ProofError(f"{what}: invalid base64") from None
    if base64.b64encode(raw).decode() != text:
        raise ProofError(f"{what}: not canonical base64")
    return raw
