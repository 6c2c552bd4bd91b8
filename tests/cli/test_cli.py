"""The command line: every command documented in --help, exit codes for scripts."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from landgis.cli import app

runner = CliRunner()


def _commands(help_text: str) -> dict[str, str]:
    """Command names and their one-line descriptions from a rich --help panel."""
    found: dict[str, str] = {}
    for line in help_text.splitlines():
        match = re.match(r"^│ (\w[\w-]*)\s{2,}(\S.*?)\s*│$", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def test_help_lists_every_command_with_a_description() -> None:
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    commands = _commands(result.output)
    registered = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
    assert registered <= set(commands)
    assert all(description for description in commands.values())


def test_every_group_lists_its_commands() -> None:
    for group in app.registered_groups:
        result = runner.invoke(app, [str(group.name), "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0
        commands = _commands(result.output)
        sub = {c.name for c in group.typer_instance.registered_commands}
        assert sub and sub <= set(commands), group.name


def test_load_of_a_missing_file_exits_with_the_documented_code(settings: object) -> None:
    result = runner.invoke(
        app, ["load", "parcels", "/nonexistent/宗地.shp"], env={"LANDGIS_DATABASE_URL": settings.database_url}
    )
    assert result.exit_code == 3
    assert "不存在" in result.output
