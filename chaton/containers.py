"""Local Debian 12 systemd containers: the demo server and the test hosts.

Written once, used by the demo (`chaton container`), the whole-site tests and the molecule
scenarios' helpers. Every podman call goes through `podman()`, which points podman at the
project's containers.conf (runc, ulimits, capabilities, the shared apt cache): see
`.config/containers.conf`.

The base image is built without any image registry: debootstrap from the Debian mirror this
machine's own apt configuration names, then `podman import`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from chaton.errors import ChatonError
from chaton.i18n import _
from chaton.paths import APT_ARCHIVE_CACHE, CONTAINERS_CONF

IMAGE = "localhost/chaton-debian12:latest"
SUITE = "bookworm"
# What a test host needs before Ansible reaches it: systemd as PID 1, Python for Ansible's
# modules, python3-apt for the apt module, and the usual base of a Debian server.
IMAGE_PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "python3",
    "python3-apt",
    "iproute2",
    "sudo",
    "ca-certificates",
)
BOOT_TIMEOUT = 90.0


@dataclass(frozen=True)
class AptSource:
    """One deb822 stanza of the host's apt configuration that serves Debian itself."""

    uris: tuple[str, ...]
    suites: tuple[str, ...]
    components: tuple[str, ...]
    signed_by: str = ""


def _stanzas(text: str) -> Iterator[dict[str, str]]:
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = ""
        for line in block.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if line[0].isspace() and key:
                fields[key] += " " + line.strip()
                continue
            key, _sep, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
        if fields:
            yield fields


def _is_debian_suite(suite: str) -> bool:
    return suite == SUITE or suite.startswith(f"{SUITE}-")


def parse_apt_sources(deb822: Sequence[str], one_line: Sequence[str]) -> list[AptSource]:
    """The Debian (bookworm) sources among the host's apt configuration.

    `deb822` are the texts of `*.sources` files, `one_line` of `sources.list`-style files.
    Third-party repositories (their suites are not bookworm[-…]) are left out.
    """
    found: list[AptSource] = []
    for text in deb822:
        for stanza in _stanzas(text):
            if "deb" not in stanza.get("types", "").split():
                continue
            if stanza.get("enabled", "yes").lower() == "no":
                continue
            suites = tuple(s for s in stanza.get("suites", "").split() if _is_debian_suite(s))
            if suites and stanza.get("uris"):
                found.append(
                    AptSource(
                        uris=tuple(stanza["uris"].split()),
                        suites=suites,
                        components=tuple(stanza.get("components", "main").split()),
                        signed_by=stanza.get("signed-by", ""),
                    )
                )
    for text in one_line:
        for line in text.splitlines():
            words = re.sub(r"\[[^]]*\]", "", line).split()
            if len(words) >= 3 and words[0] == "deb" and _is_debian_suite(words[2]):
                found.append(AptSource((words[1],), (words[2],), tuple(words[3:]) or ("main",)))
    return found


def host_apt_sources(etc_apt: Path = Path("/etc/apt")) -> list[AptSource]:
    """Read the Debian sources this machine uses (the mirror is never written in the project)."""
    deb822 = [p.read_text() for p in sorted((etc_apt / "sources.list.d").glob("*.sources"))]
    one_line = [p.read_text() for p in sorted((etc_apt / "sources.list.d").glob("*.list"))]
    main_list = etc_apt / "sources.list"
    if main_list.exists():
        one_line.insert(0, main_list.read_text())
    sources = parse_apt_sources(deb822, one_line)
    if not any(SUITE in s.suites for s in sources):
        raise ChatonError(
            _(
                "no Debian {suite} mirror found in {path}: the base image is built from the "
                "mirror the host's apt uses",
                suite=SUITE,
                path=etc_apt,
            )
        )
    return sources


def render_sources(sources: Sequence[AptSource]) -> str:
    """The deb822 file written into the image, with the host's Debian mirrors."""
    stanzas = []
    for source in sources:
        lines = [
            "Types: deb",
            f"URIs: {' '.join(source.uris)}",
            f"Suites: {' '.join(source.suites)}",
            f"Components: {' '.join(source.components)}",
            "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg",
        ]
        stanzas.append("\n".join(lines))
    return "\n\n".join(stanzas) + "\n"


def podman_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("CONTAINERS_CONF", str(CONTAINERS_CONF))
    return env


def podman(
    *args: str, check: bool = True, capture: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run podman with the project's containers.conf."""
    if shutil.which("podman") is None:
        raise ChatonError(_("podman is not installed: run `make host-packages` (as root)"))
    result = subprocess.run(
        ["podman", *args],
        env=podman_env(),
        text=True,
        capture_output=capture,
        check=False,
    )
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout or "").strip()
        raise ChatonError(
            _("podman {command} failed: {detail}", command=args[0], detail=detail[-2000:])
        )
    return result


def apt_cache_dir(name: str) -> Path:
    """The host folder kept as the container's /var/cache/apt/archives."""
    return APT_ARCHIVE_CACHE / name


def image_exists(image: str = IMAGE) -> bool:
    return podman("image", "exists", image, check=False).returncode == 0


