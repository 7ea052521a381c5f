"""``python -m bayes_scaling`` runs the command-line interface."""

from bayes_scaling.cli import app

app()
