"""The demo: which hosts of an inventory it runs as local containers, and the URLs it prints."""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import ROOT
from tls_double import https_server

from chaton import artifacts
from chaton.codesigning import ROOT_FINGERPRINT
from chaton.commands import demo
from chaton.commands.demo import (
    container_hosts,
    demo_urls,
    https_status,
    pinned_versions,
)
from chaton.errors import BadInput
from chaton.loader import load_inventory
from chaton.placement import place
from chaton.render import render


def test_example_server_is_the_demo_container() -> None:
    hosts = container_hosts(ROOT / "inventories" / "example" / "hosts.yml")
    assert hosts == {"fabrique-1": "chaton-demo-fabrique-1"}


def test_nested_groups_and_ssh_hosts(tmp_path: Path) -> None:
    path = tmp_path / "hosts.yml"
    path.write_text(
        "all:\n"
        "  children:\n"
        "    web:\n"
        "      children:\n"
        "        front:\n"
        "          hosts:\n"
        "            a: {ansible_connection: containers.podman.podman}\n"
        "            b: {ansible_host: 192.0.2.7}\n"
        "    lists:\n"
        "      hosts:\n"
        "        c: {ansible_connection: podman, ansible_host: demo-c}\n"
    )
    assert container_hosts(path) == {"a": "a", "c": "demo-c"}


def test_no_container_host_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "hosts.yml"
    path.write_text("all:\n  hosts:\n    a: {ansible_host: 192.0.2.7}\n")
    with pytest.raises(BadInput, match="no host is reached through podman"):
        container_hosts(path)


def test_demo_urls_name_each_structure_under_localhost(tmp_path: Path) -> None:
    inventory = load_inventory(ROOT / "inventories" / "example")
    plan = place(inventory.collective, inventory.structures)
    files = render(inventory, plan, local_suffix="localhost").files
    host_vars = tmp_path / "host_vars"
    host_vars.mkdir()
    (host_vars / "fabrique-1.yml").write_text(files["host_vars/fabrique-1.yml"])
    urls = demo_urls(tmp_path, {"fabrique-1": 8443})
    # From structures/velo-cite.yml by hand: Nextcloud, lists and website, under .localhost.
    assert urls["velo-cite"] == [
        "https://cloud.velo-cite.fr.localhost:8443/",
        "https://lists.velo-cite.fr.localhost:8443/",
        "https://velo-cite.fr.localhost:8443/",
    ]
    # The shared Mastodon belongs to no structure.
    assert urls["shared"] == ["https://social.fabrique-transition.org.localhost:8443/"]
    assert sorted(urls) == [
        "epicerie-coop",
        "monnaie-locale",
        "reseau-jardins",
        "shared",
        "theatre-du-lien",
        "velo-cite",
    ]
    # A server whose files are not rendered yet has no URL.
    assert demo_urls(tmp_path, {"elsewhere": 8444}) == {}


@pytest.fixture
def https_test_server(tmp_path: Path) -> Iterator[tuple[int, Path, Path]]:
    with https_server(tmp_path) as server:
        yield server


def test_https_status_checks_the_name_and_the_ca(
    https_test_server: tuple[int, Path, Path],
) -> None:
    port, ca, other = https_test_server
    assert https_status(f"https://site.localhost:{port}/", ca) == 200
    assert https_status(f"https://site.localhost:{port}/missing", ca) == 404
    # Another CA, or a name the certificate does not carry: no status, as for a closed answer.
    assert https_status(f"https://site.localhost:{port}/", other) is None
    assert https_status(f"https://elsewhere.localhost:{port}/", ca) is None


