"""``nvr audit``: transcripts against a real data directory (SQLite, real device key)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from nvr.audit.entry import Actor, decode_entry
from nvr.audit.note import open_checkpoint, parse_vkey
from nvr.audit.proof import verify_proof
from nvr.cli import main, options
from nvr.clock import FakeClock
from nvr.service.box import CLI_OWNER, Box, open_box

Capsys = pytest.CaptureFixture[str]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "nvr.yaml"
    path.write_text(f"storage:\n  data_dir: {tmp_path / 'data'}\n")
    return path


@pytest.fixture
def box(config: Path) -> Iterator[Box]:
    opened = open_box(options.load(config, None), FakeClock())
    yield opened
    opened.close()


def run(capsys: Capsys, *args: str) -> tuple[int, str, str]:
    code = main(["audit", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def fill(box: Box) -> None:
    box.record("service.start", {"version": "1.0"})
    box.record("login.success", {"ip": "192.0.2.7"}, Actor("owner", "alice"))
    box.record("share.create", {"recipient": "Officer Bob", "segments": [3, 4]}, CLI_OWNER)
    box.record("config.change", {"key": "storage.retention_days", "to": 14}, CLI_OWNER)


def test_verify_a_fresh_box(config: Path, capsys: Capsys) -> None:
    code, out, err = run(capsys, "verify", "--config", str(config))
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == "audit log: OK"
    assert "entries:     0" in out
    assert "none yet" in out
    assert "device key:  porchlight/" in out


def test_verify_after_entries_and_checkpoints(box: Box, config: Path, capsys: Capsys) -> None:
    fill(box)
    box.audit.checkpoint()
    box.record("logout", {}, Actor("owner", "alice"))
    code, out, _ = run(capsys, "verify", "-c", str(config))
    assert code == 0
    assert "entries:     5" in out
    assert "checkpoints: 1" in out
    assert "latest:      tree size 4, root " in out
    assert "unsigned:    1 newer entries" in out
    assert box.audit.verifier.vkey() in out


def test_verify_with_data_dir_and_pinned_vkey(
    box: Box, tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(box)
    box.audit.checkpoint()
    monkeypatch.delenv("NVR_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no ./config/nvr.yaml here: defaults, then --data-dir
    data = ["--data-dir", str(tmp_path / "data")]
    vkey = box.audit.verifier.vkey()
    assert run(capsys, "verify", *data, "--vkey", vkey)[0] == 0
    # A key that is not the box's: the signed checkpoint no longer verifies.
    other = open_box(options.load(None, tmp_path / "other"), FakeClock())
    stranger = other.audit.verifier.vkey()
    other.close()
    code, _, err = run(capsys, "verify", *data, "--vkey", stranger)
    assert code == 1
    assert "FAILED at checkpoint" in err
    code, _, err = run(capsys, "verify", *data, "--vkey", "not-a-key")
    assert code == 1
    assert err.startswith("nvr: error: --vkey:")


def tamper(config: Path, seq: int, change: dict[str, object]) -> None:
    """Rewrite one entry's JSON in place (canonical form kept), as someone with the SD card
    could; its cached leaf hash is left as it was."""
    db = sqlite3.connect(config.parent / "data" / "nvr.sqlite3")
    with db:
        (text,) = db.execute(
            "SELECT entry_json FROM audit_entries WHERE seq = ?", (seq,)
        ).fetchone()
        obj = json.loads(text)
        obj["payload"].update(change)
        new = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        db.execute("UPDATE audit_entries SET entry_json = ? WHERE seq = ?", (new, seq))
    db.close()


def test_verify_names_the_tampered_entry(box: Box, config: Path, capsys: Capsys) -> None:
    fill(box)
    box.audit.checkpoint()
    tamper(config, 2, {"recipient": "Nobody"})
    code, out, err = run(capsys, "verify", "--config", str(config))
    assert code == 1
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("nvr: error: audit log verification FAILED at entry 2: entry 2:")
    assert "altered" in lines[0]
    assert lines[1].startswith("nvr: hint: ")
    # And the device refuses to sign over the rewritten history.
    code, _, err = run(capsys, "checkpoint", "--config", str(config))
    assert code == 1
    assert "refusing to sign" in err


def test_proof_verifies(box: Box, config: Path, capsys: Capsys) -> None:
    fill(box)
    box.audit.checkpoint()
    code, out, err = run(capsys, "proof", "2", "--config", str(config))
    assert (code, err) == (0, "")
    entry_line, _, proof = out.partition("\n")
    assert decode_entry(entry_line.encode()).kind == "share.create"
    assert proof.startswith("c2sp.org/tlog-proof@v1\nindex 2\n")
    checkpoint = verify_proof(proof, entry_line.encode(), box.origin, [box.audit.verifier])
    assert checkpoint.size == 4
    # The same entry does not verify at another index.
    other = box.audit.entry(1)
    with pytest.raises(ValueError, match="not at index 2"):
        verify_proof(proof, other, box.origin, [box.audit.verifier])


def test_proof_against_an_older_checkpoint_to_a_file(
    box: Box, config: Path, tmp_path: Path, capsys: Capsys
) -> None:
    box.record("service.start", {"version": "1.0"})
    box.record("service.stop", {})
    box.audit.checkpoint()
    fill(box)
    box.audit.checkpoint()
    target = tmp_path / "proof.txt"
    code, out, _ = run(
        capsys, "proof", "1", "--tree-size", "2", "-o", str(target), "--config", str(config)
    )
    assert code == 0
    entry_line, status = out.splitlines()
    assert status == f"proof written to {target}"
    checkpoint = verify_proof(
        target.read_text(), entry_line.encode(), box.origin, [box.audit.verifier]
    )
    assert checkpoint.size == 2


def test_proof_errors_are_one_line(box: Box, config: Path, capsys: Capsys) -> None:
    box.record("service.start", {"version": "1.0"})
    code, _, err = run(capsys, "proof", "0", "--config", str(config))
    assert code == 1
    assert err.splitlines() == [
        "nvr: error: no checkpoint yet",
        "nvr: hint: sign one with 'nvr audit checkpoint'",
    ]
    box.audit.checkpoint()
    code, _, err = run(capsys, "proof", "7", "--config", str(config))
    assert code == 1
    assert err.startswith("nvr: error: no audit entry 7\n")
    code, _, err = run(capsys, "proof", "0", "--tree-size", "9", "--config", str(config))
    assert code == 1
    assert err.startswith("nvr: error: no such checkpoint\n")


def test_checkpoint_twice(box: Box, config: Path, capsys: Capsys) -> None:
    fill(box)
    code, first, _ = run(capsys, "checkpoint", "--config", str(config))
    assert code == 0
    signed = open_checkpoint(first, box.origin, [box.audit.verifier])
    assert signed.size == 4
    # Nothing new: the same note, not a second one.
    code, again, _ = run(capsys, "checkpoint", "--config", str(config))
    assert (code, again) == (0, first)
    box.record("service.stop", {})
    code, third, _ = run(capsys, "checkpoint", "--config", str(config))
    assert code == 0
    assert open_checkpoint(third, box.origin, [box.audit.verifier]).size == 5
    code, out, _ = run(capsys, "verify", "--config", str(config))
    assert code == 0
    assert "checkpoints: 2" in out


def test_log_lists_and_filters(box: Box, config: Path, capsys: Capsys) -> None:
    code, out, _ = run(capsys, "log", "--config", str(config))
    assert (code, out) == (0, "no entries\n")
    fill(box)
    code, out, _ = run(capsys, "log", "--config", str(config))
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split() == ["SEQ", "TIME", "ACTOR", "KIND", "PAYLOAD"]
    assert lines[1] == '0  2026-01-01T00:00:00Z  system  service.start  {"version":"1.0"}'
    assert lines[2].startswith("1  2026-01-01T00:00:00Z  owner:alice  login.success  ")
    assert len(lines) == 5
    code, out, _ = run(capsys, "log", "--since", "2", "--kind", "share", "--config", str(config))
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["2"]
    code, out, _ = run(capsys, "log", "--kind", "share.create", "--json", "-c", str(config))
    assert out.splitlines() == [box.audit.entry(2).decode()]
    code, out, _ = run(capsys, "log", "--kind", "shar", "-c", str(config))
    assert out == "no entries\n"


def test_log_shortens_payloads_and_escapes_terminal_controls(
    box: Box, config: Path, capsys: Capsys
) -> None:
    box.record("login.failure", {"note": "x" * 200}, Actor("viewer", "ev\x1b[2Jil\u202e\x9b"))
    code, out, _ = run(capsys, "log", "--config", str(config))
    line = out.splitlines()[1]
    assert code == 0
    assert "viewer:ev\\x1b[2Jil\\u202e\\x9b  login.failure" in line
    assert line.endswith("…")
    assert len(line) < 150
    assert all(c.isprintable() for c in out.replace("\n", ""))


def test_key_prints_only_the_public_verifier_key(box: Box, config: Path, capsys: Capsys) -> None:
    code, out, _ = run(capsys, "key", "--config", str(config))
    assert code == 0
    verifier = parse_vkey(out.strip())
    assert verifier.vkey() == box.audit.verifier.vkey()
    assert verifier.name == box.origin
    assert out.count("\n") == 1
