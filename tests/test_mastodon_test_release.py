"""The Mastodon test release's archive (a test double standing in for a prepared Mastodon release).

Its programs need Ruby, Node.js, PostgreSQL and Redis and are exercised where the mastodon role
deploys them; these tests check, without a container, what the role and the artifact cache rely on:
the archive's layout, the runtimes its manifest asks for, its migrations, deterministic bytes and a
manifest whose digests are the file's.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tarfile
from pathlib import Path

import pytest
from mastodon_test_release.build import build, main, migrations, requirements
from release_cache import archive_members, archive_text
from support import filter_plugin

runtime_version = filter_plugin("chaton_versions", "chaton_runtime_version")


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    cache = tmp_path_factory.mktemp("cache")
    return {version: build(version, cache) for version in ("4.3.0", "4.3.1", "4.4.0")}


def test_archive_sits_in_the_cache_layout(releases: dict[str, Path]) -> None:
    archive = releases["4.3.1"]
    assert archive.name == "mastodon-4.3.1.tar.gz"
    assert archive.parent.name == "4.3.1"
    assert archive.parent.parent.name == "mastodon"
    assert (archive.parent / "artifact.json").is_file()


def test_single_top_folder_with_the_entry_points(releases: dict[str, Path]) -> None:
    members = archive_members(releases["4.3.0"])
    assert {name.split("/")[0] for name in members} == {"mastodon"}
    for name in ("bin/tootctl", "bin/rails", "bin/puma", "bin/sidekiq"):
        assert members[f"mastodon/{name}"].isfile()
        assert members[f"mastodon/{name}"].mode == 0o755, name
    for name in (
        "streaming/index.js",
        "lib/chaton_test_release.rb",
        "public/sw.js",
        "public/packs/chaton-test-release.js",
        "public/500.html",
        "Gemfile",
        "package.json",
        "VERSION",
        "TEST-RELEASE",
        "db/chaton-test-release-migrations.json",
    ):
        assert members[f"mastodon/{name}"].isfile(), name
        assert members[f"mastodon/{name}"].mode == 0o644, name
    for folder in ("tmp", "log", "public/system", "vendor/bundle"):
        assert members[f"mastodon/{folder}"].isdir(), folder
    assert all(m.uid == 0 and m.gid == 0 and m.mtime == 1704067200 for m in members.values())


def test_it_says_what_it_is(releases: dict[str, Path]) -> None:
    archive = releases["4.3.0"]
    text = archive_text(archive, "mastodon/TEST-RELEASE")
    assert text.startswith("Mastodon test release 4.3.0\n")
    assert "NOT Mastodon" in text
    assert archive_text(archive, "mastodon/VERSION") == "4.3.0\n"
    for program in ("bin/tootctl", "bin/rails", "bin/puma", "bin/sidekiq", "streaming/index.js"):
        assert "NOT Mastodon" in archive_text(archive, f"mastodon/{program}"), program


def test_runtimes_follow_upstreams_release_notes(releases: dict[str, Path]) -> None:
    """4.3: Ruby 3.1 and Node.js 18 or newer; 4.4: Ruby 3.2 and Node.js 20 or newer."""
    assert requirements("4.3.1") == {"ruby": ">= 3.1.0", "node": ">= 18"}
    assert requirements("4.4.0") == {"ruby": ">= 3.2.0", "node": ">= 20"}
    for version, archive in releases.items():
        manifest = json.loads((archive.parent / "artifact.json").read_text())
        assert manifest["requires"] == requirements(version)
        # The stand-ins' gems come from Debian: the role installs what the manifest names; the
        # test doubles of bundled runtimes (4.4) run Debian's Ruby and Node.js.
        assert manifest["debian_packages"] == ["ruby-pg", "ruby-redis"] + (
            ["nodejs", "ruby"] if version == "4.4.0" else []
        )
        assert f"ruby '{requirements(version)['ruby']}'" in archive_text(
            archive, "mastodon/Gemfile"
        )
        engines = json.loads(archive_text(archive, "mastodon/package.json"))["engines"]
        assert engines == {"node": requirements(version)["node"]}


def test_from_4_4_on_it_bundles_runtimes_its_manifest_declares(
    releases: dict[str, Path],
) -> None:
    """Debian 12's Ruby 3.1 and Node.js 18 run 4.3; a prepared 4.4 brings its own, in runtime/bin,
    and says which (`runtimes`)."""
    for version in ("4.3.0", "4.3.1"):
        manifest = json.loads((releases[version].parent / "artifact.json").read_text())
        assert manifest["runtimes"] == {}
        assert not any("runtime/" in name for name in archive_members(releases[version]))
    manifest = json.loads((releases["4.4.0"].parent / "artifact.json").read_text())
    assert manifest["runtimes"] == {"ruby": "3.3.6", "node": "22.11.0"}
    members = archive_members(releases["4.4.0"])
    for name in ("ruby", "node"):
        assert members[f"mastodon/runtime/bin/{name}"].mode == 0o755, name
        script = archive_text(releases["4.4.0"], f"mastodon/runtime/bin/{name}")
        assert "a test double, not Mastodon" in script
        # What it runs once its --version is answered: Debian's own program.
        assert script.rstrip().endswith(f'exec /usr/bin/{name} "$@"')


@pytest.mark.parametrize(("name", "printed"), [("ruby", "3.3.6"), ("node", "22.11.0")])
def test_a_bundled_runtime_answers_its_version_as_the_real_one_does(
    tmp_path: Path, releases: dict[str, Path], name: str, printed: str
) -> None:
    with tarfile.open(releases["4.4.0"]) as tar:
        tar.extract(f"mastodon/runtime/bin/{name}", tmp_path, filter="data")
    program = tmp_path / "mastodon" / "runtime" / "bin" / name
    answer = subprocess.run([program, "--version"], capture_output=True, text=True, check=True)
    # The role reads it with the same filter as Debian's ("ruby 3.1.2p20 (…)", "v18.19.0").
    assert runtime_version(answer.stdout, name) == printed


def test_what_it_bundles_and_declares_can_be_chosen(tmp_path: Path) -> None:
    """For the role's refusals: a 4.4 without runtimes, and one whose manifest says more than
    its runtime is."""
    bare = build("4.4.0", tmp_path / "bare", runtimes={})
    assert json.loads((bare.parent / "artifact.json").read_text())["runtimes"] == {}
    assert not any("runtime/" in name for name in archive_members(bare))
    assert main(["4.4.0", str(tmp_path / "lying"), "--declare", "ruby=3.4.1"]) == 0
    lying = tmp_path / "lying" / "mastodon" / "4.4.0"
    assert json.loads((lying / "artifact.json").read_text())["runtimes"] == {
        "ruby": "3.4.1",
        "node": "22.11.0",
    }
    assert "3.3.6" in archive_text(lying / "mastodon-4.4.0.tar.gz", "mastodon/runtime/bin/ruby")
    assert main(["4.4.0", str(tmp_path / "none"), "--runtimes", "none"]) == 0
    none = json.loads((tmp_path / "none" / "mastodon" / "4.4.0" / "artifact.json").read_text())
    assert none["runtimes"] == {}
    with pytest.raises(SystemExit):
        main(["4.4.0", str(tmp_path / "bad"), "--runtimes", "python=3.11"])
    assert not (tmp_path / "bad").exists()


def test_migrations_accumulate_with_one_pre_and_one_post_deployment_per_release() -> None:
    first = migrations("4.3.0")
    assert [m["post_deployment"] for m in first] == [False]
    second = migrations("4.3.1")
    assert second[: len(first)] == first
    added = second[len(first) :]
    assert [m["post_deployment"] for m in added] == [False, True]
    ids = [str(m["version"]) for m in migrations("4.5.0")]
    assert ids == sorted(ids) and len(ids) == len(set(ids)) == 7
    # The post-deployment migration undoes what its pre-deployment one made: both are real SQL.
    assert "CREATE INDEX" in str(added[0]["sql"]) and "DROP INDEX" in str(added[1]["sql"])


def test_same_inputs_same_bytes(tmp_path: Path, releases: dict[str, Path]) -> None:
    again = build("4.3.0", tmp_path)
    assert again.read_bytes() == releases["4.3.0"].read_bytes()
    assert again.read_bytes() != build("4.3.1", tmp_path).read_bytes()


def test_manifest_digests_are_the_file_s(releases: dict[str, Path]) -> None:
    for version, archive in releases.items():
        manifest = json.loads((archive.parent / "artifact.json").read_text())
        data = archive.read_bytes()
        assert manifest["name"] == "mastodon"
        assert manifest["version"] == version
        assert manifest["file"] == archive.name
        assert manifest["test_release"] is True
        assert manifest["size"] == len(data)
        assert manifest["sha256"] == hashlib.sha256(data).hexdigest()
        assert manifest["sha512"] == hashlib.sha512(data).hexdigest()


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["4.5.0", str(tmp_path)]) == 0
    archive = Path(capsys.readouterr().out.strip())
    assert archive == tmp_path / "mastodon" / "4.5.0" / "mastodon-4.5.0.tar.gz"
    assert "mastodon/bin/tootctl" in archive_members(archive)


@pytest.mark.parametrize("version", ["4", "4.3", "v4.3.0", "4.3.0.1", "4.3.0-rc1", "../4.3.0"])
def test_refuses_what_is_not_a_release_version(tmp_path: Path, version: str) -> None:
    with pytest.raises(ValueError, match="not a release version"):
        build(version, tmp_path)
    assert not (tmp_path / "mastodon").exists()
