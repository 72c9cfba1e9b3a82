"""The README documents every setting and every command and option."""

from __future__ import annotations

from pathlib import Path

import click

from archive.config import SETTINGS
from web.cli import main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_readme_opens_with_the_two_commands():
    commands = [line for line in README.splitlines() if line.startswith("make ")][:2]
    assert [c.split()[1] for c in commands] == ["demo", "test"]


def test_every_setting_is_in_the_readme():
    missing = [s.name for s in SETTINGS if f"`{s.name}`" not in README]
    assert missing == []


def walk(group: click.Group, prefix: str = "onrecord"):
    for name, command in group.commands.items():
        yield f"{prefix} {name}", command
        if isinstance(command, click.Group):
            yield from walk(command, f"{prefix} {name}")


def test_every_command_and_option_is_in_the_readme():
    missing = []
    for name, command in walk(main):
        if isinstance(command, click.Group):
            continue
        if f"`{name}" not in README:
            missing.append(name)
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                flag = max(param.opts, key=len)
                if flag not in README:
                    missing.append(f"{name} {flag}")
    assert missing == []
