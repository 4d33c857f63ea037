"""chaton artifacts: fetch, verify and cache release archives, against a test double of an
upstream (HTTP on 127.0.0.1) serving a test release signed with keys made by the test suite, its
tree signed by the test suite's code-signing authority (tests/fake_codesigning)."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fake_codesigning import TestAuthority, sign_tree, tar_of, test_authority, test_release_tree
from fake_upstream import FakeUpstream, TestSigners, test_release_archive
from support import everything_in, run_artifacts_cli

from chaton import artifacts
from chaton.commands.artifacts import DownloadProgress
from chaton.errors import BadInput, ChatonError, ExitCode

pytestmark = pytest.mark.usefixtures("english")

VERSION = "30.0.4"
ARCHIVE = f"nextcloud-{VERSION}.tar.bz2"
RELEASE = test_release_archive(VERSION)


@pytest.fixture(scope="session")
def signers() -> Iterator[TestSigners]:
    """Two test signing keys: "pinned" (stands in for the upstream's) and "other"."""
    keys = TestSigners()
    try:
        keys.generate("pinned")
        keys.generate("other")
        yield keys
    finally:
        keys.close()


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    server = FakeUpstream()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def keyring(tmp_path: Path, signers: TestSigners) -> Path:
    """The key file the tests check signatures with: the pinned test key only."""
    path = tmp_path / "test-keys.asc"
    path.write_bytes(signers.export("pinned"))
    return path


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def publish(
    upstream: FakeUpstream,
    signers: TestSigners,
    *,
    archive: bytes = RELEASE,
    signer: str = "pinned",
    checksum_of: bytes | None = None,
    signed: bytes | None = None,
) -> None:
    """Serve the test release as upstream does: the archive, `<archive>.sha512` (of
    `checksum_of`, default the archive) and `<archive>.asc` (by `signer`, of `signed`)."""
    digest = hashlib.sha512(archive if checksum_of is None else checksum_of).hexdigest()
    upstream.files[ARCHIVE] = archive
    upstream.files[f"{ARCHIVE}.sha512"] = f"{digest}  {ARCHIVE}\n".encode()
    upstream.files[f"{ARCHIVE}.asc"] = signers.sign(signer, archive if signed is None else signed)


def fetch(
    upstream: FakeUpstream, signers: TestSigners, keyring: Path, cache: Path, **options: object
) -> artifacts.FetchResult:
    arguments: dict[str, object] = {
        "cache": cache,
        "base_url": upstream.url,
        "key_file": keyring,
        "fingerprint": signers.fingerprints["pinned"],
        "root_fingerprint": test_authority().fingerprint,
        "timeout": 5.0,
    }
    arguments.update(options)
    return artifacts.fetch("nextcloud", VERSION, **arguments)  # type: ignore[arg-type]


def pin_test_upstream(
    monkeypatch: pytest.MonkeyPatch, upstream: FakeUpstream, signers: TestSigners
) -> None:
    """Make the nextcloud row point at the test double and pin the test key and the test
    code-signing root (CLI tests)."""
    row = dataclasses.replace(
        artifacts.KINDS["nextcloud"],
        base_url=upstream.url,
        fingerprint=signers.fingerprints["pinned"],
        code_signing_root=test_authority().fingerprint,
    )
    monkeypatch.setitem(artifacts.KINDS, "nextcloud", row)


# --- fetch -----------------------------------------------------------------------------------


def test_a_good_release_lands_in_the_cache_with_its_manifest(
    upstream: FakeUpstream, signers: TestSigners, keyring: Path, cache: Path
) -> None:
    publish(upstream, signers)
    before = datetime.now(UTC).replace(microsecond=0)
    result = fetch(upstream, signers, keyring, cache)

    folder = cache / "nextcloud" / VERSION
    assert result.downloaded
    assert result.path == folder / ARCHIVE
    assert (folder / ARCHIVE).read_bytes() == RELEASE
    assert everything_in(cache) == sorted(
        [
            "nextcloud",
            f"nextcloud/{VERSION}",
            f"nextcloud/{VERSION}/{ARCHIVE}",
            f"nextcloud/{VERSION}/artifact.json",
        ]
    )
    manifest = json.loads((folder / "artifact.json").read_text(encoding="utf-8"))
    fetched_at = datetime.strptime(manifest.pop("fetched_at"), "%Y-%m-%dT%H:%M:%SZ")
    assert before <= fetched_at.replace(tzinfo=UTC) <= datetime.now(UTC)
    verified_at = datetime.strptime(
        manifest["code_signing"].pop("verified_at"), "%Y-%m-%dT%H:%M:%SZ"
    )
    assert before <= verified_at.replace(tzinfo=UTC) <= datetime.now(UTC)
    assert manifest == {
        "name": "nextcloud",
        "version": VERSION,
        "file": ARCHIVE,
        "size": len(RELEASE),
        "sha512": hashlib.sha512(RELEASE).hexdigest(),
        "sha256": hashlib.sha256(RELEASE).hexdigest(),
        "signer_fingerprint": signers.fingerprints["pinned"],
        "source": upstream.url + ARCHIVE,
        "product_name": "Nextcloud",
        # The test release's tree (tests/fake_codesigning.py, test_release_tree): core and the
        # apps files, dav and viewer; signed: 8 core files (version.php, index.php, .htaccess,
        # lib/base.php, core/js/app.js, core/img/café.svg, core/shipped.json,
        # resources/codesigning/root.crt) and 2 per app; nothing absent; the archive kept
        # whole (nothing left out).
        "code_signing": {
            "root_fingerprint": test_authority().fingerprint,
            "scopes": 4,
            "files": 14,
            "absent": [],
            "left_out": [],
        },
    }
    assert sorted(upstream.requests) == sorted(
        f"/releases/{ARCHIVE}{suffix}" for suffix in ("", ".sha512", ".asc")
    )


def test_a_second_fetch_downloads_nothing(
    upstream: FakeUpstream,
    signers: TestSigners,
    keyring: Path,
    cache: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    publish(upstream, signers)
    pin_test_upstream(monkeypatch, upstream, signers)
    argv = ("artifacts", "fetch", "nextcloud", VERSION, "--cache", str(cache))
    assert run_artifacts_cli(monkeypatch, *argv, "--keyring", str(keyring)) == ExitCode.OK
    first = capsys.readouterr().out
    assert "checksum and signature verified" in first
    assert len(upstream.requests) == 3
    manifest = (cache / "nextcloud" / VERSION / "artifact.json").read_bytes()

    assert run_artifacts_cli(monkeypatch, *argv, "--keyring", str(keyring)) == ExitCode.OK
    assert "already in the cache and intact" in capsys.readouterr().out
    assert len(upstream.requests) == 3  # nothing asked of the upstream
    assert (cache / "nextcloud" / VERSION / "artifact.json").read_bytes() == manifest


def test_a_cached_copy_altered_since_is_fetched_again(
    upstream: FakeUpstream, signers: TestSigners, keyring: Path, cache: Path
) -> None:
    publish(upstream, signers)
    archive = fetch(upstream, signers, keyring, cache).path
    archive.write_bytes(b"altered")
    result = fetch(upstream, signers, keyring, cache)
    assert result.downloaded
    assert len(upstream.requests) == 6
    assert any("SHA-512" in problem for problem in result.replaced)
    assert archive.read_bytes() == RELEASE
    assert artifacts.check("nextcloud", VERSION, cache).ok
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]


def test_a_wrong_checksum_is_refused_and_the_cache_stays_empty(
    upstream: FakeUpstream, signers: TestSigners, keyring: Path, cache: Path
) -> None:
    published = hashlib.sha512(b"another archive").hexdigest()
    publish(upstream, signers, checksum_of=b"another archive")
    with pytest.raises(ChatonError) as refused:
        fetch(upstream, signers, keyring, cache)
    assert refused.value.code == ExitCode.FAILED
    assert refused.value.message == (
        f"{ARCHIVE}: checksum mismatch: its SHA-512 is {hashlib.sha512(RELEASE).hexdigest()}, "
        f"the checksum file says {published}: refused"
    )
    assert everything_in(cache) == []


def test_an_archive_altered_after_signing_is_refused(
    upstream: FakeUpstream, signers: TestSigners, keyring: Path, cache: Path
) -> None:
    """The checksum file matches the altered archive, but the signature was made on the real one."""
    publish(upstream, signers, archive=RELEASE + b"\0", signed=RELEASE)
    with pytest.raises(ChatonError) as refused:
        fetch(upstream, signers, keyring, cache)
    assert "the signature does not verify: bad signature" in refused.value.message
    assert everything_in(cache) == []


def test_a_signature_by_a_key_not_in_the_key_file_is_refused(
    upstream: FakeUpstream, signers: TestSigners, keyring: Path, cache: Path
) -> None:
    publish(upstream, signers, signer="other")
    with pytest.raises(ChatonError) as refused:
        fetch(upstream, signers, keyring, cache)
    message = refused.value.message
    assert "the signature does not verify" in message
    assert "which is not in the key file" in message
    # gpgv names the key by its long id: the last 16 hex digits of its fingerprint.
    assert signers.fingerprints["other"][-16:] in message
    assert everything_in(cache) == []


def test_a_valid_signature_by_another_key_than_the_pinned_one_is_refused(
    upstream: FakeUpstream, signers: TestSigners, tmp_path: Path, cache: Path
) -> None:
    """Both keys are in the key file, so gpgv accepts the signature: the pin must refuse it."""
    both = tmp_path / "both.asc"
    both.write_bytes(signers.export("pinned", "other"))
    publish(upstream, signers, signer="other")
    with pytest.raises(ChatonError) as refused:
        fetch(upstream, signers, both, cache)
    message = refused.value.message
    assert f"signed by the key {signers.fingerprints['other']}" in message
    assert f"not by the pinned key {signers.fingerprints['pinned']}" in message
    assert everything_in(cache) == []


def test_a_missing_signature_is_refused_with_the_http_status(
    upstream: FakeUpstream, signers: TestSigners, keyring: Path, cache: Path
) -> None:
    publish(upstream, signers)
    del upstream.files[f"{ARCHIVE}.asc"]
    with pytest.raises(ChatonError) as refused:
        fetch(upstream, signers, keyring, cache)
    assert refused.value.message == (
        f"{upstream.url}{ARCHIVE}.asc: the server answered HTTP 404 Not Found"
    )
    assert f"/releases/{ARCHIVE}" not in upstream.requests  # the archive was not downloaded
    assert everything_in(cache) == []


def test_an_upstream_that_does_not_answer_times_out(
    upstream: FakeUpstream, signers: TestSigners, keyring: Path, cache: Path
) -> None:
    publish(upstream, signers)
    upstream.stalled.add(ARCHIVE)
    with pytest.raises(ChatonError) as refused:
        fetch(upstream, signers, keyring, cache, timeout=0.5)
    assert refused.value.message == f"{upstream.url}{ARCHIVE}: no answer within 0.5 s (timeout)"
    assert everything_in(cache) == []


def test_without_the_project_key_file_fetch_says_where_it_comes_from(
    upstream: FakeUpstream,
    signers: TestSigners,
    cache: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keys = tmp_path / "artifact_keys"
    keys.mkdir()
    monkeypatch.setattr(artifacts, "KEYS_DIR", keys)
    publish(upstream, signers)
    with pytest.raises(BadInput) as refused:
        artifacts.fetch("nextcloud", VERSION, cache=cache, base_url=upstream.url)
    message = refused.value.message
    assert str(keys / "nextcloud.asc") in message
    assert "https://nextcloud.com/nextcloud.asc" in message
    assert "28806A878AE423A28372792ED75899B9A724937A" in message
    assert "Nextcloud Security <security@nextcloud.com>" in message
    assert upstream.requests == []
    assert everything_in(cache) == []


def test_a_key_file_without_the_pinned_key_is_refused_before_any_download(
    upstream: FakeUpstream, signers: TestSigners, tmp_path: Path, cache: Path
) -> None:
    other = tmp_path / "other.asc"
    other.write_bytes(signers.export("other"))
    publish(upstream, signers)
    with pytest.raises(BadInput) as refused:
        fetch(upstream, signers, other, cache)
    assert f"does not hold the key {signers.fingerprints['pinned']}" in refused.value.message
    assert upstream.requests == []


def _tree_failing_code_signing(folder: Path, how: str) -> bytes:
    """The test release's archive, its tree altered after the code signing (`modified`) or
    signed by another authority than the pinned test one (`other-root`)."""
    tree = test_release_tree(folder / "nextcloud", VERSION)
    if how == "modified":
        (tree / "lib" / "base.php").write_text("<?php class OC { /* altered */ }\n")
    else:
        other = TestAuthority("Other")
        (tree / "resources" / "codesigning" / "root.crt").write_bytes(other.root_crt())
        sign_tree(tree, other)
    return tar_of(tree, "nextcloud")


@pytest.mark.parametrize(
    ("how", "reason"),
    [
        (
            "modified",
            "lib/base.php: modified (its SHA-512 is not the one core/signature.json lists)",
        ),
        (
            "other-root",
            "resources/codesigning/root.crt holds no certificate with the pinned fingerprint "
            f"{test_authority().fingerprint}",
        ),
    ],
)
def test_a_signed_archive_whose_tree_fails_code_signing_is_refused(
    upstream: FakeUpstream,
    signers: TestSigners,
    keyring: Path,
    cache: Path,
    tmp_path: Path,
    how: str,
    reason: str,
) -> None:
    """Its checksum and its OpenPGP signature are right: the tree inside is what is refused."""
    archive = _tree_failing_code_signing(tmp_path / "built", how)
    publish(upstream, signers, archive=archive)
    with pytest.raises(ChatonError) as refused:
        fetch(upstream, signers, keyring, cache)
    assert refused.value.code == ExitCode.FAILED
    message = refused.value.message
    assert message.startswith(f"{ARCHIVE}/nextcloud: refused by Nextcloud's code signing: ")
    assert reason in message
    assert everything_in(cache) == []


def test_check_wants_a_fetched_nextcloud_verified_by_its_code_signing(
    upstream: FakeUpstream, signers: TestSigners, keyring: Path, cache: Path
) -> None:
    publish(upstream, signers)
    fetch(upstream, signers, keyring, cache)
    path = cache / "nextcloud" / VERSION / "artifact.json"
    manifest = json.loads(path.read_text())
    del manifest["code_signing"]
    path.write_text(json.dumps(manifest))
    assert artifacts.check("nextcloud", VERSION, cache).problems == (
        "not verified by Nextcloud's code signing: fetch or add it again",
    )
    del manifest["signer_fingerprint"]
    path.write_text(json.dumps(manifest))
    assert artifacts.check("nextcloud", VERSION, cache).problems == (
        "its manifest names no signing key: it was not fetched and verified",
    )


# Arabic-Indic digits (30.0.4) are digits to Python's \d, not to a version number.
@pytest.mark.parametrize(
    "version",
    [
        "30",
        "30.0.4-rc1",
        "../30.0.4",
        "30..4",
        "30.0.4/",
        "30.0.4\n",
        "\u0663\u0660.\u0660.\u0664",
        "",
        "1.2.3.4.5",
    ],
)
def test_a_bad_version_is_bad_input(
    version: str, cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_artifacts_cli(
        monkeypatch, "artifacts", "fetch", "nextcloud", version, "--cache", str(cache)
    )
    assert code == ExitCode.BAD_INPUT
    assert "is not a valid nextcloud version" in capsys.readouterr().err
    assert not cache.exists()


def test_an_unknown_artifact_or_a_non_http_address_is_bad_input(cache: Path) -> None:
    with pytest.raises(BadInput, match="unknown artifact wordpress"):
        artifacts.fetch("wordpress", VERSION, cache=cache)
    with pytest.raises(BadInput, match="is not an http:// or https:// folder address"):
        artifacts.fetch("nextcloud", VERSION, cache=cache, base_url="file:///etc/")


# --- check and list ----------------------------------------------------------------------------


def test_check_finds_an_archive_altered_after_it_was_cached(
    upstream: FakeUpstream,
    signers: TestSigners,
    keyring: Path,
    cache: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    publish(upstream, signers)
    archive = fetch(upstream, signers, keyring, cache).path
    argv = ("artifacts", "check", "nextcloud", VERSION, "--cache", str(cache))
    assert run_artifacts_cli(monkeypatch, *argv) == ExitCode.OK
    assert f"nextcloud {VERSION}: OK" in capsys.readouterr().out

    altered = bytearray(RELEASE)
    altered[len(altered) // 2] ^= 0xFF  # same size, one byte changed
    archive.write_bytes(bytes(altered))
    assert run_artifacts_cli(monkeypatch, *argv) == ExitCode.FAILED
    out = capsys.readouterr().out
    assert (
        f"nextcloud {VERSION}: FAILED: the archive's SHA-512 is "
        f"{hashlib.sha512(altered).hexdigest()}, the manifest says "
        f"{hashlib.sha512(RELEASE).hexdigest()}"
    ) in out
    assert "bytes, the manifest says" not in out  # the size did not change


def test_check_of_an_artifact_not_cached_fails(
    cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_artifacts_cli(
        monkeypatch, "artifacts", "check", "nextcloud", VERSION, "--cache", str(cache)
    )
    assert code == ExitCode.FAILED
    assert f"not in the cache {cache / 'nextcloud' / VERSION}" in capsys.readouterr().out
    assert (
        run_artifacts_cli(
            monkeypatch, "artifacts", "check", "nextcloud", "x", "--cache", str(cache)
        )
        == 2
    )


def test_list_json_shows_what_the_cache_holds(
    upstream: FakeUpstream,
    signers: TestSigners,
    keyring: Path,
    cache: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(artifacts.CACHE_ENV, str(cache))  # no --cache: the variable decides
    assert run_artifacts_cli(monkeypatch, "artifacts", "list", "--json") == ExitCode.OK
    assert json.loads(capsys.readouterr().out) == []

    publish(upstream, signers)
    fetch(upstream, signers, keyring, cache)
    (cache / "nextcloud" / "29.0.1").mkdir()  # a folder without a manifest
    assert run_artifacts_cli(monkeypatch, "artifacts", "list", "--json") == ExitCode.OK
    rows = json.loads(capsys.readouterr().out)
    assert [(row["name"], row["version"]) for row in rows] == [
        ("nextcloud", "29.0.1"),
        ("nextcloud", VERSION),
    ]
    broken, good = rows
    assert broken["problem"] == f"{cache / 'nextcloud' / '29.0.1' / 'artifact.json'} is missing"
    assert good["problem"] is None
    assert good["size"] == len(RELEASE)
    assert good["sha256"] == hashlib.sha256(RELEASE).hexdigest()
    assert good["signer_fingerprint"] == signers.fingerprints["pinned"]
    assert good["folder"] == str(cache / "nextcloud" / VERSION)

    assert good["code_signing"]["absent"] == []
    assert run_artifacts_cli(monkeypatch, "artifacts", "list") == ExitCode.OK
    assert (
        f"nextcloud {VERSION}: {len(RELEASE)} bytes, sha256 {hashlib.sha256(RELEASE).hexdigest()}, "
        f"signed by {signers.fingerprints['pinned']}, verified by Nextcloud's code signing "
        "(4 scopes), no file absent\n"
    ) in capsys.readouterr().out


def test_the_cache_lists_versions_in_pep_440_order_then_other_folders_by_name(
    cache: Path,
) -> None:
    # Numbers compare as numbers (30.0.10 after 30.0.9); a name PEP 440 reads as a pre-release
    # (30.0.4-rc1 is 30.0.4rc1) comes before its release, where the old number-by-number key put
    # it after every 30.0.x; two spellings of one version (30.0 and 30.0.0) keep a fixed order,
    # by name; a folder that is no version at all comes last.
    names = ["notes", "30.0.10", "30.0.4", "30.0.9", "30.0.0", "30.0", "30.0.4-rc1", "4.0.0"]
    for name in names:
        (cache / "nextcloud" / name).mkdir(parents=True)
    (cache / "mastodon" / "4.3.2").mkdir(parents=True)
    assert [(entry.name, entry.version) for entry in artifacts.list_cache(cache)] == [
        ("mastodon", "4.3.2"),
        ("nextcloud", "4.0.0"),
        ("nextcloud", "30.0"),
        ("nextcloud", "30.0.0"),
        ("nextcloud", "30.0.4-rc1"),
        ("nextcloud", "30.0.4"),
        ("nextcloud", "30.0.9"),
        ("nextcloud", "30.0.10"),
        ("nextcloud", "notes"),
    ]


def test_the_default_cache_is_git_ignored_at_the_project_root(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(artifacts.CACHE_ENV, raising=False)
    assert artifacts.default_cache() == artifacts.PROJECT_ROOT / ".cache" / "artifacts"
    probe = ".cache/artifacts/nextcloud/30.0.4/artifact.json"
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", probe], cwd=artifacts.PROJECT_ROOT, check=False
    )
    assert ignored.returncode == 0, f"{probe} is not git-ignored"
    monkeypatch.setenv(artifacts.CACHE_ENV, "/srv/artifacts")
    assert artifacts.default_cache() == Path("/srv/artifacts")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_download_progress_counts_megabytes_on_a_terminal_only() -> None:
    terminal, log = _Terminal(), io.StringIO()
    for stream in (terminal, log):
        progress = DownloadProgress(stream)
        progress("http://upstream/a.tar.bz2", 0, 10_000_000)
        progress("http://upstream/a.tar.bz2", 2_500_000, 10_000_000)
        progress("http://upstream/a.tar.bz2", 2_600_000, 10_000_000)  # same megabyte: no line
        progress.end()
    assert terminal.getvalue() == "downloading http://upstream/a.tar.bz2\n\r  2 / 10 MB\n"
    assert log.getvalue() == "downloading http://upstream/a.tar.bz2\n"
