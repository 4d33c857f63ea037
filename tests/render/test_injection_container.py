"""The injection test: Jinja in a structure's text reaches a real host as text, never evaluated.

A structure whose name, list description and contact role are Jinja (`{{ lookup('pipe','id') }}`,
`{% raw %}`…) is rendered by `chaton render`; the rendered host_vars are given to a test host
(a Debian 12 container), and a play writes those values into a file with `copy` and `template`,
the way roles use them. The file must hold the text exactly as the structure wrote it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from chaton import containers
from chaton.generated import render_inventory
from chaton.runner import run_playbook
from render.conftest import EXAMPLE

HOST = containers.TestHost(name="chaton-test-render")
NAME = "{{ lookup('pipe','id') }}"
DESCRIPTION = "{% raw %} {{ 7 * 6 }} {% endraw %}"
ROLE = "$(id) `id` {{ 1 + 1 }}"

STRUCTURE = {
    "name": NAME,
    "slug": "zz-hostile",
    "contacts": [{"name": "Zoé", "email": "zoe@hostile.fr", "role": ROLE}],
    "tier": "member",
    "domains": ["hostile.fr"],
    "services": {
        "website": {"source": "none"},
        "lists": [{"name": "no", "description": DESCRIPTION, "owners": ["zoe@hostile.fr"]}],
    },
}

PLAY = """\
- name: Write tenant values into files on the test host
  hosts: chaton-test-render
  gather_facts: false
  vars:
    site: "{{ website_sites | selectattr('structure', 'equalto', 'zz-hostile') | first }}"
    mailing_list: "{{ mailman_lists | selectattr('structure', 'equalto', 'zz-hostile') | first }}"
  tasks:
    - name: Write the values with copy
      ansible.builtin.copy:
        dest: /root/copied.txt
        content: |
          {{ site.structure_name }}
          {{ mailing_list.description }}
          {{ mailing_list.name }}
        mode: "0600"
    - name: Write the values with a template
      ansible.builtin.template:
        src: values.j2
        dest: /root/templated.txt
        mode: "0600"
"""

TEMPLATE = """\
{% for item in website_sites if item.structure == 'zz-hostile' %}
{{ item.structure_name }}
{% endfor %}
{% for item in mailman_lists if item.structure == 'zz-hostile' %}
{{ item.description }}
{% endfor %}
"""


@pytest.mark.container
def test_hostile_text_is_written_literally_on_a_real_host(tmp_path: Path) -> None:
    root = tmp_path / "inventory"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("generated", "hosts.yml"))
    (root / "structures" / "zz-hostile.yml").write_text(
        yaml.safe_dump(STRUCTURE, allow_unicode=True), encoding="utf-8"
    )
    (root / "generated").mkdir()
    (root / "generated" / ".vault-password").write_text("container-test\n")
    render_inventory(root)
    rendered = root / "generated" / "host_vars" / "fabrique-1.yml"
    assert NAME in rendered.read_text(encoding="utf-8").replace("''", "'")

    play_dir = tmp_path / "play"
    (play_dir / "host_vars").mkdir(parents=True)
    (play_dir / "templates").mkdir()
    shutil.copyfile(rendered, play_dir / "host_vars" / f"{HOST.name}.yml")
    (play_dir / "templates" / "values.j2").write_text(TEMPLATE, encoding="utf-8")
    (play_dir / "play.yml").write_text(PLAY, encoding="utf-8")
    hosts = play_dir / "hosts.yml"
    hosts.write_text(
        yaml.safe_dump(
            {"all": {"hosts": {HOST.name: {"ansible_connection": "podman"}}}},
        ),
        encoding="utf-8",
    )
    with containers.running(HOST):
        result = run_playbook(
            play_dir / "play.yml",
            hosts,
            runs_dir=tmp_path / "runs",
            env={"ANSIBLE_CACHE_PLUGIN": "memory"},
        )
        assert result.succeeded, result.failed_tasks
        copied = containers.exec_in(HOST.name, "cat", "/root/copied.txt").stdout
        templated = containers.exec_in(HOST.name, "cat", "/root/templated.txt").stdout
    assert copied == f"{NAME}\n{DESCRIPTION}\nno\n"
    assert templated == f"{NAME}\n{DESCRIPTION}\n"
    assert "uid=" not in copied + templated
    assert not containers.exists(HOST.name)
