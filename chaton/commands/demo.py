"""`chaton demo`: the example collective deployed into local containers."""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from chaton import artifacts, containers
from chaton.commands.options import add_run_options
from chaton.commands.output import print_checks, print_summary, print_written
from chaton.costs.model import Period
from chaton.costs.sheets import report_for_inventory, write_sheets
from chaton.deploying import deploy, read_rendered
from chaton.errors import BadInput
from chaton.generated import generated_dir, render_inventory
from chaton.i18n import _, current_language, n_
from chaton.loader import group_vars
from chaton.paths import PROJECT_ROOT
from chaton.render import HOST_VARS
from chaton.runner import FACT_CACHE
from chaton.servers import inventory_file, inventory_hosts, is_container, server_shells
from chaton.vault import SECRETS_FILE, init_password_file, password_file
from chaton.verify import Address, check_collective, fetch
from chaton.yamlio import load_vars

EXAMPLE = PROJECT_ROOT / "inventories" / "example"
# What the demo writes besides the generated inventory (git-ignored).
DEMO_DIR = PROJECT_ROOT / ".demo"
# The local CA that signs the demo's certificates (the acme role's acme_local_ca_dir).
DEMO_CA = DEMO_DIR / "ca" / "ca.pem"
# Every vhost of the demo also answers <name>.localhost, which browsers resolve to this machine.
LOCAL_SUFFIX = "localhost"
HTTPS_PORT = 8443
# Where the demo keeps the test suite's test releases of Nextcloud and Mastodon when the
# control node's artifact cache has no real release of the pinned version (they cannot be
# downloaded everywhere).
DEMO_ARTIFACTS = DEMO_DIR / "artifacts"
TEST_RELEASE_BUILDERS = {
    kind: PROJECT_ROOT / "tests" / f"{kind}_test_release" / "build.py"
    for kind in ("nextcloud", "mastodon")
}
PRODUCTS = {"nextcloud": "Nextcloud", "mastodon": "Mastodon"}


def fetch_hint(kind: str, version: str) -> str:
    """How an operator puts the real release of `kind` `version` in the cache."""
    if kind in artifacts.KINDS:
        return f"chaton artifacts fetch {kind} {version}"
    return _("a prepared release, as roles/{kind}/README.md describes", kind=kind)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help=_("deploy the example collective into local containers"),
        description=_(
            "Start a local Debian 12 container for each server of the example collective that "
            "is reached through podman, deploy the site into it and summarise. "
            "--clean removes those containers."
        ),
    )
    parser.add_argument("--clean", action="store_true", help=_("remove the demo containers"))
    parser.add_argument(
        "--https-port",
        type=int,
        default=HTTPS_PORT,
        metavar="PORT",
        help=_(
            "the port of 127.0.0.1 where the first server's HTTPS is published (the next "
            "servers get the following ports; default: {port})",
            port=HTTPS_PORT,
        ),
    )
    add_run_options(parser)
    parser.set_defaults(func=_demo, inventory=EXAMPLE)


def container_hosts(hosts_file: Path) -> dict[str, str]:
    """{inventory name: container name} for the hosts reached through podman."""
    found = {
        name: str(hostvars.get("ansible_host", name))
        for name, hostvars in inventory_hosts(hosts_file).items()
        if is_container(hostvars)
    }
    if not found:
        raise BadInput(_("{path}: no host is reached through podman", path=hosts_file))
    return found


