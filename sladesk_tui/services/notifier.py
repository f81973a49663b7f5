"""`sladesk notify`: alerts before the breach, on time, exactly once (docs/alerts.md).

The service keeps every open ticket's clocks in memory and, per ticket, the next
instant one of them crosses an alert level (`core.alerts.plan_ticket`). It sleeps
until the earliest of those instants, never polling by the minute; while asleep it
asks SQLite's `PRAGMA data_version` every `POLL_S` (microseconds each) and, when
another connection committed (a reply, a pause, an override, a review, a new
agreements version), reloads just the tickets that changed and plans them again.
On PostgreSQL it polls nothing: it waits for the database's change hints
(`store.changes`, docs/postgresql.md), and after its listener reconnected it
reloads everything. A database busy past the timeout is retried in a moment; a
lost connection is reopened (one line, then reloading everything); a refusal or
any other database failure stops the service (`store.failures`).

Delivery goes through the outbox of `store.alerts`: intent, then message, then
send, then attempt. A recipient's alerts within the digest window after their
last message are folded into one digest; failures are retried with exponential
backoff up to `MAX_ATTEMPTS`, then given up and shown by `sladesk alerts`.

Tests and the benchmark inject a clock: `SLADESK_TEST_CLOCK=EPOCH[xSPEED]` makes the
service's "now" start at EPOCH and run SPEED times faster than real time (the
sleeps shrink to match). It is a test hook only; a deployment never sets it. The
other test hook, `SLADESK_TEST_HOLD_AFTER_SEND=1`, stops for a minute between a
send and its record, so a test can SIGKILL the service exactly there.
"""

from __future__ import annotations

import asyncio
import fcntl
import heapq
import math
import os
import signal
import sqlite3
import sys
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING

from sladesk_tui.core.alerts import AlertItem, plan_ticket, recipients
from sladesk_tui.core.errors import InputError
from sladesk_tui.services.channels import DeliveryError, deliver_command, deliver_mail, deliver_webhook
from sladesk_tui.store import alerts as outbox
from sladesk_tui.store.backend import Connection, redacted
from sladesk_tui.store.failures import Failure, classify, reason
from sladesk_tui.store.queries import ChangeMarks, change_marks, changed_tickets

if TYPE_CHECKING:
    import aiohttp

    from sladesk_tui.core.agreements import AgreementSet
    from sladesk_tui.core.alert_rules import AlertRules
    from sladesk_tui.core.alerts import Crossing
    from sladesk_tui.core.calendar import BusinessCalendar
    from sladesk_tui.core.tickets import TicketRecord
    from sladesk_tui.store.changes import Listener

POLL_S = 0.1  # data_version check while asleep: a store change is seen within this
MAX_ATTEMPTS = 8
RETRY_BASE_S = 30.0
RETRY_CAP_S = 1800.0
DESK_CALENDAR = "desk"
_INCREMENTAL_LIMIT = 200
ERROR_PAUSE_S = 2.0
RECONNECT_MAX_S = 10.0  # the longest wait between two tries to reopen a lost connection


class ServiceClock:
    """The service's "now": the system clock, or the injected test clock (module docstring)."""

    def __init__(self, start: float | None = None, speed: float = 1.0) -> None:
        self._speed = speed
        self._real0 = time.monotonic()
        self._start = time.time() if start is None else start

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> ServiceClock:
        spec = environ.get("SLADESK_TEST_CLOCK")
        if not spec:
            return cls()
        start, _, speed = spec.partition("x")
        try:
            return cls(float(start), float(speed) if speed else 1.0)
        except ValueError:
            raise InputError(f"SLADESK_TEST_CLOCK: {spec!r} is not EPOCH[xSPEED]") from None

    def now(self) -> float:
        return self._start + (time.monotonic() - self._real0) * self._speed

    def real(self, seconds: float) -> float:
        """Real seconds to sleep for `seconds` of service time."""
        return seconds / self._speed


@dataclass
class Stats:
    """What the service did (for logs and the benchmark)."""

    planned: int = 0
    alerts: int = 0
    messages: int = 0
    sent: int = 0
    failed: int = 0
    last_plan_s: float = 0.0
    sent_at: list[float] = field(default_factory=list)


