"""What the command-line modules share: the ``--target`` option and the error exit."""

from __future__ import annotations

from typing import Annotated

import typer

#: ``--target PROPERTY=VALUE`` of the report and demo commands (one definition for both).
TargetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--target",
        help="PROPERTY=VALUE: target error of a property in its own unit (repeatable). "
        "Default for the others: 10 % below today's error.",
    ),
]


def fail(exc: Exception) -> None:
    """Print ``error: <exc>`` on stderr and exit with code 2 (bad input, not a crash)."""
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(code=2)
