"""Keys by binding id: every binding has one, and a keymap file remaps them.

The file is TOML (`tui.keymap`); Textual applies it (`App.set_keymap`), so the
footer, the help screen and the key itself all follow the remapped key.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest
from queue_data import NOW, sample_rows, source_with
from test_queue_screen import NavApp, until
from textual.binding import Binding
from textual.dom import DOMNode
from textual.widgets import Input, Static

import sladesk_tui.tui
from sladesk_tui.core.errors import InputError
from sladesk_tui.tui.keymap import ENV, binding_ids, load_keymap, parse_keymap
from sladesk_tui.tui.screens.help import HelpScreen
from sladesk_tui.tui.screens.queue import QueueScreen


def _classes_with_bindings() -> list[type[DOMNode]]:
    found = []
    for info in pkgutil.walk_packages(sladesk_tui.tui.__path__, "sladesk_tui.tui."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and issubclass(cls, DOMNode) and "BINDINGS" in cls.__dict__:
                found.append(cls)
    return found


def test_every_binding_has_an_id_that_the_keymap_knows() -> None:
    classes = _classes_with_bindings()
    assert len(classes) >= 10  # the app, the screens, the dialogs, the queue widget
    known = binding_ids()
    for cls in classes:
        for b in cls.__dict__["BINDINGS"]:
            assert isinstance(b, Binding), (cls, b)
            assert b.id is not None, f"{cls.__name__}: {b.key} -> {b.action} has no id"
            assert b.id in known, f"{cls.__name__}: {b.id} is not offered by the keymap"


def test_the_file_takes_tables_and_dotted_ids() -> None:
    text = '"queue.filter" = "f"\n[ticket]\noverride = "o, ctrl+o"\n'
    assert parse_keymap(text, "km.toml", binding_ids()) == {
        "queue.filter": "f",
        "ticket.override": "o,ctrl+o",
    }


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('[ticket]\noverride = "o"\nnope = "x"\n', "km.toml: unknown binding id 'ticket.nope'"),
        (
            '"ticket.override" = ["o"]\n',
            "km.toml: ticket.override: ['o'] is not a comma-separated list of keys",
        ),
        ('"ticket.override" = "ctrl o"\n', "is not a comma-separated list of keys"),
        ('"ticket.override" = ""\n', "is not a comma-separated list of keys"),
        ('\n\n[ticket\noverride = "o"\n', "km.toml:3: not valid TOML"),
    ],
)
def test_a_bad_file_is_refused_naming_the_file(text: str, error: str) -> None:
    with pytest.raises(InputError) as info:
        parse_keymap(text, "km.toml", binding_ids())
    assert error in str(info.value)
    assert "\n" not in str(info.value)


def test_where_the_file_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv(ENV, raising=False)
    assert load_keymap() == {}  # no file in the config directory: the default keys
    (tmp_path / "config" / "sladesk").mkdir(parents=True)
    (tmp_path / "config" / "sladesk" / "keymap.toml").write_text('[queue]\nfilter = "f"\n')
    assert load_keymap() == {"queue.filter": "f"}
    monkeypatch.setenv(ENV, str(tmp_path / "mine.toml"))
    with pytest.raises(InputError, match=f"{ENV}: .*mine.toml: no such file"):
        load_keymap()  # named explicitly: its absence is a mistake
    (tmp_path / "mine.toml").write_text('[ticket]\noverride = "ctrl+o"\n')
    assert load_keymap() == {"ticket.override": "ctrl+o"}


def test_a_bad_keymap_stops_the_app_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sladesk_tui import cli

    (tmp_path / "km.toml").write_text('[queue]\nfiltre = "f"\n')
    monkeypatch.setenv(ENV, str(tmp_path / "km.toml"))
    assert cli.main(["--db", str(tmp_path / "x.db")], operator="ana") == 2
    err = capsys.readouterr().err
    assert err.startswith(f"sladesk: {tmp_path / 'km.toml'}: unknown binding id 'queue.filtre'")
    assert err.count("\n") == 1


async def test_a_remapped_key_works_and_the_footer_and_help_show_it() -> None:
    app = NavApp(
        "unused.db",
        "sam",
        clock=lambda: NOW,
        source_factory=source_with(sample_rows(5)),
        poll_interval=0.02,
        keymap={"queue.filter": "f", "queue.open": "space", "app.help": "f2"},
    )
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, QueueScreen)
        await until(pilot, lambda: screen.ready)
        await pilot.pause()
        footer = app.screen._compositor.render_strips()[-1].text  # noqa: SLF001 - the line on screen
        assert "f Filter" in footer and "/ Filter" not in footer
        await pilot.press("slash")  # the old key does nothing now
        assert not screen.query_one("#filter", Input).display
        await pilot.press("space")
        await until(pilot, lambda: bool(app.opened))
        assert app.opened == [screen.queue.rows[0].id]
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        keys = str(app.screen.query_one("#help-text", Static).render())
        rows = [line.split() for line in keys.splitlines()]
        assert ["f", "Filter"] in rows and ["f2", "f1", "Help"] in rows, keys
        assert any(r and r[0] == "space" and r[-1] == "Open" for r in rows), keys
        await pilot.press("escape")
        await pilot.press("f")
        assert screen.query_one("#filter", Input).has_focus
