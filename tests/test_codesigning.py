"""Nextcloud's code signing (chaton.codesigning) and `chaton artifacts add nextcloud`.

On the real release trees of ../shared/artifacts/nextcloud (30.0.1 and 31.0.11, unpacked once
per session; skipped, saying why, where they are not), and on small trees signed by the test
suite's code-signing authority (tests/fake_codesigning.py), whose root the tests pin instead of
Nextcloud's."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from fake_codesigning import (
    TestAuthority,
    certificate,
    new_key,
    self_signed,
    sign_scope,
    tar_of,
    test_authority,
    test_release_tree,
)
from support import everything_in, run_artifacts_cli

from chaton import artifacts, codesigning
from chaton.errors import BadInput, ChatonError, ExitCode
from chaton.paths import PROJECT_ROOT

RELEASES = Path(
    os.environ.get(
        "CHATON_NEXTCLOUD_RELEASES", PROJECT_ROOT.parent / "shared" / "artifacts" / "nextcloud"
    )
)
SHARED_ARCHIVE = RELEASES / "nextcloud-30.0.1-31.0.11.tar.zst"

# The signed files the shared copies lack, derived by hand: the README's table (files of 4 MiB or
# more, the password_policy lists, the source maps; 30.0.1's root .htaccess), checked against a
# listing made with jq and test -e (each signature.json's keys, apps' prefixed with their folder,
# core's updater/ entries aside, that are not in the tree).
ABSENT = {
    "31.0.11": [
        "apps/app_api/js/app_api-adminSettings.js.map",
        "apps/bruteforcesettings/js/bruteforcesettings-main.js.map",
        "apps/files_external/3rdparty/icewind/smb/.php_cs.dist",
        "apps/files_pdfviewer/js/pdfjs/build/pdf.worker.mjs.map",
        "apps/firstrunwizard/js/NcModal-uaREMYGe.chunk.mjs.map",
        "apps/password_policy/lists/list-10.php",
        "apps/password_policy/lists/list-11.php",
        "apps/password_policy/lists/list-12.php",
        "apps/password_policy/lists/list-6.php",
        "apps/password_policy/lists/list-7.php",
        "apps/password_policy/lists/list-8.php",
        "apps/password_policy/lists/list-9.php",
        "apps/photos/js/photos-dashboard.js",
        "apps/photos/js/photos-dashboard.js.map",
        "apps/photos/js/photos-main.js",
        "apps/photos/js/photos-main.js.map",
        "apps/photos/js/photos-public.js",
        "apps/photos/js/photos-public.js.map",
        "apps/privacy/js/privacy-main.js.map",
        "apps/privacy/js/privacy-vendors-node_modules_nextcloud_dialogs_dist_chunks_"
        "FilePicker-CDU2njOJ_mjs.js.map",
        "apps/recommendations/js/recommendations-main.js.map",
        "apps/text/js/NcColorPicker-BxU4mJUZ.chunk.mjs.map",
        "core/fonts/NotoSans-Bold.ttf",
        "core/fonts/NotoSans-Regular.ttf",
        "core/skeleton/Nextcloud Manual.pdf",
        "core/skeleton/Templates/Photo book.odt",
        "dist/core-common.js",
        "dist/core-common.js.map",
    ],
    "30.0.1": [
        ".htaccess",
        "apps/app_api/js/app_api-adminSettings.js.map",
        "apps/app_api/js/app_api-main.js.map",
        "apps/bruteforcesettings/js/bruteforcesettings-main.js.map",
        "apps/files_external/3rdparty/icewind/smb/.php_cs.dist",
        "apps/files_pdfviewer/js/files_pdfviewer-vendors-node_modules_nextcloud_dialogs_dist_"
        "chunks_FilePicker-kaHdQqaz_mjs.js.map",
        "apps/files_pdfviewer/js/pdfjs/build/pdf.worker.js.map",
        "apps/firstrunwizard/js/NcIconSvgWrapper-DjrkBUkC-BUVuOUzU.chunk.mjs.map",
        "apps/logreader/js/logreader-main.mjs.map",
        "apps/password_policy/lists/list-6.php",
        "apps/password_policy/lists/list-8.php",
        "apps/photos/js/photos-dashboard.js.map",
        "apps/photos/js/photos-main.js",
        "apps/photos/js/photos-main.js.map",
        "apps/photos/js/photos-public.js",
        "apps/photos/js/photos-public.js.map",
        "apps/privacy/js/privacy-main.js.map",
        "apps/privacy/js/privacy-vendors-node_modules_nextcloud_dialogs_dist_chunks_"
        "FilePicker-CaGLN3Vi_mjs.js.map",
        "apps/text/js/RichText-CcSEp-9N.chunk.mjs.map",
        "apps/text/js/flowchart-elk-definition-ae0efee6-BworIll9.chunk.mjs.map",
        "core/fonts/NotoSans-Bold.ttf",
        "core/fonts/NotoSans-Regular.ttf",
        "core/skeleton/Nextcloud Manual.pdf",
        "core/skeleton/Templates/Photo book.odt",
        "dist/core-common.js",
        "dist/core-common.js.map",
    ],
}
THEME_EXAMPLE = [
    "themes/README",
    "themes/example/core/css/server.css",
    "themes/example/core/img/favicon-touch.png",
    "themes/example/core/img/favicon-touch.svg",
    "themes/example/core/img/favicon.ico",
    "themes/example/core/img/favicon.png",
    "themes/example/core/img/favicon.svg",
    "themes/example/core/img/logo-icon.png",
    "themes/example/core/img/logo-icon.svg",
    "themes/example/core/img/logo-mail.gif",
    "themes/example/core/img/logo.png",
    "themes/example/core/img/logo.svg",
    "themes/example/defaults.php",
]
# The files no signature covers (find config themes updater -type f): 30.0.1 has no CAN_INSTALL.
UNSIGNED = {
    "31.0.11": [
        "config/.htaccess",
        "config/CAN_INSTALL",
        "config/config.sample.php",
        *THEME_EXAMPLE,
        "updater/index.php",
        "updater/updater.phar",
    ],
    "30.0.1": [
        "config/.htaccess",
        "config/config.sample.php",
        *THEME_EXAMPLE,
        "updater/index.php",
        "updater/updater.phar",
    ],
}
# Files in each tree (find -type f | wc -l), signature.json files (1 + the apps: 53 and 52).
TREE_FILES = {"31.0.11": 26648, "30.0.1": 25653}
SCOPES = {"31.0.11": 54, "30.0.1": 53}

VERSION = "31.0.11"  # of the test trees too
ADDED_ARCHIVE = f"nextcloud-{VERSION}.tar.zst"
pytestmark = pytest.mark.usefixtures("english")


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def real_trees(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The shared archive's two trees, unpacked once for the session (read them, never write)."""
    if not SHARED_ARCHIVE.is_file():
        pytest.skip(
            f"the real Nextcloud releases are not here: no {SHARED_ARCHIVE} (set "
            "CHATON_NEXTCLOUD_RELEASES to the folder that holds nextcloud-30.0.1-31.0.11.tar.zst)"
        )
    if shutil.which("zstd") is None:
        pytest.skip("zstd is not installed (Debian package zstd)")
    folder = tmp_path_factory.mktemp("nextcloud-releases")
    with subprocess.Popen(
        ["zstd", "-dc", "-q", "--long=31", str(SHARED_ARCHIVE)], stdout=subprocess.PIPE
    ) as unpacking:
        subprocess.run(["tar", "-x", "-C", str(folder)], stdin=unpacking.stdout, check=True)
    assert unpacking.returncode == 0
    return {version: folder / f"nextcloud-{version}" for version in ("30.0.1", "31.0.11")}


