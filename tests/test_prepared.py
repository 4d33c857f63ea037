"""`chaton artifacts add`: a prepared Mastodon release, from its folder into the artifact cache.

The folders are the test suite's test release of Mastodon, unpacked (tests/mastodon_test_release:
the real one cannot be prepared here). From 4.4 on it bundles test doubles of Ruby 3.3.6 and
Node.js 22.11.0 in runtime/bin/: shell scripts that answer `--version` as those would, which is
all `add` asks of them."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
from mastodon_test_release.build import build
from support import everything_in, run_artifacts_cli

from chaton import artifacts, prepared
from chaton.errors import BadInput, ChatonError, ExitCode

pytestmark = pytest.mark.usefixtures("english")


def unpacked(tmp_path: Path, version: str, **options: dict[str, str]) -> Path:
    """The test release `version` built and unpacked: the folder a preparation leaves."""
    archive = build(version, tmp_path / "built", **options)
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "tree", filter="tar")
    return tmp_path / "tree" / "mastodon"


def test_a_prepared_release_lands_in_the_cache_with_what_it_needs_and_bundles(
    tmp_path: Path,
) -> None:
    tree = unpacked(tmp_path, "4.4.0")
    cache = tmp_path / "cache"
    result = prepared.add(
        "mastodon", "4.4.0", tree, cache=cache, debian_packages=["ruby-redis", "ruby-pg"]
    )
    folder = cache / "mastodon" / "4.4.0"
    assert result.path == folder / "mastodon-4.4.0.tar.gz"
    manifest = json.loads((folder / "artifact.json").read_text())
    # What the release states (its Gemfile's ruby line, its package.json's engines.node), and
    # what its runtimes answered, as the test release's builder wrote them (checked by hand in
    # tests/mastodon_test_release/build.py: requirements() and BUNDLED_RUNTIMES).
    assert manifest["requires"] == {"ruby": ">= 3.2.0", "node": ">= 20"}
    assert manifest["runtimes"] == {"ruby": "3.3.6", "node": "22.11.0"}
    assert manifest["debian_packages"] == ["ruby-pg", "ruby-redis"]
    assert manifest["source"] == str(tree.resolve())
    assert "prepared_at" in manifest and "signer_fingerprint" not in manifest
    assert "test_release" not in manifest  # `add` says what it read, not what the tree is
    assert artifacts.check("mastodon", "4.4.0", cache).ok
    # The archive: one top folder mastodon/, owned by root, the runtimes executable.
    with tarfile.open(result.path) as tar:
        members = {member.name: member for member in tar.getmembers()}
    assert {name.split("/")[0] for name in members} == {"mastodon"}
    assert all(m.uid == 0 and m.gid == 0 and m.uname == "root" for m in members.values())
    for program in ("bin/tootctl", "bin/puma", "runtime/bin/ruby", "runtime/bin/node"):
        assert members[f"mastodon/{program}"].mode & 0o111, program
    assert members["mastodon/tmp"].isdir() and members["mastodon/log"].isdir()
    # Nothing else is left in the cache (no work folder).
    assert everything_in(cache) == [
        "mastodon",
        "mastodon/4.4.0",
        "mastodon/4.4.0/artifact.json",
        "mastodon/4.4.0/mastodon-4.4.0.tar.gz",
    ]


def test_a_release_that_bundles_nothing_runs_on_debians(tmp_path: Path) -> None:
    tree = unpacked(tmp_path, "4.3.1")
    result = prepared.add("mastodon", "4.3.1", tree, cache=tmp_path / "cache")
    assert result.manifest.requires == {"ruby": ">= 3.1.0", "node": ">= 18"}
    assert result.manifest.runtimes == {}


def test_its_manifest_is_what_the_mastodon_role_reads(tmp_path: Path) -> None:
    """The role reads `requires`, `runtimes` and `debian_packages`; the test release's builder
    writes them for the scenario the role runs in. Both agree for the same release."""
    tree = unpacked(tmp_path, "4.4.0")
    added = prepared.add(
        "mastodon",
        "4.4.0",
        tree,
        cache=tmp_path / "cache",
        debian_packages=["nodejs", "ruby", "ruby-pg", "ruby-redis"],
    ).manifest.dump()
    built = json.loads((tmp_path / "built" / "mastodon" / "4.4.0" / "artifact.json").read_text())
    for field in ("requires", "runtimes", "name", "version", "file"):
        assert added[field] == built[field], field
    assert sorted(added["debian_packages"]) == sorted(built["debian_packages"])


def test_a_tree_of_another_version_is_refused(tmp_path: Path) -> None:
    tree = unpacked(tmp_path, "4.4.0")
    with pytest.raises(BadInput, match=r"holds Mastodon 4\.4\.0, not 4\.4\.1"):
        prepared.add("mastodon", "4.4.1", tree, cache=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_an_incomplete_tree_is_refused_saying_what_is_missing(tmp_path: Path) -> None:
    tree = unpacked(tmp_path, "4.3.0")
    (tree / "bin" / "puma").unlink()
    (tree / "package.json").unlink()
    with pytest.raises(BadInput, match=r"not a prepared Mastodon release: bin/puma, package\.json"):
        prepared.add("mastodon", "4.3.0", tree, cache=tmp_path / "cache")
    with pytest.raises(BadInput, match="is not a folder"):
        prepared.add("mastodon", "4.3.0", tmp_path / "nowhere", cache=tmp_path / "cache")


def test_a_program_that_is_not_executable_is_refused(tmp_path: Path) -> None:
    tree = unpacked(tmp_path, "4.3.0")
    (tree / "bin" / "sidekiq").chmod(0o644)
    with pytest.raises(BadInput, match=r"bin/sidekiq is not executable"):
        prepared.add("mastodon", "4.3.0", tree, cache=tmp_path / "cache")


def test_a_bundled_runtime_too_old_for_the_release_is_refused(tmp_path: Path) -> None:
    tree = unpacked(tmp_path, "4.4.0", runtimes={"ruby": "3.1.9", "node": "22.11.0"})
    with pytest.raises(
        BadInput, match=r"runtime/bin/ruby is Ruby 3\.1\.9; the release needs >= 3\.2"
    ):
        prepared.add("mastodon", "4.4.0", tree, cache=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_a_bundled_runtime_that_does_not_answer_its_version_is_an_error(tmp_path: Path) -> None:
    tree = unpacked(tmp_path, "4.4.0")
    node = tree / "runtime" / "bin" / "node"
    node.write_text("#!/bin/sh\necho 'Segmentation fault' >&2\nexit 139\n")
    with pytest.raises(ChatonError, match=r"does not answer its version .*Segmentation fault"):
        prepared.add("mastodon", "4.4.0", tree, cache=tmp_path / "cache")
    # A link to a program that is not there does not answer either.
    node.unlink()
    node.symlink_to("node-22.11.0")
    with pytest.raises(ChatonError, match=r"does not answer its version .*No such file"):
        prepared.add("mastodon", "4.4.0", tree, cache=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_a_link_out_of_the_release_is_refused(tmp_path: Path) -> None:
    tree = unpacked(tmp_path, "4.3.0")
    (tree / "public" / "secrets").symlink_to("/etc")
    with pytest.raises(BadInput, match=r"public/secrets is a link out of the release \(/etc\)"):
        prepared.add("mastodon", "4.3.0", tree, cache=tmp_path / "cache")
    (tree / "public" / "secrets").unlink()
    (tree / "public" / "up").symlink_to("../../..")
    with pytest.raises(BadInput, match=r"public/up is a link out of the release"):
        prepared.add("mastodon", "4.3.0", tree, cache=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()
    # A link inside it is kept as a link.
    (tree / "public" / "up").unlink()
    (tree / "public" / "sw-link.js").symlink_to("sw.js")
    result = prepared.add("mastodon", "4.3.0", tree, cache=tmp_path / "cache")
    with tarfile.open(result.path) as tar:
        link = tar.getmember("mastodon/public/sw-link.js")
    assert link.issym() and link.linkname == "sw.js"


def test_the_instances_folders_and_git_stay_out(tmp_path: Path) -> None:
    tree = unpacked(tmp_path, "4.3.0")
    (tree / "tmp" / "cache").mkdir()
    (tree / "tmp" / "cache" / "bootsnap").write_text("x")
    (tree / "log" / "production.log").write_text("x")
    (tree / ".git").mkdir()
    (tree / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    result = prepared.add("mastodon", "4.3.0", tree, cache=tmp_path / "cache")
    with tarfile.open(result.path) as tar:
        names = set(tar.getnames())
    assert "mastodon/tmp" in names and "mastodon/log" in names
    assert not {n for n in names if n.startswith(("mastodon/tmp/", "mastodon/log/"))}
    assert not {n for n in names if n.startswith("mastodon/.git")}


def test_an_intact_cached_copy_is_kept_and_a_damaged_one_replaced(tmp_path: Path) -> None:
    tree = unpacked(tmp_path, "4.3.0")
    cache = tmp_path / "cache"
    first = prepared.add("mastodon", "4.3.0", tree, cache=cache)
    before = first.path.read_bytes()
    with pytest.raises(BadInput, match="already in the cache and intact"):
        prepared.add("mastodon", "4.3.0", tree, cache=cache)
    assert first.path.read_bytes() == before
    first.path.write_bytes(b"damaged")
    again = prepared.add("mastodon", "4.3.0", tree, cache=cache)
    assert again.replaced and "bytes, the manifest says" in again.replaced[0]
    assert artifacts.check("mastodon", "4.3.0", cache).ok
    assert [p.name for p in cache.iterdir() if p.name.startswith(".")] == []


def test_what_is_not_a_prepared_kind_or_a_package_name_is_refused(tmp_path: Path) -> None:
    tree = unpacked(tmp_path, "4.3.0")
    with pytest.raises(BadInput, match="nextcloud archives are downloaded and verified"):
        prepared.add("nextcloud", "30.0.4", tree, cache=tmp_path / "cache")
    with pytest.raises(BadInput, match="unknown artifact peertube"):
        prepared.add("peertube", "6.0.0", tree, cache=tmp_path / "cache")
    with pytest.raises(BadInput, match="not a valid mastodon version"):
        prepared.add("mastodon", "4.3", tree, cache=tmp_path / "cache")
    with pytest.raises(BadInput, match="Ruby-PG is not a Debian package name"):
        prepared.add(
            "mastodon", "4.3.0", tree, cache=tmp_path / "cache", debian_packages=["Ruby-PG"]
        )
    with pytest.raises(BadInput, match=r"are prepared .* add one with `chaton artifacts add"):
        artifacts.fetch("mastodon", "4.3.0", cache=tmp_path / "cache")


@pytest.mark.parametrize(
    ("gemfile", "package", "requires"),
    [
        ("ruby '>= 3.1.0', '< 3.5.0'\n", ">=18", {"ruby": ">= 3.1.0, < 3.5.0", "node": ">= 18"}),
        ('ruby ">=3.2.0"\n', ">=20 <24", {"ruby": ">= 3.2.0", "node": ">= 20, < 24"}),
        ("source 'x'\nruby '3.3.6'\n", "20", {"ruby": ">= 3.3.6", "node": ">= 20"}),
    ],
)
def test_what_it_needs_is_read_as_the_release_states_it(
    tmp_path: Path, gemfile: str, package: str, requires: dict[str, str]
) -> None:
    (tmp_path / "Gemfile").write_text(gemfile)
    (tmp_path / "package.json").write_text(json.dumps({"engines": {"node": package}}))
    assert prepared.tree_requires(tmp_path) == requires


@pytest.mark.parametrize(
    ("gemfile", "package", "message"),
    [
        ("source 'x'\n", ">=18", "no `ruby` line"),
        ("ruby '~> 3.2'\n", ">=18", "'~> 3.2' is not a requirement chaton reads"),
        ("ruby '>= 3.2'\n", "^18 || >=20", "is not a requirement chaton reads"),
        ("ruby '>= 3.2'\n", None, "no engines.node"),
    ],
)
def test_what_it_needs_is_refused_when_it_cannot_be_read(
    tmp_path: Path, gemfile: str, package: str | None, message: str
) -> None:
    (tmp_path / "Gemfile").write_text(gemfile)
    (tmp_path / "package.json").write_text(
        json.dumps({"engines": {"node": package}} if package else {"name": "x"})
    )
    with pytest.raises(BadInput, match=message.replace("|", r"\|").replace("^", r"\^")):
        prepared.tree_requires(tmp_path)


def test_the_command_adds_lists_and_checks_in_french_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = unpacked(tmp_path, "4.4.0")
    cache = str(tmp_path / "cache")
    argv = ["artifacts", "add", "mastodon", "4.4.0", str(tree), "--cache", cache]
    assert run_artifacts_cli(monkeypatch, *argv, "--debian-package", "ruby-pg") == ExitCode.OK
    out = capsys.readouterr().out
    assert "mastodon 4.4.0: cached as " in out
    assert "needs Ruby >= 3.2.0, Node.js >= 20; bundles Ruby 3.3.6, Node.js 22.11.0" in out
    assert run_artifacts_cli(monkeypatch, "artifacts", "list", "--cache", cache) == ExitCode.OK
    assert "prepared, needs Ruby >= 3.2.0, Node.js >= 20, bundles Ruby 3.3.6, Node.js 22.11.0" in (
        capsys.readouterr().out
    )
    assert (
        run_artifacts_cli(monkeypatch, "artifacts", "check", "mastodon", "4.4.0", "--cache", cache)
        == 0
    )
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    monkeypatch.delenv("LANGUAGE", raising=False)
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    assert run_artifacts_cli(monkeypatch, *argv) == ExitCode.BAD_INPUT
    assert "est déjà dans le cache et intacte" in capsys.readouterr().err
    (tree / "runtime" / "bin" / "ruby").write_text("#!/bin/sh\nexit 1\n")
    other = ["artifacts", "add", "mastodon", "4.4.0", str(tree), "--cache", str(tmp_path / "c2")]
    assert run_artifacts_cli(monkeypatch, *other) == ExitCode.FAILED
    assert "ne donne pas sa version à --version (réponse : rien)" in capsys.readouterr().err


def test_check_wants_what_each_kind_of_manifest_must_say(tmp_path: Path) -> None:
    """A fetched archive's manifest names the key that signed it; a prepared release's says which
    Ruby and Node.js it needs. A manifest without it does not pass `check`."""
    cache = tmp_path / "cache"
    prepared.add("mastodon", "4.3.0", unpacked(tmp_path, "4.3.0"), cache=cache)
    path = cache / "mastodon" / "4.3.0" / "artifact.json"
    manifest = json.loads(path.read_text())
    del manifest["requires"]
    path.write_text(json.dumps(manifest))
    assert artifacts.check("mastodon", "4.3.0", cache).problems == (
        "its manifest does not say which Ruby and Node.js it needs (requires)",
    )
    nextcloud = cache / "nextcloud" / "30.0.4"
    nextcloud.mkdir(parents=True)
    (nextcloud / "nextcloud-30.0.4.tar.bz2").write_bytes(b"x")
    (nextcloud / "artifact.json").write_text(
        json.dumps(
            {
                **manifest,
                "name": "nextcloud",
                "version": "30.0.4",
                "file": "nextcloud-30.0.4.tar.bz2",
            }
        )
    )
    assert artifacts.check("nextcloud", "30.0.4", cache).problems == (
        "its manifest names no signing key: it was not fetched and verified",
    )
