"""The instance_accounts role on its test host: each instance's user, group, home and folders,
the web server's way through the homes, the upgrade backups out of them, and no way from one
instance's user into another's home."""

from __future__ import annotations

import shlex

import pytest

# The instances of converge.yml: name -> (user, group, home).
INSTANCES = {
    "alpha": ("notes-alpha", "notes-alpha", "/srv/notes/alpha"),
    "beta": ("notes-beta", "notes-beta", "/srv/notes/beta"),
    "gamma": ("board-gamma", "board-gamma-group", "/srv/board/gamma"),
}
# Each instance's folders: (path in the home, owner, group, mode); None: the instance's own.
NOTES_FOLDERS = [
    ("config", None, None, 0o750),
    ("files", None, "www-data", 0o750),
    ("tmp", None, None, 0o700),
]
BOARD_FOLDERS = [
    ("media", None, "www-data", 0o750),
    ("media/system", None, "www-data", 0o2750),
    ("settings", "root", None, 0o750),
    ("log", None, None, 0o700),
]
FOLDERS = {"alpha": NOTES_FOLDERS, "beta": NOTES_FOLDERS, "gamma": BOARD_FOLDERS}
BACKUPS = "/var/backups/chaton/notes"


def run_as(host, user, command):
    """`command` (a shell line) run as `user`, from / (a home it may not enter)."""
    return host.run(f"cd / && runuser -u {user} -- sh -c {shlex.quote(command)}")


def denied(result):
    return result.rc != 0 and "Permission denied" in result.stderr


@pytest.mark.parametrize("name", INSTANCES)
def test_each_instance_has_a_system_user_with_no_shell_or_password(host, name):
    user, group, home = INSTANCES[name]
    account = host.user(user)
    assert account.exists
    assert account.uid < 1000 and host.group(group).gid < 1000
    assert account.group == group
    assert account.home == home
    assert account.shell == "/usr/sbin/nologin"
    assert account.password == "!"  # noqa: S105 - a locked account, no password


@pytest.mark.parametrize("folder", ["/srv/notes", "/srv/board"])
def test_the_homes_are_in_a_folder_of_roots_everyone_may_cross(host, folder):
    f = host.file(folder)
    assert f.is_directory
    assert (f.user, f.group, f.mode) == ("root", "root", 0o755)


@pytest.mark.parametrize("name", INSTANCES)
def test_each_home_is_roots_listed_by_its_group_crossed_by_the_web_server(host, name):
    _user, group, home = INSTANCES[name]
    f = host.file(home)
    assert (f.user, f.group) == ("root", group)
    # The mode shows the ACL's mask in the group bits: r-x, as the group's own entry.
    assert f.mode == 0o750
    acl = host.check_output(f"getfacl --omit-header --absolute-names {home}").split()
    assert sorted(acl) == sorted(
        ["user::rwx", "user:www-data:--x", "group::r-x", "mask::r-x", "other::---"]
    )


@pytest.mark.parametrize("name", INSTANCES)
def test_each_instance_has_its_applications_folders(host, name):
    user, group, home = INSTANCES[name]
    for path, owner, folder_group, mode in FOLDERS[name]:
        f = host.file(f"{home}/{path}")
        assert f.is_directory, path
        assert (f.user, f.group, f.mode) == (owner or user, folder_group or group, mode), path
    # Only its application's folders: the notes' are not in the board's homes, and back.
    other = {"alpha": "media", "beta": "media", "gamma": "config"}[name]
    assert not host.file(f"{home}/{other}").exists


@pytest.mark.parametrize("name", INSTANCES)
def test_the_user_cannot_change_its_home(host, name):
    user, _group, home = INSTANCES[name]
    assert run_as(host, user, f"ls {home}").rc == 0
    assert denied(run_as(host, user, f"touch {home}/planted"))
    first = FOLDERS[name][0][0]
    assert denied(run_as(host, user, f"mv {home}/{first} {home}/moved"))
    assert not host.file(f"{home}/planted").exists
    assert host.file(f"{home}/{first}").is_directory


@pytest.mark.parametrize("name", INSTANCES)
def test_the_web_server_crosses_a_home_and_nothing_more(host, name):
    _user, _group, home = INSTANCES[name]
    web_folder = {"alpha": "files", "beta": "files", "gamma": "media/system"}[name]
    private = {"alpha": "config", "beta": "config", "gamma": "log"}[name]
    assert run_as(host, "www-data", f"ls {home}/{web_folder}").rc == 0
    assert denied(run_as(host, "www-data", f"ls {home}"))
    assert denied(run_as(host, "www-data", f"ls {home}/{private}"))


@pytest.mark.parametrize(
    ("tenant", "target"),
    [
        ("alpha", "beta"),
        ("beta", "alpha"),
        ("alpha", "gamma"),
        ("gamma", "alpha"),
        ("nobody", "alpha"),
    ],
)
def test_a_tenant_cannot_enter_another_instances_home(host, tenant, target):
    """As a tenant would try: list, cross to a file, write into the other's folders."""
    user = INSTANCES[tenant][0] if tenant in INSTANCES else tenant
    target_user, _group, home = INSTANCES[target]
    folder = f"{home}/{FOLDERS[target][0][0]}"
    secret = f"{folder}/secret-of-{target}"
    # The target's own file, in its own folder (written as its user).
    assert run_as(host, target_user, f"echo not-for-others > {secret}").rc == 0
    try:
        assert denied(run_as(host, user, f"ls {home}"))
        assert denied(run_as(host, user, f"ls {folder}"))
        result = run_as(host, user, f"cat {secret}")
        assert denied(result) and "not-for-others" not in result.stdout
        assert denied(run_as(host, user, f"touch {folder}/planted-by-{tenant}"))
    finally:
        host.run(f"rm -f {shlex.quote(secret)}")
    assert not host.file(f"{folder}/planted-by-{tenant}").exists


def test_the_upgrade_backups_are_out_of_the_homes_roots_alone(host):
    for path in (BACKUPS, f"{BACKUPS}/alpha", f"{BACKUPS}/beta"):
        f = host.file(path)
        assert f.is_directory, path
        assert (f.user, f.group, f.mode) == ("root", "root", 0o700), path
    for name in ("alpha", "beta"):
        assert denied(run_as(host, INSTANCES[name][0], f"ls {BACKUPS}/{name}"))
    # The board application keeps none.
    assert not host.file("/var/backups/chaton/board").exists


def test_a_roots_backups_left_in_a_home_are_moved_out(host):
    assert not host.file("/srv/notes/alpha/backups").exists
    moved = host.file(f"{BACKUPS}/alpha/from-home/notes-before-upgrade.sql")
    assert moved.is_file
    assert "fake dump of alpha" in moved.content_string


def test_backups_root_does_not_own_or_with_nowhere_to_go_stay(host):
    beta = host.file("/srv/notes/beta/backups")
    assert beta.is_directory and beta.user == "nobody"
    assert not host.file(f"{BACKUPS}/beta/from-home").exists
    gamma = host.file("/srv/board/gamma/backups")
    assert gamma.is_directory and gamma.user == "root"
