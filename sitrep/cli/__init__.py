"""The `sitrep` command for humans and scripts: argument parsing (`main`), text rendering
(`render`), the one-page triage report (`triage`) and `patterns --file` (`file_patterns`,
`file_mining`)."""

from sitrep.cli.main import main

__all__ = ["main"]
