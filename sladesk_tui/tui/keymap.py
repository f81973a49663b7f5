"""Keys the operator remaps: a TOML file of binding ids and the keys to use instead.

Every binding of the TUI has an id (`queue.filter`, `ticket.override`, ...); the
file maps ids to keys, comma-separated for several, in Textual's key names
(`ctrl+o`, `f5`, `question_mark` or `?`):

    [ticket]
    override = "o,ctrl+o"

    [queue]
    filter = "slash,ctrl+f"

(a dotted key, `"ticket.override" = "o"`, says the same). The file is
`$SLADESK_KEYMAP` when set, else `keymap.toml` in the user's config directory
(platformdirs: `~/.config/sladesk/` on Linux); a missing default file means no
remapping, a missing `$SLADESK_KEYMAP` file is an error. Textual applies the map
(`App.set_keymap`): the footer, the help screen and the palette show the new keys.
See docs/tui.md.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sladesk_tui.core.errors import InputError

ENV = "SLADESK_KEYMAP"
_KEY = re.compile(r"^[^\s,]+$")


def keymap_path() -> tuple[Path, bool]:
    """(the keymap file, whether it must exist): `$SLADESK_KEYMAP`, else the config dir's."""
    named = os.environ.get(ENV)
    if named:
        return Path(named), True
    from platformdirs import user_config_path

    return user_config_path("sladesk", appauthor=False) / "keymap.toml", False


def binding_ids() -> dict[str, str]:
    """Every binding id of the TUI, with what it does (for errors and the docs)."""
    from textual.binding import Binding

    from sladesk_tui.tui.app import SladeskApp
    from sladesk_tui.tui.screens.compliance import ComplianceScreen
    from sladesk_tui.tui.screens.help import HelpScreen
    from sladesk_tui.tui.screens.override_dialog import OverrideDialog
    from sladesk_tui.tui.screens.queue import QueueScreen
    from sladesk_tui.tui.screens.review import CommentDialog, LeadsDialog, ReviewScreen
    from sladesk_tui.tui.screens.ticket import TicketScreen
    from sladesk_tui.tui.screens.ticket.dialogs import _ChoiceDialog
    from sladesk_tui.tui.widgets.queue_view import QueueView

    owners: tuple[type, ...] = (
        SladeskApp,
        QueueScreen,
        QueueView,
        TicketScreen,
        _ChoiceDialog,
        OverrideDialog,
        ReviewScreen,
        CommentDialog,
        LeadsDialog,
        ComplianceScreen,
        HelpScreen,
    )
    found: dict[str, str] = {}
    for owner in owners:
        for b in owner.__dict__.get("BINDINGS", []):
            if isinstance(b, Binding) and b.id is not None:
                found.setdefault(b.id, b.description or b.action)
    return found


def _flatten(table: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _flatten(value, name + ".")
        else:
            yield name, value


def parse_keymap(text: str, source: str, known: Mapping[str, str]) -> dict[str, str]:
    """Binding id -> keys from the TOML `text`; `InputError` naming `source` on any fault."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        where = f"{source}:{line.group(1)}" if line else source
        raise InputError(f"{where}: not valid TOML: {exc}") from None
    out: dict[str, str] = {}
    for name, value in _flatten(data):
        if name not in known:
            raise InputError(f"{source}: unknown binding id {name!r} (ids: {', '.join(sorted(known))})")
        keys = [k.strip() for k in value.split(",")] if isinstance(value, str) else []
        if not keys or not all(_KEY.match(k) for k in keys):
            raise InputError(f"{source}: {name}: {value!r} is not a comma-separated list of keys")
        out[name] = ",".join(keys)
    return out


def load_keymap(path: Path | None = None, *, required: bool = False) -> dict[str, str]:
    """The keymap in `path` (default: `keymap_path()`); empty when the default file is absent."""
    if path is None:
        path, required = keymap_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            raise InputError(f"{ENV}: {path}: no such file") from None
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the keymap: {exc}") from None
    return parse_keymap(text, str(path), binding_ids())
