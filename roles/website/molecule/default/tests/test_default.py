"""Verify the website role: chrooted SFTP-only accounts, private public folders, the placeholder,
and the Hugo build from git that never breaks a published site."""

import re
import shlex
from pathlib import Path

import pytest
from scenario_tools import converge, wait_for

SCENARIO = Path(__file__).resolve().parents[1]
HOST = "chaton-test-website"
KEY = "/root/.ssh/alpha_key"
SSH_OPTIONS = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=10"
# The ceiling the Mastodon units are held to (roles/mastodon/molecule/default/tests).
EXPOSURE_MAX = 3.0
PASSWORDS = {
    "alpha": "alpha-test-password-0123",
    "beta": "beta-test-password-4567",
    "gamma": "gamma-test-password-8901",
}


def sftp_with_key(host, user, commands):
    batch = shlex.quote("\n".join(commands) + "\n")
    return host.run(
        f"printf %s {batch} | timeout 30 sftp -b - -i {KEY} -o BatchMode=yes {SSH_OPTIONS} "
        f"{user}@127.0.0.1"
    )


def sftp_with_password(host, user, password, commands):
    """Log in with a password (sshpass), then run `commands`. Not in batch mode: `sftp -b`
    turns password authentication off. The commands' output tells whether the login worked."""
    script = shlex.quote("\n".join(commands) + "\n")
    return host.run(
        f"printf %s {script} | SSHPASS={shlex.quote(password)} timeout 30 sshpass -e "
        f"sftp -o PubkeyAuthentication=no -o PreferredAuthentications=password "
        f"{SSH_OPTIONS} {user}@127.0.0.1"
    )


@pytest.mark.parametrize("name", ["alpha", "beta", "gamma"])
def test_home_is_a_root_owned_chroot_and_public_is_private(host, name):
    home = host.file(f"/srv/www/{name}")
    assert (home.user, home.group, home.mode) == ("root", "root", 0o755)
    public = host.file(f"/srv/www/{name}/public")
    assert (public.user, public.group, public.mode) == (f"website-{name}", "www-data", 0o2750)
    user = host.user(f"website-{name}")
    assert user.shell == "/usr/sbin/nologin"
    assert "chaton-sftp" in user.groups


def test_placeholder_names_the_structure_escaped(host):
    page = host.file("/srv/www/alpha/public/index.html")
    assert (page.user, page.group, page.mode) == ("website-alpha", "www-data", 0o640)
    # L'Atelier Vélo & Co, escaped for HTML by hand: ' is &#39;, & is &amp;.
    assert "<h1>L&#39;Atelier Vélo &amp; Co</h1>" in page.content_string
    assert '<html lang="fr">' in page.content_string


def test_one_site_cannot_read_another(host):
    for path in ["/srv/www/beta/public/index.html", "/srv/www/beta/work/src/hugo.toml"]:
        assert host.file(path).exists, path
        refused = host.run(f"runuser -u website-alpha -- cat {path}")
        assert refused.rc != 0 and "Permission denied" in refused.stderr, path
    assert host.run("runuser -u website-alpha -- ls /srv/www/beta/public").rc != 0
    # The web server reads every site.
    assert host.run("runuser -u www-data -- cat /srv/www/alpha/public/index.html").rc == 0


def test_sftp_upload_lands_in_public_for_the_web_server_only(host):
    host.run_expect([0], "echo '<p>hello</p>' > /root/hello.html")
    result = sftp_with_key(host, "website-alpha", ["pwd", "ls /", "put /root/hello.html public/"])
    assert result.rc == 0, result.stderr
    assert "Remote working directory: /" in result.stdout
    listed = result.stdout.split("sftp> ls /", 1)[1].split("sftp> put", 1)[0].split()
    assert listed == ["/public"]
    uploaded = host.file("/srv/www/alpha/public/hello.html")
    assert (uploaded.user, uploaded.group, uploaded.mode) == ("website-alpha", "www-data", 0o640)
    assert host.run("runuser -u website-beta -- cat /srv/www/alpha/public/hello.html").rc != 0


@pytest.mark.parametrize("command", ["get /etc/passwd /root/escaped-passwd", "ls /srv", "cd /etc"])
def test_sftp_cannot_leave_the_chroot(host, command):
    result = sftp_with_key(host, "website-alpha", [command])
    assert result.rc != 0
    assert not host.file("/root/escaped-passwd").exists


def test_cd_up_stays_in_the_chroot(host):
    result = sftp_with_key(host, "website-alpha", ["cd ..", "cd ..", "pwd", "ls"])
    assert result.rc == 0, result.stderr
    assert "Remote working directory: /" in result.stdout
    assert "public" in result.stdout and "etc" not in result.stdout.split("sftp> ls", 1)[1]


