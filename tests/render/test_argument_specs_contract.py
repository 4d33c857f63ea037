"""The contract between `chaton render` and the roles' argument specs, checked offline.

Each collective is rendered into a temporary folder as `chaton render` does (render_inventory),
then read back by Ansible itself as `chaton deploy` gives it: the hand-written hosts.yml and
generated/inventory.yml as inventories (group_vars beside the first, the rendered host_vars
beside the second), the vault as extra vars. The site playbook is loaded by Ansible, which
prepends a `validate_argument_spec` task to each role it applies (meta/argument_specs.yml, the
entry point the play asks for: `main`, or its `tasks_from` when the spec has that entry point;
mastodon's `accounts`, imported by the data play, has none, so Ansible validates nothing there).
For every host of every play, each such task is judged as Ansible's task executor and action
plugin would:
  - its variables are Ansible's own for that host and task (VariableManager: role defaults,
    group_vars, host_vars, play and role `vars:`, extra vars, magic variables, in Ansible's
    precedence);
  - its `when` (the import's or include's, inherited) decides whether the role runs there; a
    dynamic `include_role` is loaded as the strategy would, when its condition holds;
  - the values of the spec's options found in those variables are templated with them (Jinja in
    defaults and play vars is resolved; the rendered values are `!unsafe`, kept as written),
    combined with the role params (the playbooks give none: their roles' `vars:` are
    variables), and validated by ArgumentSpecValidator with validate_role_argument_spec=True
    (ansible/plugins/action/validate_argument_spec.py).
What is not there offline, and so not judged: facts (no task of the site depends on them
before its roles' validation), the records of instances kept on a server (playbooks/tasks/
kept_instances.yml: a server that holds only what is listed, chaton_kept_instances unset), and a
deploy's `--structure` selection (a whole-site deploy; chaton_selection unset).
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible import constants
from ansible.inventory.manager import InventoryManager
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.parsing.dataloader import DataLoader
from ansible.parsing.vault import VaultSecret
from ansible.playbook import Playbook
from ansible.playbook.block import Block
from ansible.playbook.role_include import IncludeRole
from ansible.plugins.loader import filter_loader, init_plugin_loader
from ansible.template import Templar
from ansible.utils.collection_loader import AnsibleCollectionConfig
from ansible.utils.vars import combine_vars
from ansible.vars.manager import VariableManager
from collectives import collective, container_server

from chaton.generated import render_inventory
from chaton.render import HOST_VARS, INVENTORY_FILE
from chaton.vault import SECRETS_FILE
from chaton.yamlio import dump_vars, load_vars

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "inventories" / "example"
SITE = ROOT / "playbooks" / "site.yml"
ROLES = sorted(path.name for path in (ROOT / "roles").iterdir() if path.is_dir())
VALIDATE = "ansible.builtin.validate_argument_spec"
PASSWORD = "test-contract-vault-password"  # noqa: S105 - the test's own vault
REPOSITORY_HOST = "coffre-1"


# --- What Ansible would do -------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """A value a role's spec refuses (or that cannot be templated) on a host."""

    host: str
    role: str
    entry_point: str
    variable: str
    value: str
    spec: str
    message: str

    def __str__(self) -> str:
        return (
            f"host {self.host}, role {self.role} (entry point {self.entry_point}), variable "
            f"{self.variable} = {self.value}, spec {self.spec}: {self.message}"
        )


@dataclass(frozen=True)
class Application:
    """One `validate_argument_spec` task of the site for one host: a role's entry point that
    runs there (its variables validated) or not (`skipped`: its false condition)."""

    play: str
    host: str
    role: str
    entry_point: str
    skipped: str | None
    variables: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = ()


@dataclass
class Contract:
    """Every role entry point the site applies to each host of a rendered collective."""

    hosts: tuple[str, ...]
    applications: list[Application] = field(default_factory=list)

    def validated(self, role: str, entry_point: str = "main") -> list[Application]:
        return [
            a
            for a in self.applications
            if a.role == role and a.entry_point == entry_point and a.skipped is None
        ]

    def problems(self, role: str | None = None) -> list[Problem]:
        return [p for a in self.applications if role in (None, a.role) for p in a.problems]