def copy_of(tree: Path, target: Path) -> Path:
    """A copy of a tree, its files hard links to the original's (change them with `rewrite`)."""
    subprocess.run(["cp", "-al", str(tree), str(target)], check=True)
    return target


def rewrite(path: Path, data: bytes) -> None:
    """Replace a file by a new one (a hard-linked original is left as it was)."""
    path.unlink()
    path.write_bytes(data)


def refusal(tree: Path, **options: str) -> str:
    with pytest.raises(codesigning.CodeSigningError) as refused:
        codesigning.verify_tree(tree, **options)  # type: ignore[arg-type]
    assert refused.value.code == ExitCode.BAD_INPUT
    return refused.value.message


@pytest.fixture
def test_tree(tmp_path: Path) -> Path:
    """A tree signed by the test authority (core; apps files, dav and viewer)."""
    return test_release_tree(tmp_path / "nextcloud", VERSION)


def refusal_under_test_root(tree: Path) -> str:
    return refusal(tree, root_fingerprint=test_authority().fingerprint)


@pytest.fixture
def test_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The nextcloud row pinning the test authority's root (the CLI's code signing)."""
    fingerprint = test_authority().fingerprint
    row = dataclasses.replace(artifacts.KINDS["nextcloud"], code_signing_root=fingerprint)
    monkeypatch.setitem(artifacts.KINDS, "nextcloud", row)
    yield fingerprint


# --- the real trees ----------------------------------------------------------------------------


def test_both_real_trees_pass_with_their_absent_and_unsigned_files(
    real_trees: dict[str, Path],
) -> None:
    for version, tree in real_trees.items():
        report = codesigning.verify_tree(tree, version=version)
        assert report.version == version
        assert report.scopes == SCOPES[version]
        assert list(report.absent) == ABSENT[version]
        assert list(report.unsigned) == UNSIGNED[version]
        # Every file is verified, unsigned, or a signature.
        assert report.files == TREE_FILES[version] - len(UNSIGNED[version]) - SCOPES[version]


def test_files_added_to_a_real_tree_are_refused_by_name(
    real_trees: dict[str, Path], tmp_path: Path
) -> None:
    tree = copy_of(real_trees["31.0.11"], tmp_path / "tree")
    (tree / "lib" / "backdoor.php").write_text("<?php system($_GET['c']);\n")
    (tree / "apps" / "files" / "lib" / "Backdoor.php").write_text("<?php\n")
    (tree / "data").mkdir()
    (tree / "data" / "stray.txt").write_text("x\n")
    message = refusal(tree)
    assert message == (
        f"{tree}: refused by Nextcloud's code signing: "
        "apps/files/lib/Backdoor.php: added (not listed in apps/files/appinfo/signature.json); "
        "data/stray.txt: added (outside every signed scope: only config/, themes/ and updater/ "
        "may hold unsigned files); "
        "lib/backdoor.php: added (not listed in core/signature.json)"
    )


def test_a_self_signed_core_certificate_is_refused_on_its_chain(
    real_trees: dict[str, Path], tmp_path: Path
) -> None:
    """The hashes are the real ones and the signature verifies with the certificate it comes
    with: only the chain to the pinned root is missing."""
    tree = copy_of(real_trees["31.0.11"], tmp_path / "tree")
    hashes = json.loads((tree / "core" / "signature.json").read_bytes())["hashes"]
    (tree / "core" / "signature.json").unlink()
    sign_scope(tree, "core", self_signed("core"), hashes)
    message = refusal(tree)
    assert message.startswith(f"{tree}: refused by Nextcloud's code signing: ")
    assert (
        "core/signature.json: its certificate (CN=core, issued by CN=core,O=chaton-toolkit test "
        "suite) is not issued by the pinned Nextcloud Root Authority nor by an intermediate "
        "authority it signed"
    ) in message
    assert "does not verify" not in message


def test_hashes_edited_in_a_real_signature_are_refused_on_the_signature(
    real_trees: dict[str, Path], tmp_path: Path
) -> None:
    """lib/base.php changed and its new digest written into core/signature.json: the hashes
    agree, the signature no longer does."""
    tree = copy_of(real_trees["31.0.11"], tmp_path / "tree")
    base = tree / "lib" / "base.php"
    changed = bytearray(base.read_bytes())
    changed[100] ^= 0x01
    rewrite(base, bytes(changed))
    signature = tree / "core" / "signature.json"
    document = json.loads(signature.read_bytes())
    document["hashes"]["lib/base.php"] = codesigning.file_sha512(base)
    rewrite(signature, json.dumps(document).encode())
    assert refusal(tree) == (
        f"{tree}: refused by Nextcloud's code signing: core/signature.json: its signature does "
        "not verify with its certificate: the hashes or the signature were altered"
    )


def test_an_app_carrying_another_apps_signature_is_refused_on_its_files(
    real_trees: dict[str, Path], tmp_path: Path
) -> None:
    """Every shipped app of both real trees is signed by Nextcloud's CN=core certificate, which
    is valid for any app: files' signature.json replaced by dav's passes the chain and the CN (a
    certificate whose CN is another app's, which only a test authority can make, is refused in
    test_a_test_tree_is_refused_naming_the_file_and_why), and the hashes refuse it."""
    tree = copy_of(real_trees["31.0.11"], tmp_path / "tree")
    dav = (tree / "apps" / "dav" / "appinfo" / "signature.json").read_bytes()
    rewrite(tree / "apps" / "files" / "appinfo" / "signature.json", dav)
    with pytest.raises(codesigning.CodeSigningError) as refused:
        codesigning.verify_tree(tree)
    problems = refused.value.problems
    assert problems[0] == (
        "apps/files/appinfo/info.xml: modified (its SHA-512 is not the one "
        "apps/files/appinfo/signature.json lists)"
    )
    assert all(problem.startswith("apps/files/") for problem in problems)
    assert any(problem.startswith("apps/files/lib/") for problem in problems)
    # The message names the first ten and counts the others.
    assert refused.value.message.endswith(f"; and {len(problems) - 10} more")


def test_a_real_tree_whose_root_crt_holds_another_root_is_refused(
    real_trees: dict[str, Path], tmp_path: Path
) -> None:
    tree = copy_of(real_trees["30.0.1"], tmp_path / "tree")
    other = TestAuthority("Other")
    rewrite(tree / "resources" / "codesigning" / "root.crt", other.root_crt())
    message = refusal(tree)
    assert message.startswith(
        f"{tree}: refused by Nextcloud's code signing: resources/codesigning/root.crt holds no "
        f"certificate with the pinned fingerprint {codesigning.ROOT_FINGERPRINT} (the Nextcloud "
        f"Root Authority); it holds CN=Other Root Authority {other.fingerprint}"
    )


def test_add_from_the_shared_archive_then_check_list_and_add_again(
    real_trees: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cache = tmp_path / "cache"
    argv = ["artifacts", "add", "nextcloud", "31.0.11", str(SHARED_ARCHIVE), "--cache", str(cache)]
    assert run_artifacts_cli(monkeypatch, *argv) == ExitCode.OK
    out = capsys.readouterr().out
    folder = cache / "nextcloud" / "31.0.11"
    assert f"nextcloud 31.0.11: verified by Nextcloud's code signing, cached as {folder}" in out
    assert everything_in(cache) == [
        "nextcloud",
        "nextcloud/31.0.11",
        "nextcloud/31.0.11/artifact.json",
        "nextcloud/31.0.11/nextcloud-31.0.11.tar.zst",
    ]
    manifest = json.loads((folder / "artifact.json").read_text())
    signing = manifest.pop("code_signing")
    assert signing.pop("verified_at").endswith("Z")
    assert signing == {
        "root_fingerprint": codesigning.ROOT_FINGERPRINT,
        "scopes": 54,
        "files": TREE_FILES["31.0.11"] - len(UNSIGNED["31.0.11"]) - 54,
        "absent": ABSENT["31.0.11"],
        "left_out": UNSIGNED["31.0.11"],
    }
    assert manifest["source"] == str(SHARED_ARCHIVE.resolve())
    assert manifest["source_tree"] == "nextcloud-31.0.11"
    assert manifest["product_name"] == "Nextcloud"
    assert "added_at" in manifest and "signer_fingerprint" not in manifest
    # The archive: the tree under nextcloud/, without the files no signature covers.
    with (
        subprocess.Popen(
            ["zstd", "-dc", "-q", str(folder / ADDED_ARCHIVE)], stdout=subprocess.PIPE
        ) as reading,
        tarfile.open(fileobj=reading.stdout, mode="r|") as tar,
    ):
        members = [(m.name, m.isdir(), m.mode, m.uid, m.uname) for m in tar]
    names = [name for name, *_ in members]
    files = {name for name, is_dir, *_ in members if not is_dir}
    assert names[0] == "nextcloud" and all(n.startswith("nextcloud/") for n in names[1:])
    assert len(files) == TREE_FILES["31.0.11"] - len(UNSIGNED["31.0.11"])
    assert {"nextcloud/core/signature.json", "nextcloud/lib/base.php"} <= files
    unsigned = [n for n in names[1:] if n.split("/")[1] in ("config", "themes", "updater")]
    assert unsigned and not files.intersection(unsigned)
    # Their folders stay, empty: Nextcloud's integrity check fails without themes/.
    assert {"nextcloud/config", "nextcloud/themes", "nextcloud/updater"} <= set(unsigned)
    assert all(uid == 0 and uname == "root" for _n, _d, _m, uid, uname in members)
    assert {mode for _n, is_dir, mode, *_ in members if is_dir} == {0o755}
    assert {mode for _n, is_dir, mode, *_ in members if not is_dir} == {0o644}
    assert names == sorted(names, key=lambda name: name.split("/"))

    check = ["artifacts", "check", "nextcloud", "31.0.11", "--cache", str(cache)]
    assert run_artifacts_cli(monkeypatch, *check) == ExitCode.OK
    out = capsys.readouterr().out
    assert f"nextcloud 31.0.11: OK ({folder} matches its manifest" in out
    assert (
        f"  verified by Nextcloud's code signing: 54 scopes, {signing['files']} files, 28 files "
        "absent\n"
    ) in out
    assert all(f"\n  absent: {path}\n" in out for path in ABSENT["31.0.11"])
    assert "left out, no signature covers them: 18 files (config/, themes/, updater/)" in out

    assert run_artifacts_cli(monkeypatch, "artifacts", "list", "--cache", str(cache)) == 0
    out = capsys.readouterr().out
    assert (
        f"added from {SHARED_ARCHIVE.resolve()}, verified by Nextcloud's code signing "
        "(54 scopes), 28 files absent"
    ) in out
    assert all(f"  absent: {path}\n" in out for path in ABSENT["31.0.11"])
    assert run_artifacts_cli(monkeypatch, "artifacts", "list", "--json", "--cache", str(cache)) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["code_signing"]["absent"] == ABSENT["31.0.11"]

    # Again: the intact copy is kept, nothing is read or rewritten.
    before = {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in folder.iterdir()}
    assert run_artifacts_cli(monkeypatch, *argv) == ExitCode.OK
    assert "already in the cache and intact" in capsys.readouterr().out
    assert {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in folder.iterdir()} == before

    # A version the archive does not hold: refused with the versions it holds.
    other = ["artifacts", "add", "nextcloud", "30.0.4", str(SHARED_ARCHIVE), "--cache", str(cache)]
    assert run_artifacts_cli(monkeypatch, *other) == ExitCode.BAD_INPUT
    assert (
        f"{SHARED_ARCHIVE} holds no Nextcloud 30.0.4 release tree; it holds: "
        "30.0.1 (nextcloud-30.0.1/), 31.0.11 (nextcloud-31.0.11/)"
    ) in capsys.readouterr().err
    assert everything_in(cache) == [
        "nextcloud",
        "nextcloud/31.0.11",
        "nextcloud/31.0.11/artifact.json",
        "nextcloud/31.0.11/nextcloud-31.0.11.tar.zst",
    ]


def test_a_real_tree_with_one_byte_changed_is_refused_by_add_and_the_cache_is_untouched(
    real_trees: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    trees = tmp_path / "trees"
    trees.mkdir()
    tree = copy_of(real_trees["30.0.1"], trees / "nextcloud-30.0.1")
    base = tree / "lib" / "base.php"
    changed = bytearray(base.read_bytes())
    changed[len(changed) // 2] ^= 0x20
    rewrite(base, bytes(changed))
    cache = tmp_path / "cache"
    (cache / "mastodon").mkdir(parents=True)  # what the cache held before
    argv = ["artifacts", "add", "nextcloud", "30.0.1", str(trees), "--cache", str(cache)]
    assert run_artifacts_cli(monkeypatch, *argv) == ExitCode.BAD_INPUT
    assert (
        f"error: {tree}: refused by Nextcloud's code signing: lib/base.php: modified (its "
        "SHA-512 is not the one core/signature.json lists)\n"
    ) in capsys.readouterr().err
    assert everything_in(cache) == ["mastodon"]


# --- trees signed by the test authority --------------------------------------------------------


def test_a_test_tree_passes_with_what_it_holds(test_tree: Path) -> None:
    report = codesigning.verify_tree(test_tree, root_fingerprint=test_authority().fingerprint)
    # fake_codesigning.test_release_tree: 8 core files and 2 per app signed (core, files, dav,
    # viewer); config/, themes/ and updater/ unsigned.
    assert (report.version, report.scopes, report.files, report.absent) == (VERSION, 4, 14, ())
    assert report.unsigned == (
        "config/CAN_INSTALL",
        "config/config.sample.php",
        "themes/README",
        "updater/index.php",
    )


def test_what_nextcloud_lets_pass_passes(test_tree: Path) -> None:
    """A signed file missing is reported, not refused; below the root .htaccess's marker line
    the file may change; files named as Checker leaves out are unsigned; core's expected
    updater/ entries are not looked for."""
    pinned = test_authority().fingerprint
    (test_tree / "apps" / "dav" / "lib" / "Application.php").unlink()
    htaccess = test_tree / ".htaccess"
    htaccess.write_text(htaccess.read_text() + "ErrorDocument 403 /index.php\n")
    (test_tree / "apps" / "files" / ".DS_Store").write_bytes(b"\0")
    (test_tree / "lib" / ".webapp-nextcloud-31.0.11-r2").write_text("")
    hashes = json.loads((test_tree / "core" / "signature.json").read_bytes())["hashes"]
    sign_scope(test_tree, "core", test_authority().leaf("core"), {**hashes, "updater/x": "0" * 128})
    report = codesigning.verify_tree(test_tree, root_fingerprint=pinned)
    assert report.absent == ("apps/dav/lib/Application.php",)
    assert "apps/files/.DS_Store" in report.unsigned
    assert "lib/.webapp-nextcloud-31.0.11-r2" in report.unsigned
    htaccess.write_text("Options +Indexes\n" + htaccess.read_text())  # above the marker
    assert refusal_under_test_root(test_tree).endswith(
        ".htaccess: modified (its SHA-512 is not the one core/signature.json lists)"
    )


def test_an_app_signed_with_core_s_certificate_passes(test_tree: Path) -> None:
    sign_scope(test_tree, "dav", test_authority().leaf("core"))
    codesigning.verify_tree(test_tree, root_fingerprint=test_authority().fingerprint)


def _other_app_cn(tree: Path) -> str:
    sign_scope(tree, "dav", test_authority().leaf("files"))
    return "apps/dav/appinfo/signature.json: its certificate is for files, not for dav"


def _core_cn(tree: Path) -> str:
    sign_scope(tree, "core", test_authority().leaf("dav"))
    return "core/signature.json: its certificate is for dav, not for core"


def _self_signed(tree: Path) -> str:
    sign_scope(tree, "viewer", self_signed("viewer"))
    return "apps/viewer/appinfo/signature.json: its certificate (CN=viewer, issued by CN=viewer"


def _intermediate_not_a_ca(tree: Path) -> str:
    """A certificate the test root signed, but not as an authority (in root.crt), issuing
    core's."""
    authority = test_authority()
    key = new_key()
    middle = certificate("Not An Authority", key, (authority.root_key, authority.root))
    leaf_key = new_key()
    leaf = certificate("core", leaf_key, (key, middle))
    crt = tree / "resources" / "codesigning" / "root.crt"
    crt.write_bytes(crt.read_bytes() + middle.public_bytes(Encoding.PEM))
    sign_scope(tree, "core", (leaf_key, leaf))
    return "core/signature.json: its certificate (CN=core, issued by CN=Not An Authority"