def build_image(image: str = IMAGE, *, force: bool = False, log: bool = True) -> bool:
    """Build the Debian 12 systemd base image unless it exists. Returns True if built."""
    if image_exists(image) and not force:
        return False
    if shutil.which("debootstrap") is None:
        raise ChatonError(_("debootstrap is not installed: run `make host-packages` (as root)"))
    sources = host_apt_sources()
    mirror = next(s.uris[0] for s in sources if SUITE in s.suites)
    with tempfile.TemporaryDirectory(prefix="chaton-rootfs-", dir="/var/tmp") as tmp:
        root = Path(tmp) / "rootfs"
        if log:
            print(_("Building {image} with debootstrap from {mirror}…", image=image, mirror=mirror))
        _run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(IMAGE_PACKAGES)}",
                SUITE,
                str(root),
                mirror,
            ]
        )
        (root / "etc/apt/sources.list").unlink(missing_ok=True)
        (root / "etc/apt/sources.list.d/debian.sources").write_text(render_sources(sources))
        # Package lists are part of the image, so that test hosts start with a fresh apt cache.
        resolv = root / "etc/resolv.conf"
        resolv.unlink(missing_ok=True)
        shutil.copyfile("/etc/resolv.conf", resolv)
        try:
            _run(["chroot", str(root), "apt-get", "update", "-q"])
            _run(["chroot", str(root), "apt-get", "clean"])
        finally:
            resolv.unlink(missing_ok=True)
        # systemd makes a fresh machine id at each boot of a container.
        (root / "etc/machine-id").write_text("")
        with subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE) as tar:
            imported = subprocess.run(
                ["podman", "import", "--change", 'CMD ["/sbin/init"]', "-", image],
                stdin=tar.stdout,
                env=podman_env(),
                capture_output=True,
                text=True,
                check=False,
            )
        if tar.returncode != 0 or imported.returncode != 0:
            raise ChatonError(_("podman import failed: {detail}", detail=imported.stderr.strip()))
    return True


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()[-2000:]
        raise ChatonError(_("{command} failed: {detail}", command=command[0], detail=detail))


@dataclass(frozen=True)
class TestHost:
    """A Debian 12 systemd container standing in for a server."""

    name: str
    hostname: str = ""
    publish: tuple[str, ...] = ()
    image: str = IMAGE
    labels: dict[str, str] = field(default_factory=dict)

    __test__ = False  # not a pytest test class


def exists(name: str) -> bool:
    return podman("container", "exists", name, check=False).returncode == 0


def is_running(name: str) -> bool:
    result = podman("inspect", "--format", "{{.State.Running}}", name, check=False)
    return result.returncode == 0 and result.stdout.strip() == "true"


def published_port(name: str, container_port: int) -> int | None:
    """The port of 127.0.0.1 where container `name` publishes `container_port`, if any."""
    result = podman("port", name, f"{container_port}/tcp", check=False)
    for line in result.stdout.split() if result.returncode == 0 else []:
        host, _sep, port = line.rpartition(":")
        if host == "127.0.0.1" and port.isdigit():
            return int(port)
    return None


def start(host: TestHost, *, timeout: float = BOOT_TIMEOUT) -> bool:
    """Start `host` (creating it when absent) and wait for systemd. Returns True if created."""
    created = False
    if not exists(host.name):
        if not image_exists(host.image):
            raise ChatonError(_("the image {image} is missing: run `make image`", image=host.image))
        cache = apt_cache_dir(host.name)
        cache.mkdir(parents=True, exist_ok=True)
        args = [
            "run",
            "--detach",
            "--name",
            host.name,
            "--hostname",
            host.hostname or host.name,
            "--systemd=always",
            "--label",
            "org.chaton-toolkit.role=test-host",
            # Packages are downloaded once per container name, not at every re-creation.
            "--volume",
            f"{cache}:/var/cache/apt/archives",
        ]
        for key, value in sorted(host.labels.items()):
            args += ["--label", f"{key}={value}"]
        for port in host.publish:
            if not port.startswith("127.0.0.1:"):
                raise ChatonError(_("ports are published on 127.0.0.1 only, not {port}", port=port))
            args += ["--publish", port]
        podman(*args, host.image, "/sbin/init")
        created = True
    elif not is_running(host.name):
        podman("start", host.name)
    wait_for_systemd(host.name, timeout=timeout)
    return created


def wait_for_systemd(name: str, *, timeout: float = BOOT_TIMEOUT) -> str:
    """Wait (bounded) until systemd in the container has finished booting."""
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        result = podman("exec", name, "systemctl", "is-system-running", check=False)
        state = result.stdout.strip()
        if state in ("running", "degraded"):
            return state
        time.sleep(0.5)
    raise ChatonError(
        _(
            "{name}: systemd did not finish booting in {seconds:.0f} s (state: {state})",
            name=name,
            seconds=timeout,
            state=state or "unknown",
        )
    )


def stop(name: str) -> bool:
    """Stop and remove the container `name`. Returns True if it existed.

    Killed at once, not shut down: the container goes with everything in it (a test host, the
    demo host), so waiting for its services to stop would only cost time."""
    if not exists(name):
        return False
    podman("rm", "--force", "--time", "0", name)
    return True


@contextmanager
def running(host: TestHost) -> Iterator[TestHost]:
    """A test host for the duration of a block, removed afterwards even when the block fails."""
    try:
        start(host)
        yield host
    finally:
        stop(host.name)


def exec_in(name: str, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command inside a container (podman exec): never through its bridge address."""
    return podman("exec", name, *command, check=check)
