"""Where alerts go: SMTP mail, Slack/Mattermost and Teams webhooks, a command.

Each `deliver_*` sends one message and raises `DeliveryError` with a one-line
reason when the far side did not take it; the notifier records the outcome and
retries with backoff (docs/alerts.md). Every message carries its idempotency key
(the mail's Message-ID and `X-Sladesk-Idempotency-Key`, an `Idempotency-Key` HTTP
header, `SLADESK_IDEMPOTENCY_KEY` and the JSON's `idempotency_key` for a command),
so a resend after a crash can be dropped by the receiving side.

Secrets (the SMTP password, webhook URLs) come from the secrets file
(`load_secrets`), which must be readable by its owner only.
"""

from __future__ import annotations

import asyncio
import json
import os
import smtplib
import ssl
import stat
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomli as tomllib

from sladesk_tui.core.alerts import chat_text, item_dict, render_text, subject, teams_card
from sladesk_tui.core.errors import InputError

if TYPE_CHECKING:
    import aiohttp

    from sladesk_tui.core.alert_rules import Channel
    from sladesk_tui.core.alerts import AlertItem

IDEMPOTENCY_HEADER = "Idempotency-Key"
MAIL_KEY_HEADER = "X-Sladesk-Idempotency-Key"


class DeliveryError(Exception):
    """The channel did not take the message; `permanent` ones are not retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def load_secrets(path: str | os.PathLike[str]) -> dict[str, str]:
    """`key = "value"` pairs from a TOML file only its owner may read.

    Refused (InputError, exit 2) when group or others have any permission on it, or
    when it belongs to another user: a webhook URL is a password.
    """
    p = Path(path)
    try:
        st = p.stat()
    except OSError as exc:
        raise InputError(f"cannot read the secrets file: {exc.strerror}", where=str(p)) from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InputError(
            f"the secrets file is open to group or others (mode {stat.S_IMODE(st.st_mode):03o}): chmod 600 it",
            where=str(p),
        )
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        raise InputError("the secrets file belongs to another user", where=str(p))
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f'not a TOML file of key = "value": {exc}', where=str(p)) from None
    out: dict[str, str] = {}
    for key, value in doc.items():
        if not isinstance(value, str):
            raise InputError(f"{key}: must be a string", where=str(p))
        out[key] = value
    return out


def secret(secrets: Mapping[str, str], name: str | None, channel: Channel) -> str:
    if name is None or name not in secrets:
        raise DeliveryError(
            f"channel {channel.id!r}: secret {name!r} is not in the secrets file", permanent=True
        )
    return secrets[name]


# ---- mail -------------------------------------------------------------------------------


def mail_message(
    channel: Channel, address: str, idem_key: str, items: Sequence[AlertItem], zone: str
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = channel.sender or "sladesk"
    msg["To"] = address
    msg["Subject"] = subject(items)
    msg["Date"] = formatdate(localtime=False)
    domain = (channel.sender or "sladesk@localhost").rsplit("@", 1)[-1].strip("> ") or "localhost"
    msg["Message-ID"] = f"<{idem_key}@{domain}>"
    msg[MAIL_KEY_HEADER] = idem_key
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a robot
    msg.set_content(render_text(items, zone))
    return msg


def _send_mail(channel: Channel, password: str | None, msg: EmailMessage) -> None:
    assert channel.host is not None
    try:
        with smtplib.SMTP(channel.host, channel.port, timeout=channel.timeout_s) as smtp:
            smtp.ehlo()
            if channel.starttls:
                ctx = ssl.create_default_context(cafile=channel.cafile)
                smtp.starttls(context=ctx)
                smtp.ehlo()
            if channel.username is not None:
                smtp.login(channel.username, password or "")
            smtp.send_message(msg)
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(f"smtp {channel.host}: login refused ({exc.smtp_code})") from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(
            f"smtp {channel.host}: recipient refused: {exc.recipients}", permanent=True
        ) from None
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        raise DeliveryError(f"smtp {channel.host}:{channel.port}: {exc}") from None


async def deliver_mail(
    channel: Channel,
    secrets: Mapping[str, str],
    address: str,
    idem_key: str,
    items: Sequence[AlertItem],
    zone: str,
) -> None:
    password = secret(secrets, channel.password_secret, channel) if channel.username else None
    msg = mail_message(channel, address, idem_key, items, zone)
    await asyncio.to_thread(_send_mail, channel, password, msg)


# ---- webhooks -----------------------------------------------------------------------------


def webhook_payload(channel: Channel, items: Sequence[AlertItem], zone: str) -> dict[str, Any]:
    """The JSON body each service documents: Slack/Mattermost `text`, a Teams Adaptive Card."""
    if channel.type == "teams":
        return teams_card(items, zone)
    return {"text": chat_text(items, zone)}


async def deliver_webhook(
    session: aiohttp.ClientSession,
    channel: Channel,
    secrets: Mapping[str, str],
    idem_key: str,
    items: Sequence[AlertItem],
    zone: str,
) -> None:
    import aiohttp

    url = secret(secrets, channel.url_secret, channel)
    headers = {IDEMPOTENCY_HEADER: idem_key, "User-Agent": "sladesk-notify"}
    try:
        async with session.post(
            url,
            json=webhook_payload(channel, items, zone),
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=channel.timeout_s),
        ) as resp:
            if 200 <= resp.status < 300:
                return
            body = (await resp.text())[:200]
            raise DeliveryError(
                f"{channel.type} webhook: HTTP {resp.status}: {body}",
                permanent=resp.status in (400, 403, 404, 410),
            )
    except (aiohttp.ClientError, TimeoutError) as exc:
        # The URL is a secret (its path is the token): never in a log line or the record.
        said = str(exc).replace(url, "<webhook URL>")
        raise DeliveryError(f"{channel.type} webhook: {type(exc).__name__}: {said}") from None


# ---- command ---------------------------------------------------------------------------------


def command_payload(idem_key: str, recipient: str, items: Sequence[AlertItem], zone: str) -> dict[str, Any]:
    return {
        "idempotency_key": idem_key,
        "recipient": recipient,
        "subject": subject(items),
        "text": render_text(items, zone),
        "alerts": [item_dict(it) for it in items],
    }


async def deliver_command(
    channel: Channel, idem_key: str, recipient: str, items: Sequence[AlertItem], zone: str
) -> None:
    data = json.dumps(command_payload(idem_key, recipient, items, zone), ensure_ascii=False).encode()
    env = {**os.environ, "SLADESK_IDEMPOTENCY_KEY": idem_key}
    try:
        proc = await asyncio.create_subprocess_exec(
            *channel.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
    except OSError as exc:
        raise DeliveryError(f"command {channel.argv[0]}: {exc.strerror}") from None
    try:
        _out, err = await asyncio.wait_for(proc.communicate(data), timeout=channel.timeout_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise DeliveryError(f"command {channel.argv[0]}: no answer within {channel.timeout_s:g} s") from None
    if proc.returncode != 0:
        tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        raise DeliveryError(f"command {channel.argv[0]}: exit {proc.returncode}: {tail[0][:200]}")
