"""``nvr verify-bundle`` and ``nvr share``: check an export bundle; export one at the console.

``nvr verify-bundle PATH`` runs the very verifier every bundle ships
(``nvr/sharing/verify_bundle.py``, copied into the bundle unchanged), so there is one
implementation: it prints PASS/FAIL per check and exits 1 naming what failed. It uses this
installation's copy, never the one inside the bundle (a forged bundle could ship a
verifier that lies).

``nvr share consents`` lists consents; ``nvr share export --consent ID --out DIR`` builds
the bundle of a consent for an owner or installer at the console (the passphrase file opens
both the footage and the owner signing key; the enforcement point decides as for the API).
``nvr share links [--consent ID]`` lists share links (never their tokens: the box does not
have them) and ``nvr share revoke-link ID`` revokes one (its stored bundle is deleted);
links are made in the dashboard from a finished export (docs/design/share-links.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, BinaryIO, cast

import typer

from nvr.camera_identity import kind_of
from nvr.cli import options
from nvr.errors import UserError
from nvr.service.box import CLI_OWNER, Box
from nvr.sharing import verify_bundle
from nvr.sharing.bundle import ExportContext, encrypt_chunks, export_bundle, zip_folder
from nvr.sharing.consent import ClipRef, ConsentStore, iso
from nvr.sharing.links import LinkStore
from nvr.sharing.requests import RequestLog, State
from nvr.sharing.scratch import SealedFile

app = typer.Typer(no_args_is_help=True, help="Consents and export bundles.")


def verify_bundle_command(
    path: Annotated[Path, typer.Argument(help="A bundle folder or zip.", exists=True)],
) -> None:
    """Check an export bundle: every file's hashes, the owner and device signatures, the
    consent, and the release's proof in the audit log. Exit 1 naming what failed."""
    failures = verify_bundle.check(path)
    if failures:
        raise UserError(
            f"bundle NOT verified: {'; '.join(failures)}",
            hint="do not rely on this clip; ask the owner for a fresh bundle",
        )


@app.command("consents")
def consents_command(
    config: Path | None = options.CONFIG,
    data_dir: Path | None = options.DATA_DIR,
) -> None:
    """List every consent (newest first), revoked ones included."""
    with options.box(config, data_dir) as box:
        store = ConsentStore(box.sessions, box.keys, box.record, box.clock)
        for view in store.list():
            state = f"revoked {iso(view.revoked_at)}" if view.revoked_at else "valid until"
            until = "" if view.revoked_at else f" {iso(view.expires_at)}"
            print(
                f"{view.id}  {view.clip.camera} {iso(view.clip.start)}..{iso(view.clip.end)}  "
                f"to {view.recipient}  request {view.request or '-'}  {state}{until}"
            )


@app.command("export")
def export_command(
    consent: Annotated[str, typer.Option("--consent", help="The consent id.", metavar="ID")],
    out: Annotated[
        Path, typer.Option("--out", help="A new folder for the bundle.", file_okay=False)
    ],
    passphrase_file: Path = options.PASSPHRASE_FILE,
    zip_: Annotated[bool, typer.Option("--zip", help="Also write OUT.zip.")] = False,
    age_recipient: Annotated[
        str | None,
        typer.Option("--age-recipient", help="Also write OUT.zip.age to this age1... key."),
    ] = None,
    fulfil: Annotated[
        str | None,
        typer.Option(
            "--fulfil",
            help="Move the consent's request to 'fulfilled' or 'partially_fulfilled'.",
        ),
    ] = None,
    config: Path | None = options.CONFIG,
    data_dir: Path | None = options.DATA_DIR,
) -> None:
    """Build the export bundle of a consent (enforced like every release)."""
    state = None
    if fulfil is not None:
        if fulfil not in (State.FULFILLED, State.PARTIALLY_FULFILLED):
            raise UserError("--fulfil is 'fulfilled' or 'partially_fulfilled'")
        state = State(fulfil)
    with options.box(config, data_dir) as box, options.passphrase(passphrase_file) as secret:
        unlocked = box.keys.unlock(secret)
        store = ConsentStore(box.sessions, box.keys, box.record, box.clock)
        view = store.get(consent)
        ctx = ExportContext(
            consents=store,
            store=box.segment_store(),
            audit=box.audit,
            clock=box.clock,
            device_key=box.keys.device_key(),
            device_id=box.device_id,
            record=box.record,
            requests=RequestLog(box.sessions, box.record, box.clock),
            camera_kind=lambda name: kind_of(box.cfg, name),
        )
        result = export_bundle(
            ctx,
            consent,
            ClipRef(view.clip.camera, view.clip.start, view.clip.end),
            out,
            CLI_OWNER,
            identities=unlocked.identities,
            owner_key=unlocked.signing_key,
            fulfil=state,
        )
    print(f"bundle {result.bundle_id} written to {out}")
    print(f"  clip.mp4 SHA-256 {result.clip_sha256}")
    print(f"  release audit entry {result.release_seq}")
    if zip_ or age_recipient:
        # Written a piece at a time: the zip (the folder is plaintext already, by request)
        # and the age file made from it; without --zip the zip is a sealed scratch file.
        with SealedFile.create(out.parent) as archive:
            zip_folder(out, cast(BinaryIO, archive))
            if zip_:
                with out.with_name(out.name + ".zip").open("wb") as dest:
                    for piece in archive.chunks():
                        dest.write(piece)
                print(f"  {out.name}.zip")
            if age_recipient:
                with out.with_name(out.name + ".zip.age").open("wb") as dest:
                    encrypt_chunks(archive.chunks(), dest, recipient=age_recipient)
                print(f"  {out.name}.zip.age (for {age_recipient})")


def _links(box: Box) -> LinkStore:
    consents = ConsentStore(box.sessions, box.keys, box.record, box.clock)
    return LinkStore(box.cfg.storage.data_dir, box.sessions, consents, box.record, box.clock)


@app.command("links")
def links_command(
    consent: Annotated[
        str | None, typer.Option("--consent", help="Only this consent's links.", metavar="ID")
    ] = None,
    config: Path | None = options.CONFIG,
    data_dir: Path | None = options.DATA_DIR,
) -> None:
    """List share links (newest first): state, downloads, expiry. Tokens are never shown:
    the box keeps only their hashes."""
    with options.box(config, data_dir) as box:
        now = box.clock.wall()
        for link in _links(box).list(consent=consent):
            stored = "" if link.purged_at is None else "  (bundle deleted)"
            print(
                f"{link.id}  {link.state(now)}  {link.downloads}/{link.max_downloads} downloads  "
                f"expires {iso(link.expires_at)}  consent {link.consent}  {link.file}{stored}"
            )


@app.command("revoke-link")
def revoke_link_command(
    link: Annotated[str, typer.Argument(help="The link id (nvr share links).", metavar="ID")],
    reason: Annotated[str, typer.Option("--reason", help="Why (for the audit log).")] = "",
    config: Path | None = options.CONFIG,
    data_dir: Path | None = options.DATA_DIR,
) -> None:
    """Revoke a share link at once: it answers 410 from now on and its stored bundle is
    deleted. Audited ``share.link.revoke``."""
    with options.box(config, data_dir) as box:
        view = _links(box).revoke(link, reason, CLI_OWNER)
    print(f"link {view.id} revoked; its stored bundle is deleted")


def register(root: typer.Typer) -> None:
    root.command("verify-bundle")(verify_bundle_command)
    root.add_typer(app, name="share")
