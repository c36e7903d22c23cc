"""Sending the answers to PACT RequestCreatedEvents to the requesters' ``source`` addresses.

Each server process runs one :class:`Sender` task. It claims due replies from the database
(:mod:`footprint.registry.pact_events`: a lease, so processes never send the same reply at once),
computes a reply the first time from the footprints served at that moment, POSTs it as
``application/cloudevents+json``, and records delivery or schedules a retry with exponential
backoff. It wakes when this process accepts a request and otherwise polls, so replies queued by
another process (or left by a restarted one) are sent too.

A ``source`` is an address given by a client, so it is hostile input: only ``https://`` (a
scheme-relative ``//host/path`` means https), never a loopback, private, link-local or reserved
address unless the server runs with ``callback_private`` (tests, closed networks); redirects are
not followed. The requester's /3/events is called without credentials: PACT gives a data owner no
way to learn the recipient's client credentials.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import json
import logging
import socket
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from footprint.exchange import pact_host
from footprint.registry import pact_events

if TYPE_CHECKING:
    from footprint.service.pact_api import Service

log = logging.getLogger("footprint.service.callbacks")
TIMEOUT_SECONDS = 10.0


def target(source: str, allow_private: bool) -> str:
    """The URL to POST a reply to; :class:`pact_host.BadRequest` if this host will not call it."""
    url = f"https:{source}" if source.startswith("//") else source
    parts = urlsplit(url)
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        raise pact_host.BadRequest(f"source {source[:200]!r}: this host answers requests only at https:// addresses")
    if not parts.hostname or parts.username or parts.password:
        raise pact_host.BadRequest(f"source {source[:200]!r}: expected an address like https://host/3/events")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80),
                                   type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        raise pact_host.BadRequest(f"source host {parts.hostname!r} cannot be resolved ({e})") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global and not allow_private:
            raise pact_host.BadRequest(f"source host {parts.hostname!r} is a non-public address ({address})")
    return url


class Sender:
    """The reply sender of one server process."""

    def __init__(self, service: Service):
        import httpx

        self.service = service
        self._wake = asyncio.Event()
        self._client = httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False)

    def wake(self) -> None:
        self._wake.set()

    async def close(self) -> None:
        await self._client.aclose()

    async def run(self) -> None:
        """Send what is due, then sleep until woken, the next retry, or the poll interval."""
        registry = self.service.registry
        settings = self.service.settings
        while True:
            try:
                for due in await asyncio.to_thread(pact_events.claim, registry):
                    await self.send(due)
                next_at = await asyncio.to_thread(pact_events.next_due, registry)
            except Exception:  # noqa: BLE001 - a database hiccup must not end the sender; log and poll again
                log.exception("event sender")
                next_at = None
            wait = settings.poll_seconds
            if next_at is not None:
                wait = max(0.0, min(wait, (next_at - dt.datetime.now(dt.UTC)).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
            self._wake.clear()

    async def send(self, due: pact_events.Due) -> None:
        registry = self.service.registry
        settings = self.service.settings
        reply = due.reply
        if reply is None:
            event = pact_host.parse_event(due.request)
            footprints = [s.footprint for s in await asyncio.to_thread(self.service.footprints)]
            computed = pact_host.reply(event.id, event.criteria, footprints, due.reply_source)  # type: ignore[arg-type]
            reply = await asyncio.to_thread(pact_events.set_reply, registry, due, computed)
        try:
            url = await asyncio.to_thread(target, due.request["source"], settings.callback_private)
            response = await self._client.post(url, content=json.dumps(reply, ensure_ascii=False).encode(),
                                               headers={"Content-Type": "application/cloudevents+json"})
            ok, problem = 200 <= response.status_code < 300, f"HTTP {response.status_code}"
        except Exception as e:  # noqa: BLE001 - any failure to deliver is retried later
            ok, problem = False, f"{type(e).__name__}: {e}"
        if ok:
            await asyncio.to_thread(pact_events.delivered, registry, due)
        else:
            state = await asyncio.to_thread(pact_events.failed, registry, due, problem, settings.retry_base_seconds)
            log.warning("reply to event %s not delivered (%s); %s", due.request.get("id"), problem, state)
