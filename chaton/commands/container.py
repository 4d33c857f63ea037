"""`chaton container`: the local Debian 12 image and containers used by the demo and tests."""

from __future__ import annotations

import argparse
from typing import Any

from chaton import containers
from chaton.i18n import _


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "container",
        help=_("build the local Debian 12 image, start or remove a local test server"),
        description=_(
            "Local Debian 12 systemd containers standing in for servers (the demo, the tests). "
            "Ports are published on 127.0.0.1 only."
        ),
    )
    actions = parser.add_subparsers(title=_("actions"), metavar="ACTION", required=True)

    image = actions.add_parser("image", help=_("build the base image unless it exists"))
    image.add_argument("--force", action="store_true", help=_("rebuild even if it exists"))
    image.set_defaults(func=_image)

    start = actions.add_parser("start", help=_("start a container (created when absent)"))
    start.add_argument("name", help=_("container name"))
    start.add_argument("--hostname", help=_("host name inside the container (default: its name)"))
    start.add_argument(
        "-p",
        "--publish",
        action="append",
        default=[],
        metavar="127.0.0.1:HOST:CONTAINER",
        help=_("publish a container port on the loopback address (repeatable)"),
    )
    start.set_defaults(func=_start)

    stop = actions.add_parser("stop", help=_("stop and remove a container"))
    stop.add_argument("name", help=_("container name"))
    stop.set_defaults(func=_stop)


def _image(args: argparse.Namespace) -> int:
    built = containers.build_image(force=args.force)
    print(
        _("{image}: built", image=containers.IMAGE)
        if built
        else _("{image}: already there", image=containers.IMAGE)
    )
    return 0


def _start(args: argparse.Namespace) -> int:
    host = containers.TestHost(
        name=args.name, hostname=args.hostname or "", publish=tuple(args.publish)
    )
    created = containers.start(host)
    print(
        _("{name}: created and running", name=args.name)
        if created
        else _("{name}: running", name=args.name)
    )
    return 0


def _stop(args: argparse.Namespace) -> int:
    removed = containers.stop(args.name)
    print(
        _("{name}: removed", name=args.name) if removed else _("{name}: not there", name=args.name)
    )
    return 0
