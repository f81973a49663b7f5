"""Alerts in the app: a toast and the terminal bell when one of the operator's tickets
crosses a level, and the count of those not yet looked at (docs/alerts.md).

The app does not compute levels itself: it watches the outbox `sladesk notify` writes
(`store.alerts.raised_for`), so the toast says exactly what the mail says, once per
alert, and only alerts raised while the app is open count. Opening a ticket marks
its alerts read. `SLADESK_ALERT_BELL=off` keeps the toasts and silences the bell.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from sladesk_tui.core.text import safe_text

if TYPE_CHECKING:
    from sladesk_tui.tui.app import SladeskApp


class AlertWatch:
    """Polls on the app's `poll_interval`; a few microseconds while nothing commits."""

    def __init__(self, app: SladeskApp) -> None:
        self.app = app
        self.bell = os.environ.get("SLADESK_ALERT_BELL", "on").lower() not in ("off", "0", "no", "false")
        self.unread: dict[str, int] = {}
        self._version: int | None = None
        self._after: int | None = None

    @property
    def unread_count(self) -> int:
        return sum(self.unread.values())

    def start(self) -> None:
        self.check()
        self.app.set_interval(self.app.poll_interval, self.check, name="alert-watch")

    def mark_read(self, ticket: str) -> None:
        if self.unread.pop(ticket, None):
            self.app.unread_alerts_changed()

    def check(self) -> None:
        from sladesk_tui.store.alerts import last_alert_id, raised_for

        desk = self.app.desk
        version = desk.data_version()
        if version is None or version == self._version:
            return
        self._version = version
        try:
            if self._after is None:  # only what is raised from now on
                self._after = last_alert_id(desk.conn)
                return
            raised = raised_for(desk.conn, desk.operator, after_id=self._after)
        except Exception:  # noqa: BLE001 - a database without the outbox yet: nothing to say
            return
        if not raised:
            return
        self._after = raised[-1].id
        from sladesk_tui.core.alerts import AlertItem, level_phrase

        for a in raised:
            item = AlertItem(
                a.ticket, a.title, "", "", a.clock, a.level, a.threshold_ts, a.threshold_ts, None, False
            )
            self.app.notify(
                f"{safe_text(a.ticket)} {a.clock} {level_phrase(item)}: {safe_text(a.title)}",
                title="SLA alert",
                severity="error" if a.level == "breach" else "warning",
                markup=False,
            )
            self.unread[a.ticket] = self.unread.get(a.ticket, 0) + 1
        if self.bell:
            self.app.bell()
        self.app.unread_alerts_changed()
