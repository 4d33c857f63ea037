"""`chaton artifacts`: the control node's verified cache of release archives: upstream's, fetched
and verified; copies of Nextcloud releases, added once their own code signing checks out; and
prepared Mastodon releases, added from their folder."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from chaton import artifacts, prepared
from chaton.errors import BadInput, ExitCode
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
            "key), and keeps it in a cache the roles copy from. A copy of a Nextcloud release is "
            "added once Nextcloud's own code signing checks out. A Mastodon release is prepared "
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
            "made it has the pinned fingerprint. A Nextcloud archive is then unpacked and its "
            "tree checked as `occ integrity:check-core` and `integrity:check-app` do (Nextcloud's "
            "code signing); the archive itself is kept as it is. Only then is it placed in the "
            "cache, "
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
        help=_("add a copy of a Nextcloud release, or a prepared Mastodon release, to the cache"),
        description=_(
            "Nextcloud: SOURCE is a release tree (a folder with version.php), a folder holding "
            "release trees, or an archive of one or several (.tar.zst, .tar.bz2, .tar.gz, "
            ".tar.xz, .tar); the tree whose version.php states VERSION is taken, extracted or "
            "copied into a work folder of the cache and checked as `occ integrity:check-core` "
            "and `integrity:check-app` do: every signature.json made by a certificate of the "
            "pinned Nextcloud Root Authority for its scope, every file listed with its SHA-512, "
            "nothing added. Signed files the copy lacks are listed (absent), not refused. It is "
            "then packed as <cache>/nextcloud/<version>/nextcloud-<version>.tar.zst without "
            "the files no signature covers (config/, themes/, updater/), and placed with its "
            "manifest at once. A release already cached and intact is kept: nothing is done. "
            "Exit code 0 when cached, 1 when the cache cannot be written, 2 on bad input (no "
            "tree of that version, a tree the code signing refuses)."
        )
        + "\n\n"
        + _(
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
    add.add_argument(
        "source",
        metavar="SOURCE",
        type=Path,
        help=_(
            "nextcloud: a release tree, a folder of release trees or an archive; "
            "mastodon: the prepared release's folder"
        ),
    )
    add.add_argument(
        "--debian-package",
        dest="debian_packages",
        action="append",
        default=[],
        metavar="PACKAGE",
        help=_(
            "mastodon: a Debian package its vendored gems link to beyond the role's "
            "mastodon_packages (repeat for several)"
        ),
    )
    _add_cache_argument(add)
    add.set_defaults(func=_add)

    listing = actions.add_parser(
        "list",
        help=_("list the cached archives"),
        description=_(
            "List what the cache holds, as the manifests record it: name, version, size, "
            "SHA-256, the fingerprint of the key that signed, what Nextcloud's code signing "
            "verified and the signed files absent. `check` re-reads an archive."
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
            "manifest, which must say how it was verified: the key that signed a fetched "
            "archive, Nextcloud's code signing for a Nextcloud release (its absent files are "
            "listed), what a prepared release needs. Exit code 0 when it matches, 1 when it is "
            "missing, altered or not verified, 2 on bad input."
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


def _step(text: str) -> None:
    """A long step (unpacking, verifying, packing), said on stderr as it starts."""
    print(text, file=sys.stderr, flush=True)


def _print_code_signing(manifest: artifacts.Manifest) -> None:
    """What the code signing of a release found: the scopes and files verified, each signed
    file absent, how many unsigned files were left out."""
    signing = manifest.code_signing
    if signing is None:
        return
    print(
        _(
            "  verified by {product}'s code signing: {scopes} scopes, {files} files, {absent}",
            product=artifacts.product_name(manifest),
            scopes=signing.scopes,
            files=signing.files,
            absent=artifacts.absent_text(len(signing.absent)),
        )
    )
    _print_absent(signing.absent)
    if signing.left_out:
        print(
            _(
                "  left out, no signature covers them: {count} files ({folders})",
                count=len(signing.left_out),
                folders=", ".join(sorted({p.split("/")[0] + "/" for p in signing.left_out})),
            )
        )


def _print_absent(paths: list[str]) -> None:
    for path in paths:
        print(_("  absent: {path}", path=path))


def _kept(already: str | None, replaced: tuple[str, ...]) -> bool:
    """Say `already` when the cache kept its intact copy (True), else what was wrong with the copy
    a new one replaced."""
    if already is not None:
        print(already)
        return True
    for problem in replaced:
        print(_("replaced the copy the cache held: {problem}", problem=problem), file=sys.stderr)
    return False


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
            step=_step,
        )
    finally:
        progress.end()
    manifest = result.manifest
    already = _(
        "{name} {version}: already in the cache and intact ({path}): nothing downloaded",
        name=manifest.name,
        version=manifest.version,
        path=str(result.path),
    )
    if _kept(already if not result.downloaded else None, result.replaced):
        return int(ExitCode.OK)
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
    _print_code_signing(manifest)
    return int(ExitCode.OK)


def _add(args: argparse.Namespace) -> int:
    if args.name in artifacts.KINDS:
        return _add_release(args)
    result = prepared.add(
        args.name,
        args.version,
        args.source,
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
            requires=artifacts.runtimes_text(manifest.requires),
            runtimes=artifacts.runtimes_text(manifest.runtimes)
            or _("no runtime (Debian's are used)"),
        )
    )
    return int(ExitCode.OK)


def _add_release(args: argparse.Namespace) -> int:
    """`add` of a release that carries its own code signing (Nextcloud)."""
    if args.debian_packages:
        raise BadInput(_("--debian-package is for prepared releases (mastodon) only"))
    result = artifacts.add_release(
        args.name, args.version, args.source, cache=args.cache, step=_step
    )
    manifest = result.manifest
    already = _(
        "{name} {version}: already in the cache and intact ({path}): nothing added",
        name=manifest.name,
        version=manifest.version,
        path=str(result.path),
    )
    if _kept(already if not result.added else None, result.replaced):
        return int(ExitCode.OK)
    print(
        _(
            "{name} {version}: verified by {product}'s code signing, cached as {path}",
            name=manifest.name,
            version=manifest.version,
            product=artifacts.product_name(manifest),
            path=str(result.path),
        )
    )
    _print_code_signing(manifest)
    return int(ExitCode.OK)


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
                origin=artifacts.origin(entry.manifest),
            )
        )
        if entry.manifest.code_signing is not None:
            _print_absent(entry.manifest.code_signing.absent)
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
        if result.manifest is not None:
            _print_code_signing(result.manifest)
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
