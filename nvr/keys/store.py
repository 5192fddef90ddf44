"""The key folder (docs/design/keys.md): creation, unlock, passphrase change, rotation,
household members, the signed recipient list and the device signing key.

``KeyStore(data_dir)`` does no I/O until a method is called. Passphrases arrive as bytes
(from ``read_passphrase_file``); scrypt work factors are explicit parameters, so tests pass
a small one without any global switch. Secrets leave only as return values the caller
asked for (the recovery identity at ``init`` and ``rotate``, ``export_identity``).
"""

from __future__ import annotations

import base64
import json
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from nvr.crypto import (
    AgeError,
    NoIdentityMatchError,
    ScryptIdentity,
    ScryptRecipient,
    X25519Identity,
    X25519Recipient,
    parse_identity_file,
    parse_recipient,
)
from nvr.errors import UserError
from nvr.keys.files import seal, unseal, write_private

KEYS = "keys"
OWNER_IDENTITY = "owner.identity.age"
OWNER_SIGNING = "owner.signing.age"
OWNER_SIGNING_PUB = "owner.signing.pub"
RECIPIENTS = "recipients.json"
DEVICE_KEY = "device.signing.key"
MEMBERS = "members"
_LIST_CONTEXT = b"porchlight recipient list v1\n"


class KeyError_(UserError):
    """A key operation cannot go ahead (wrong passphrase, no keys, tampered list ...)."""


@dataclass(frozen=True)
class Unlocked:
    identities: list[X25519Identity]  # current first, then rotated-out ones (old footage)
    secret: bytearray  # the identity file text, for the unlock session to wipe
    signing_key: Ed25519PrivateKey


