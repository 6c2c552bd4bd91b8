"""What every command shares: settings, the engine, error reporting and exit codes."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from sqlalchemy import Engine

from landgis.errors import ExitCode, LandgisError, exit_code_for
from landgis.settings import Settings

console = Console(stderr=True, highlight=False)


def settings() -> Settings:
    """The settings of this command, read from the environment when it runs."""
    return Settings()


def engine(cfg: Settings | None = None) -> Engine:
    """The engine for a command (one per process): a batch job, unrestricted (see ``make_engine``)."""
    from landgis.db.engine import make_engine

    return make_engine(cfg or settings(), pool_size=2, unrestricted=True)


def info(message: str) -> None:
    console.print(message)


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn core errors into a one-line message and the matching exit code."""
    from sqlalchemy.exc import OperationalError

    try:
        yield
    except LandgisError as exc:
        console.print(f"[bold red]错误 error:[/] {exc.message}")
        raise typer.Exit(int(exit_code_for(exc))) from exc
    except OperationalError as exc:
        console.print("[bold red]错误 error:[/] 数据库不可用 (the database is unavailable)")
        raise typer.Exit(int(ExitCode.DATABASE)) from exc
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]")
        sys.exit(130)
