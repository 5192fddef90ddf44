"""``nvr.bench.machine``: the /proc parsers on real-shaped text, and ``describe`` here."""

from __future__ import annotations

from pathlib import Path

import cryptography

from nvr.bench import machine

X86_CPUINFO = """\
processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B13 64-Core Processor
flags\t\t: fpu sse2 avx2 sha_ni avx512f
cpu cores\t: 2

processor\t: 1
model name\t: AMD EPYC 7B13 64-Core Processor
"""

PI4_CPUINFO = """\
processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x0
CPU part\t: 0xd08
CPU revision\t: 3

Hardware\t: BCM2835
Revision\t: c03114
Model\t\t: Raspberry Pi 4 Model B Rev 1.4
"""

MOUNTS = """\
/dev/root / ext4 rw,noatime 0 0
proc /proc proc rw 0 0
/dev/sda1 /srv/nvr ext4 rw 0 0
/dev/sdb1 /srv/nvr\\040data btrfs rw 0 0
"""


def test_cpu_model_on_x86_and_on_a_raspberry_pi() -> None:
    assert machine.cpu_model(X86_CPUINFO) == "AMD EPYC 7B13 64-Core Processor"
    assert machine.cpu_model(PI4_CPUINFO) == "Raspberry Pi 4 Model B Rev 1.4 (Cortex-A72)"
    assert machine.cpu_model("") == "unknown"


def test_cpu_features_keeps_the_ones_that_matter_for_the_cipher() -> None:
    assert machine.cpu_features(X86_CPUINFO) == ("avx2", "avx512f", "sha_ni")
    assert machine.cpu_features(PI4_CPUINFO) == ("asimd",)


def test_ram_from_meminfo() -> None:
    assert machine.ram_bytes("MemTotal:        3884192 kB\nMemFree: 1 kB\n") == 3884192 * 1024
    assert machine.ram_bytes("") is None


def test_mount_of_picks_the_deepest_mount() -> None:
    assert machine.mount_of("/srv/nvr/data", MOUNTS) == ("/dev/sda1", "/srv/nvr", "ext4")
    assert machine.mount_of("/srv/nvrx", MOUNTS) == ("/dev/root", "/", "ext4")
    assert machine.mount_of("/srv/nvr data/x", MOUNTS) == ("/dev/sdb1", "/srv/nvr data", "btrfs")


def test_describe_this_machine(tmp_path: Path) -> None:
    found = machine.describe(tmp_path)
    assert found.cpu_model
    assert 1 <= found.usable_cpus <= found.logical_cpus
    assert found.cryptography == cryptography.__version__
    assert "OpenSSL" in found.cryptography_openssl
    assert found.disk.path == str(tmp_path.resolve())


def test_board_model_is_the_device_tree_text_up_to_its_nul() -> None:
    assert (
        machine.board_model("Raspberry Pi 4 Model B Rev 1.4\0") == "Raspberry Pi 4 Model B Rev 1.4"
    )
    assert machine.board_model("Raspberry Pi 5 Model B Rev 1.0") == "Raspberry Pi 5 Model B Rev 1.0"
    assert machine.board_model("\0") is None
    assert machine.board_model(None) is None