def test_no_shell_and_no_forwarding(host):
    shell = host.run(
        f"timeout 30 ssh -n -i {KEY} -o BatchMode=yes {SSH_OPTIONS} website-alpha@127.0.0.1 id"
    )
    assert "uid=" not in shell.stdout
    forward = host.run(
        f"timeout 30 ssh -n -i {KEY} -o BatchMode=yes {SSH_OPTIONS} -W 127.0.0.1:22 "
        f"website-alpha@127.0.0.1"
    )
    assert forward.rc != 0
    assert "administratively prohibited" in forward.stderr


def test_password_from_the_vault_logs_in_and_a_wrong_one_does_not(host):
    good = sftp_with_password(host, "website-beta", PASSWORDS["beta"], ["pwd"])
    assert "Remote working directory: /" in good.stdout, good.stderr
    wrong = sftp_with_password(host, "website-beta", PASSWORDS["alpha"], ["pwd"])
    assert "Permission denied" in wrong.stderr
    assert "Remote working directory" not in wrong.stdout
    # The password is stored hashed (SHA-512 crypt), never in clear.
    shadow = host.run("getent shadow website-beta").stdout
    assert shadow.split(":")[1].startswith("$6$")
    assert PASSWORDS["beta"] not in host.file("/etc/shadow").content_string


def test_a_suspended_site_cannot_log_in(host):
    refused = sftp_with_password(host, "website-gamma", PASSWORDS["gamma"], ["pwd"])
    assert "Permission denied" in refused.stderr
    assert "Remote working directory" not in refused.stdout
    assert not host.file("/etc/ssh/sftp-authorized-keys/website-gamma").exists
    assert host.file("/etc/ssh/sftp-authorized-keys/website-alpha").exists


def test_git_site_is_built_by_hugo(host):
    built = wait_for(host, "grep -q '<p>version' /srv/www/beta/public/index.html", 90)
    assert built.rc == 0, host.run("journalctl -u chaton-website-build-beta --no-pager").stdout
    page = host.file("/srv/www/beta/public/index.html")
    assert "<h1>Les Jardins de Beta</h1>" in page.content_string
    assert (page.user, page.group, page.mode) == ("website-beta", "www-data", 0o640)
    # Hugo's folders (tags/, categories/) too: the web server's group, which they keep for
    # the files the next builds put there.
    folders = host.check_output("find /srv/www/beta/public -mindepth 1 -type d").split()
    assert folders, "Hugo made no folder"
    assert host.check_output("find /srv/www/beta/public ! -group www-data") == ""
    assert host.check_output("find /srv/www/beta/public -type d ! -perm -2000") == ""
    assert host.check_output("find /srv/www/beta/public -type f ! -perm 0640") == ""
    # The placeholder is gone: the build replaced the folder's contents.
    assert "chaton-toolkit placeholder" not in page.content_string
    assert host.service("chaton-website-build-beta.timer").is_enabled
    assert host.service("chaton-website-build-beta.timer").is_running


def commit(host, path, content, message):
    script = f"""set -eu
work=$(mktemp -d)
git clone --quiet /srv/git/beta.git "$work"
printf %s {shlex.quote(content)} > "$work/{path}"
git -C "$work" -c user.name=test -c user.email=test@beta.example \\
  commit --quiet -am {shlex.quote(message)}
git -C "$work" push --quiet origin main
rm -rf "$work"
"""
    host.run_expect([0], f"sh -c {shlex.quote(script)}")


def test_a_new_commit_is_published_and_a_broken_one_is_not(host):
    wait_for(host, "grep -q '<p>version' /srv/www/beta/public/index.html", 90)
    # The timer may start a build at any time; one running when we push would be the
    # build our `systemctl start` joins, and it would build the commit before ours.
    host.run_expect([0], "systemctl stop chaton-website-build-beta.timer")
    try:
        # Wait for the build the role (or the timer) started to end before starting ours.
        wait_for(host, "! systemctl is-active --quiet chaton-website-build-beta.service", 90)
        commit(host, "layouts/index.html", "<h1>{{ .Site.Title }}</h1><p>version 2</p>\n", "v2")
        host.run_expect([0], "systemctl start chaton-website-build-beta.service")
        assert "version 2" in host.file("/srv/www/beta/public/index.html").content_string

        commit(host, "layouts/index.html", "<p>{{ .Site.NoSuchThing.Broken }}</p>\n", "broken")
        failed = host.run("systemctl start chaton-website-build-beta.service")
        assert failed.rc != 0, host.run(
            "journalctl -u chaton-website-build-beta --no-pager -n 20"
        ).stdout
        # The published site is still version 2.
        assert "version 2" in host.file("/srv/www/beta/public/index.html").content_string
    finally:
        host.run_expect([0], "systemctl start chaton-website-build-beta.timer")


# A page of a structure's Hugo source that fetches two addresses while it is built, with
# resources.GetRemote (Hugo fetches any URL its site asks for; a site's configuration may also let
# it run programs): what it got ends up published.
SSRF_LAYOUT = """{{ range slice "127.0.0.1" "%(own)s" }}
{{ with resources.GetRemote (printf "http://%%s:8765/secret.txt" .) }}{{ with .Err }}<p>refused</p>
{{ else }}<p>got {{ .Content }}</p>{{ end }}{{ end }}{{ end }}
"""


