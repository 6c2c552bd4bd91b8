"""``landgis users``: accounts from the command line (the first administrator, tokens for scripts)."""

from __future__ import annotations

import getpass
import sys

import typer
from rich.table import Table

from landgis.accounts import tokens as tokenmod
from landgis.accounts import users as usermod
from landgis.cli.common import console, engine, info, reported_errors
from landgis.db.engine import set_audit_context
from landgis.errors import InvalidInput

app = typer.Typer(no_args_is_help=True)


def _actor() -> str:
    try:
        return f"os:{getpass.getuser()}"
    except (KeyError, OSError):
        return "os:unknown"


def _password(stdin: bool, prompt: bool) -> str | None:
    if stdin:
        return sys.stdin.readline().rstrip("\n")
    if prompt:
        first = getpass.getpass("密码 password: ")
        if first != getpass.getpass("再输入一次 again: "):
            raise InvalidInput("两次输入的密码不一致 (the passwords differ)")
        return first
    return None


def _scope(regions: list[str], all_regions: bool) -> list[str] | None:
    if all_regions and regions:
        raise InvalidInput("--region 与 --all-regions 只能选一个 (choose --region or --all-regions)")
    if not all_regions and not regions:
        raise InvalidInput("请用 --region 指定区域, 或用 --all-regions 不限区域 (give --region or --all-regions)")
    return None if all_regions else regions


@app.command("create", help="Create a user; with --role admin --all-regions it is the first administrator.")
def create(
    username: str = typer.Argument(..., help="Log-in name (letters, digits, _ . @ -)."),
    role: str = typer.Option(..., help="viewer, officer, planner or admin."),
    region: list[str] = typer.Option([], help="行政区划代码 the user may see (repeat for several)."),
    all_regions: bool = typer.Option(False, "--all-regions", help="Every region (no scope)."),
    display_name: str = typer.Option(None, help="Name shown in the UI."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
    no_password: bool = typer.Option(False, "--no-password", help="No password log-in (tokens only)."),
) -> None:
    with reported_errors():
        password = _password(password_stdin, prompt=not no_password and not password_stdin)
        with engine().begin() as conn:
            set_audit_context(conn, actor=_actor())
            user = usermod.create_user(
                conn, username, role, _scope(region, all_regions), password=password, display_name=display_name
            )
        info(f"用户 {user.username} ({user.role.value}) 已创建, id {user.id}")


@app.command("list", help="List users with role, region scope and state.")
def list_users() -> None:
    with reported_errors(), engine().connect() as conn:
        table = Table("id", "username", "role", "regions", "active", "last login")
        for user in usermod.list_users(conn):
            regions = ", ".join(user.region_scope) if user.region_scope else "(all)"
            table.add_row(
                str(user.id), user.username, user.role.value, regions, str(user.active), str(user.last_login_at or "")
            )
        console.print(table)


@app.command("set", help="Change a user's role, region scope, name or state.")
def set_user(
    username: str = typer.Argument(...),
    role: str = typer.Option(None, help="viewer, officer, planner or admin."),
    region: list[str] = typer.Option([], help="New region scope (repeat for several)."),
    all_regions: bool = typer.Option(False, "--all-regions", help="Every region."),
    active: bool = typer.Option(None, "--active/--inactive", help="Allow or block log-in."),
    display_name: str = typer.Option(None),
) -> None:
    with reported_errors(), engine().begin() as conn:
        set_audit_context(conn, actor=_actor())
        user = usermod.find_user(conn, username)
        changes: dict[str, object] = {}
        if role is not None:
            changes["role"] = role
        if region or all_regions:
            changes["region_scope"] = _scope(region, all_regions)
        if active is not None:
            changes["active"] = active
        if display_name is not None:
            changes["display_name"] = display_name
        updated = usermod.update_user(conn, user.id, **changes)  # type: ignore[arg-type]
        info(
            f"用户 {updated.username}: {updated.role.value}, regions {updated.region_scope or '(all)'}, active {updated.active}"
        )


@app.command("password", help="Set a user's password (prompted, or --password-stdin).")
def password(
    username: str = typer.Argument(...),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
) -> None:
    with reported_errors():
        secret = _password(password_stdin, prompt=not password_stdin)
        with engine().begin() as conn:
            set_audit_context(conn, actor=_actor())
            user = usermod.find_user(conn, username)
            usermod.update_user(conn, user.id, password=secret)
        info(f"用户 {user.username} 的密码已更新; 其登录会话已结束")


@app.command("token", help="Issue an API token for a user and print it (shown only this once).")
def token(
    username: str = typer.Argument(...),
    name: str = typer.Option(..., help="What the token is for."),
    days: int = typer.Option(None, min=1, max=3650, help="Validity in days (default: until revoked)."),
) -> None:
    with reported_errors(), engine().begin() as conn:
        set_audit_context(conn, actor=_actor())
        user = usermod.find_user(conn, username)
        issued, secret = tokenmod.create_token(conn, user.id, name, days=days)
    console.print(f"令牌 {issued.id} ({issued.name}) 已签发, 只显示这一次:", highlight=False)
    typer.echo(secret)


@app.command("revoke-token", help="Revoke an API token by its id.")
def revoke_token(token_id: int = typer.Argument(...)) -> None:
    with reported_errors(), engine().begin() as conn:
        set_audit_context(conn, actor=_actor())
        revoked = tokenmod.revoke_token(conn, token_id)
    info(f"令牌 {revoked.id} ({revoked.name}) 已撤销")
