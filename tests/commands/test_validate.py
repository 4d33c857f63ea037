"""`chaton validate` from the command line: exit codes, one error per line, JSON, French."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from chaton.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "inventories" / "example"
ERROR_LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<column>\d+): (?P<rest>.+)$")

BAD_STRUCTURE = """\
name: Zèbre
slug: zz-case
contacts:
  - name: Zoé
    email: zoe
tier: gold
domains: [velo-cite.fr]
"""


@pytest.fixture
def broken(inventory: Path) -> Path:
    (inventory / "structures" / "zz-case.yml").write_text(BAD_STRUCTURE, encoding="utf-8")
    return inventory


@pytest.mark.usefixtures("english")
def test_valid_example_exits_0_with_a_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "-i", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    structures = len(list((EXAMPLE / "structures").glob("*.yml")))
    assert out == f"{EXAMPLE}: {structures} structures, 1 server: valid\n"


@pytest.mark.usefixtures("english")
def test_default_inventory_is_the_example(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(EXAMPLE.parents[1])
    assert main(["validate"]) == 0
    assert capsys.readouterr().out.startswith("inventories/example: ")


@pytest.mark.usefixtures("english")
def test_invalid_exits_2_with_every_error_on_its_line(
    broken: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--inventory", str(broken)]) == 2
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    file = broken / "structures" / "zz-case.yml"
    assert lines == [
        f"{file}:5:12: contacts[0].email: 'zoe' is not a valid email address "
        "(expected something like name@example.org)",
        f"{file}:6:7: tier: unknown tier 'gold'; the collective's tiers are: "
        "member, solidarity, standard",
        f"{file}:7:11: domains[0]: domain 'velo-cite.fr' is already used by "
        "structures/velo-cite.yml",
    ]
    for line in lines:
        assert ERROR_LINE.match(line)
    assert captured.err == "3 errors: the inventory is not valid\n"


@pytest.mark.usefixtures("english")
def test_json_output(broken: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "-i", str(broken), "--json"]) == 2
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is False
    assert report["servers"] == 1
    assert report["structures"] == len(list((broken / "structures").glob("*.yml")))
    assert [(e["line"], e["column"], e["path"]) for e in report["errors"]] == [
        (5, 12, "contacts[0].email"),
        (6, 7, "tier"),
        (7, 11, "domains[0]"),
    ]
    assert report["errors"][1]["file"] == str(broken / "structures" / "zz-case.yml")


@pytest.mark.usefixtures("english")
def test_json_output_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "-i", str(EXAMPLE), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is True
    assert report["errors"] == []


@pytest.mark.usefixtures("french")
def test_french_output(broken: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "-i", str(broken)]) == 2
    captured = capsys.readouterr()
    file = broken / "structures" / "zz-case.yml"
    assert captured.out.splitlines() == [
        f"{file}:5:12: contacts[0].email: 'zoe' n'est pas une adresse e-mail valide "
        "(attendu : quelque chose comme nom@exemple.org)",
        f"{file}:6:7: tier: formule inconnue 'gold' ; les formules du collectif sont : "
        "member, solidarity, standard",
        f"{file}:7:11: domains[0]: le domaine 'velo-cite.fr' est déjà utilisé par "
        "structures/velo-cite.yml",
    ]
    assert captured.err == "3 erreurs : l'inventaire n'est pas valide\n"


@pytest.mark.usefixtures("french")
def test_french_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "-i", str(EXAMPLE)]) == 0
    assert capsys.readouterr().out.endswith(" structures, 1 serveur : valide\n")


@pytest.mark.usefixtures("english")
def test_help_mentions_the_error_format(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["validate", "--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    assert "--inventory" in out
    assert "--json" in out
    assert "file:line:column" in out


@pytest.mark.usefixtures("english")
def test_missing_inventory_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "-i", str(tmp_path / "nowhere")]) == 2
    assert "no inventory folder" in capsys.readouterr().err


def structure_file(slug: str, number: int) -> str:
    """A valid structure file for `slug`, its own domain (`number` keeps domains apart). The
    slug is on line 2, column 7."""
    return (
        f"name: Structure {number}\nslug: {slug}\ncontacts:\n  - name: Alex\n"
        f"    email: alex@structure-{number}.org\ntier: member\n"
        f"domains: [structure-{number}.org]\n"
    )


def validate_with(
    inventory: Path, slugs: list[str], capsys: pytest.CaptureFixture[str]
) -> tuple[int, list[str]]:
    """`chaton validate` once the structures `slugs` are added: its exit code and its lines."""
    for number, slug in enumerate(slugs):
        path = inventory / "structures" / f"{slug}.yml"
        path.write_text(structure_file(slug, number), encoding="utf-8")
    code = main(["validate", "--inventory", str(inventory)])
    return code, capsys.readouterr().out.splitlines()


@pytest.mark.usefixtures("english")
def test_a_slug_crafted_to_make_another_structures_unix_user_is_refused(
    inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    long = "amis-du-lavoir-de-la-riviere-a"
    # By hand, from the rule (render: cut to useradd's 32 characters): "nextcloud-" leaves 22,
    # so 15 characters of the slug, its trailing hyphen dropped, "-" and 6 hex digits of the
    # slug's SHA-256.
    digest = hashlib.sha256(long.encode("ascii")).hexdigest()[:6]
    crafted = f"amis-du-lavoir-{digest}"
    user = f"nextcloud-amis-du-lavoir-{digest}"
    assert len(user) == 31
    code, lines = validate_with(inventory, [long, crafted], capsys)
    assert code == 2
    first, second = sorted([long, crafted])
    file = inventory / "structures" / f"{second}.yml"
    assert lines == [
        f"{file}:2:7: slug: slug {second!r} makes the Unix user {user!r}, which "
        f"structures/{first}.yml already makes: choose another slug"
    ]


@pytest.mark.usefixtures("english")
def test_slugs_that_make_one_mastodon_account_are_refused(
    inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Mastodon's usernames stop at 30 characters: these two differ at the 31st only.
    slug = "collectif-des-jardins-partages"
    assert len(slug) == 30
    code, lines = validate_with(inventory, [slug, slug + "x"], capsys)
    assert code == 2
    file = inventory / "structures" / f"{slug}x.yml"
    assert lines == [
        f"{file}:2:7: slug: slug {slug + 'x'!r} makes the Mastodon account "
        "'collectif_des_jardins_partages', which "
        f"structures/{slug}.yml already makes: choose another slug"
    ]


@pytest.mark.usefixtures("english")
def test_a_slug_that_makes_the_mastodon_administrator_is_refused(
    inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = validate_with(inventory, ["chaton-admin", "admin"], capsys)
    assert code == 2
    folder = inventory / "structures"
    assert lines == [
        f"{folder / 'admin.yml'}:2:7: slug: slug 'admin' makes the Mastodon account 'admin', "
        "which is the administrator's: choose another slug",
        f"{folder / 'chaton-admin.yml'}:2:7: slug: slug 'chaton-admin' makes the Mastodon "
        "account 'chaton_admin', which is the administrator's: choose another slug",
    ]


@pytest.mark.usefixtures("english")
def test_a_slug_that_makes_an_administrators_unix_account_is_refused(
    inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The hosting association's administrators (group_vars' common_admins) are Unix accounts
    too: a structure whose website account would be one of them would take it over."""
    group_vars = inventory / "group_vars" / "chaton_servers.yml"
    text = group_vars.read_text(encoding="utf-8")
    text = text.replace(
        "common_admins:\n", "common_admins:\n  - name: website-sam\n    ssh_keys: []\n", 1
    )
    group_vars.write_text(text, encoding="utf-8")
    code, lines = validate_with(inventory, ["sam", "samuel"], capsys)
    assert code == 2
    assert lines == [
        f"{inventory / 'structures' / 'sam.yml'}:2:7: slug: slug 'sam' makes the Unix user "
        "'website-sam', which is an account of the hosting association's administrators "
        "(common_admins): choose another slug",
    ]