def _pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _raw_pub(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def identity_file_text(identity: X25519Identity, now: datetime, label: str) -> str:
    """The text ``age-keygen`` would write, so ``age -d -i`` accepts the unwrapped file."""
    return (
        f"# {label}, created: {now.isoformat()}\n# public key: {identity.recipient()}\n"
        f"{identity.to_string()}\n"
    )


def canonical(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class KeyStore:
    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir / KEYS

    def exists(self) -> bool:
        return (self.dir / OWNER_IDENTITY).exists() or (
            self.dir / "owner.identity.new.age"
        ).exists()

    def _require(self) -> None:
        if not self.exists():
            raise KeyError_(
                f"no owner keys in {self.dir}",
                hint="create them with 'nvr keys init --passphrase-file FILE'",
            )

    # -- device key (needs no owner) ----------------------------------------------------
    def device_key(self) -> Ed25519PrivateKey:
        """The device signing key, created on first use (it signs, it never decrypts)."""
        path = self.dir / DEVICE_KEY
        if not path.exists():
            self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_private(path, _pem(Ed25519PrivateKey.generate()))
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyError_(f"{path} is not an Ed25519 key")
        return key

    # -- creation -------------------------------------------------------------------------
    def init(self, passphrase: bytes, *, log_n: int, now: datetime) -> X25519Identity:
        """Create the owner keys; returns the recovery identity (show it once, never store)."""
        if self.exists():
            raise KeyError_(
                f"owner keys already exist in {self.dir}",
                hint="use 'nvr keys passphrase' or 'nvr keys rotate'",
            )
        self.device_key()
        owner, recovery = X25519Identity.generate(), X25519Identity.generate()
        signing = Ed25519PrivateKey.generate()
        staging = self.dir / ".init"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(mode=0o700)
        write_private(staging / OWNER_SIGNING, seal(_pem(signing), [owner.recipient()]))
        write_private(
            staging / OWNER_SIGNING_PUB, base64.b64encode(_raw_pub(signing.public_key())) + b"\n"
        )
        write_private(
            staging / RECIPIENTS,
            self._signed_list(
                signing, now, {"owner": owner.recipient(), "recovery": recovery.recipient()}
            ),
        )
        # The identity goes last: its presence is what "keys exist" means.
        write_private(
            staging / OWNER_IDENTITY,
            seal(
                identity_file_text(owner, now, "Porchlight owner identity").encode(),
                [ScryptRecipient(passphrase, log_n)],
            ),
        )
        for item in staging.iterdir():
            item.replace(self.dir / item.name)
        staging.rmdir()
        return recovery

    # -- recipient list -------------------------------------------------------------------
    @staticmethod
    def _signed_list(
        signing: Ed25519PrivateKey, now: datetime, recipients: dict[str, X25519Recipient]
    ) -> bytes:
        body = {
            "version": 1,
            "created_at": now.isoformat(),
            "recipients": [{"name": n, "recipient": str(r)} for n, r in recipients.items()],
        }
        sig = signing.sign(_LIST_CONTEXT + canonical(body))
        return canonical({"list": body, "signature": base64.b64encode(sig).decode()}) + b"\n"

    def pinned_signing_key(self) -> Ed25519PublicKey:
        raw = base64.b64decode((self.dir / OWNER_SIGNING_PUB).read_bytes())
        return Ed25519PublicKey.from_public_bytes(raw)

    def recipient_list(self) -> dict[str, X25519Recipient]:
        """The signed recipient list, checked against the pinned owner key; raises if not."""
        self._require()
        path = self.dir / RECIPIENTS
        try:
            doc = json.loads(path.read_bytes())
            body, sig = doc["list"], base64.b64decode(doc["signature"], validate=True)
            self.pinned_signing_key().verify(sig, _LIST_CONTEXT + canonical(body))
            return {e["name"]: parse_recipient(e["recipient"]) for e in body["recipients"]}
        except (InvalidSignature, ValueError, KeyError, TypeError, AgeError) as exc:
            raise KeyError_(
                f"{path}: the recipient list is not signed by the owner key ({type(exc).__name__})",
                hint="recording is refused until the owner fixes the keys; see docs/design/keys.md",
            ) from exc

    def recipients(self) -> list[X25519Recipient]:
        return list(self.recipient_list().values())

    # -- unlock ---------------------------------------------------------------------------
    def _open_identity_file(
        self, path: Path, passphrase: bytes
    ) -> tuple[list[X25519Identity], bytes]:
        try:
            text = unseal(path.read_bytes(), [ScryptIdentity(passphrase)])
        except NoIdentityMatchError:
            raise KeyError_("wrong passphrase", hint="check the passphrase file") from None
        except AgeError as exc:
            raise KeyError_(f"{path}: {exc}") from exc
        return parse_identity_file(text.decode()), text

    def unlock(self, passphrase: bytes) -> Unlocked:
        self._require()
        main = self.dir / OWNER_IDENTITY
        if not main.exists():  # a rotation stopped between its two renames
            (self.dir / "owner.identity.new.age").replace(main)
        current, text = self._open_identity_file(main, passphrase)
        older: list[X25519Identity] = []
        for path in sorted(self.dir.glob("owner.identity.*.age"), reverse=True):
            older += self._open_identity_file(path, passphrase)[0]
        pem = unseal((self.dir / OWNER_SIGNING).read_bytes(), current + older)
        signing = serialization.load_pem_private_key(pem, password=None)
        assert isinstance(signing, Ed25519PrivateKey)
        if _raw_pub(signing.public_key()) != _raw_pub(self.pinned_signing_key()):
            raise KeyError_(
                "the pinned owner signing key does not match the owner's key",
                hint="the key folder was tampered with; see docs/design/keys.md",
            )
        return Unlocked(current + older, bytearray(text), signing)

    def export_identity(self, passphrase: bytes) -> str:
        return self.unlock(passphrase).identities[0].to_string()

    # -- changes --------------------------------------------------------------------------
    def change_passphrase(self, old: bytes, new: bytes, *, log_n: int) -> None:
        self._require()
        for path in [self.dir / OWNER_IDENTITY, *self.dir.glob("owner.identity.*.age")]:
            _, text = self._open_identity_file(path, old)
            write_private(path, seal(text, [ScryptRecipient(new, log_n)]))

    def rotate(self, passphrase: bytes, *, log_n: int, now: datetime) -> X25519Identity:
        """New owner and recovery identities; old owner identities are kept (old footage).
        Returns the new recovery identity.

        Crash-safe order: the new identity file is written under a temporary name first,
        the signing key is sealed to old and new identities alike, and only then are the
        names swapped; ``unlock`` reads every ``owner.identity.*.age``, the temporary one
        included, so no crash point leaves footage the passphrase cannot open."""
        unlocked = self.unlock(passphrase)
        members = {k: v for k, v in self.recipient_list().items() if k.startswith("member:")}
        owner, recovery = X25519Identity.generate(), X25519Identity.generate()
        staged = self.dir / "owner.identity.new.age"
        write_private(
            staged,
            seal(
                identity_file_text(owner, now, "Porchlight owner identity").encode(),
                [ScryptRecipient(passphrase, log_n)],
            ),
        )
        everyone = [owner.recipient()] + [i.recipient() for i in unlocked.identities]
        write_private(self.dir / OWNER_SIGNING, seal(_pem(unlocked.signing_key), everyone))
        write_private(
            self.dir / RECIPIENTS,
            self._signed_list(
                unlocked.signing_key,
                now,
                {"owner": owner.recipient(), "recovery": recovery.recipient(), **members},
            ),
        )
        n = len(list(self.dir.glob("owner.identity.[0-9]*.age"))) + 1
        (self.dir / OWNER_IDENTITY).replace(self.dir / f"owner.identity.{n}.age")
        staged.replace(self.dir / OWNER_IDENTITY)
        return recovery

    def add_member(
        self,
        owner_passphrase: bytes,
        name: str,
        member_passphrase: bytes,
        *,
        log_n: int,
        now: datetime,
    ) -> X25519Recipient:
        if not name.replace("-", "").replace("_", "").isalnum() or len(name) > 32:
            raise KeyError_(f"member name {name!r}: use letters, digits, '-' and '_' (max 32)")
        unlocked = self.unlock(owner_passphrase)
        current = self.recipient_list()
        if f"member:{name}" in current:
            raise KeyError_(f"member {name!r} already exists")
        member = X25519Identity.generate()
        (self.dir / MEMBERS).mkdir(exist_ok=True, mode=0o700)
        write_private(
            self.dir / MEMBERS / f"{name}.identity.age",
            seal(
                identity_file_text(member, now, f"Porchlight member {name}").encode(),
                [ScryptRecipient(member_passphrase, log_n)],
            ),
        )
        write_private(
            self.dir / RECIPIENTS,
            self._signed_list(
                unlocked.signing_key, now, {**current, f"member:{name}": member.recipient()}
            ),
        )
        return member.recipient()

    def remove_member(self, owner_passphrase: bytes, name: str, *, now: datetime) -> None:
        unlocked = self.unlock(owner_passphrase)
        current = self.recipient_list()
        if current.pop(f"member:{name}", None) is None:
            raise KeyError_(f"no member {name!r}")
        write_private(self.dir / RECIPIENTS, self._signed_list(unlocked.signing_key, now, current))
        (self.dir / MEMBERS / f"{name}.identity.age").unlink(missing_ok=True)

    def unlock_member(self, name: str, passphrase: bytes) -> tuple[list[X25519Identity], bytearray]:
        """A household member's identity and the file text (to wipe), opened with the
        member's passphrase (their sign-in password when the dashboard links a viewer to
        it). ``KeyError_`` when there is no such current member or the passphrase is wrong."""
        path = self.dir / MEMBERS / f"{name}.identity.age"
        if f"member:{name}" not in self.recipient_list() or not path.exists():
            raise KeyError_(f"no member {name!r}")
        identities, text = self._open_identity_file(path, passphrase)
        return identities, bytearray(text)

    def has_member(self, name: str) -> bool:
        """Whether ``name`` is a current household member with an identity file."""
        return (self.dir / MEMBERS / f"{name}.identity.age").exists()

    def members(self) -> list[str]:
        return sorted(
            k.removeprefix("member:") for k in self.recipient_list() if k.startswith("member:")
        )