def _other_hashes(tree: Path) -> str:
    signature = tree / "apps" / "files" / "appinfo" / "signature.json"
    document = json.loads(signature.read_bytes())
    document["hashes"]["lib/Application.php"] = "0" * 128
    signature.write_text(json.dumps(document))
    return "apps/files/appinfo/signature.json: its signature does not verify with its certificate"


def _modified(tree: Path) -> str:
    (tree / "apps" / "viewer" / "lib" / "Application.php").write_text("<?php // altered\n")
    return (
        "apps/viewer/lib/Application.php: modified (its SHA-512 is not the one "
        "apps/viewer/appinfo/signature.json lists)"
    )


def _added_to_an_app(tree: Path) -> str:
    (tree / "apps" / "dav" / "lib" / "Extra.php").write_text("<?php\n")
    return "apps/dav/lib/Extra.php: added (not listed in apps/dav/appinfo/signature.json)"


def _added_beside_the_apps(tree: Path) -> str:
    (tree / "apps" / "stray.php").write_text("<?php\n")
    return "apps/stray.php: added (outside every signed scope"


def _app_without_signature(tree: Path) -> str:
    (tree / "apps" / "files" / "appinfo" / "signature.json").unlink()
    return "apps/files/: an app without appinfo/signature.json"


def _app_not_shipped(tree: Path) -> str:
    (tree / "core" / "shipped.json").write_text(json.dumps({"shippedApps": ["files", "dav"]}))
    sign_scope(tree, "core", test_authority().leaf("core"))
    return "apps/viewer/: the app viewer is not listed as shipped in core/shipped.json"


