"""The ``safegrid`` console script (typer); sub-command groups live in their own modules."""

from __future__ import annotations

import typer

from safegrid import cli_db, cli_demo, cli_etl, cli_serve, cli_stack, cli_users

app = typer.Typer(
    help="SafeGrid 安全生产网格化监管“一张图”", no_args_is_help=True, add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(cli_db.app, name="db")
app.add_typer(cli_etl.app, name="etl")
app.add_typer(cli_demo.app, name="demo")
app.add_typer(cli_users.app, name="users")
app.add_typer(cli_stack.app, name="stack")
app.command("audit")(cli_users.audit_cmd)
app.command("serve")(cli_serve.serve)
