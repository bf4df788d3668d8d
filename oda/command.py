"""How a command gets its settings: the root ``oda`` callback loads them once and keeps them on the root of the
command context; a command takes its context (``ctx: typer.Context``), reads them with ``settings_of`` and hands
them down to the library as arguments."""

from __future__ import annotations

import os

import typer

from oda.settings import Settings, load_settings


def load_command_settings(ctx: typer.Context, config: str | os.PathLike[str] | None = None) -> Settings:
    """Load the settings (file, then environment) and keep them on the root context of this command line."""
    settings = load_settings(config)
    ctx.find_root().obj = settings
    return settings


def settings_of(ctx: typer.Context) -> Settings:
    """The settings of the command ``ctx`` runs (loaded by the root callback; loaded here for a command that
    runs without it, as a sub-application does)."""
    root = ctx.find_root()
    if not isinstance(root.obj, Settings):
        root.obj = load_settings()
    settings: Settings = root.obj
    return settings