def _core_signature_missing(tree: Path) -> str:
    (tree / "core" / "signature.json").unlink()
    return "core/signature.json is missing"


def _core_signature_unparsable(tree: Path) -> str:
    (tree / "core" / "signature.json").write_text("{not json")
    return "core/signature.json: not a signature (a JSON object with hashes, signature and"


def _version_unreadable(tree: Path) -> str:
    (tree / "version.php").write_text("<?php $OC_VersionString = 'thirty';\n")
    return "version.php: its $OC_VersionString cannot be read"


def _a_link(tree: Path) -> str:
    (tree / "lib" / "passwd").symlink_to("/etc/passwd")
    return "lib/passwd is a link: a release tree holds none"


def _another_root(tree: Path) -> str:
    (tree / "resources" / "codesigning" / "root.crt").write_bytes(TestAuthority("Other").root_crt())
    return "resources/codesigning/root.crt holds no certificate with the pinned fingerprint"


@pytest.mark.parametrize(
    "alter",
    [
        _other_app_cn,
        _core_cn,
        _self_signed,
        _intermediate_not_a_ca,
        _other_hashes,
        _modified,
        _added_to_an_app,
        _added_beside_the_apps,
        _app_without_signature,
        _app_not_shipped,
        _core_signature_missing,
        _core_signature_unparsable,
        _version_unreadable,
        _a_link,
        _another_root,
    ],
)
def test_a_test_tree_is_refused_naming_the_file_and_why(
    test_tree: Path, alter: Callable[[Path], str]
) -> None:
    expected = alter(test_tree)
    message = refusal_under_test_root(test_tree)
    assert message.startswith(f"{test_tree}: refused by Nextcloud's code signing: {expected}")


