"""Colour themes as data: Textual Theme objects whose variables drive the loss colour ramp.

``loss-0`` … ``loss-4`` go from routine to over-the-threshold; ``loss-muted`` is for
timestamps and levels; ``source-0`` … ``source-3`` tell the logs of a merged view apart (blues
and purples, so a source's colour is never read as a loss). The structure lives in ``logwatch.tcss`` beside this file.
"""

from __future__ import annotations

from pathlib import Path

from textual.theme import Theme

CSS_PATH = Path(__file__).with_name("logwatch.tcss")


def _theme(name: str, dark: bool, ramp: tuple[str, str, str, str, str], muted: str, sources: tuple[str, ...],
           **colours: str) -> Theme:
    variables = {f"loss-{i}": c for i, c in enumerate(ramp)}
    variables["loss-muted"] = muted
    variables.update({f"source-{i}": c for i, c in enumerate(sources)})
    return Theme(name=name, dark=dark, variables=variables, **colours)  # type: ignore[arg-type]  # colour names only


THEMES: dict[str, Theme] = {
    theme.name: theme
    for theme in (
        _theme("logwatch-dark", True, ("#8b949e", "#7ee787", "#e3b341", "#f0883e", "#ff5f56"), "#6e7681",
               ("#58a6ff", "#bc8cff", "#79c0ff", "#d2a8ff"),
               primary="#58a6ff", secondary="#bc8cff", warning="#e3b341", error="#ff5f56", success="#7ee787",
               background="#0d1117", surface="#161b22", panel="#21262d", foreground="#e6edf3"),
        _theme("logwatch-light", False, ("#57606a", "#1a7f37", "#9a6700", "#bc4c00", "#cf222e"), "#8c959f",
               ("#0969da", "#8250df", "#1b7c83", "#a0529a"),
               primary="#0969da", secondary="#8250df", warning="#9a6700", error="#cf222e", success="#1a7f37",
               background="#ffffff", surface="#f6f8fa", panel="#eaeef2", foreground="#1f2328"),
        _theme("logwatch-contrast", True, ("#ffffff", "#00ff00", "#ffff00", "#ff8800", "#ff0000"), "#c0c0c0",
               ("#00ffff", "#ff00ff", "#8080ff", "#ffffff"),
               primary="#00ffff", secondary="#ff00ff", warning="#ffff00", error="#ff0000", success="#00ff00",
               background="#000000", surface="#000000", panel="#1a1a1a", foreground="#ffffff"),
    )
}
DEFAULT_THEME = "logwatch-dark"
