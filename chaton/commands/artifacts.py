"""`chaton artifacts`: the control node's verified cache of release archives: upstream's, fetched
and verified, and prepared Mastodon releases, added from their folder."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from chaton import artifacts, prepared
from chaton.errors import ExitCode
from chaton.i18n import _


def _add_cache_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cache",
        type=Path,
        metavar="DIR",
        help=_(
            "the cache folder (default: ${env}, else .cache/artifacts at the project's root)",
            env=artifacts.CACHE_ENV,
        ),
    )


def _add_artifact_arguments(parser: argparse.ArgumentParser) -> None:
    known = ", ".join(sorted({*artifacts.KINDS, *artifacts.PREPARED}))
    parser.add_argument("name", metavar="NAME", help=_("the artifact ({known})", known=known))
    parser.add_argument("version", metavar="VERSION", help=_("its version, like 30.0.4"))


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "artifacts",
        help=_("fetch, add, list and check the verified release archives the roles deploy"),
        description=_(
            "Servers never download from upstream: the control node fetches a release archive "
            "once, checks its checksum and its OpenPGP signature (made by the upstream's pinned "
            "key), and keeps it in a cache the roles copy from. A Mastodon release is prepared "
            "elsewhere and added from its folder."
        ),
    )
    actions = parser.add_subparsers(title=_("actions"), metavar="ACTION", required=True)

    fetch = actions.add_parser(
        "fetch",
        help=_("download, verify and cache a release archive"),
        description=_(
            "Download the archive, its checksum file and its signature from the upstream's "
            "release folder, check the checksum, then the signature with gpgv against the "
            "project's copy of the upstream's key (chaton/artifact_keys/) and that the key that "
            "made it has the pinned fingerprint. Only then is the archive placed in the cache, "
            "as <cache>/<name>/<version>/, with its manifest artifact.json; on any failure the "
            "cache is left as it was. A version already cached and intact is not downloaded "
            "again. Exit code 0 when cached, 1 when a download or a check fails, 2 on bad input "
            "(an unknown artifact, a bad version, a missing key file)."
        ),
    )
    _add_artifact_arguments(fetch)
    fetch.add_argument(
        "--from",
        dest="base_url",
        metavar="BASE_URL",
        help=_("the release folder to download from (default: the upstream's)"),
    )
    _add_cache_argument(fetch)
    fetch.add_argument(
        "--keyring",
        type=Path,
        metavar="FILE",
        help=_(
            "check the signature against this key file instead of the project's (for tests); "
            "the key that signed must still have the pinned fingerprint"
        ),
    )
    fetch.set_defaults(func=_fetch)

    add = actions.add_parser(
        "add",
        help=_("add a prepared Mastodon release to the cache, from its folder"),
        description=_(
            "A Mastodon release is prepared where upstream is reachable: its source at its tag, "
            "its gems vendored (bundle install in deployment mode, binstubs bin/puma and "
            "bin/sidekiq), its assets compiled, and in runtime/bin/ the Ruby and Node.js it "
            "runs on when Debian's are too old for it. `add` checks the folder (its programs, "
            "the version lib/mastodon/version.rb states), reads what it needs (the ruby line of "
            "its Gemfile, engines.node of its package.json), asks each bundled runtime its "
            "version, which must satisfy that, then packs it and places it in the cache as "
            "<cache>/mastodon/<version>/ with its manifest, all at once; on any failure the "
            "cache is left as it was. Exit code 0 when added, 1 when a runtime does not answer "
            "or the cache cannot be written, 2 on bad input (an incomplete folder, another "
            "version, a runtime too old, a release already cached and intact)."
        ),
    )
    _add_artifact_arguments(add)
    add.add_argument("folder", metavar="FOLDER", type=Path, help=_("the prepared release"))
    add.add_argument(
        "--debian-package",
        dest="debian_packages",
        action="append",
        default=[],
        metavar="PACKAGE",
        help=_(
            "a Debian package its vendored gems link to beyond the role's mastodon_packages "
            "(repeat for several)"
        ),
    )
    _add_cache_argument(add)
    add.set_defaults(func=_add)

    listing = actions.add_parser(
        "list",
        help=_("list the cached archives"),
        description=_(
            "List what the cache holds, as the manifests record it: name, version, size, "
            "SHA-256 and the fingerprint of the key that signed. `check` re-reads an archive."
        ),
    )
    _add_cache_argument(listing)
    listing.add_argument(
        "--json", action="store_true", help=_("print the result as JSON (for scripts)")
    )
    listing.set_defaults(func=_list)

    check = actions.add_parser(
        "check",
        help=_("re-verify a cached archive against its manifest"),
        description=_(
            "Re-read a cached archive and compare its size, SHA-512 and SHA-256 with its "
            "manifest. Exit code 0 when it matches, 1 when it is missing or altered, 2 on bad "
            "input."
        ),
    )
    _add_artifact_arguments(check)
    _add_cache_argument(check)
    check.set_defaults(func=_check)


class DownloadProgress:
    """The archive's download on stderr: its address, then a live count on a terminal."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr  # read when called: tests replace sys.stderr
        self.live = self.stream.isatty()
        self.shown = -1
        self.open_line = False

    def __call__(self, url: str, done: int, total: int | None) -> None:
        if done == 0:
            self.end()
            print(_("downloading {url}", url=url), file=self.stream)
            return
        megabytes = done // 1_000_000
        if not self.live or megabytes == self.shown:
            return
        self.shown = megabytes
        text = (
            _("{done} MB", done=megabytes)
            if total is None
            else _("{done} / {total} MB", done=megabytes, total=total // 1_000_000)
        )
        self.stream.write(f"\r  {text}")
        self.stream.flush()
        self.open_line = True

    def end(self) -> None:
        if self.open_line:
            self.stream.write("\n")
            self.open_line = False


def _fetch(args: argparse.Namespace) -> int:
    progress = DownloadProgress()
    try:
        result = artifacts.fetch(
            args.name,
            args.version,
            cache=args.cache,
            base_url=args.base_url,
            key_file=args.keyring,
            progress=progress,
        )
    finally:
        progress.end()
    manifest = result.manifest
    if not result.downloaded:
        print(
            _(
                "{name} {version}: already in the cache and intact ({path}): nothing downloaded",
                name=manifest.name,
                version=manifest.version,
                path=str(result.path),
            )
        )
        return int(ExitCode.OK)
    for problem in result.replaced:
        print(
            _("replaced the copy the cache held: {problem}", problem=problem),
            file=sys.stderr,
        )
    print(
        _(
            "{name} {version}: checksum and signature verified (signed by {fingerprint}), "
            "cached as {path}",
            name=manifest.name,
            version=manifest.version,
            fingerprint=manifest.signer_fingerprint,
            path=str(result.path),
        )
    )
    return int(ExitCode.OK)


def _runtimes(values: dict[str, str] | None) -> str:
    """{"ruby": ">= 3.2.0", "node": ">= 20"} -> "Ruby >= 3.2.0, Node.js >= 20"."""
    names = prepared.RUNTIME_NAMES
    rank = {name: index for index, name in enumerate(names)}
    items = sorted((values or {}).items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0]))
    return ", ".join(f"{names.get(k, k)} {v}" for k, v in items)