def test_a_tree_of_another_version_or_without_version_php_is_bad_input(test_tree: Path) -> None:
    pinned = test_authority().fingerprint
    with pytest.raises(BadInput, match=f"^{test_tree} holds Nextcloud 31.0.11, not 30.0.1$"):
        codesigning.verify_tree(test_tree, version="30.0.1", root_fingerprint=pinned)
    (test_tree / "version.php").unlink()
    with pytest.raises(BadInput, match=r"is not a Nextcloud release tree \(no version\.php\)"):
        codesigning.verify_tree(test_tree, root_fingerprint=pinned)


def test_the_signed_message_is_php_json_encode_of_the_sorted_hashes() -> None:
    digest = "ab" * 64
    hashes = {"z/b.js": digest, "café.php": digest, ".htaccess": digest}
    assert codesigning.signed_message(hashes) == (
        b'{".htaccess":"' + digest.encode() + b'","caf\\u00e9.php":"' + digest.encode()
        + b'","z\\/b.js":"' + digest.encode() + b'"}'
    )  # fmt: skip
    assert codesigning.signed_message({}) == b"[]"


# --- add, from test trees ----------------------------------------------------------------------


def _archive(folder: Path, suffix: str) -> Path:
    """Two test trees (30.0.1 and 31.0.11) side by side in one archive."""
    trees = folder / "trees"
    test_release_tree(trees / "nextcloud-30.0.1", "30.0.1")
    test_release_tree(trees / "nextcloud-31.0.11", VERSION)
    archive = folder / f"releases{suffix}"
    if suffix == ".tar.zst":
        subprocess.run(
            ["tar", "--zstd", "-cf", str(archive), "-C", str(trees), "."], check=True
        )  # a member "./" first, then "./nextcloud-…"
    else:
        modes = {".tar.gz": "w:gz", ".tar.xz": "w:xz", ".tar.bz2": "w:bz2", ".tar": "w"}
        with tarfile.open(archive, modes[suffix]) as tar:  # type: ignore[call-overload]
            for tree in sorted(trees.iterdir()):
                tar.add(tree, arcname=tree.name)
    return archive