def _demo(args: argparse.Namespace) -> int:
    hosts = container_hosts(inventory_file(args.inventory))
    if args.clean:
        for name, container in hosts.items():
            removed = containers.stop(container)
            # Facts cached for the removed host would describe a machine that is gone.
            (FACT_CACHE / name).unlink(missing_ok=True)
            print(
                _("{name}: removed", name=container)
                if removed
                else _("{name}: not there", name=container)
            )
        # What the demo wrote: the example's generated files (with its vault password) and
        # the cost sheets. The example's own files are left as they are.
        for folder in (generated_dir(args.inventory), DEMO_DIR):
            if folder.exists():
                shutil.rmtree(folder)
                print(_("{name}: removed", name=str(folder)))
        return 0
    # The example's vault password is made on first use (it is never committed).
    password = password_file(args.inventory, args.vault_password_file)
    if not password.exists():
        password.parent.mkdir(parents=True, exist_ok=True)
        init_password_file(password)
    report = render_inventory(args.inventory, args.vault_password_file, local_suffix=LOCAL_SUFFIX)
    print(
        _(
            "render: {written}, {unchanged}",
            written=n_("{count} file written", "{count} files written", len(report.written)),
            unchanged=n_("{count} unchanged", "{count} unchanged", len(report.unchanged)),
        )
    )
    containers.build_image()
    ports = {name: args.https_port + index for index, name in enumerate(hosts)}
    for name, container in hosts.items():
        publish = (f"127.0.0.1:{ports[name]}:443",)
        created = containers.start(
            containers.TestHost(name=container, hostname=name, publish=publish)
        )
        print(
            _(
                "{name}: container {container} {state}",
                name=name,
                container=container,
                state=_("created") if created else _("running"),
            )
        )
        if not created and containers.published_port(container, 443) != ports[name]:
            raise BadInput(
                _(
                    "{container} exists but does not publish 127.0.0.1:{port}: remove it with "
                    "`make demo-clean` (or `chaton demo --clean`), then run the demo again",
                    container=container,
                    port=ports[name],
                )
            )
    env = demo_artifacts(args.inventory)
    collective = read_rendered(args.inventory, args.vault_password_file)
    result = deploy(
        collective, limit=args.limit, check=args.check, accelerator=args.accelerator, env=env
    )
    code = print_summary(result, as_json=args.json)
    if code == 0:
        write_demo_costs(args.inventory)
        if not args.json:
            print_where_to_look(args.inventory, ports)
            print()
            print(_("Checks (chaton verify --ca-file {ca}):", ca=str(DEMO_CA)))
            addresses = {name: Address("127.0.0.1", port) for name, port in ports.items()}
            shells = server_shells(inventory_file(args.inventory))
            cache = Path(env[artifacts.CACHE_ENV]) if artifacts.CACHE_ENV in env else None
            checks = check_collective(
                generated_dir(args.inventory), addresses, DEMO_CA, shells, cache
            )
            print_checks(checks)
            code = 0 if all(check.ok for check in checks) else 1
    return code


def pinned_versions(inventory: Path) -> dict[str, str]:
    """{kind: version} of the releases the inventory's group_vars pin (`nextcloud_version`,
    `mastodon_version`), for the kinds the demo has a test release of."""
    pins: dict[str, str] = {}
    for data in group_vars(inventory):
        for kind in TEST_RELEASE_BUILDERS:
            value = data.get(f"{kind}_version")
            if isinstance(value, str):
                pins[kind] = value
    return pins


def real_release(kind: str, version: str) -> artifacts.Manifest | None:
    """The manifest of the real release of `kind` `version` in the control node's artifact
    cache when it is there intact, as `chaton artifacts check` finds it (its archive's size and
    digests, Nextcloud's code signing, the key that signed a fetched one, what a prepared
    Mastodon release needs) and not a test release; else None."""
    result = artifacts.check(kind, version)
    if result.ok and result.manifest is not None and not result.manifest.test_release:
        return result.manifest
    return None


def real_release_ok(kind: str, version: str) -> bool:
    """Whether the control node's artifact cache holds the real release (`real_release`)."""
    return real_release(kind, version) is not None


def link_real_release(kind: str, version: str, cache: Path) -> None:
    """Link, in the artifact cache `cache`, the folder of `kind` `version` to the control node's
    (where `real_release` found it)."""
    folder = artifacts.artifact_folder(cache, kind, version)
    real = artifacts.artifact_folder(artifacts.default_cache(), kind, version).resolve()
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.symlink_to(real, target_is_directory=True)


def release_into(cache: Path, kind: str, version: str) -> artifacts.Manifest | None:
    """Put `kind` `version` in the artifact cache `cache`, which does not hold it: a link to the
    real release of the control node's cache when it is there intact (its manifest returned),
    else the test suite's test release (None)."""
    manifest = real_release(kind, version)
    if manifest is None:
        build_test_release(kind, version, cache)
    else:
        link_real_release(kind, version, cache)
    return manifest


def build_test_release(kind: str, version: str, cache: Path) -> None:
    """Write the test suite's test release of `kind` `version` into the artifact cache `cache`."""
    builder_path = TEST_RELEASE_BUILDERS[kind]
    spec = importlib.util.spec_from_file_location(f"{kind}_test_release", builder_path)
    if spec is None or spec.loader is None:  # pragma: no cover - the file is in the repo
        raise BadInput(_("{path} is missing", path=str(builder_path)))
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    builder.build(version, cache)


