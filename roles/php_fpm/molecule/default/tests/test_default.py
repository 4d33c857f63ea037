"""Verify the php_fpm role: one confined pool per instance, and no way from one to the other."""

import json

import pytest

POOLS = {"alpha": "website-alpha", "beta": "website-beta"}


def fcgi(host, socket, script, query="", as_user="www-data"):
    """Send one FastCGI request to a pool's socket, as `as_user`."""
    env = (
        f"SCRIPT_FILENAME={script} REQUEST_METHOD=GET QUERY_STRING='{query}' "
        f"cgi-fcgi -bind -connect {socket}"
    )
    return host.run(f"runuser -u {as_user} -- env {env}")


@pytest.mark.parametrize("name,user", POOLS.items())
def test_socket_belongs_to_its_instance_and_the_web_server(host, name, user):
    socket = host.file(f"/run/php/{user}.sock")
    assert socket.is_socket
    assert socket.user == user
    assert socket.group == "www-data"
    assert socket.mode == 0o660


@pytest.mark.parametrize("name,user", POOLS.items())
def test_pool_runs_as_its_instance(host, name, user):
    result = fcgi(host, f"/run/php/{user}.sock", f"/srv/www/{name}/whoami.php")
    assert result.rc == 0, result.stderr
    assert result.stdout.rstrip().endswith(user)


def test_a_pool_cannot_read_the_other_instance_files(host):
    # Through alpha's pool, beta's private file: refused (open_basedir, and file modes).
    result = fcgi(
        host,
        "/run/php/website-alpha.sock",
        "/srv/www/alpha/peek.php",
        query="path=/srv/www/beta/private.txt",
    )
    assert result.rc == 0, result.stderr
    assert "bool(false)" in result.stdout
    own = fcgi(
        host,
        "/run/php/website-alpha.sock",
        "/srv/www/alpha/peek.php",
        query="path=/srv/www/alpha/private.txt",
    )
    assert 'string(10) "only mine' in own.stdout


def test_an_instance_cannot_use_the_other_instance_socket(host):
    refused = fcgi(
        host, "/run/php/website-beta.sock", "/srv/www/beta/whoami.php", as_user="website-alpha"
    )
    assert refused.rc != 0
    assert "website-beta" not in refused.stdout
    # The same request as the web server goes through: the refusal is the socket's mode.
    allowed = fcgi(host, "/run/php/website-beta.sock", "/srv/www/beta/whoami.php")
    assert allowed.stdout.rstrip().endswith("website-beta")


def test_apcu_is_not_shared_between_the_pools(host):
    """APCu is installed (prepare) yet off in PHP-FPM: what alpha's pool would leave there,
    beta's never sees."""
    answers = {}
    for name, user in POOLS.items():
        result = fcgi(
            host, f"/run/php/{user}.sock", f"/srv/www/{name}/caches.php", query=f"who={name}"
        )
        assert result.rc == 0, result.stderr
        answers[name] = json.loads(result.stdout.split("\r\n\r\n", 1)[1])
    for answer in answers.values():
        assert answer == {"apcu": False, "stored": False, "seen": []}


def test_a_pool_cannot_start_a_program(host):
    """An instance's PHP starts no program (a shell as its user would escape open_basedir): every
    function that would is disabled, proc_open too, and mail() and putenv() (sendmail run with
    an environment or arguments of the pool's choosing). Nextcloud's web requests need none."""
    result = fcgi(host, "/run/php/website-alpha.sock", "/srv/www/alpha/commands.php")
    assert result.rc == 0, result.stderr
    answers = json.loads(result.stdout.split("\r\n\r\n", 1)[1])
    assert answers == dict.fromkeys(
        [
            "exec",
            "shell_exec",
            "system",
            "passthru",
            "popen",
            "proc_open",
            "putenv",
            "mail",
            "mb_send_mail",
        ],
        "refused",
    )
    assert host.run("ls /srv/www/alpha/ran-*").rc != 0


def processes_of(host, user):
    """How many processes run as `user` (read from /proc: minbase has no procps)."""
    out = host.run("stat -c %U /proc/[0-9]*/ 2>/dev/null").stdout.split()
    return out.count(user)


def test_ondemand_pools_have_no_process_when_idle(host):
    assert "pm = ondemand" in host.run("php-fpm8.2 -tt 2>&1").stdout
    fcgi(host, "/run/php/website-beta.sock", "/srv/www/beta/whoami.php")
    assert processes_of(host, "website-beta") >= 1
    host.run("sleep 12")  # php_fpm_process_idle_timeout is 10 s
    assert processes_of(host, "website-beta") == 0


def test_default_pool_is_gone_and_config_is_valid(host):
    assert not host.file("/etc/php/8.2/fpm/pool.d/www.conf").exists
    assert host.run("php-fpm8.2 -t").rc == 0
    assert host.service("php8.2-fpm").is_running