@pytest.mark.parametrize("suffix", [".tar.zst", ".tar.gz", ".tar.xz", ".tar"])
def test_add_takes_the_tree_of_its_version_from_an_archive(
    tmp_path: Path, test_root: str, suffix: str
) -> None:
    archive = _archive(tmp_path, suffix)
    cache = tmp_path / "cache"
    result = artifacts.add_release("nextcloud", "30.0.1", archive, cache=cache)
    assert result.added
    assert result.manifest.source_tree == "nextcloud-30.0.1"
    assert result.manifest.code_signing is not None
    assert result.manifest.code_signing.root_fingerprint == test_root
    assert artifacts.check("nextcloud", "30.0.1", cache).ok
    with (
        subprocess.Popen(["zstd", "-dc", "-q", str(result.path)], stdout=subprocess.PIPE) as z,
        tarfile.open(fileobj=z.stdout, mode="r|") as tar,
    ):
        names = [member.name for member in tar]
    assert "nextcloud/version.php" in names and "nextcloud/apps/dav/lib/Application.php" in names
    # The unsigned files are left out, their folders kept (empty).
    unsigned = [n for n in names if n.startswith(("nextcloud/config", "nextcloud/themes"))]
    assert unsigned == ["nextcloud/config", "nextcloud/themes"]


