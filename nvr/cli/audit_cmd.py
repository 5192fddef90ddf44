"""``nvr audit``: check, prove, sign and read the tamper-evident audit log.

Every command opens the box the way the service does (``open_box``: migrate, device key,
audit log) from ``--config``/``--data-dir``. Output is the log's own public material only:
canonical entries, signed checkpoints, proofs and the device's verifier key (never the
private key). ``verify`` and ``proof`` check what they print before printing it.

Entries are shown as stored: payload authors keep secrets out of them (audit-log.md). The
human listing (``log``) escapes characters a terminal would act on, since actor names and
payload strings can come from whoever typed at a login form; ``log --json`` prints the
canonical entries byte for byte (JSON already escapes C0 controls).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from nvr.audit.entry import EntryError, decode_entry
from nvr.audit.log import verify_log
from nvr.audit.note import NoteError, parse_vkey
from nvr.audit.proof import ProofError, verify_proof
from nvr.audit.verify import stored_bytes
from nvr.cli import options
from nvr.clock import SystemClock
from nvr.db.models import AuditCheckpoint, AuditEntry
from nvr.errors import UserError
from nvr.service.box import Box, open_box

app = typer.Typer(
    no_args_is_help=True,
    help="Verify, prove, sign and read the tamper-evident audit log.",
)

_PAYLOAD_WIDTH = 60


@contextmanager
def _box(config: Path | None, data_dir: Path | None) -> Iterator[Box]:
    box = open_box(options.load(config, data_dir), SystemClock())
    try:
        yield box
    finally:
        box.close()


@app.command()
def verify(
    config: Path | None = options.CONFIG,
    data_dir: Path | None = options.DATA_DIR,
    vkey: Annotated[
        str | None,
        typer.Option(
            "--vkey",
            help="Check against this pinned verifier key (from 'nvr audit key') "
            "instead of the key in the data directory.",
            metavar="KEY",
        ),
    ] = None,
) -> None:
    """Recompute every entry, the tree and every checkpoint; exit 1 naming the first bad one."""
    with _box(config, data_dir) as box:
        if vkey is None:
            verifier, origin = box.audit.verifier, box.origin
        else:
            try:
                verifier = parse_vkey(vkey.strip())
            except NoteError as e:
                raise UserError(f"--vkey: {e}", hint="copy it from 'nvr audit key'") from None
            origin = verifier.name
        result = verify_log(box.sessions, origin, verifier)
        if not result.ok:
            where = []
            if result.bad_seq is not None:
                where.append(f"entry {result.bad_seq}")
            if result.bad_checkpoint is not None:
                where.append(f"checkpoint {result.bad_checkpoint}")
            raise UserError(
                f"audit log verification FAILED at {' / '.join(where) or 'the log'}: "
                f"{result.reason}",
                hint="keep a copy of this data directory; compare it with the checkpoints "
                "you downloaded earlier",
            )
        with box.sessions() as session:
            latest = session.scalars(
                select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size.desc()).limit(1)
            ).first()
            latest_size = None if latest is None else latest.tree_size
            latest_root = None if latest is None else latest.root_hash
    print("audit log: OK")
    print(f"  origin:      {origin}")
    print(f"  entries:     {result.entries}")
    print(f"  checkpoints: {result.checkpoints}")
    if latest_size is None or latest_root is None:
        print("  latest:      none yet (sign one with 'nvr audit checkpoint')")
    else:
        root_b64 = base64.b64encode(bytes.fromhex(latest_root)).decode()
        print(f"  latest:      tree size {latest_size}, root {root_b64}")
        unsigned = result.entries - latest_size
        if unsigned:
            print(f"  unsigned:    {unsigned} newer entries not yet in a checkpoint")
    print(f"  device key:  {verifier.vkey()}")


@app.command()
def proof(
    seq: Annotated[int, typer.Argument(help="The entry's seq (entries are numbered from 0).")],
    tree_size: Annotated[
        int | None,
        typer.Option(
            "--tree-size",
            min=1,
            help="Prove against the checkpoint of this size (default: the latest).",
            metavar="S",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the proof to FILE instead.", dir_okay=False),
    ] = None,
    config: Path | None = options.CONFIG,
    data_dir: Path | None = options.DATA_DIR,
) -> None:
    """Print entry SEQ (canonical JSON, one line) and its tlog-proof inclusion proof."""
    if seq < 0:
        raise UserError(f"no audit entry {seq}", hint="entries are numbered from 0")
    with _box(config, data_dir) as box:
        entry = box.audit.entry(seq)
        text = box.audit.inclusion_proof(seq, tree_size)
        try:
            verify_proof(text, entry, box.origin, [box.audit.verifier])
        except ProofError as e:
            raise UserError(
                f"the proof for entry {seq} does not verify: {e}",
                hint="run 'nvr audit verify' to find the first bad entry",
            ) from None
    print(entry.decode())
    if output is None:
        print(text, end="")
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as e:
        raise UserError(f"cannot write {output}: {e.strerror}") from None
    print(f"proof written to {output}")


@app.command()
def checkpoint(
    config: Path | None = options.CONFIG,
    data_dir: Path | None = options.DATA_DIR,
) -> None:
    """Sign a checkpoint of the log now and print it (the note the owner keeps)."""
    with _box(config, data_dir) as box:
        note = box.audit.checkpoint()
    print(note, end="")


@app.command("log")
def log_(
    since: Annotated[
        int, typer.Option("--since", min=0, help="Start at this seq.", metavar="SEQ")
    ] = 0,
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            help="Only this kind, or this family ('share' matches share.create ...).",
            metavar="K",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One canonical entry per line, as stored.")
    ] = False,
    config: Path | None = options.CONFIG,
    data_dir: Path | None = options.DATA_DIR,
) -> None:
    """List entries: seq, time, actor, kind and a short payload."""
    with _box(config, data_dir) as box, box.sessions() as session:
        query = select(AuditEntry).where(AuditEntry.seq >= since).order_by(AuditEntry.seq)
        if kind is not None:
            family = kind.rstrip(".") + "."
            query = query.where(
                (AuditEntry.kind == kind) | AuditEntry.kind.startswith(family, autoescape=True)
            )
        rows = [(r.seq, r.entry_json) for r in session.scalars(query)]
    if as_json:
        for _, text in rows:
            print(text)
        return
    if not rows:
        print("no entries")
        return
    print("SEQ  TIME                  ACTOR  KIND  PAYLOAD")
    for seq, text in rows:
        print(_printable(_line(seq, text)))


def _line(seq: int, text: object) -> str:
    data = stored_bytes(text)
    try:
        if data is None:
            raise EntryError("not text")
        entry = decode_entry(data)
    except EntryError:
        return f"{seq}  (unreadable: run 'nvr audit verify')"
    when = entry.time.strftime("%Y-%m-%dT%H:%M:%SZ")
    actor = (
        entry.actor.role if entry.actor.user is None else f"{entry.actor.role}:{entry.actor.user}"
    )
    payload = json.dumps(entry.payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if len(payload) > _PAYLOAD_WIDTH:
        payload = payload[: _PAYLOAD_WIDTH - 1] + "…"
    return f"{seq}  {when}  {actor}  {entry.kind}  {payload}"


def _printable(text: str) -> str:
    """``text`` with every character a terminal might act on (controls, bidi overrides)
    shown as a Python escape instead."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


@app.command()
def key(
    config: Path | None = options.CONFIG,
    data_dir: Path | None = options.DATA_DIR,
) -> None:
    """Print the device's verifier key (vkey), to check checkpoints and proofs elsewhere."""
    with _box(config, data_dir) as box:
        print(box.audit.verifier.vkey())