@pytest.mark.usefixtures("english")
def test_the_inventorys_own_mastodon_administrator_is_reserved(
    inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An inventory that names Mastodon's administrator otherwise (group_vars) reserves that
    name; vault-encrypted values in group_vars are no obstacle to reading it."""
    (inventory / "group_vars" / "all").mkdir()
    (inventory / "group_vars" / "all" / "mastodon.yml").write_text(
        "mastodon_admin_username: Moderation\n"
        "vault_example: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  3132\n",
        encoding="utf-8",
    )
    code, lines = validate_with(inventory, ["moderation", "moderations"], capsys)
    assert code == 2
    assert lines == [
        f"{inventory / 'structures' / 'moderation.yml'}:2:7: slug: slug 'moderation' makes the "
        "Mastodon account 'moderation', which is the administrator's: choose another slug",
    ]


@pytest.mark.usefixtures("english")
def test_long_slugs_that_stay_apart_are_valid(
    inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = validate_with(
        inventory, ["amis-du-lavoir-de-la-riviere-a", "amis-du-lavoir-de-la-riviere-b"], capsys
    )
    assert (code, len(lines)) == (0, 1), lines


def test_the_mastodon_role_cuts_usernames_as_validate_does() -> None:
    """chaton.names.mastodon_username mirrors the role's default: the same rule in both."""
    tasks = (
        EXAMPLE.parents[1] / "roles" / "mastodon" / "tasks" / "mastodon_accounts.yml"
    ).read_text()
    assert "account.username | default((account.structure | replace('-', '_'))[:30])" in tasks
    defaults = (EXAMPLE.parents[1] / "roles" / "mastodon" / "defaults" / "main.yml").read_text()
    assert "\nmastodon_admin_username: chaton_admin\n" in defaults


def edit_collective(inventory: Path, line: str, replacement: str) -> None:
    """collective.yml with its `line` (which it must hold) replaced."""
    collective = inventory / "collective.yml"
    text = collective.read_text(encoding="utf-8")
    assert f"{line}\n" in text
    collective.write_text(text.replace(f"{line}\n", f"{replacement}\n"), encoding="utf-8")


def claim(
    inventory: Path, domains: str, capsys: pytest.CaptureFixture[str]
) -> tuple[Path, list[str]]:
    """`chaton validate` once a structure zz-claim also claims `domains` (after its own, on line
    7 from column 28): it must refuse; the structure's file and the lines printed."""
    path = inventory / "structures" / "zz-claim.yml"
    path.write_text(
        structure_file("zz-claim", 9).replace(
            "domains: [structure-9.org]", f"domains: [structure-9.org, {domains}]"
        ),
        encoding="utf-8",
    )
    assert main(["validate", "--inventory", str(inventory)]) == 2
    return path, capsys.readouterr().out.splitlines()


@pytest.mark.usefixtures("english")
def test_a_structure_cannot_claim_the_hosting_associations_domains(
    inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The example's association: website https://alolise.fr, server public name
    # fabrique-1.alolise.fr (collective.yml). A structure claiming them could be given their
    # certificates and their mail.
    text = (inventory / "collective.yml").read_text(encoding="utf-8")
    assert "website: https://alolise.fr\n" in text
    assert "public_name: fabrique-1.alolise.fr\n" in text
    path, lines = claim(inventory, "alolise.fr, mail.alolise.fr, fabrique-1.alolise.fr", capsys)
    assert lines == [
        f"{path}:7:{column}: domains[{index}]: domain {domain!r} belongs to the hosting "
        "association ('alolise.fr'): a structure cannot claim it"
        for index, column, domain in [
            (1, 28, "alolise.fr"),
            (2, 40, "mail.alolise.fr"),
            (3, 57, "fabrique-1.alolise.fr"),
        ]
    ]


@pytest.mark.usefixtures("english")
def test_a_structure_cannot_claim_a_servers_public_name(
    inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_collective(
        inventory, "public_name: fabrique-1.alolise.fr", "public_name: srv.hebergeur.net"
    )
    path, lines = claim(inventory, "lists.srv.hebergeur.net", capsys)
    assert lines == [
        f"{path}:7:28: domains[1]: domain 'lists.srv.hebergeur.net' belongs to the hosting "
        "association ('srv.hebergeur.net'): a structure cannot claim it"
    ]


@pytest.mark.usefixtures("english")
def test_a_file_name_is_printed_escaped_never_obeyed_by_the_terminal(
    inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A structure file whose name would clear the operator's screen and reverse the text after it.
    name = "zz-\x1b[2J\u202eclaim.yml"
    (inventory / "structures" / name).write_text(structure_file("zz-claim", 9), encoding="utf-8")
    assert main(["validate", "--inventory", str(inventory)]) == 2
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out
    shown = f"{inventory / 'structures'}/zz-\\x1b[2J\\u202eclaim.yml:2:7: "
    assert out.startswith(shown), out


@pytest.mark.usefixtures("english")
@pytest.mark.parametrize("command", ["plan", "render", "dns", "catalog", "costs"])
def test_every_command_that_reads_the_inventory_prints_file_names_escaped(
    inventory: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """The commands besides validate read the inventory through the same loader: a structure
    file's name reaches the operator's terminal escaped there too, whatever the command."""
    name = "zz-\x1b[2J\u202eclaim.yml"
    (inventory / "structures" / name).write_text(structure_file("zz-claim", 9), encoding="utf-8")
    assert main([command, "--inventory", str(inventory)]) == 2
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert "\x1b" not in out and "\u202e" not in out
    assert f"{inventory / 'structures'}/zz-\\x1b[2J\\u202eclaim.yml:2:7: " in out, out


@pytest.mark.usefixtures("english")
def test_when_the_association_and_the_collective_share_a_domain_its_subdomains_stay_open(
    inventory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Structures may use subdomains of the collective's domain (schema.md): still so when the
    # association's website is on that domain; a server's public name under it stays refused.
    text = (inventory / "collective.yml").read_text(encoding="utf-8")
    domain = next(line for line in text.splitlines() if line.startswith("domain: "))
    edit_collective(inventory, domain, "domain: alolise.fr")
    path, lines = claim(inventory, "zz.alolise.fr, fabrique-1.alolise.fr", capsys)
    assert lines == [
        f"{path}:7:43: domains[2]: domain 'fabrique-1.alolise.fr' belongs to the hosting "
        "association ('fabrique-1.alolise.fr'): a structure cannot claim it"
    ]
