"""Builds `test_release_nextcloud`, a test double standing in for Nextcloud's release archive.

The archive has the real one's shape (a tar.bz2 whose single top folder is `nextcloud/`, with
`occ`, `index.php`, `status.php`, `cron.php`, `version.php`, `apps/*/appinfo/info.xml`, an empty
`config/`…) and its PHP answers the commands and pages a deployment uses as Nextcloud does, so that
a role runs unchanged against either. It is named as a test release everywhere (product name
"Nextcloud test release", a `TEST-RELEASE` file at its root, `"test_release": true` in its
manifest) and is never presented as Nextcloud.

    python tests/nextcloud_test_release/build.py VERSION CACHE_DIR

writes `CACHE_DIR/nextcloud/VERSION/nextcloud-VERSION.tar.bz2` and `artifact.json` beside it. The
same inputs give the same bytes: members sorted, fixed times, owner root.
"""

from __future__ import annotations

import bz2
import re
import sys
from pathlib import Path

# The builders' shared module, one folder up (this file also runs as a script).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import release_cache
from release_cache import tar_bytes, write_release

SOURCES = Path(__file__).resolve().parent / "nextcloud"
TOP = "nextcloud"
PRODUCT_NAME = "Nextcloud test release"
# 2024-01-01T00:00:00Z: every member's time, so that the bytes depend on the inputs only.
MTIME = 1704067200
VERSION_PATTERN = re.compile(r"^(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})$")
EXECUTABLE = frozenset({"occ"})
# The apps shipped in apps/: id -> (name, version with {major}, enabled at installation).
APPS: dict[str, tuple[str, str, bool]] = {
    "calendar": ("Calendar", "5.{major}.0", False),
    "contacts": ("Contacts", "6.{major}.0", False),
    "dav": ("WebDAV", "1.{major}.0", True),
    "deck": ("Deck", "1.{major}.0", False),
    "files": ("Files", "2.{major}.0", True),
}


def parse_version(version: str) -> tuple[int, int, int]:
    """(major, minor, patch) of a release version such as "30.0.4"; ValueError otherwise."""
    match = VERSION_PATTERN.match(version)
    if not match:
        raise ValueError(f"not a release version (MAJOR.MINOR.PATCH, e.g. 30.0.4): {version!r}")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def version_php(version: str) -> str:
    """version.php as the real archive writes it; upgrades allowed from the previous major only."""
    major, minor, patch = parse_version(version)
    previous = f"'{major - 1}.0' => true, " if major > 0 else ""
    return (
        "<?php\n"
        f"// {PRODUCT_NAME} (a test double built by the test suite, not Nextcloud): its version.\n"
        f"$OC_Version = [{major}, {minor}, {patch}, 0];\n"
        f"$OC_VersionString = '{version}';\n"
        "$OC_Edition = '';\n"
        "$OC_Channel = 'stable';\n"
        f"$OC_VersionCanBeUpgradedFrom = ['nextcloud' => [{previous}'{major}.{minor}' => true]];\n"
        f"$OC_Build = '{PRODUCT_NAME} {version}';\n"
        "$vendor = 'nextcloud';\n"
    )


def info_xml(app: str, major: int) -> str:
    name, version, default_enable = APPS[app]
    return (
        '<?xml version="1.0"?>\n'
        f"<!-- {PRODUCT_NAME} (a test double, not Nextcloud): the app {app}'s manifest. -->\n"
        "<info>\n"
        f"  <id>{app}</id>\n"
        f"  <name>{name}</name>\n"
        f"  <summary>{name} of the {PRODUCT_NAME} (empty: an app folder for the tests)</summary>\n"
        f"  <version>{version.format(major=major)}</version>\n"
        "  <licence>agpl</licence>\n"
        + ("  <default_enable/>\n" if default_enable else "")
        + "  <dependencies>\n"
        f'    <nextcloud min-version="{major}" max-version="{major}"/>\n'
        "  </dependencies>\n"
        "</info>\n"
    )


def test_release_text(version: str) -> str:
    return (
        f"{PRODUCT_NAME} {version}\n"
        "\n"
        "This is NOT Nextcloud. It is a test double built by chaton-toolkit's test suite\n"
        "(tests/nextcloud_test_release/build.py) that stands in for Nextcloud's release archive\n"
        "where the real one cannot be downloaded. It answers the occ commands, pages and files\n"
        "a deployment uses as Nextcloud does, on PHP, PostgreSQL and Redis, and nothing else.\n"
        "\n"
        "Every occ run is recorded as one JSON line in chaton-test-release-occ.log (in the data\n"
        "folder once installed, else in the config folder). A file named\n"
        "chaton-test-release-fail-upgrade in the config folder makes `occ upgrade` change the\n"
        "database half-way and then fail.\n"
    )


def members(version: str) -> dict[str, bytes | None]:
    """Every path of the archive under nextcloud/ -> its content (None: a folder)."""
    major, _minor, _patch = parse_version(version)
    files: dict[str, bytes | None] = {}
    for path in sorted(SOURCES.rglob("*")):
        relative = path.relative_to(SOURCES).as_posix()
        if "__pycache__" in relative.split("/"):
            continue
        files[relative] = None if path.is_dir() else path.read_bytes()
    files["version.php"] = version_php(version).encode()
    files["TEST-RELEASE"] = test_release_text(version).encode()
    files["config"] = None  # empty, as the real archive's is (near enough)
    files["apps"] = None
    for app in APPS:
        files[f"apps/{app}"] = None
        files[f"apps/{app}/appinfo"] = None
        files[f"apps/{app}/appinfo/info.xml"] = info_xml(app, major).encode()
    # Every parent folder has its own entry (tar_bytes), as in the real archive.
    return files


def archive_bytes(version: str) -> bytes:
    """The tar.bz2, deterministic: sorted members, fixed time, root-owned, fixed modes."""
    return bz2.compress(tar_bytes(TOP, members(version), EXECUTABLE, MTIME), compresslevel=9)


def build(version: str, cache_dir: Path) -> Path:
    """Writes the archive and its artifact.json into the cache; returns the archive's path."""
    parse_version(version)
    return write_release(
        cache_dir,
        "nextcloud",
        version,
        f"nextcloud-{version}.tar.bz2",
        archive_bytes(version),
        product_name=PRODUCT_NAME,
        source="tests/nextcloud_test_release/build.py (a test double, not Nextcloud)",
    )


def main(argv: list[str] | None = None) -> int:
    return release_cache.main(
        build, f"Build the {PRODUCT_NAME} archive (a test double, not Nextcloud).", "30.0.0", argv
    )


if __name__ == "__main__":
    sys.exit(main())
