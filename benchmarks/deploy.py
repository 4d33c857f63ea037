"""How fast `chaton deploy` is: a cold converge, no-op reruns three ways, onboarding.

    .venv/bin/python benchmarks/deploy.py [--runs 3] [--structures 20] [--skip-noop]

Everything runs on test hosts of its own (Debian 12 containers, removed at the end), with copies
of the example collective whose server is renamed `bench-1` (its facts are cached under that
name, not the demo's):

1. **Cold converge**: `chaton deploy` of the example collective (every service) onto a fresh
   host. Reported. Nextcloud and Mastodon are the real releases the example pins when the
   control node's artifact cache holds them intact (as in the demo), else the test suite's test
   releases; the benchmark prints which ("release: …"): compare runs on the same ones.
2. **No-op rerun** of the whole site on that host, `--runs` times each way, alternating:
   - the project's configuration (ansible.cfg: Mitogen accelerator, pipelining, fact cache), the
     host reached through podman;
   - the same with the accelerator off (Ansible's linear strategy and podman connection plugin);
   - Ansible's defaults over SSH: no ansible.cfg (only the roles and the filter the site needs),
     to 127.0.0.1 on the port the host publishes for sshd, as an administrator of the collective
     (a key made for the benchmark), sudo for become.
   Median times, and each against Ansible's defaults over SSH. Target: the project's
   configuration at least 3x faster.
3. **Onboarding in constant time**: `chaton onboard` + `chaton render` + `chaton deploy
   --structure NEW` with 1 structure deployed, then with `--structures` deployed (the example's
   and generated ones, each with a website and a mailing list); each step's time, and the
   ratio of the totals. Target: at most 1.3.

Compare the ratios, measured in one run on one machine, not the absolute times.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from chaton import artifacts, containers
from chaton.commands.demo import pinned_versions, release_into
from chaton.paths import PROJECT_ROOT
from chaton.runner import FACT_CACHE

EXAMPLE = PROJECT_ROOT / "inventories" / "example"
CHATON = PROJECT_ROOT / ".venv" / "bin" / "chaton"
SITE = PROJECT_ROOT / "playbooks" / "site.yml"
SERVER = "bench-1"
HOST = containers.TestHost(
    name="chaton-bench-deploy",
    hostname=SERVER,
    publish=("127.0.0.1:18446:443", "127.0.0.1:18222:22"),
)
SMALL_HOST = containers.TestHost(
    name="chaton-bench-onboard", hostname=SERVER, publish=("127.0.0.1:18447:443",)
)
SSH_PORT = 18222
BENCH_ADMIN = "bench"
# The benchmark's own vault password, for its throwaway test hosts only.
PASSWORD = "benchmark-vault-password\n"  # noqa: S105


def structure_file(slug: str, number: int) -> str:
    """A generated structure: a website and a mailing list."""
    return (
        f"name: Structure {number}\n"
        f"slug: {slug}\n"
        "contacts:\n"
        f"  - name: Contact {number}\n"
        f"    email: contact@{slug}.example\n"
        "tier: member\n"
        "status: active\n"
        "domains:\n"
        f"  - {slug}.example\n"
        "services:\n"
        "  lists:\n"
        "    - name: infos\n"
        "      description: Infos\n"
        f"      owners: [contact@{slug}.example]\n"
        "  website:\n"
        "    source: none\n"
    )


def make_inventory(folder: Path, host: containers.TestHost, structures: Sequence[str]) -> Path:
    """A copy of the example collective, server renamed, with `structures` (example slugs are
    copied, others generated); its host is `host`."""
    root = folder / "collective"
    (root / "structures").mkdir(parents=True)
    text = (EXAMPLE / "collective.yml").read_text(encoding="utf-8")
    (root / "collective.yml").write_text(text.replace("fabrique-1", SERVER), encoding="utf-8")
    shutil.copytree(EXAMPLE / "group_vars", root / "group_vars")
    for number, slug in enumerate(structures, start=1):
        example = EXAMPLE / "structures" / f"{slug}.yml"
        target = root / "structures" / f"{slug}.yml"
        if example.is_file():
            shutil.copy(example, target)
        else:
            target.write_text(structure_file(slug, number), encoding="utf-8")
    hosts = yaml.safe_load((EXAMPLE / "hosts.yml").read_text(encoding="utf-8"))
    variables = hosts["all"]["children"]["chaton_servers"]["hosts"].pop("fabrique-1")
    variables.update(ansible_host=host.name, acme_local_ca_dir=str(folder / "ca"))
    hosts["all"]["children"]["chaton_servers"]["hosts"][SERVER] = variables
    (root / "hosts.yml").write_text(yaml.safe_dump(hosts), encoding="utf-8")
    (folder / "vault-password").write_text(PASSWORD)
    return root


def chaton(root: Path, *args: str, timeout: float = 7200) -> subprocess.CompletedProcess[str]:
    command = [str(CHATON), *args[:1], "--inventory", str(root), *args[1:]]
    if args[0] in ("render", "deploy"):
        command += ["--vault-password-file", str(root.parent / "vault-password")]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, check=False, env=os.environ
    )
    if done.returncode != 0:
        print(done.stdout[-3000:], done.stderr[-3000:], sep="\n", file=sys.stderr)
        raise SystemExit(f"chaton {' '.join(args)} failed ({done.returncode})")
    return done


def timed(action: Any) -> float:
    start = time.monotonic()
    action()
    return time.monotonic() - start


def deploy_json(root: Path, *options: str) -> dict[str, Any]:
    return dict(json.loads(chaton(root, "deploy", "--json", *options).stdout))


def onboard(root: Path, slug: str) -> dict[str, float]:
    """Seconds of `chaton onboard`, `chaton render` and `chaton deploy --structure slug`."""
    seconds = {
        "onboard": timed(
            lambda: chaton(
                root,
                "onboard",
                "--slug",
                slug,
                "--name",
                f"Nouvelle structure {slug}",
                "--tier",
                "member",
                "--contact-name",
                "Contact",
                "--contact-email",
                f"contact@{slug}.example",
                "--domain",
                f"{slug}.example",
                "--list",
                f"infos:contact@{slug}.example",
                "--website",
                "none",
            )
        ),
        "render": timed(lambda: chaton(root, "render")),
    }
    result: dict[str, Any] = {}
    seconds["deploy"] = timed(lambda: result.update(deploy_json(root, "--structure", slug)))
    changed = result["changed_by_structure"].get(SERVER, {})
    others = set(changed) - {slug, ""}
    if others:
        raise SystemExit(f"deploy --structure {slug} changed others' pieces: {others}")
    return seconds


def forget_facts() -> None:
    """Both test hosts are `bench-1`: the facts `chaton deploy` caches under that name must not
    pass from one to the other."""
    (FACT_CACHE / SERVER).unlink(missing_ok=True)


def releases(cache: Path) -> dict[str, str]:
    """The releases of the versions the example pins, in the benchmark's cache `cache`, as the
    demo has them: a link to the real one when the control node's artifact cache holds it
    intact, else the test suite's test release. {kind: what it is}, each printed."""
    used = {}
    for kind, version in pinned_versions(EXAMPLE).items():
        manifest = release_into(cache, kind, version)
        if manifest is None:
            used[kind] = f"{kind} {version}, the test suite's test release (a test double)"
        else:
            used[kind] = artifacts.describe_release(manifest)
        print(f"release: {used[kind]}", flush=True)
    return used