def _short(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _spec_summary(option: Mapping[str, Any]) -> str:
    """The option's type, elements and choices (its nested options are not repeated)."""
    keys = ("type", "elements", "choices", "required")
    return "{" + ", ".join(f"{k}: {option[k]}" for k in keys if k in option) + "}"


def _tasks(blocks: list[Any]) -> Iterator[Any]:
    for block in blocks:
        for task in [*block.block, *block.rescue, *block.always]:
            if isinstance(task, Block):
                yield from _tasks([task])
            else:
                yield task


@contextmanager
def _settings() -> Iterator[None]:
    """What ansible.cfg says and the site needs, whatever configuration this process found: the
    roles, the filters of the conditions (chaton_selected). No fact cache: the offline check
    sees no facts of an earlier run."""
    if AnsibleCollectionConfig.collection_finder is None:
        init_plugin_loader()
    filter_loader.add_directory(str(ROOT / "plugins" / "filter"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(constants, "DEFAULT_ROLES_PATH", [str(ROOT / "roles")])
        patch.setattr(constants, "CACHE_PLUGIN", "ansible.builtin.memory")
        yield


class SitePlaybook:
    """The site playbook as Ansible loads it, loaded once (most of the time it takes): each
    collective gets an inventory and a VariableManager of its own, as a run of its own would.
    Every collective's vault has the same password."""

    def __init__(self, password: str = PASSWORD) -> None:
        self.loader = DataLoader()
        self.loader.set_vault_secrets([("default", VaultSecret(password.encode()))])
        with _settings():
            # Also makes playbooks/ the loader's basedir (playbook_dir, vars_files).
            self.playbook = Playbook.load(
                str(SITE), variable_manager=VariableManager(loader=self.loader), loader=self.loader
            )

    def contract(self, root: Path) -> Contract:
        """Every role entry point the site applies to each host of the rendered collective at
        `root` (its generated/ folder written), as `chaton deploy` gives it to Ansible."""
        generated = root / "generated"
        with _settings():
            sources = [str(root / "hosts.yml"), str(generated / INVENTORY_FILE)]
            inventory = InventoryManager(loader=self.loader, sources=sources)
            variables = VariableManager(loader=self.loader, inventory=inventory)
            # `--extra-vars @secrets.vault.yml`, loaded as load_extra_vars loads it (which keeps
            # the first command line's for the whole process: not usable here).
            variables._extra_vars = self.loader.load_from_file(
                str(generated / SECRETS_FILE), trusted_as_template=True
            )
            run = _Run(self.loader, inventory, variables)
            return run.contract(self.playbook)


@dataclass
class _Run:
    """One run of the site on one collective, up to the validation of each role's variables."""

    loader: Any
    inventory: Any
    variables: Any

    def contract(self, playbook: Any) -> Contract:
        hosts = tuple(sorted(h.name for h in self.inventory.get_hosts("all")))
        found = Contract(hosts)
        for play in playbook.get_plays():
            play_hosts = self.inventory.get_hosts(play.hosts)
            # A dynamic include adds its role to the play: the next collective's run starts
            # from the play as the playbook has it.
            roles, handlers = list(play.roles), list(play.handlers)
            try:
                for task in _tasks(play.compile()):
                    if isinstance(task, IncludeRole):
                        self._included(play, task, play_hosts, found)
                    elif task.action == VALIDATE:
                        for host in play_hosts:
                            found.applications.append(self._judge(play, task, host))
            finally:
                play.roles, play.handlers = roles, handlers
        return found

    def _included(self, play: Any, include: Any, hosts: list[Any], found: Contract) -> None:
        """A dynamic include_role: loaded (once) for the hosts whose condition holds."""
        blocks: list[Any] | None = None
        for host in hosts:
            task_vars = self.variables.get_vars(play=play, host=host, task=include)
            if not include._resolve_conditional(include.when, task_vars):
                role, entry = include.args["name"], include.args.get("tasks_from", "main")
                skipped = _false(include, task_vars)
                found.applications.append(
                    Application(play.get_name(), host.name, role, entry, skipped)
                )
                continue
            if blocks is None:
                blocks, _handlers = include.get_block_list(
                    play=play, variable_manager=self.variables, loader=self.loader
                )
            for task in _tasks(blocks):
                if task.action == VALIDATE:
                    found.applications.append(self._judge(play, task, host))

    def _judge(self, play: Any, task: Any, host: Any) -> Application:
        """What the validation task does on `host`: skipped, or its variables validated."""
        context = task.args["validate_args_context"]
        role, entry = context["name"], context["argument_spec_name"]
        task_vars = self.variables.get_vars(play=play, host=host, task=task)
        name = play.get_name()
        try:
            runs = task._resolve_conditional(task.when, task_vars)
        except Exception as error:  # a condition Ansible could not evaluate: a failed deploy
            problem = Problem(host.name, role, entry, "when", _short(task.when), "-", str(error))
            return Application(name, host.name, role, entry, None, (), (problem,))
        if not runs:
            return Application(name, host.name, role, entry, _false(task, task_vars))
        spec: dict[str, Any] = task.args["argument_spec"]
        provided: dict[str, Any] = task.args.get("provided_arguments") or {}
        args, problems = self._arguments(spec, task_vars, host.name, role, entry)
        if not problems:
            problems = _validate(spec, combine_vars(args, provided), host.name, role, entry)
        return Application(name, host.name, role, entry, None, tuple(sorted(args)), problems)

    def _arguments(
        self,
        spec: Mapping[str, Any],
        task_vars: Mapping[str, Any],
        host: str,
        role: str,
        entry: str,
    ) -> tuple[dict[str, Any], tuple[Problem, ...]]:
        """The action's get_args_from_task_vars: the spec's options found in the task's
        variables, templated with them (one by one, to name the one that fails)."""
        templar = Templar(loader=self.loader, variables=task_vars)
        args: dict[str, Any] = {}
        problems: list[Problem] = []
        for option in spec:
            if option not in task_vars:
                continue
            try:
                args[option] = templar.template(task_vars[option])
            except Exception as error:  # the action would fail the same way
                value = _short(task_vars[option])
                summary = _spec_summary(spec[option])
                message = f"cannot be templated: {error}"
                problems.append(Problem(host, role, entry, option, value, summary, message))
        return args, tuple(problems)


def _false(task: Any, task_vars: Mapping[str, Any] | None = None) -> str:
    """The condition that keeps the role off the host (the first false one)."""
    if task_vars is not None:
        for condition in task.when:
            if not task._resolve_conditional([condition], task_vars):
                return str(condition)
    return " and ".join(str(c) for c in task.when) or "false"


def _errors(option: str, option_spec: Mapping[str, Any], values: Mapping[str, Any]) -> list[str]:
    alone = {option: values[option]} if option in values else {}
    result = ArgumentSpecValidator({option: dict(option_spec)}).validate(
        alone, validate_role_argument_spec=True
    )
    return list(result.error_messages)


def _validate(
    spec: Mapping[str, Any], arguments: Mapping[str, Any], host: str, role: str, entry: str
) -> tuple[Problem, ...]:
    """ArgumentSpecValidator as the action runs it. Each refusal is then named by its variable
    (the option validated alone) and, in a list, by the item refused (each validated alone)."""
    result = ArgumentSpecValidator(dict(spec)).validate(
        dict(arguments), validate_role_argument_spec=True
    )
    if not result.error_messages:
        return ()
    problems = []
    for option, option_spec in spec.items():
        messages = _errors(option, option_spec, arguments)
        if not messages:
            continue
        summary = _spec_summary(option_spec)
        value = arguments.get(option, "<unset>")
        items = []
        if isinstance(value, list) and not option_spec.get("no_log"):
            for index, item in enumerate(value):
                for message in _errors(option, option_spec, {option: [item]}):
                    items.append((f"[{index}]", _short(item), message))
        if not items:
            shown = "<no_log>" if option_spec.get("no_log") else _short(value)
            items = [("", shown, message) for message in messages]
        problems += [
            Problem(host, role, entry, option + at, shown, summary, message)
            for at, shown, message in items
        ]
    if not problems:  # no option refused alone: Ansible's messages as they are
        problems = [
            Problem(host, role, entry, "?", "?", "-", message) for message in result.error_messages
        ]
    return tuple(problems)


@functools.cache
def site_playbook() -> SitePlaybook:
    return SitePlaybook()


def check_site(root: Path) -> Contract:
    """The contract of the rendered collective at `root` (its generated/ folder written)."""
    return site_playbook().contract(root)


# --- The collectives -------------------------------------------------------------------------


def _password(folder: Path) -> Path:
    path = folder / "vault-password"
    path.write_text(PASSWORD + "\n", encoding="utf-8")
    return path


def example(folder: Path) -> Path:
    """The example inventory, as it is (hosts.yml and group_vars too), rendered."""
    root = folder / "example"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("generated"))
    render_inventory(root, _password(folder))
    return root


LAVOIR = """\
name: Les Amis du Lavoir
slug: amis-du-lavoir
contacts:
  - name: Jeanne Roux
    email: jeanne@amis-du-lavoir.fr
tier: member
status: {status}
domains:
  - amis-du-lavoir.fr
  - lavoir-amis.org
services:
  website:
    source: https://git.amis-du-lavoir.fr/site.git
    branch: production
  lists:
    - name: infos
      description: "Les nouvelles {{{{ pas de Jinja }}}}"
      owners: [jeanne@amis-du-lavoir.fr]
    - name: bureau
      owners: [jeanne@amis-du-lavoir.fr, paul@amis-du-lavoir.fr]
  nextcloud:
    accounts: 2
    storage_gb: 1
    users:
      - id: jeanne
        name: Jeanne Roux
        email: jeanne@amis-du-lavoir.fr
        groups: [bureau]
        quota_gb: 1
  mastodon:
    mode: shared
    accounts: 3
"""
FOURNIL = """\
name: Le Fournil Solidaire
slug: fournil-solidaire
contacts:
  - name: Malik Perrin
    email: malik@fournil-solidaire.fr
tier: solidarity
status: active
domains:
  - fournil-solidaire.fr
services:
  mastodon:
    mode: dedicated
    accounts: 25
  website:
    source: none
"""


def backed_up(folder: Path) -> Path:
    """A test host's server (as the container tests make it) with a repository host for its
    backups (the backup role and its repository_host entry point), two structures: one with
    every service (a git website, two lists, a Nextcloud account with its quota, accounts on
    the shared Mastodon), one with a dedicated Mastodon and a website."""
    server = "lavoir-1"
    hosts = {
        "all": {
            "children": {
                "chaton_servers": {"hosts": {server: container_server("chaton-test-x", folder)}},
                "chaton_backup_hosts": {"hosts": {REPOSITORY_HOST: {"ansible_host": "192.0.2.20"}}},
            }
        }
    }
    structures = {
        "amis-du-lavoir": LAVOIR.format(status="active"),
        "fournil-solidaire": FOURNIL,
    }
    settings = {"backup_repository_host": REPOSITORY_HOST}
    root = collective(folder, server, hosts, structures, settings)
    render_inventory(root, _password(folder))
    return root


def bare(folder: Path) -> Path:
    """A server reached over SSH with no structure yet: the base roles, Postfix and the web
    roles, with empty lists of instances."""
    hosts = {
        "all": {
            "children": {
                "chaton_servers": {
                    "hosts": {"nu-1": {"ansible_host": "192.0.2.10", "ansible_user": "camille"}}
                }
            }
        }
    }
    root = collective(folder, "nu-1", hosts, {})
    render_inventory(root, _password(folder))
    return root


def suspended(folder: Path) -> Path:
    """A suspended structure with every service (rendered disabled) beside an active one, with
    the local names `chaton demo` renders (--local-suffix localhost)."""
    server = "veille-1"
    hosts: dict[str, Any] = {"all": {"children": {"chaton_servers": {"hosts": {server: {}}}}}}
    structures = {
        "amis-du-lavoir": LAVOIR.format(status="suspended"),
        "fournil-solidaire": FOURNIL,
    }
    root = collective(folder, server, hosts, structures)
    render_inventory(root, _password(folder), local_suffix="localhost")
    return root


COLLECTIVES: dict[str, Callable[[Path], Path]] = {
    "example": example,
    "backed-up": backed_up,
    "bare": bare,
    "suspended": suspended,
}
# Role entry points the site does not apply to any host of a collective, and why (each is
# asserted: the condition Ansible evaluates keeps the role off every host).
NOT_APPLIED: dict[str, dict[str, str]] = {
    "example": {"backup": "no backup_repository_host"},
    "bare": {
        "backup": "no backup_repository_host",
        "instance_accounts": "no Nextcloud or Mastodon instance",
        "mailman": "no lists",
        "mastodon": "no Mastodon",
        "nextcloud": "no Nextcloud",
        "opendkim": "no list domain to sign for",
        "php_fpm": "no PHP-FPM pool",
        "postgresql": "no database",
        "redis": "no Redis",
    },
    "suspended": {"backup": "no backup_repository_host"},
}
# Real mismatches between the renderer and a role's spec, left for the next person to fix:
# {(collective, role): reason}. Each is an xfail(strict=True) of that case only.
KNOWN_MISMATCHES: dict[tuple[str, str], str] = {}


@pytest.fixture(scope="module")
def rendered_collectives(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """Each collective rendered once, when a test first asks for it: its folder."""
    done: dict[str, Path] = {}

    def rendered(name: str) -> Path:
        if name not in done:
            done[name] = COLLECTIVES[name](tmp_path_factory.mktemp(name))
        return done[name]

    return rendered


@pytest.fixture(scope="module")
def contracts(rendered_collectives: Callable[[str], Path]) -> Callable[[str], Contract]:
    """Each rendered collective checked once, when a test first asks for it."""
    done: dict[str, Contract] = {}

    def contract(name: str) -> Contract:
        if name not in done:
            done[name] = check_site(rendered_collectives(name))
        return done[name]

    return contract


def _cases() -> Iterator[Any]:
    for name in COLLECTIVES:
        for role in ROLES:
            reason = KNOWN_MISMATCHES.get((name, role))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            yield pytest.param(name, role, id=f"{name}-{role}", marks=marks)


def _report(problems: list[Problem]) -> str:
    return "values the roles' argument specs refuse:\n" + "\n".join(f"  {p}" for p in problems)


# --- The tests -------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "role"), list(_cases()))
def test_rendered_values_pass_the_roles_argument_specs(
    contracts: Callable[[str], Contract], name: str, role: str
) -> None:
    contract = contracts(name)
    problems = contract.problems(role)
    assert not problems, _report(problems)
    applied = [a for a in contract.applications if a.role == role]
    assert applied, f"{role}: the site playbook has no validation task for it"
    if role in NOT_APPLIED.get(name, {}):
        assert not contract.validated(role), f"{role} now runs on {name}: update NOT_APPLIED"
        assert all(a.skipped for a in applied)
    else:
        # Its main entry point runs on at least one host, with every variable of its spec.
        validated = contract.validated(role)
        assert validated, f"{role}: never applied on {name}: {[a.skipped for a in applied]}"
        spec = _options(role, "main")
        for application in validated:
            assert set(application.variables) == set(spec), application


def _options(role: str, entry_point: str) -> dict[str, Any]:
    path = ROOT / "roles" / role / "meta" / "argument_specs.yml"
    specs = yaml.safe_load(path.read_text(encoding="utf-8"))["argument_specs"]
    return dict(specs[entry_point].get("options") or {})


def test_every_role_entry_point_the_site_uses_is_validated_somewhere(
    contracts: Callable[[str], Contract],
) -> None:
    """Every role's main entry point, and the other entry points the site imports (nextcloud's
    accounts, backup's repository_host), ran validated on some host of some collective."""
    seen = {
        (a.role, a.entry_point)
        for name in COLLECTIVES
        for a in contracts(name).applications
        if a.skipped is None
    }
    expected = {(role, "main") for role in ROLES} | {
        ("nextcloud", "accounts"),
        ("backup", "repository_host"),
    }
    assert expected <= seen, sorted(expected - seen)
    for name in COLLECTIVES:  # and every host of every collective had its roles validated
        contract = contracts(name)
        assert {a.host for a in contract.applications if a.skipped is None} == set(contract.hosts)
    assert contracts("backed-up").validated("backup", "repository_host")[0].host == REPOSITORY_HOST


def _edit_host_vars(root: Path, server: str, change: Callable[[dict[str, Any]], None]) -> None:
    """Change a rendered host_vars file the way a hand (or a renderer bug) would."""
    path = root / "generated" / HOST_VARS / f"{server}.yml"
    text = path.read_text(encoding="utf-8")
    header = "\n".join(
        line.removeprefix("# ").removeprefix("#") for line in text.split("---", 1)[0].splitlines()
    )
    data = load_vars(text)
    change(data)
    path.write_text(dump_vars(header, data), encoding="utf-8")


def _wrong_type(data: dict[str, Any]) -> None:
    data["mailman_lists"][0]["enabled"] = "sometimes"


def _not_a_choice(data: dict[str, Any]) -> None:
    # No rendered value has choices: a list's archive policy (its spec has one, the renderer
    # does not write it yet), outside them.
    data["mailman_lists"][0]["archive_policy"] = "everyone"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(_wrong_type, "enabled", id="wrong-type"),
        pytest.param(_not_a_choice, "archive_policy", id="not-a-choice"),
    ],
)
def test_the_check_names_the_host_role_and_variable_of_a_refused_value(
    rendered_collectives: Callable[[str], Path],
    tmp_path: Path,
    change: Callable[[dict[str, Any]], None],
    message: str,
) -> None:
    """The rendered example, one value of its host_vars changed: refused, and said where."""
    root = tmp_path / "example"
    shutil.copytree(rendered_collectives("example"), root)
    _edit_host_vars(root, "fabrique-1", change)
    problems = check_site(root).problems()
    assert [(p.host, p.role, p.entry_point, p.variable) for p in problems] == [
        ("fabrique-1", "mailman", "main", "mailman_lists[0]")
    ], _report(problems)
    (problem,) = problems
    assert message in problem.message
    text = str(problem)
    assert "host fabrique-1, role mailman (entry point main), variable mailman_lists[0] = {" in text
    assert "'address': 'commandes@lists.epicerie-coop.fr'" in text
    assert "spec {type: list, elements: dict" in text