def test_the_build_reaches_no_service_of_this_host(host):
    """The build is the structure's code: it fetches its git source from the internet and
    nothing from this host. A secret served on the loopback and on the host's own address (as
    Mailman's REST API, PostgreSQL or an admin interface would be) stays out of the site."""
    own = host.check_output("hostname -I").split()[0]
    server = host.check_output(
        "mkdir -p /root/ssrf && echo the-server-secret > /root/ssrf/secret.txt && "
        "cd /root/ssrf && { nohup python3 -m http.server --bind 0.0.0.0 8765 "
        ">/dev/null 2>&1 & echo $!; }"
    )
    host.run_expect([0], "systemctl stop chaton-website-build-beta.timer")
    try:
        wait_for(host, "curl -fsS http://127.0.0.1:8765/secret.txt", 30)
        # The secret is served to whoever asks outside the build.
        assert "the-server-secret" in host.check_output(f"curl -fsS http://{own}:8765/secret.txt")
        wait_for(host, "! systemctl is-active --quiet chaton-website-build-beta.service", 90)
        commit(host, "layouts/index.html", SSRF_LAYOUT % {"own": own}, "fetch")
        built = host.run("systemctl start chaton-website-build-beta.service")
        log = host.run("journalctl -u chaton-website-build-beta --no-pager -n 30").stdout
        assert built.rc == 0, log
        page = host.file("/srv/www/beta/public/index.html").content_string
        assert "the-server-secret" not in page
        assert page.count("refused") == 2, page
    finally:
        host.run(f"kill {int(server)}")
        host.run_expect([0], "systemctl start chaton-website-build-beta.timer")


def test_the_build_is_sandboxed(host):
    """No device, no other process, no Unix socket (PostgreSQL's, Mailman's, OpenDKIM's), a
    system-call filter; systemd-analyze's exposure at most that of the Mastodon units' ceiling."""
    unit = "chaton-website-build-beta.service"
    shown = host.check_output(
        f"systemctl show -p PrivateDevices,ProtectProc,RestrictAddressFamilies,"
        f"SystemCallFilter,CapabilityBoundingSet,IPAddressDeny {unit}"
    )
    assert "PrivateDevices=yes" in shown
    assert "ProtectProc=invisible" in shown
    families = re.search(r"^RestrictAddressFamilies=(.*)$", shown, re.MULTILINE)
    assert families and families.group(1).split() == ["AF_INET", "AF_INET6"], shown
    assert re.search(r"^SystemCallFilter=\S", shown, re.MULTILINE), shown
    assert re.search(r"^CapabilityBoundingSet=$", shown, re.MULTILINE), shown
    analysed = host.run(f"systemd-analyze security --offline=no --no-pager {unit}")
    level = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", analysed.stdout)
    assert level, analysed.stdout[-500:] + analysed.stderr
    assert float(level.group(1)) <= EXPOSURE_MAX, analysed.stdout


def test_a_structures_deploy_works_on_its_site_only(host):
    """`chaton deploy --structure beta` (its chaton_selection): beta's folders and git settings are
    put right, alpha's are left as they were, and no site is taken for one no longer listed."""
    # (chmod keeps a folder's setgid bit: 0700 leaves 2700.)
    host.run_expect([0], "chmod 0700 /srv/www/alpha/public /srv/www/beta/public")
    host.run_expect([0], "rm /etc/chaton-website/beta/branch")
    try:
        run = converge(HOST, SCENARIO, chaton_selection={"structure": "beta", "instances": []})
        assert run.returncode == 0, run.stdout[-3000:]
        assert host.file("/srv/www/beta/public").mode == 0o2750
        assert host.file("/etc/chaton-website/beta/branch").content_string == "main\n"
        assert host.file("/srv/www/alpha/public").mode == 0o2700
        assert "no longer listed" not in run.stdout
        assert host.file("/etc/systemd/system/chaton-website-build-beta.timer").exists
        assert host.file("/srv/www/gamma").is_directory and host.user("website-gamma").exists
    finally:
        # A whole deploy puts alpha right too.
        run = converge(HOST, SCENARIO)
    assert run.returncode == 0, run.stdout[-3000:]
    assert host.file("/srv/www/alpha/public").mode == 0o2750


def test_what_a_restore_set_aside_is_not_taken_for_a_site(host):
    """`chaton restore` moves the folders it replaces aside (<home>.before-restore-<time>): a
    deploy names them as such, not as sites no longer listed."""
    aside = "/srv/www/alpha.before-restore-20261128T005856"
    host.run_expect([0], f"mkdir {aside}")
    try:
        run = converge(HOST, SCENARIO)
        assert run.returncode == 0, run.stdout[-3000:]
        # Ansible's YAML output folds long messages: compare with the lines joined.
        said = " ".join(run.stdout.split())
        assert f"website: {aside}: what a restore replaced, kept aside." in said, said[-3000:]
        assert "no longer listed" not in said
    finally:
        host.run_expect([0], f"rmdir {aside}")