def ssh_defaults_env(folder: Path) -> tuple[dict[str, str], Path]:
    """Ansible's defaults (an empty configuration file) but for what the site cannot run
    without, and an inventory that reaches the host over SSH as the benchmark's admin."""
    empty = folder / "empty.cfg"
    empty.write_text("")
    env = {
        "ANSIBLE_CONFIG": str(empty),
        "ANSIBLE_ROLES_PATH": str(PROJECT_ROOT / "roles"),
        "ANSIBLE_FILTER_PLUGINS": str(PROJECT_ROOT / "plugins" / "filter"),
        "ANSIBLE_CALLBACK_PLUGINS": str(PROJECT_ROOT / "plugins" / "callback"),
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_STRATEGY": "linear",
    }
    return env, folder / "ssh-hosts.yml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--structures", type=int, default=20)
    parser.add_argument(
        "--skip-noop",
        action="store_true",
        help="measure the cold converge and the onboarding only (about 20 minutes less)",
    )
    args = parser.parse_args()
    example = sorted(p.stem for p in (EXAMPLE / "structures").glob("*.yml"))
    with tempfile.TemporaryDirectory(prefix="chaton-bench-") as tmp:
        folder = Path(tmp)
        cache = folder / "artifacts"
        releases(cache)
        os.environ[artifacts.CACHE_ENV] = str(cache)
        key = folder / "bench_key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        big = folder / "big"
        root = make_inventory(big, HOST, example)
        settings = yaml.safe_load((root / "group_vars" / "chaton_servers.yml").read_text())
        settings["common_admins"].append(
            {"name": BENCH_ADMIN, "ssh_keys": [key.with_suffix(".pub").read_text().strip()]}
        )
        (root / "group_vars" / "chaton_servers.yml").write_text(yaml.safe_dump(settings))
        forget_facts()
        with containers.running(HOST):
            chaton(root, "render")
            cold = timed(lambda: deploy_json(root))
            print(f"cold converge of the example collective: {cold:7.1f} s", flush=True)
            noop = {} if args.skip_noop else noop_reruns(root, folder, key, args.runs)
            # Onboarding with many structures deployed.
            more = [f"bench-{n:02d}" for n in range(1, args.structures - len(example) + 1)]
            for number, slug in enumerate(more, start=len(example) + 1):
                (root / "structures" / f"{slug}.yml").write_text(structure_file(slug, number))
            chaton(root, "render")
            deploy_json(root)
            many = onboard(root, "nouvelle-b")
        # One structure with the services the new one has (a website, a list): the new one's
        # deploy then finds Mailman there, as on the big host, and only its own pieces change.
        small_root = make_inventory(folder / "small", SMALL_HOST, ["bench-01"])
        forget_facts()
        with containers.running(SMALL_HOST):
            chaton(small_root, "render")
            deploy_json(small_root)
            one = onboard(small_root, "nouvelle-a")
        forget_facts()
    if not args.skip_noop:
        print_noop(noop, args.runs)
    for label, steps in (("1 structure", one), (f"{args.structures} structures", many)):
        parts = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in steps.items())
        print(f"onboarding, {label} deployed: {sum(steps.values()):7.1f} s ({parts})")
    onboarding = sum(many.values()) / sum(one.values())
    print(
        f"onboarding ratio, {args.structures} structures against 1: {onboarding:4.2f}"
        " (target <= 1.3)"
    )
    return 0


