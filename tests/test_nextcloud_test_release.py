"""The Nextcloud test release's archive (a test double standing in for Nextcloud's release archive).

Its PHP needs PHP, PostgreSQL and Redis and is exercised where a role deploys it; these tests check,
without a container, what the roles and the artifact cache rely on: the archive's layout, the
version written into version.php, deterministic bytes and a manifest whose digests are the file's.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
from nextcloud_test_release.build import build, main
from release_cache import archive_members, archive_text


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    cache = tmp_path_factory.mktemp("cache")
    return {version: build(version, cache) for version in ("30.0.0", "31.0.4")}


def test_archive_sits_in_the_cache_layout(releases: dict[str, Path]) -> None:
    archive = releases["31.0.4"]
    assert archive.name == "nextcloud-31.0.4.tar.bz2"
    assert archive.parent.name == "31.0.4"
    assert archive.parent.parent.name == "nextcloud"
    assert (archive.parent / "artifact.json").is_file()


def test_single_top_folder_with_the_entry_points(releases: dict[str, Path]) -> None:
    members = archive_members(releases["30.0.0"])
    assert {name.split("/")[0] for name in members} == {"nextcloud"}
    for name in (
        "nextcloud/occ",
        "nextcloud/index.php",
        "nextcloud/status.php",
        "nextcloud/cron.php",
        "nextcloud/remote.php",
        "nextcloud/public.php",
        "nextcloud/version.php",
        "nextcloud/TEST-RELEASE",
        "nextcloud/lib/base.php",
        "nextcloud/apps/files/appinfo/info.xml",
        "nextcloud/apps/deck/appinfo/info.xml",
    ):
        assert members[name].isfile(), name
    assert members["nextcloud/config"].isdir()
    assert not [n for n in members if n.startswith("nextcloud/config/")]
    assert "nextcloud/data" not in members
    assert all(
        m.uid == 0 and m.gid == 0 and m.mtime == members["nextcloud"].mtime
        for m in members.values()
    )


def test_it_says_what_it_is(releases: dict[str, Path]) -> None:
    archive = releases["30.0.0"]
    text = archive_text(archive, "nextcloud/TEST-RELEASE")
    assert text.startswith("Nextcloud test release 30.0.0\n")
    assert "NOT Nextcloud" in text
    assert "PRODUCT_NAME = 'Nextcloud test release'" in archive_text(
        archive, "nextcloud/lib/base.php"
    )


@pytest.mark.parametrize(
    ("version", "numbers", "previous"),
    [
        ("30.0.0", "[30, 0, 0, 0]", "'29.0' => true, '30.0' => true"),
        ("31.0.4", "[31, 0, 4, 0]", "'30.0' => true, '31.0' => true"),
    ],
)
def test_version_php_carries_the_version_asked(
    releases: dict[str, Path], version: str, numbers: str, previous: str
) -> None:
    text = archive_text(releases[version], "nextcloud/version.php")
    assert f"$OC_Version = {numbers};" in text
    assert f"$OC_VersionString = '{version}';" in text
    assert "$OC_Edition = '';" in text
    assert "$OC_Channel = 'stable';" in text
    assert f"$OC_VersionCanBeUpgradedFrom = ['nextcloud' => [{previous}]];" in text


def test_apps_marked_default_enable_are_files_and_dav(releases: dict[str, Path]) -> None:
    archive = releases["31.0.4"]
    default = set()
    for app in ("files", "dav", "calendar", "contacts", "deck"):
        xml = archive_text(archive, f"nextcloud/apps/{app}/appinfo/info.xml")
        assert f"<id>{app}</id>" in xml
        assert "<version>" in xml
        if "<default_enable/>" in xml:
            default.add(app)
    assert default == {"files", "dav"}


def test_same_inputs_same_bytes(tmp_path: Path, releases: dict[str, Path]) -> None:
    again = build("30.0.0", tmp_path)
    assert again.read_bytes() == releases["30.0.0"].read_bytes()
    assert again.read_bytes() != build("31.0.4", tmp_path).read_bytes()


def test_manifest_digests_are_the_file_s(releases: dict[str, Path]) -> None:
    for version, archive in releases.items():
        manifest = json.loads((archive.parent / "artifact.json").read_text())
        data = archive.read_bytes()
        assert manifest["name"] == "nextcloud"
        assert manifest["version"] == version
        assert manifest["test_release"] is True
        assert manifest["size"] == len(data)
        assert manifest["sha256"] == hashlib.sha256(data).hexdigest()
        assert manifest["sha512"] == hashlib.sha512(data).hexdigest()


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["32.0.0", str(tmp_path)]) == 0
    archive = Path(capsys.readouterr().out.strip())
    assert archive == tmp_path / "nextcloud" / "32.0.0" / "nextcloud-32.0.0.tar.bz2"
    with tarfile.open(fileobj=io.BytesIO(archive.read_bytes()), mode="r:bz2") as tar:
        assert "nextcloud/occ" in tar.getnames()


@pytest.mark.parametrize(
    "version", ["30", "30.0", "v30.0.0", "30.0.0.1", "30.0.0-rc1", "../30.0.0"]
)
def test_refuses_what_is_not_a_release_version(tmp_path: Path, version: str) -> None:
    with pytest.raises(ValueError, match="not a release version"):
        build(version, tmp_path)
    assert not (tmp_path / "nextcloud").exists()