def _add(args: argparse.Namespace) -> int:
    result = prepared.add(
        args.name,
        args.version,
        args.folder,
        cache=args.cache,
        debian_packages=args.debian_packages,
    )
    for problem in result.replaced:
        print(_("replaced the copy the cache held: {problem}", problem=problem), file=sys.stderr)
    manifest = result.manifest
    print(
        _(
            "{name} {version}: cached as {path}; needs {requires}; bundles {runtimes}",
            name=manifest.name,
            version=manifest.version,
            path=str(result.path),
            requires=_runtimes(manifest.requires),
            runtimes=_runtimes(manifest.runtimes) or _("no runtime (Debian's are used)"),
        )
    )
    return int(ExitCode.OK)


def _origin(manifest: artifacts.Manifest) -> str:
    """Where a cached archive comes from, for `list`."""
    if manifest.test_release:
        return _("a test release (test double)")
    if manifest.signer_fingerprint:
        return _("signed by {fingerprint}", fingerprint=manifest.signer_fingerprint)
    return _(
        "prepared, needs {requires}, bundles {runtimes}",
        requires=_runtimes(manifest.requires) or "?",
        runtimes=_runtimes(manifest.runtimes) or _("no runtime"),
    )


def _list(args: argparse.Namespace) -> int:
    cache = args.cache or artifacts.default_cache()
    entries = artifacts.list_cache(cache)
    if args.json:
        rows = [
            {
                **(entry.manifest.dump() if entry.manifest else {}),
                "name": entry.name,  # the folder's; `check` compares them with the manifest's
                "version": entry.version,
                "folder": str(entry.folder),
                "problem": entry.problem,
            }
            for entry in entries
        ]
        print(json.dumps(rows, indent=2))
        return int(ExitCode.OK)
    if not entries:
        print(_("the cache {path} holds no artifact", path=str(cache)))
    for entry in entries:
        if entry.manifest is None:
            print(f"{entry.name} {entry.version}: {entry.problem}")
            continue
        print(
            _(
                "{name} {version}: {size} bytes, sha256 {sha256}, {origin}",
                name=entry.name,
                version=entry.version,
                size=entry.manifest.size,
                sha256=entry.manifest.sha256,
                origin=_origin(entry.manifest),
            )
        )
    return int(ExitCode.OK)


def _check(args: argparse.Namespace) -> int:
    result = artifacts.check(args.name, args.version, args.cache)
    if result.ok:
        print(
            _(
                "{name} {version}: OK ({path} matches its manifest: size, SHA-512, SHA-256)",
                name=result.name,
                version=result.version,
                path=str(result.folder),
            )
        )
        return int(ExitCode.OK)
    for problem in result.problems:
        print(
            _(
                "{name} {version}: FAILED: {problem}",
                name=result.name,
                version=result.version,
                problem=problem,
            )
        )
    return int(ExitCode.FAILED)