def print_noop(noop: dict[str, list[float]], runs: int) -> None:
    """The no-op reruns' medians, each against Ansible's defaults over SSH."""
    print(f"no-op rerun of playbooks/site.yml (example collective), {runs} runs each:")
    for way, label in (
        ("project", "project config (Mitogen accelerator, podman)"),
        ("accelerator-off", "accelerator off (linear, podman plugin)  "),
        ("ssh-defaults", "Ansible's defaults over SSH              "),
    ):
        if way not in noop:
            print(f"  {label}: failed (above)")
            continue
        median = statistics.median(noop[way])
        ratio = (
            f"{statistics.median(noop['ssh-defaults']) / median:5.2f}x faster than the defaults"
            if "ssh-defaults" in noop
            else ""
        )
        print(f"  {label}: {median:7.1f} s   {ratio}")


def noop_reruns(root: Path, folder: Path, key: Path, runs: int) -> dict[str, list[float]]:
    """Seconds of each no-op rerun, per way; a rerun that changes something stops the
    benchmark."""
    from chaton.deploying import read_rendered
    from chaton.runner import run_playbook

    inputs = read_rendered(root, root.parent / "vault-password")
    ssh_env, ssh_hosts = ssh_defaults_env(folder)
    ssh_hosts.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "children": {
                        "chaton_servers": {
                            "hosts": {
                                SERVER: {
                                    "ansible_connection": "ssh",
                                    "ansible_host": "127.0.0.1",
                                    "ansible_port": SSH_PORT,
                                    "ansible_user": BENCH_ADMIN,
                                    "ansible_ssh_private_key_file": str(key),
                                    "ansible_become_method": "sudo",
                                }
                            }
                        }
                    }
                }
            }
        )
    )
    # hosts.yml's podman connection is replaced by ssh-hosts.yml, read last.
    failed: dict[str, str] = {}
    ways: dict[str, tuple[list[Path], dict[str, str], bool]] = {
        "project": (list(inputs.inventories), {}, True),
        "accelerator-off": (list(inputs.inventories), {}, False),
        "ssh-defaults": ([*inputs.inventories, ssh_hosts], ssh_env, False),
    }
    times: dict[str, list[float]] = {way: [] for way in ways}
    for _ in range(runs):
        for way, (inventories, env, accelerator) in ways.items():
            if way in failed:
                continue
            start = time.monotonic()
            result = run_playbook(
                SITE,
                inventories,
                accelerator=accelerator,
                extra_args=inputs.extra_args,
                env=env,
                runs_dir=folder / "runs",
                fact_cache=folder / f"facts-{way}",
            )
            seconds = time.monotonic() - start
            if not result.succeeded or result.changed:
                # Reported, and that way left out: the other ways are still measured.
                failed[way] = str(result.changed_tasks or result.failed_tasks or result.output_tail)
                print(f"  no-op rerun, {way}: not a clean no-op: {failed[way][:2000]}", flush=True)
                continue
            times[way].append(seconds)
            print(f"  no-op rerun, {way}: {seconds:6.1f} s", flush=True)
    return {way: found for way, found in times.items() if found}


if __name__ == "__main__":
    sys.exit(main())