class Notifier:
    """One notifier on one database (see the module docstring)."""

    def __init__(
        self,
        db_path: str,
        *,
        secrets: Mapping[str, str],
        clock: ServiceClock,
        actor: str,
        retry_base_s: float = RETRY_BASE_S,
        log: IO[str] = sys.stderr,
    ) -> None:
        self.db_path = db_path
        self.secrets = secrets
        self.clock = clock
        self.actor = actor
        self.retry_base_s = retry_base_s
        self.log = log
        self.stats = Stats()
        self.hold_after_send = os.environ.get("SLADESK_TEST_HOLD_AFTER_SEND") == "1"
        self._conn: Connection | None = None
        self._listener: Listener | None = None  # PostgreSQL's change hints (store.changes)
        self._heard = 0  # hints heard: the version `refresh` compares on PostgreSQL
        self._version: int | None = None
        self._marks = ChangeMarks()
        self._records: dict[str, TicketRecord] = {}
        self._books: dict[int, AgreementSet] = {}
        self._rules: AlertRules | None = None
        self._desk: BusinessCalendar | None = None
        self._zone = "UTC"
        self._leads: list[str] = []
        self._next: dict[str, float] = {}
        self._upcoming: dict[str, Mapping[tuple[str, int, str], float]] = {}
        self._heap: list[tuple[float, str]] = []
        self._known: set[str] = set()
        self._new: list[tuple[Crossing, str | None]] = []
        self._deliver_at = 0.0  # when the outbox needs a look (0: now)
        self._alert_floor = 0  # every alert below this id is in a message
        self._message_floor = 0  # every message below this id is sent or given up
        self._lock: int | None = None
        self._session: aiohttp.ClientSession | None = None

    # ---- lifecycle ------------------------------------------------------------------

    def open(self) -> None:
        """Migrate and connect; refuse a second notifier on the same database."""
        from sladesk_tui.store.backend import dialect, redacted
        from sladesk_tui.store.db import open_db

        conn = open_db(self.db_path)
        claimed = dialect(conn).service_lock(conn, "notify")  # PostgreSQL: held by the connection
        if claimed is None:  # SQLite: a lock file beside the database
            lock_path = f"{self.db_path}.notify.lock"
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                claimed = True
            except OSError:
                os.close(fd)
                claimed = False
            else:
                self._lock = fd
        if not claimed:
            conn.close()
            raise InputError(f"{redacted(str(self.db_path))}: another sladesk notify is running on it")
        self._conn = conn
        from sladesk_tui.store import changes

        if changes.pushes(self.db_path):
            self._listener = changes.listen(self.db_path)

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    @property
    def conn(self) -> Connection:
        assert self._conn is not None, "open() first"
        return self._conn

    async def run(self, *, once: bool = False, stop: asyncio.Event | None = None) -> int:
        """Plan, alert, deliver, sleep until the next instant or a store change; repeat."""
        import aiohttp

        stop = stop or asyncio.Event()
        self._session = aiohttp.ClientSession()
        try:
            while not stop.is_set():
                now = self.clock.now()
                try:
                    await self.step(now)
                except (sqlite3.Error, InputError) as exc:
                    kind = classify(exc)
                    if once or kind not in (Failure.BUSY, Failure.LOST):
                        raise  # refused, or the database failing: one line, the service stops
                    # Busy past the timeout, or the connection lost: say so, start over
                    # from the database in a moment (the outbox makes a repeat harmless).
                    self._version, self._new = None, []
                    if kind is Failure.LOST:
                        await self._reopen(exc, stop)
                        continue
                    self._say(f"database busy ({reason(exc)}); retrying in {ERROR_PAUSE_S:g} s")
                    await asyncio.sleep(ERROR_PAUSE_S)
                    continue
                if once:
                    break
                await self._sleep_until(self.wake_at(), stop)
        finally:
            await self._session.close()
            self._session = None
        return 0

    async def _reopen(self, exc: BaseException, stop: asyncio.Event) -> None:
        """A new connection (and listener, and service lock) after `exc` lost the old one,
        tried again at growing intervals up to `RECONNECT_MAX_S` until it works or `stop`.
        Another notifier that took the lock meanwhile stops this one (`open`'s InputError)."""
        self._say(f"lost the database connection ({reason(exc)}); reconnecting")
        self.close()
        pause = ERROR_PAUSE_S / 4
        while not stop.is_set():
            try:
                self.open()
            except sqlite3.Error:
                pass
            except InputError as failed:
                if "another sladesk notify" in str(failed):
                    raise
            else:
                self._say("reconnected")
                return
            await asyncio.sleep(pause)
            pause = min(pause * 2, RECONNECT_MAX_S)

    async def step(self, now: float) -> None:
        self.refresh(now)
        self.plan_due(now)
        self.record_new(now)
        if now >= self._deliver_at:
            await self.deliver(now)

    def wake_at(self) -> float:
        top = self._heap[0][0] if self._heap else math.inf
        return min(top, self._deliver_at)

    def _data_version(self) -> int:
        """What `refresh` compares: the hints heard (PostgreSQL), else `data_version`."""
        if self._listener is not None:
            return self._heard
        from sladesk_tui.store.queries import data_version

        return data_version(self.conn)

    async def _sleep_until(self, when: float, stop: asyncio.Event) -> None:
        if self._listener is not None:
            await self._wait_for_hint(self._listener, when, stop)
            return
        from sladesk_tui.store.queries import data_version

        version = data_version(self.conn)
        while not stop.is_set():
            left = when - self.clock.now()
            if left <= 0:
                return
            await asyncio.sleep(min(POLL_S, self.clock.real(left)))
            if data_version(self.conn) != version:
                return

    async def _wait_for_hint(self, listener: Listener, when: float, stop: asyncio.Event) -> None:
        """Until `when` or a hint (in a thread: the listener blocks); after a reconnect
        the next `refresh` reloads everything."""
        while not stop.is_set():
            left = when - self.clock.now()
            if left <= 0:
                return
            change = await asyncio.to_thread(listener.wait, min(0.5, self.clock.real(left)))
            if change is not None:
                self._heard += 1
                if change.everything:
                    self._version = None
                return

    # ---- planning -------------------------------------------------------------------

    def refresh(self, now: float) -> None:
        """Reload what changed since the last look (everything the first time)."""
        from sladesk_tui.store.db import read_tx

        conn = self.conn
        version = self._data_version()
        if version == self._version:
            return
        with read_tx(conn):
            marks = change_marks(conn)
            full = marks.agreements != self._marks.agreements or self._version is None
            changed: set[str] = set()
            if not full:
                changed = changed_tickets(conn, self._marks)
                full = len(changed) > _INCREMENTAL_LIMIT
            if marks.roles != self._marks.roles or full:
                from sladesk_tui.store.roles import leads

                self._leads = leads(conn)
            if full:
                self._load_all(conn)
                self._known = outbox.known_keys(conn)
            else:
                self._load_some(conn, changed)
                self._known |= outbox.known_keys(conn, changed)
        self._version = version
        self._marks = marks
        t0 = time.perf_counter()
        targets = list(self._records) if full else [t for t in changed if t in self._records]
        for tid in targets:
            self._plan(tid, now)
        for tid in changed - self._records.keys():
            self._next.pop(tid, None)
        if full:
            self._heap = [(t, tid) for tid, t in self._next.items()]
            heapq.heapify(self._heap)
        self.stats.last_plan_s = time.perf_counter() - t0
        self.stats.planned += len(targets)
        self._deliver_at = min(self._deliver_at, now)  # rules or recipients may have moved

    def plan_due(self, now: float) -> None:
        """Plan again every ticket whose next threshold instant has come."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            at, tid = heapq.heappop(heap)
            if self._next.get(tid) == at:
                del self._next[tid]
                self._plan(tid, now)

    def _plan(self, tid: str, now: float) -> None:
        from sladesk_tui.core.evaluate import evaluate

        record = self._records.get(tid)
        rules = self._rules
        if record is None or rules is None:
            self._next.pop(tid, None)
            return
        levels = rules.levels_for(record.agreement_id)
        if not levels:
            self._next.pop(tid, None)
            return
        tc = evaluate(record, self._books, now)
        if tc.calendar is None:
            self._next.pop(tid, None)
            return
        plan = plan_ticket(
            tid, tc.adjusted, tc.calendar, levels, now, desk=self._desk, scheduled=self._upcoming.get(tid)
        )
        if plan.upcoming:
            self._upcoming[tid] = plan.upcoming
        else:
            self._upcoming.pop(tid, None)
        for c in plan.crossings:
            if c.key not in self._known:
                self._known.add(c.key)
                self._new.append((c, record.assignee))
        if plan.next_at is None:
            self._next.pop(tid, None)
        elif self._next.get(tid) != plan.next_at:
            self._next[tid] = plan.next_at
            heapq.heappush(self._heap, (plan.next_at, tid))

    def record_new(self, now: float) -> None:
        if not self._new or self._rules is None:
            return
        rules = self._rules
        rows = [
            outbox.NewAlert(c, r, assignee)
            for c, assignee in self._new
            for r in recipients(c, rules, assignee, self._leads)
        ]
        n = outbox.record_crossings(self.conn, rows, now=now, actor=self.actor)
        for c, _a in self._new:
            self._say(f"alert {c.key} at {_iso(c.at)}" + (" (off shift)" if c.off_shift else ""))
        self.stats.alerts += n
        self._new = []
        self._deliver_at = now

    # ---- delivery ---------------------------------------------------------------------

    async def deliver(self, now: float) -> None:
        """Retry what is due, then fold and send each recipient's pending alerts."""
        rules = self._rules
        wake = math.inf
        next_alert, next_message = outbox.next_ids(self.conn)
        open_messages = outbox.unfinished(self.conn, from_id=self._message_floor)
        self._message_floor = open_messages[0].id if open_messages else next_message
        for m in open_messages:
            if m.attempts == 0:
                due = now  # claimed but never recorded: a crash between send and record
            else:
                due = self._retry_at(m.attempts, m.last_ts or m.ts)
            if due <= now:
                wake = min(wake, await self._send(m, now))
            else:
                wake = min(wake, due)
        pending = outbox.pending_alerts(self.conn, from_id=self._alert_floor)
        self._alert_floor = pending[0].id if pending else next_alert
        if pending and rules is not None:
            groups: dict[str, list[outbox.StoredAlert]] = defaultdict(list)
            for a in pending:
                groups[a.recipient].append(a)
            for recipient, items in groups.items():
                last = outbox.last_message_ts(self.conn, recipient)
                ready = (-math.inf if last is None else last) + rules.digest_window_s
                if ready > now:
                    wake = min(wake, ready)
                    continue
                channel, address = self._route(recipient, rules)
                m = outbox.claim(
                    self.conn,
                    recipient,
                    channel,
                    address,
                    [a.id for a in items],
                    now=self.clock.now(),
                    actor=self.actor,
                )
                self.stats.messages += 1
                wake = min(wake, await self._send(m, self.clock.now()))
        self._deliver_at = wake

    def _route(self, recipient: str, rules: AlertRules) -> tuple[str, str | None]:
        kind, _, name = recipient.partition(":")
        if kind == "person":
            return rules.people_via or "", rules.address_of(name)
        return name, None

    def _unsecret(self, exc: BaseException) -> str:
        """An unexpected error's text with every secret value blanked out."""
        said = f"{type(exc).__name__}: {exc}"
        for value in self.secrets.values():
            if value:
                said = said.replace(value, "<secret>")
        return said

    def _retry_at(self, failed_attempts: int, last: float) -> float:
        return last + min(self.retry_base_s * 2.0 ** (failed_attempts - 1), RETRY_CAP_S)

    async def _send(self, m: outbox.OutMessage, now: float) -> float:
        """Send and record; the instant of the next try when it failed and will be retried, else inf."""
        rules = self._rules
        items = [_item(a) for a in outbox.message_alerts(self.conn, m.id)]
        try:
            channel = None if rules is None else rules.channels.get(m.channel)
            if channel is None:
                raise DeliveryError(f"no channel {m.channel!r} in the alert rules", permanent=True)
            if channel.type == "smtp":
                if not m.address:
                    raise DeliveryError(
                        f"{m.recipient}: no mail address (alerts.people or email_domain)", permanent=True
                    )
                await deliver_mail(channel, self.secrets, m.address, m.idem_key, items, self._zone)
            elif channel.type == "command":
                await deliver_command(channel, m.idem_key, m.recipient, items, self._zone)
            else:
                assert self._session is not None
                await deliver_webhook(self._session, channel, self.secrets, m.idem_key, items, self._zone)
        except Exception as caught:  # noqa: BLE001 - any channel error is a failed try, never a dead service
            exc = caught if isinstance(caught, DeliveryError) else DeliveryError(self._unsecret(caught))
            gave_up = exc.permanent or m.attempts + 1 >= MAX_ATTEMPTS
            outcome = "gave_up" if gave_up else "failed"
            done = self.clock.now()
            outbox.record_attempt(self.conn, m, outcome, str(exc), now=done, actor=self.actor)
            self.stats.failed += 1
            self._say(f"{'FAILED' if gave_up else 'retrying'} message {m.id} to {m.recipient}: {exc}")
            return math.inf if gave_up else self._retry_at(m.attempts + 1, done)
        if self.hold_after_send:
            self._say(f"sent-unrecorded message {m.id} {m.idem_key}")
            time.sleep(60)
        outbox.record_attempt(self.conn, m, "sent", None, now=self.clock.now(), actor=self.actor)
        self.stats.sent += 1
        self.stats.sent_at.append(time.time())
        self._say(
            f"sent message {m.id} ({len(items)} alerts) to {m.recipient} via {m.channel} key {m.idem_key}"
        )
        return math.inf

    # ---- loading ------------------------------------------------------------------------

    def _load_all(self, conn: Connection) -> None:
        from sladesk_tui.core.agreements import build_calendar
        from sladesk_tui.store.agreements import current_agreements
        from sladesk_tui.store.queries import agreements_for_versions, load_open_tickets

        latest, newest = current_agreements(conn)
        self._rules = newest.alerts
        self._desk = build_calendar(newest, DESK_CALENDAR) if DESK_CALENDAR in newest.calendars else None
        self._zone = newest.calendars[DESK_CALENDAR].tz if self._desk is not None else "UTC"
        records = load_open_tickets(conn)
        self._records = {r.id: r for r in records}
        self._books = agreements_for_versions(conn, {r.agreement_version for r in records})
        self._next.clear()

    def _load_some(self, conn: Connection, changed: set[str]) -> None:
        from sladesk_tui.store.queries import agreements_for_versions, load_ticket

        for tid in changed:
            record = load_ticket(conn, tid)
            if record is None or not record.is_open:
                self._records.pop(tid, None)
            else:
                self._records[tid] = record
                v = record.agreement_version
                if v and v not in self._books:
                    self._books.update(agreements_for_versions(conn, [v]))

    def _say(self, text: str) -> None:
        print(f"sladesk notify: {_iso(self.clock.now())} {text}", file=self.log, flush=True)


def _item(a: outbox.StoredAlert) -> AlertItem:
    return AlertItem(
        ticket=a.ticket,
        title=a.title,
        customer=a.customer,
        priority=a.priority,
        clock=a.clock,
        level=a.level,
        at=a.threshold_ts,
        due_at=a.due_ts,
        assignee=a.assignee,
        off_shift=a.off_shift,
    )


def _iso(ts: float) -> str:
    from sladesk_tui.core.override_effects import iso_z

    return iso_z(round(ts, 3))


def serve(
    db_path: str,
    *,
    secrets: Mapping[str, str],
    actor: str,
    once: bool = False,
    retry_base_s: float = RETRY_BASE_S,
) -> int:
    """Run the service until SIGTERM/SIGINT (or one pass with `once`)."""
    notifier = Notifier(
        db_path, secrets=secrets, clock=ServiceClock.from_env(), actor=actor, retry_base_s=retry_base_s
    )
    notifier.open()

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        notifier._say(f"watching {redacted(str(db_path))}")
        return await notifier.run(once=once, stop=stop)

    try:
        return asyncio.run(main())
    finally:
        notifier.close()
