"""Bot API requests over aiohttp instead of PTB's default httpx.

Measured in bench/throughput.py: httpx, httpcore, anyio and h11 together took about 30% of the bot's CPU
per update; aiohttp's client does the same work in a fraction of it. Parameters go as a JSON body, which
the Bot API accepts for every method without files: form-encoding percent-escapes every byte of a
Vietnamese keyboard in pure Python. With files it is multipart, as in PTB's HTTPXRequest; errors are
PTB's TimedOut/NetworkError.

With a `counter` (the broadcast sender's SendWindow, bot/services/pacing.py), every message sent counts
against the bot's limit while in flight and for a second after, so a broadcast yields to conversations.
"""

from __future__ import annotations

from typing import Protocol

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot.services.pacing import SENDING_METHODS

_JSON = {"Content-Type": "application/json"}


class SendCounter(Protocol):
    def started(self) -> None: ...

    def answered(self) -> float: ...


class AiohttpRequest(BaseRequest):
    def __init__(self, pool_size: int = 16, connect_timeout: float = 5.0, read_timeout: float = 5.0,
                 write_timeout: float = 5.0, pool_timeout: float = 1.0, media_write_timeout: float = 20.0,
                 counter: SendCounter | None = None) -> None:
        self._pool_size = pool_size
        self._counter = counter
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(connector=connector, headers={"User-Agent": self.USER_AGENT})

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        files = request_data.multipart_data if request_data and request_data.contains_files else None
        read = self._read_timeout if isinstance(read_timeout, DefaultValue) else read_timeout
        connect = self._connect_timeout if isinstance(connect_timeout, DefaultValue) else connect_timeout
        pool = self._pool_timeout if isinstance(pool_timeout, DefaultValue) else pool_timeout
        write = (self._media_write_timeout if files else self._write_timeout) \
            if isinstance(write_timeout, DefaultValue) else write_timeout
        # aiohttp has no separate write timeout: the read budget starts once the request is written,
        # so the whole exchange gets both.
        timeout = aiohttp.ClientTimeout(connect=(pool or 0) + (connect or 0) or None, sock_connect=connect,
                                        sock_read=(read or 0) + (write or 0) or None)
        headers = None
        if files:
            body: object = _multipart(request_data.json_parameters, files)
        elif request_data is not None:
            body, headers = request_data.json_payload, _JSON
        else:
            body = None
        counted = self._counter is not None and url.rpartition("/")[2].lower() in SENDING_METHODS
        if counted:
            self._counter.started()
        try:
            async with self._session.request(method, url, data=body, headers=headers, timeout=timeout) as response:
                return response.status, await response.read()
        except TimeoutError as error:
            raise TimedOut from error
        except aiohttp.ClientError as error:
            raise NetworkError(f"aiohttp.{type(error).__name__}: {error}") from error
        finally:
            if counted:
                self._counter.answered()


def _multipart(fields: dict[str, str] | None, files: dict[str, tuple]) -> aiohttp.FormData:
    form = aiohttp.FormData(quote_fields=False)
    for name, value in (fields or {}).items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in files.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form
