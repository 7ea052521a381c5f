"""What the command-line modules share: common options and the error exit."""

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

#: Sampler settings shared by the fitting commands (each sets its own default).
SamplerOption = Annotated[str, typer.Option(help="nutpie | pymc | numpyro")]
DrawsOption = Annotated[int, typer.Option(help="Posterior draws per chain.")]
TuneOption = Annotated[int, typer.Option(help="Tuning steps per chain.")]
ChainsOption = Annotated[int, typer.Option(help="Chains.")]
SeedOption = Annotated[int, typer.Option(help="Random seed.")]


def fail(exc: Exception) -> None:
    """Print ``error: <exc>`` on stderr and exit with code 2 (bad input, not a crash)."""
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(code=2)
