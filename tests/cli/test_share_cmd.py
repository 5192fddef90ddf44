"""``nvr share export`` and ``nvr verify-bundle`` against a real box with encrypted footage:
the bundle a console export writes verifies; a changed clip is named; an expired consent
is refused through the enforcement point and logged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from nvr.audit.entry import Actor
from nvr.cli import main
from tests.playback.conftest import SourceClip
from tests.support.accounts import PASSPHRASE, Site
from tests.support.consent import consents_of, draft, faces_source, footage_site

__all__ = ["faces_source"]
Capsys = pytest.CaptureFixture[str]
OWNER = Actor("owner", "alex")


@pytest.fixture
def site(tmp_path: Path, faces_source: SourceClip) -> Iterator[Site]:
    built = footage_site(tmp_path, faces_source)
    # The CLI runs on the system clock: consent now, so the consent is valid now.
    built.clock.set_wall(datetime.now(UTC))
    yield built
    built.box.close()


def test_export_then_verify(site: Site, tmp_path: Path, capsys: Capsys) -> None:
    view = consents_of(site).grant(PASSPHRASE.encode(), draft(), OWNER)
    secret = tmp_path / "pass"
    secret.write_text(PASSPHRASE + "\n")
    secret.chmod(0o600)
    data = ["--data-dir", str(site.box.cfg.storage.data_dir)]
    out = tmp_path / "bundle"
    code = main(
        [
            "share",
            "export",
            "--consent",
            view.id,
            "--out",
            str(out),
            "--zip",
            "--passphrase-file",
            str(secret),
            *data,
        ]
    )
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert f"written to {out}" in printed.out
    assert main(["share", "consents", *data]) == 0
    assert view.id in capsys.readouterr().out
    for path in (out, tmp_path / "bundle.zip"):
        assert main(["verify-bundle", str(path)]) == 0
        printed = capsys.readouterr()
        assert printed.out.rstrip().endswith("VERIFIED: every check passed.")
    clip = out / "clip.mp4"
    clip.write_bytes(clip.read_bytes()[:-1])
    assert main(["verify-bundle", str(out)]) == 1
    printed = capsys.readouterr()
    assert "FAIL  clip.mp4: size or hashes differ from manifest.json" in printed.out
    assert printed.err.startswith("nvr: error: bundle NOT verified: clip.mp4: size or hashes")


def test_an_expired_consent_exports_nothing(site: Site, tmp_path: Path, capsys: Capsys) -> None:
    site.clock.set_wall(datetime.now(UTC) - timedelta(days=8))
    view = consents_of(site).grant(PASSPHRASE.encode(), draft(), OWNER)
    secret = tmp_path / "pass"
    secret.write_text(PASSPHRASE + "\n")
    secret.chmod(0o600)
    out = tmp_path / "bundle"
    code = main(
        [
            "share",
            "export",
            "--consent",
            view.id,
            "--out",
            str(out),
            "--passphrase-file",
            str(secret),
            "--data-dir",
            str(site.box.cfg.storage.data_dir),
        ]
    )
    assert code == 1
    assert "release refused: the consent expired at" in capsys.readouterr().err
    assert not out.exists()
    refused = [p for k, p, _ in site.audit() if k == "release.refused"]
    assert [p["purpose"] for p in refused] == ["export"]
    assert not [k for k, _, _ in site.audit() if k == "share.release"]


def test_list_and_revoke_links(site: Site, tmp_path: Path, capsys: Capsys) -> None:
    from nvr.sharing.links import LinkSource, LinkStore

    view = consents_of(site).grant(PASSPHRASE.encode(), draft(), OWNER)
    box = site.box
    links = LinkStore(
        box.cfg.storage.data_dir, box.sessions, consents_of(site), box.record, site.clock
    )
    made = links.create(
        b"PK stand-in", LinkSource(view.id, view.clip, "b.zip"), actor=OWNER, client=None
    )
    data = ["--data-dir", str(box.cfg.storage.data_dir)]
    assert main(["share", "links", *data]) == 0
    listed = capsys.readouterr().out
    assert f"{made.link.id}  active  0/3 downloads" in listed
    assert made.token not in listed
    assert main(["share", "links", "--consent", "other", *data]) == 0
    assert capsys.readouterr().out == ""
    assert main(["share", "revoke-link", made.link.id, "--reason", "oops", *data]) == 0
    assert "revoked" in capsys.readouterr().out
    assert not links.path(made.link.id).exists()
    assert main(["share", "links", "--consent", view.id, *data]) == 0
    assert "revoked  0/3 downloads" in capsys.readouterr().out
    assert main(["share", "revoke-link", made.link.id, *data]) == 1
    assert "was revoked at" in capsys.readouterr().err
    revokes = [(p["link"], p["reason"], a) for k, p, a in site.audit() if k == "share.link.revoke"]
    assert revokes == [(made.link.id, "oops", "cli")]
