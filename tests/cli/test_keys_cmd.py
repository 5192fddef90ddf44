"""``nvr keys`` as an installer or owner types it (work factor 2^15 given explicitly)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from nvr.audit.log import verify_log
from nvr.auth import users
from nvr.clock import SystemClock
from nvr.config import Config
from nvr.service.box import open_box
from tests.cli.conftest import Run

OWNER = "sunny-Meadow-42-quietly"
WF = ("--work-factor", "15")


def test_init_show_export_and_the_audit_trail(
    nvr: Run, secret_file: Callable[[str, str], Path], tmp_path: Path
) -> None:
    data = str(tmp_path / "data")
    pw = str(secret_file("pw", OWNER))
    code, out, err = nvr("keys", "init", "--passphrase-file", pw, "--data-dir", data, *WF)
    assert (code, err) == (0, "")
    assert "RECOVERY KEY" in out
    recovery = next(
        line.strip() for line in out.splitlines() if line.strip().startswith("AGE-SECRET-KEY-1")
    )
    code, out, _ = nvr("keys", "show", "--data-dir", data)
    assert code == 0
    assert "owner: age1" in out
    assert "recovery: age1" in out
    assert recovery not in out
    code, out, _ = nvr("keys", "export-identity", "--passphrase-file", pw, "--data-dir", data)
    assert code == 0
    assert out.strip().startswith("AGE-SECRET-KEY-1")
    assert out.strip() != recovery
    box = open_box(
        Config().model_copy(
            update={"storage": Config().storage.model_copy(update={"data_dir": tmp_path / "data"})}
        ),
        SystemClock(),
    )
    try:
        kinds = [box.audit.entry(i) for i in range(2)]
        assert b'"kind":"keys.init"' in kinds[0]
        assert b'"kind":"keys.export_identity"' in kinds[1]
        assert recovery.encode() not in b"".join(kinds)
        assert verify_log(box.sessions, box.origin, box.audit.verifier).ok
    finally:
        box.close()


def test_weak_and_unsafe_passphrases_are_refused(
    nvr: Run, secret_file: Callable[[str, str], Path], tmp_path: Path
) -> None:
    data = str(tmp_path / "data")
    weak = secret_file("weak", "password1234")
    code, _, err = nvr("keys", "init", "--passphrase-file", str(weak), "--data-dir", data, *WF)
    assert code == 1
    assert err.startswith("nvr: error: the passphrase is too weak")
    loose = secret_file("loose", OWNER)
    loose.chmod(0o644)
    code, _, err = nvr("keys", "init", "--passphrase-file", str(loose), "--data-dir", data, *WF)
    assert code == 1
    assert "mode 0644" in err
    assert OWNER not in err


def test_passphrase_change_rotate_and_members(
    nvr: Run, secret_file: Callable[[str, str], Path], tmp_path: Path
) -> None:
    data = str(tmp_path / "data")
    pw, new = secret_file("pw", OWNER), secret_file("new", "another-Long-phrase-77-calmly")
    member = secret_file("member", "kitchen-Table-9-orange-sky")
    assert nvr("keys", "init", "--passphrase-file", str(pw), "--data-dir", data, *WF)[0] == 0
    code, out, _ = nvr(
        "keys",
        "passphrase",
        "--passphrase-file",
        str(pw),
        "--new-passphrase-file",
        str(new),
        "--data-dir",
        data,
        *WF,
    )
    assert (code, out) == (0, "Passphrase changed.\n")
    code, _, err = nvr("keys", "export-identity", "--passphrase-file", str(pw), "--data-dir", data)
    assert (code, err.splitlines()[0]) == (1, "nvr: error: wrong passphrase")
    code, out, _ = nvr("keys", "rotate", "--passphrase-file", str(new), "--data-dir", data, *WF)
    assert code == 0
    assert "RECOVERY KEY" in out
    code, _, _ = nvr(
        "keys",
        "add-member",
        "alex",
        "--passphrase-file",
        str(new),
        "--member-passphrase-file",
        str(member),
        "--data-dir",
        data,
        *WF,
    )
    assert code == 0
    assert "member:alex: age1" in nvr("keys", "show", "--data-dir", data)[1]
    assert (
        nvr("keys", "remove-member", "alex", "--passphrase-file", str(new), "--data-dir", data)[0]
        == 0
    )
    assert "member:alex" not in nvr("keys", "show", "--data-dir", data)[1]


def test_commands_that_need_keys_say_how_to_make_them(
    nvr: Run, secret_file: Callable[[str, str], Path], tmp_path: Path
) -> None:
    pw = secret_file("pw", OWNER)
    code, _, err = nvr(
        "keys",
        "export-identity",
        "--passphrase-file",
        str(pw),
        "--data-dir",
        str(tmp_path / "data"),
    )
    assert code == 1
    assert "nvr: hint: create them with 'nvr keys init --passphrase-file FILE'" in err


def test_init_creates_the_owner_account_named_by_owner(
    nvr: Run, secret_file: Callable[[str, str], Path], tmp_path: Path
) -> None:
    data = str(tmp_path / "data")
    pw = str(secret_file("pw", OWNER))
    code, out, err = nvr(
        "keys", "init", "--passphrase-file", pw, "--data-dir", data, "--owner", "bad name!", *WF
    )
    assert code == 1
    assert err.splitlines() == [
        "nvr: error: 'bad name!' is not a usable account name",
        "nvr: hint: 1-64 characters: letters a-z, digits, '.', '_' or '-'",
    ]
    assert not (tmp_path / "data" / "keys" / "owner.identity.age").exists()
    code, out, err = nvr(
        "keys", "init", "--passphrase-file", pw, "--data-dir", data, "--owner", "Alex", *WF
    )
    assert (code, err) == (0, "")
    assert "signs in to the dashboard as 'alex'" in out
    box = open_box(
        Config().model_copy(
            update={"storage": Config().storage.model_copy(update={"data_dir": tmp_path / "data"})}
        ),
        SystemClock(),
    )
    try:
        with box.sessions() as session:
            assert [(u.name, u.role.value) for u in users.list_users(session)] == [
                ("alex", "owner")
            ]
    finally:
        box.close()