def test_https_status_of_a_closed_port_is_none(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert https_status(f"https://site.localhost:{port}/", tmp_path / "none.pem", timeout=2) is None


def test_the_example_pins_its_nextcloud_and_mastodon_versions() -> None:
    pins = pinned_versions(ROOT / "inventories" / "example")
    assert pins == {"nextcloud": "31.0.11", "mastodon": "4.3.0"}


def test_without_the_real_release_the_demo_uses_the_test_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An empty control-node cache: the demo builds the test release of the pinned version into
    its own cache (never the control node's), points the deploy at it, and says so."""
    control_cache = tmp_path / "control"
    monkeypatch.setenv("CHATON_ARTIFACTS_DIR", str(control_cache))
    monkeypatch.setattr(demo, "DEMO_ARTIFACTS", tmp_path / "demo")
    env = demo.demo_artifacts(ROOT / "inventories" / "example")
    assert env == {"CHATON_ARTIFACTS_DIR": str(tmp_path / "demo")}
    for kind, version in (("nextcloud", "31.0.11"), ("mastodon", "4.3.0")):
        manifest = json.loads((tmp_path / f"demo/{kind}/{version}/artifact.json").read_text())
        assert manifest["test_release"] is True and manifest["version"] == version
    assert not control_cache.exists()
    out = capsys.readouterr().out
    assert "the demo runs the test suite's test release of Nextcloud instead" in out
    assert "the demo runs the test suite's test release of Mastodon instead" in out
    assert "(a prepared release, as roles/mastodon/README.md describes)" in out


def prepared_release_double(cache: Path, version: str) -> Path:
    """A test double of a prepared Mastodon release in a control node's cache: its manifest is
    a prepared release's (what `chaton artifacts add` writes), not a test release's."""
    folder = cache / "mastodon" / version
    folder.mkdir(parents=True)
    data = b"prepared release double"
    (folder / f"mastodon-{version}.tar.gz").write_bytes(data)
    manifest = {
        "name": "mastodon",
        "version": version,
        "file": f"mastodon-{version}.tar.gz",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "sha512": hashlib.sha512(data).hexdigest(),
        "source": "/srv/build/mastodon",
        "prepared_at": "2026-12-01T10:00:00Z",
        "requires": {"ruby": ">= 3.1.0", "node": ">= 18"},
        "runtimes": {},
        "debian_packages": [],
    }
    (folder / "artifact.json").write_text(json.dumps(manifest))
    return folder


def test_a_real_release_is_linked_and_only_the_missing_one_is_a_test_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    control_cache = tmp_path / "control"
    real = prepared_release_double(control_cache, "4.3.0")
    monkeypatch.setenv("CHATON_ARTIFACTS_DIR", str(control_cache))
    monkeypatch.setattr(demo, "DEMO_ARTIFACTS", tmp_path / "demo")
    assert demo.real_release_ok("mastodon", "4.3.0")
    env = demo.demo_artifacts(ROOT / "inventories" / "example")
    assert env == {"CHATON_ARTIFACTS_DIR": str(tmp_path / "demo")}
    linked = tmp_path / "demo/mastodon/4.3.0"
    assert linked.is_symlink() and linked.resolve() == real.resolve()
    assert (tmp_path / "demo/nextcloud/31.0.11/artifact.json").is_file()
    out = capsys.readouterr().out
    assert "test release of Nextcloud" in out and "test release of Mastodon" not in out
    # The real archive altered: the demo no longer trusts it and builds the test release.
    (real / "mastodon-4.3.0.tar.gz").write_bytes(b"altered")
    assert not demo.real_release_ok("mastodon", "4.3.0")
    demo.demo_artifacts(ROOT / "inventories" / "example")
    assert not linked.is_symlink()
    assert json.loads((linked / "artifact.json").read_text())["test_release"] is True
    assert (real / "mastodon-4.3.0.tar.gz").read_bytes() == b"altered"  # never written


def test_a_release_is_real_only_if_its_manifest_says_what_a_real_one_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the role needs to know of a prepared release (`requires`) must be there, and a test
    release is never taken for the real one, even intact."""
    monkeypatch.setenv("CHATON_ARTIFACTS_DIR", str(tmp_path))
    folder = prepared_release_double(tmp_path, "4.3.0")
    assert demo.real_release_ok("mastodon", "4.3.0")
    manifest = json.loads((folder / "artifact.json").read_text())
    (folder / "artifact.json").write_text(json.dumps({**manifest, "test_release": True}))
    assert not demo.real_release_ok("mastodon", "4.3.0")
    del manifest["requires"]
    (folder / "artifact.json").write_text(json.dumps(manifest))
    assert not demo.real_release_ok("mastodon", "4.3.0")


def test_with_every_real_release_the_demo_uses_the_control_nodes_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Both releases real (a test double of `real_release` answers with their manifests): the
    deploy reads the control node's cache as it is, and the demo says what it runs."""
    nextcloud = artifacts.Manifest(
        name="nextcloud", version="31.0.11", file="nextcloud-31.0.11.tar.zst", size=1,
        sha512="0" * 128, sha256="0" * 64, source="/copies/nextcloud.tar.zst",
        added_at="2026-12-07T00:00:00Z", product_name="Nextcloud",
        code_signing=artifacts.CodeSigning(
            root_fingerprint=ROOT_FINGERPRINT, scopes=54, files=26576,
            absent=[f"dist/absent-{n}.js" for n in range(28)], left_out=[],
            verified_at="2026-12-07T00:00:00Z",
        ),
    )  # fmt: skip
    mastodon = artifacts.Manifest.model_validate(
        json.loads((prepared_release_double(tmp_path / "c", "4.3.0") / "artifact.json").read_text())
    )
    manifests = {"nextcloud": nextcloud, "mastodon": mastodon}
    monkeypatch.setattr(demo, "DEMO_ARTIFACTS", tmp_path / "demo")
    monkeypatch.setattr(demo, "real_release", lambda kind, version: manifests[kind])
    assert demo.demo_artifacts(ROOT / "inventories" / "example") == {}
    assert not (tmp_path / "demo").exists()
    out = capsys.readouterr().out
    assert "Nextcloud 31.0.11, verified by Nextcloud's code signing, 28 files absent" in out
    assert "test release" not in out