def demo_artifacts(inventory: Path) -> dict[str, str]:
    """The environment that points the deploy at its artifact cache.

    When the control node's cache holds every pinned release, real and intact, the deploy uses
    it as it is. Otherwise the deploy reads the demo's own cache, where each missing release is
    the test suite's test release of that version (the demo says so) and each real one is a link
    to the control node's folder. The control node's cache is never written."""
    pins = pinned_versions(inventory)
    reals = {kind: real_release(kind, version) for kind, version in pins.items()}
    missing = {kind for kind, found in reals.items() if found is None}
    for _kind, found in sorted(reals.items()):
        if found is not None:
            print(
                _(
                    "{release} (from the artifact cache {path})",
                    release=artifacts.describe_release(found),
                    path=str(artifacts.default_cache()),
                )
            )
    if not missing:
        return {}
    for kind, version in sorted(pins.items()):
        folder = artifacts.artifact_folder(DEMO_ARTIFACTS, kind, version)
        if kind not in missing:
            real = artifacts.artifact_folder(artifacts.default_cache(), kind, version).resolve()
            if folder.is_symlink() or folder.exists():
                if folder.resolve() == real:
                    continue
                if folder.is_symlink():
                    folder.unlink()
                else:
                    shutil.rmtree(folder)
            link_real_release(kind, version, DEMO_ARTIFACTS)
            continue
        if folder.is_symlink():  # a real release the control node's cache no longer holds
            folder.unlink()
        manifest = folder / artifacts.MANIFEST
        if not manifest.is_file() or not json.loads(manifest.read_text()).get("test_release"):
            build_test_release(kind, version, DEMO_ARTIFACTS)
        print(
            _(
                "{product} {version} is not in the artifact cache ({how}): the demo runs the "
                "test suite's test release of {product} instead, which is not {product} "
                "({path}).",
                product=PRODUCTS[kind],
                version=version,
                how=fetch_hint(kind, version),
                path=str(folder),
            )
        )
    return {artifacts.CACHE_ENV: str(DEMO_ARTIFACTS)}


def demo_urls(generated: Path, ports: dict[str, int]) -> dict[str, list[str]]:
    """{structure (or "shared"): its https URLs} from the generated host_vars of the servers.

    Each vhost's URL is its main name followed by `.localhost` and its server's port."""
    urls: dict[str, list[str]] = {}
    for server, port in ports.items():
        path = generated / HOST_VARS / f"{server}.yml"
        if not path.exists():
            continue
        data = load_vars(path.read_text(encoding="utf-8")) or {}
        for vhost in data.get("nginx_vhosts", []):
            local = [n for n in vhost["server_names"] if n.endswith(f".{LOCAL_SUFFIX}")]
            if local:
                urls.setdefault(vhost["structure"] or "shared", []).append(
                    f"https://{local[0]}:{port}/"
                )
    return {key: sorted(value) for key, value in sorted(urls.items())}


def https_status(url: str, ca: Path, *, timeout: float = 10.0) -> int | None:
    """The HTTP status of GET `url`, reached on 127.0.0.1 whatever its name, with the name's SNI
    and a certificate checked against `ca`; None when nothing answers it (a name no vhost serves
    gets its connection closed by the default server), the certificate is not valid or
    the CA file cannot be read."""
    parts = urlsplit(url)
    address = Address("127.0.0.1", parts.port or 443)
    return fetch(parts.hostname or "", address, ca, path=parts.path or "/", timeout=timeout).status


def print_where_to_look(inventory: Path, ports: dict[str, int]) -> None:
    """What a new user of the demo needs next: the URLs (each one tried), the CA, the
    credentials."""
    out = generated_dir(inventory)
    print()
    print(_("Each structure's addresses (published on 127.0.0.1):"))
    for structure, urls in demo_urls(out, ports).items():
        print(f"  {structure}:")
        for url in urls:
            status = https_status(url, DEMO_CA)
            shown = str(status) if status is not None else _("not served (yet)")
            print(f"    {url}  {shown}")
    print(
        _(
            "Certificates are signed by the demo's local CA: trust {ca} in your browser (or pass "
            "it to curl with --cacert).",
            ca=str(DEMO_CA),
        )
    )
    print(
        _(
            "Generated credentials: ansible-vault view --vault-password-file {password} {vault}",
            password=str(password_file(inventory, None)),
            vault=str(out / SECRETS_FILE),
        )
    )


def write_demo_costs(inventory: Path) -> None:
    """The example's cost sheets for this year, in every format, under .demo/costs/."""
    period = Period(date(date.today().year, 1, 1), 12)
    report, _structures = report_for_inventory(inventory, period)
    out = DEMO_DIR / "costs" / period.label
    files = write_sheets(report, out, lang=current_language())
    print_written(report, files, out)