def test_add_takes_a_tree_or_a_folder_of_trees_and_replaces_a_test_release(
    tmp_path: Path, test_root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    trees = tmp_path / "trees"
    test_release_tree(trees / "a", "30.0.1")
    tree = test_release_tree(trees / "b", VERSION)
    # What `chaton demo` leaves: a test release, which never passes `check`.
    folder = cache / "nextcloud" / VERSION
    folder.mkdir(parents=True)
    (folder / f"nextcloud-{VERSION}.tar.bz2").write_bytes(b"test release")
    (folder / "artifact.json").write_text(
        json.dumps(
            {"name": "nextcloud", "version": VERSION, "file": f"nextcloud-{VERSION}.tar.bz2",
             "size": 12, "sha512": "0" * 128, "sha256": "0" * 64, "source": "test",
             "test_release": True}
        )
    )  # fmt: skip
    result = artifacts.add_release("nextcloud", VERSION, trees, cache=cache)
    assert result.added and result.replaced
    assert result.manifest.source == str(trees.resolve())
    assert result.manifest.source_tree == "b"
    assert sorted(p.name for p in folder.iterdir()) == ["artifact.json", ADDED_ARCHIVE]
    again = artifacts.add_release("nextcloud", VERSION, tree, cache=cache)
    assert not again.added
    assert artifacts.describe_release(again.manifest) == (
        "Nextcloud 31.0.11, verified by Nextcloud's code signing, no file absent"
    )
    result = artifacts.add_release("nextcloud", "30.0.1", trees / "a", cache=tmp_path / "c2")
    assert result.manifest.source_tree == "."


def test_an_unsafe_archive_is_refused_and_the_cache_stays_as_it_was(
    tmp_path: Path, test_root: str
) -> None:
    tree = test_release_tree(tmp_path / "nextcloud", VERSION)
    data = tar_of(tree, "nextcloud", mode="w:gz")
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as good:
            for member in good.getmembers():
                tar.addfile(member, good.extractfile(member) if member.isfile() else None)
        escape = tarfile.TarInfo("nextcloud/../../outside.txt")
        tar.addfile(escape, io.BytesIO(b""))
    cache = tmp_path / "cache"
    with pytest.raises(BadInput, match=r"nextcloud/\.\./\.\./outside\.txt is refused"):
        artifacts.add_release("nextcloud", VERSION, archive, cache=cache)
    assert everything_in(cache) == []
    assert not (tmp_path / "outside.txt").exists()


def test_add_refuses_what_is_not_a_release_source(tmp_path: Path, test_root: str) -> None:
    cache = tmp_path / "cache"
    with pytest.raises(BadInput, match="no such file or folder"):
        artifacts.add_release("nextcloud", VERSION, tmp_path / "missing.tar.zst", cache=cache)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(BadInput, match=r"is neither a release tree .* \(\.tar\.zst, \.tar\.bz2"):
        artifacts.add_release("nextcloud", VERSION, tmp_path / "notes.txt", cache=cache)
    (tmp_path / "broken.tar.zst").write_bytes(b"not zstd")
    with pytest.raises(BadInput, match=r"broken\.tar\.zst: cannot read the archive"):
        artifacts.add_release("nextcloud", VERSION, tmp_path / "broken.tar.zst", cache=cache)
    assert everything_in(cache) == []


def test_without_zstd_add_says_which_package_to_install(
    tmp_path: Path, test_root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = _archive(tmp_path, ".tar.gz").with_name("r.tar.zst")
    archive.write_bytes(b"")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ChatonError, match=r"^zstd is not installed \(Debian package zstd\)$"):
        artifacts.add_release("nextcloud", VERSION, archive, cache=tmp_path / "cache")


def test_add_s_refusal_is_in_french_too(
    tmp_path: Path,
    test_root: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tree = test_release_tree(tmp_path / "nextcloud", VERSION)
    (tree / "lib" / "base.php").write_text("<?php // altered\n")
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(variable, raising=False)
    argv = ["artifacts", "add", "nextcloud", VERSION, str(tree), "--cache", str(tmp_path / "c")]
    assert run_artifacts_cli(monkeypatch, *argv) == ExitCode.BAD_INPUT
    assert (
        f"{tree} : refusé par la signature de code de Nextcloud : lib/base.php : modifié (son "
        "SHA-512 n'est pas celui que donne core/signature.json)"
    ) in capsys.readouterr().err


# --- describing a release ----------------------------------------------------------------------


def test_a_release_is_described_in_one_line_by_what_verified_it() -> None:
    base = {"name": "nextcloud", "version": VERSION, "file": f"nextcloud-{VERSION}.tar.bz2",
            "size": 1, "sha512": "0" * 128, "sha256": "0" * 64, "source": "x"}  # fmt: skip
    signing = {"root_fingerprint": codesigning.ROOT_FINGERPRINT, "scopes": 54, "files": 3,
               "absent": ["a", "b"], "left_out": [],
               "verified_at": "2026-12-07T00:00:00Z"}  # fmt: skip
    describe = artifacts.describe_release
    assert describe(artifacts.Manifest.model_validate({**base, "code_signing": signing})) == (
        "Nextcloud 31.0.11, verified by Nextcloud's code signing, 2 files absent"
    )
    one = {**signing, "absent": ["a"]}
    assert describe(artifacts.Manifest.model_validate({**base, "code_signing": one})).endswith(
        ", 1 file absent"
    )
    test_release = {**base, "test_release": True, "product_name": "Nextcloud test release"}
    assert describe(artifacts.Manifest.model_validate(test_release)) == (
        "Nextcloud test release 31.0.11, a test release (test double)"
    )
    signer = {**base, "signer_fingerprint": "A" * 40}
    assert describe(artifacts.Manifest.model_validate(signer)) == (
        f"Nextcloud 31.0.11, signed by {'A' * 40}"
    )
    with pytest.raises(ValueError, match="exclude each other"):
        artifacts.Manifest.model_validate({**base, "fetched_at": "x", "added_at": "y"})


def test_check_wants_an_added_release_verified_by_its_code_signing(
    tmp_path: Path, test_root: str
) -> None:
    """An added release has no signer: its code signing is what makes it trusted."""
    cache = tmp_path / "cache"
    tree = test_release_tree(tmp_path / "nextcloud", VERSION)
    artifacts.add_release("nextcloud", VERSION, tree, cache=cache)
    assert artifacts.check("nextcloud", VERSION, cache).ok
    path = cache / "nextcloud" / VERSION / "artifact.json"
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps({k: v for k, v in manifest.items() if k != "code_signing"}))
    assert artifacts.check("nextcloud", VERSION, cache).problems == (
        "not verified by Nextcloud's code signing: fetch or add it again",
    )
