"""Builds `test_release_mastodon`, a test double standing in for a prepared Mastodon release.

A prepared release is what a server runs without reaching any upstream: Mastodon's source at a
tag, its gems vendored (`bundle install` in deployment mode, binstubs `bin/puma` and
`bin/sidekiq`), its assets precompiled into `public/`. Mastodon's sources, gems and Ruby cannot be
downloaded on the test machines, so the test suite builds this stand-in with the same shape (a
tar.gz whose single top folder is `mastodon/`, with `bin/tootctl`, `bin/rails`, `bin/puma`,
`bin/sidekiq`, `streaming/index.js`, `public/`, `Gemfile`, `package.json`...). Its programs run on
Debian's own Ruby and Node.js and answer what a deployment uses as Mastodon does (see
`TEST-RELEASE` in the archive). From 4.4 on it bundles `runtime/bin/ruby` and `runtime/bin/node`,
as a prepared release does where Debian's are too old, and its manifest declares them
(`runtimes`); those are test doubles too, Debian's programs under the names and versions they stand
in for (runtime_script). It is named as a test release everywhere (product name "Mastodon
test release", a `TEST-RELEASE` file at its root, `"test_release": true` in its manifest) and is
never presented as Mastodon.

    python tests/mastodon_test_release/build.py VERSION CACHE_DIR [--runtimes ruby=X,node=Y|none]
                                                [--declare ruby=Z]

writes `CACHE_DIR/mastodon/VERSION/mastodon-VERSION.tar.gz` and `artifact.json` beside it, which
states the Ruby and Node.js versions the release needs, as upstream's release notes do: Ruby 3.1
and Node.js 18 or newer up to 4.3, Ruby 3.2 and Node.js 20 or newer from 4.4 on. The same inputs
give the same bytes: members sorted, fixed times, owner root.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from pathlib import Path

# The builders' shared module, one folder up (this file also runs as a script).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from release_cache import tar_bytes, write_release

SOURCES = Path(__file__).resolve().parent / "mastodon"
TOP = "mastodon"
PRODUCT_NAME = "Mastodon test release"
# 2024-01-01T00:00:00Z: every member's time, so that the bytes depend on the inputs only.
MTIME = 1704067200
VERSION_PATTERN = re.compile(r"^(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})$")
EXECUTABLE = frozenset({"bin/tootctl", "bin/rails", "bin/puma", "bin/sidekiq"})
# The releases the migrations know of, in order: a release carries its own migrations and those
# of every earlier one (as Mastodon's db/migrate and db/post_migrate do).
KNOWN_RELEASES = ("4.3.0", "4.3.1", "4.4.0", "4.5.0")


def parse_version(version: str) -> tuple[int, int, int]:
    """(major, minor, patch) of a release version such as "4.3.1"; ValueError otherwise."""
    match = VERSION_PATTERN.match(version)
    if not match:
        raise ValueError(f"not a release version (MAJOR.MINOR.PATCH, e.g. 4.3.1): {version!r}")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


# What the test release's programs need from Debian beyond the role's mastodon_packages.
DEBIAN_PACKAGES = ("ruby-pg", "ruby-redis")


def requirements(version: str) -> dict[str, str]:
    """The runtimes the release needs, as upstream's release notes state them: Ruby 3.1 and Node.js
    18 or newer for 4.3, Ruby 3.2 and Node.js 20 or newer from 4.4 on."""
    if parse_version(version)[:2] >= (4, 4):
        return {"ruby": ">= 3.2.0", "node": ">= 20"}
    return {"ruby": ">= 3.1.0", "node": ">= 18"}


# The runtimes a prepared release of 4.4 or later bundles (Debian 12's Ruby 3.1 and Node.js 18 do
# not run it): their versions, as its manifest's `runtimes` declares them. The test release's are
# test doubles (runtime_script): Debian's own Ruby and Node.js under these names.
BUNDLED_RUNTIMES = {"ruby": "3.3.6", "node": "22.11.0"}
# Where a runtime's program is in the release, and the Debian program its test double runs.
RUNTIME_PATHS = {"ruby": "runtime/bin/ruby", "node": "runtime/bin/node"}
DEBIAN_RUNTIMES = {"ruby": "/usr/bin/ruby", "node": "/usr/bin/node"}
DEBIAN_RUNTIME_PACKAGES = {"ruby": "ruby", "node": "nodejs"}
# What `--version` prints for a version, as the real programs do.
VERSION_LINES = {
    "ruby": "ruby {version} (test double: Debian Ruby under this name)",
    "node": "v{version}",
}


def bundled_runtimes(version: str) -> dict[str, str]:
    """The runtimes the prepared release bundles: none up to 4.3 (Debian's do), Ruby and Node.js
    from 4.4 on."""
    if parse_version(version)[:2] >= (4, 4):
        return dict(BUNDLED_RUNTIMES)
    return {}


def runtime_script(name: str, version: str) -> str:
    """The test double of a bundled runtime: it answers `--version` as that version would, and
    runs everything else with Debian's program, telling the test release's programs which
    runtime started them (CHATON_TEST_RELEASE_RUBY or _NODE: its path and version)."""
    variable = f"CHATON_TEST_RELEASE_{name.upper()}"
    line = VERSION_LINES[name].format(version=version)
    return (
        "#!/bin/sh\n"
        f"# {PRODUCT_NAME} (a test double, not Mastodon): stands in for the {name} {version} a\n"
        "# prepared release bundles. It is Debian's own program under this name.\n"
        'if [ "$1" = --version ]; then\n'
        f"    echo '{line}'\n"
        "    exit 0\n"
        "fi\n"
        f'{variable}="$(readlink -f "$0") {version}"\n'
        f"export {variable}\n"
        f'exec {DEBIAN_RUNTIMES[name]} "$@"\n'
    )


def version_rb(version: str) -> str:
    """lib/mastodon/version.rb, where Mastodon states its version (methods major, minor and
    patch, as upstream's file has them)."""
    major, minor, patch = parse_version(version)
    return (
        "# frozen_string_literal: true\n"
        "\n"
        f"# {PRODUCT_NAME} (a test double, not Mastodon): its version, where Mastodon states it.\n"
        "module Mastodon\n"
        "  module Version\n"
        "    module_function\n"
        "\n"
        f"    def major\n      {major}\n    end\n"
        "\n"
        f"    def minor\n      {minor}\n    end\n"
        "\n"
        f"    def patch\n      {patch}\n    end\n"
        "  end\n"
        "end\n"
    )


def migration_id(version: str, index: int) -> str:
    major, minor, patch = parse_version(version)
    return f"2024{major:02d}{minor:02d}{patch:02d}{index:04d}"


def migrations(version: str) -> list[dict[str, object]]:
    """Every migration of the release, in the order Rails runs them (by id): the schema a
    deployment reads (Mastodon's accounts, users and user_roles columns it uses), then, for each
    release after 4.3.0 up to this one, a pre-deployment and a post-deployment migration."""
    parse_version(version)
    base = KNOWN_RELEASES[0]
    schema = (
        "CREATE TABLE user_roles (id bigserial PRIMARY KEY, name varchar NOT NULL UNIQUE,"
        " position integer NOT NULL DEFAULT 0);"
        " INSERT INTO user_roles (name, position) VALUES ('Moderator', 10), ('Admin', 100),"
        " ('Owner', 1000);"
        " CREATE TABLE accounts (id bigserial PRIMARY KEY, username varchar NOT NULL,"
        " domain varchar, note text NOT NULL DEFAULT '',"
        " created_at timestamp NOT NULL DEFAULT now());"
        " CREATE UNIQUE INDEX index_accounts_on_username_and_domain_lower"
        " ON accounts (lower(username), COALESCE(lower(domain), ''));"
        " CREATE TABLE users (id bigserial PRIMARY KEY,"
        " account_id bigint NOT NULL REFERENCES accounts (id), email varchar NOT NULL,"
        " role_id bigint REFERENCES user_roles (id), disabled boolean NOT NULL DEFAULT false,"
        " approved boolean NOT NULL DEFAULT true, confirmed_at timestamp,"
        " encrypted_password varchar NOT NULL DEFAULT '');"
        " CREATE UNIQUE INDEX index_users_on_email ON users (lower(email));"
    )
    found: list[dict[str, object]] = [
        {
            "version": migration_id(base, 0),
            "name": "CreateTestReleaseSchema",
            "post_deployment": False,
            "sql": schema,
        }
    ]
    steps = sorted(
        {v for v in KNOWN_RELEASES if parse_version(v) <= parse_version(version)} | {version},
        key=parse_version,
    )
    for step in steps:
        if parse_version(step) <= parse_version(base):
            continue
        slug = step.replace(".", "_")
        found.append(
            {
                "version": migration_id(step, 1),
                "name": f"AddNoteIndex{slug}",
                "post_deployment": False,
                "sql": f"CREATE INDEX index_accounts_on_note_{slug} ON accounts (id, note);",
            }
        )
        found.append(
            {
                "version": migration_id(step, 2),
                "name": f"DropNoteIndex{slug}PostDeployment",
                "post_deployment": True,
                "sql": f"DROP INDEX index_accounts_on_note_{slug};",
            }
        )
    return sorted(found, key=lambda m: str(m["version"]))


def gemfile(version: str) -> str:
    ruby = requirements(version)["ruby"]
    return (
        f"# {PRODUCT_NAME} (a test double built by the test suite, not Mastodon): the Ruby its\n"
        "# programs need, as Mastodon's Gemfile states it. No gem is vendored: the stand-ins use\n"
        "# Debian's ruby-pg and ruby-redis.\n"
        f"ruby '{ruby}'\n"
    )


def package_json(version: str) -> str:
    document = {
        "name": "@mastodon/mastodon",
        "description": f"{PRODUCT_NAME} {version} (a test double, not Mastodon)",
        "private": True,
        "license": "AGPL-3.0-or-later",
        "engines": {"node": requirements(version)["node"]},
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def test_release_text(version: str) -> str:
    return (
        f"{PRODUCT_NAME} {version}\n"
        "\n"
        "This is NOT Mastodon. It is a test double built by chaton-toolkit's test suite\n"
        "(tests/mastodon_test_release/build.py) that stands in for a prepared Mastodon release\n"
        "(source, vendored gems, precompiled assets) where the real one cannot be downloaded.\n"
        "Its programs run on Debian's Ruby (with Debian's ruby-pg and ruby-redis) and Node.js:\n"
        "\n"
        "  bin/puma      the web process: / (a page naming the instance), /health,\n"
        "                /api/v2/instance (its domain, title and version), and\n"
        "                /chaton-test-release.json (its Unix user, settings, database, Redis),\n"
        "                on $SOCKET or $BIND:$PORT\n"
        "  streaming/    the streaming process: /api/v1/streaming/health, a WebSocket handshake\n"
        "  bin/sidekiq   a long-running process writing a heartbeat to the instance's Redis\n"
        "  bin/tootctl   accounts create/modify, media remove, preview_cards remove, version\n"
        "  bin/rails     db:migrate (SKIP_POST_DEPLOYMENT_MIGRATIONS=true: pre-deployment only),\n"
        "                db:migrate:status\n"
        "\n"
        "Every tootctl and rails run is recorded in the instance's database (table\n"
        "chaton_test_release_commands), every migration in chaton_test_release_migrations. A row\n"
        "'fail-migration' in the table chaton_test_release_switches makes db:migrate apply one\n"
        "migration and then fail.\n"
    )


def members(version: str, runtimes: dict[str, str] | None = None) -> dict[str, bytes | None]:
    """Every path of the archive under mastodon/ -> its content (None: a folder). `runtimes`
    ({name: version}, default bundled_runtimes(version)): the runtimes it bundles."""
    parse_version(version)
    if runtimes is None:
        runtimes = bundled_runtimes(version)
    files: dict[str, bytes | None] = {}
    for path in sorted(SOURCES.rglob("*")):
        relative = path.relative_to(SOURCES).as_posix()
        files[relative] = None if path.is_dir() else path.read_bytes()
    files["VERSION"] = f"{version}\n".encode()
    files["lib/mastodon/version.rb"] = version_rb(version).encode()
    files["TEST-RELEASE"] = test_release_text(version).encode()
    files["Gemfile"] = gemfile(version).encode()
    files["package.json"] = package_json(version).encode()
    files["db/chaton-test-release-migrations.json"] = (
        json.dumps(migrations(version), indent=2, sort_keys=True) + "\n"
    ).encode()
    # What a prepared release's precompiled assets look like to a web server.
    files["public/sw.js"] = f"// {PRODUCT_NAME} {version}: the service worker's place\n".encode()
    files["public/packs/chaton-test-release.js"] = (
        f"// {PRODUCT_NAME} {version}: a precompiled pack's place\n".encode()
    )
    files["public/assets/chaton-test-release.css"] = (
        f"/* {PRODUCT_NAME} {version}: a precompiled asset's place */\n".encode()
    )
    files["public/500.html"] = (
        f"<!doctype html><title>{PRODUCT_NAME}</title><p>{PRODUCT_NAME}: something went wrong.\n"
    ).encode()
    for name, runtime_version in runtimes.items():
        files[RUNTIME_PATHS[name]] = runtime_script(name, runtime_version).encode()
    files["public/system"] = None  # media go to each instance's own folder (PAPERCLIP_ROOT_PATH)
    files["tmp"] = None
    files["log"] = None
    files["vendor/bundle"] = None
    return files


def archive_bytes(version: str, runtimes: dict[str, str] | None = None) -> bytes:
    """The tar.gz, deterministic: sorted members, fixed time, root-owned, fixed modes."""
    files = members(version, runtimes)
    executable = EXECUTABLE | {path for path in RUNTIME_PATHS.values() if path in files}
    return gzip.compress(tar_bytes(TOP, files, executable, MTIME), compresslevel=9, mtime=0)


def build(
    version: str,
    cache_dir: Path,
    runtimes: dict[str, str] | None = None,
    declared: dict[str, str] | None = None,
) -> Path:
    """Writes the archive and its artifact.json into the cache; returns the archive's path.
    `runtimes`: the runtimes the archive bundles (default bundled_runtimes(version)); `declared`:
    the versions its manifest states for them, when a test wants a manifest that says otherwise
    (default: theirs)."""
    parse_version(version)
    if runtimes is None:
        runtimes = bundled_runtimes(version)
    unknown = sorted(set(runtimes) - set(RUNTIME_PATHS))
    if unknown:
        raise ValueError(f"unknown runtime {unknown[0]!r} (known: {', '.join(RUNTIME_PATHS)})")
    return write_release(
        cache_dir,
        "mastodon",
        version,
        f"mastodon-{version}.tar.gz",
        archive_bytes(version, runtimes),
        requires=requirements(version),
        # The runtimes in runtime/bin/ (ruby, node) and their versions.
        runtimes={**runtimes, **(declared or {})},
        # The stand-ins' gems: Debian's (a prepared release vendors its own); the test doubles of
        # bundled runtimes run Debian's Ruby and Node.js.
        debian_packages=list(DEBIAN_PACKAGES)
        + [DEBIAN_RUNTIME_PACKAGES[name] for name in sorted(runtimes)],
        product_name=PRODUCT_NAME,
        source="tests/mastodon_test_release/build.py (a test double, not Mastodon)",
    )


def parse_runtimes(text: str) -> dict[str, str]:
    """ "ruby=3.3.6,node=22.11.0" -> {"ruby": "3.3.6", "node": "22.11.0"}; "none" -> {}."""
    if text.strip() == "none":
        return {}
    found: dict[str, str] = {}
    for item in text.split(","):
        name, _, version = item.partition("=")
        if name.strip() not in RUNTIME_PATHS or not re.match(r"^[0-9]+(\.[0-9]+)*$", version):
            raise ValueError(
                f"not a runtime and its version (ruby=3.3.6, node=22.11.0, or none): {item!r}"
            )
        found[name.strip()] = version
    return found


def main(argv: list[str] | None = None) -> int:
    """`build.py VERSION CACHE_DIR [--runtimes ruby=X,node=Y|none] [--declare ruby=Z]`."""
    parser = argparse.ArgumentParser(
        description=f"Build the {PRODUCT_NAME} archive (a test double, not Mastodon)."
    )
    parser.add_argument("version", help="release version, e.g. 4.3.0")
    parser.add_argument("cache_dir", type=Path, help="artifact cache folder")
    parser.add_argument(
        "--runtimes",
        help="the runtimes it bundles (default: none up to 4.3, "
        + ",".join(f"{k}={v}" for k, v in BUNDLED_RUNTIMES.items())
        + " from 4.4 on), or none",
    )
    parser.add_argument(
        "--declare", help="versions its manifest states instead of the bundled ones' (ruby=3.4.1)"
    )
    args = parser.parse_args(argv)
    try:
        runtimes = parse_runtimes(args.runtimes) if args.runtimes is not None else None
        declared = parse_runtimes(args.declare) if args.declare is not None else None
        archive = build(args.version, args.cache_dir, runtimes, declared)
    except ValueError as error:
        parser.error(str(error))
    print(archive)
    return 0


if __name__ == "__main__":
    sys.exit(main())
