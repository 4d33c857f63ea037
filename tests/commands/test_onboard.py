"""`chaton onboard`: a structure file from flags or questions, checked before it is written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chaton.cli import main
from chaton.loader import load_inventory

FLAGS = [
    "--slug",
    "zebre",
    "--name",
    "Zèbre, compagnie de cirque",
    "--tier",
    "solidarity",
    "--contact-name",
    "Zoé Martin",
    "--contact-email",
    "zoe@zebre.fr",
    "--contact-role",
    "Présidente",
    "--domain",
    "zebre.fr",
    "--domain",
    "zèbre.fr",
    "--nextcloud-accounts",
    "6",
    "--nextcloud-storage-gb",
    "20",
    "--mastodon-accounts",
    "2",
    "--list",
    "info:zoe@zebre.fr",
    "--list",
    "ca:zoe@zebre.fr,tresor@zebre.fr",
    "--website",
    "https://framagit.org/zebre/site.git",
    "--website-branch",
    "main",
]


# English messages and `inventory`, a writable copy of the example: tests/conftest.py.
pytestmark = pytest.mark.usefixtures("english")


def _files(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / "structures").iterdir())}


def test_onboard_from_flags_creates_a_valid_structure(
    inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["onboard", "-i", str(inventory), *FLAGS]) == 0
    path = inventory / "structures" / "zebre.yml"
    assert f"created {path}" in capsys.readouterr().out
    zebre = load_inventory(inventory).structures["zebre"]
    assert zebre.name == "Zèbre, compagnie de cirque"
    assert zebre.tier == "solidarity"
    assert zebre.status == "active"
    assert zebre.domains == ("zebre.fr", "zèbre.fr")
    assert zebre.contacts[0].role == "Présidente"
    assert zebre.services.nextcloud is not None
    assert (zebre.services.nextcloud.accounts, zebre.services.nextcloud.storage_gb) == (6, 20)
    assert zebre.services.mastodon is not None
    assert (zebre.services.mastodon.mode, zebre.services.mastodon.accounts) == ("shared", 2)
    assert [(lst.name, lst.owners) for lst in zebre.services.lists] == [
        ("info", ("zoe@zebre.fr",)),
        ("ca", ("zoe@zebre.fr", "tresor@zebre.fr")),
    ]
    assert zebre.services.website is not None
    assert zebre.services.website.git_url == "https://framagit.org/zebre/site.git"
    assert zebre.services.website.branch == "main"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# A member structure, created by `chaton onboard`.\n")
    assert "\r" not in text


def test_text_that_yaml_would_misread_stays_text(inventory: Path) -> None:
    flags = ["--slug", "oui", "--name", "yes", "--tier", "member", "--contact-name", "1789"]
    assert main(["onboard", "-i", str(inventory), *flags, "--contact-email", "a@oui.fr"]) == 0
    oui = load_inventory(inventory).structures["oui"]
    assert oui.name == "yes"
    assert oui.contacts[0].name == "1789"


def test_missing_flags_without_a_terminal_exit_2_naming_them(
    inventory: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    before = _files(inventory)
    assert main(["onboard", "-i", str(inventory), "--slug", "zebre", "--list", "a:b@c.fr"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "error: missing: --name, --tier, --contact-name, --contact-email, --domain "
        "(no terminal to ask them on)\n"
    )
    assert _files(inventory) == before


def test_missing_values_are_asked_on_a_terminal(
    inventory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    answers = iter(["Zèbre", "", "member", "Zoé", "zoe@zebre.fr", "zebre.fr", "25"])
    prompts: list[str] = []

    def fake_input(prompt: str) -> str:
        prompts.append(prompt)
        return next(answers)

    monkeypatch.setattr("builtins.input", fake_input)
    args = ["onboard", "-i", str(inventory), "--slug", "zebre", "--nextcloud-accounts", "4"]
    assert main(args) == 0
    # The empty answer to the tier is asked again; the tiers are offered.
    assert prompts[1] == prompts[2] == "Tier (member, solidarity, standard): "
    assert prompts[-1] == "Nextcloud storage in GB: "
    zebre = load_inventory(inventory).structures["zebre"]
    assert zebre.tier == "member"
    assert zebre.services.nextcloud is not None
    assert zebre.services.nextcloud.storage_gb == 25


def test_an_existing_structure_is_never_overwritten(
    inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _files(inventory)
    flags = [*FLAGS]
    flags[1] = "velo-cite"
    assert main(["onboard", "-i", str(inventory), *flags]) == 2
    assert "already exists: a structure is never overwritten" in capsys.readouterr().err
    assert _files(inventory) == before


def test_the_whole_inventory_is_checked_before_writing(
    inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _files(inventory)
    flags = [*FLAGS]
    flags[flags.index("zebre.fr")] = "velo-cite.fr"  # another structure's domain
    flags[flags.index("zoe@zebre.fr")] = "zoe@"
    flags[flags.index("solidarity")] = "gold"
    assert main(["onboard", "-i", str(inventory), *flags]) == 2
    err = capsys.readouterr().err
    new = inventory / "structures" / "zebre.yml"
    assert f"{new}:" in err
    assert "contacts[0].email: 'zoe@' is not a valid email address" in err
    assert "tier: unknown tier 'gold'" in err
    assert "domains[0]: domain 'velo-cite.fr' is already used by structures/velo-cite.yml" in err
    assert _files(inventory) == before


def test_over_the_offer_is_refused(inventory: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flags = [*FLAGS]
    flags[flags.index("6")] = "101"  # the example's Nextcloud offer allows 100 accounts
    assert main(["onboard", "-i", str(inventory), *flags]) == 2
    assert "101 is more than the offer allows (100" in capsys.readouterr().err
    assert not (inventory / "structures" / "zebre.yml").exists()


def test_a_malformed_list_flag_is_bad_input(
    inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = [*FLAGS]
    flags[flags.index("info:zoe@zebre.fr")] = "info"
    assert main(["onboard", "-i", str(inventory), *flags]) == 2
    assert "--list 'info': expected NAME:OWNER" in capsys.readouterr().err


def test_dry_run_prints_and_writes_nothing(
    inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _files(inventory)
    assert main(["onboard", "-i", str(inventory), *FLAGS, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "slug: zebre\n" in out
    assert _files(inventory) == before


def test_an_invalid_inventory_is_refused_first(
    inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = inventory / "structures" / "velo-cite.yml"
    path.write_text(path.read_text().replace("tier: member", "tier: gold"))
    assert main(["onboard", "-i", str(inventory), *FLAGS]) == 2
    err = capsys.readouterr().err
    assert "the inventory has errors already: fix them first" in err
    assert "velo-cite.yml" in err
    assert not (inventory / "structures" / "zebre.yml").exists()


def _public_key(comment: str) -> str:
    """A fresh ed25519 public key line, as ssh-keygen writes it in a .pub file."""
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return f"{key.public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()} {comment}"


SFTP_FLAGS = [
    "--slug",
    "zebre",
    "--name",
    "Zèbre",
    "--tier",
    "member",
    "--contact-name",
    "Zoé",
    "--contact-email",
    "zoe@zebre.fr",
    "--domain",
    "zebre.fr",
    "--website",
    "none",
]


def test_the_webmasters_keys_come_from_their_pub_files(inventory: Path, tmp_path: Path) -> None:
    first, second = _public_key("zoe@portable"), _public_key("theo@atelier")
    (tmp_path / "zoe.pub").write_text(first + "\n", encoding="utf-8")
    (tmp_path / "theo.pub").write_text(f"# Théo's key\n\n{second}\n", encoding="utf-8")
    files = [
        "--sftp-key-file",
        str(tmp_path / "zoe.pub"),
        "--sftp-key-file",
        str(tmp_path / "theo.pub"),
    ]
    assert main(["onboard", "-i", str(inventory), *SFTP_FLAGS, *files]) == 0
    website = load_inventory(inventory).structures["zebre"].services.website
    assert website is not None
    assert website.sftp_keys == (first, second)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "no key in it"),
        (b"ssh-dss AAAAB3NzaC1kc3M= old\n", "is not an SSH public key"),
        (b"\xff\xfe not text", "not a text file"),
        (b"x" * (65 * 1024), "too big for a public key file"),
    ],
    ids=["empty", "dsa", "binary", "huge"],
)
def test_a_key_file_that_holds_no_good_key_writes_nothing(
    inventory: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: bytes,
    message: str,
) -> None:
    key_file = tmp_path / "key.pub"
    key_file.write_bytes(content)
    before = _files(inventory)
    assert (
        main(["onboard", "-i", str(inventory), *SFTP_FLAGS, "--sftp-key-file", str(key_file)]) == 2
    )
    assert message in capsys.readouterr().err
    assert _files(inventory) == before


def test_keys_without_a_website_are_refused(
    inventory: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = tmp_path / "key.pub"
    key_file.write_text(_public_key("zoe@portable") + "\n", encoding="utf-8")
    flags = SFTP_FLAGS[: SFTP_FLAGS.index("--website")]
    assert main(["onboard", "-i", str(inventory), *flags, "--sftp-key-file", str(key_file)]) == 2
    assert "--sftp-key-file needs --website" in capsys.readouterr().err


def test_a_key_file_that_is_a_fifo_is_refused_at_once(
    inventory: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "key.pub"
    os.mkfifo(fifo)
    flags = [*SFTP_FLAGS, "--sftp-key-file", str(fifo)]
    assert main(["onboard", "-i", str(inventory), *flags]) == 2
    assert "the file is not a regular file" in capsys.readouterr().err
