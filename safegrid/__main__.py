"""Allow ``python -m safegrid``."""

from safegrid.cli import app

app()
