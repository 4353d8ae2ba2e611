"""A JT/T 808 terminal over a real TCP socket, and a gateway run around a test coroutine: shared
by the gateway and the identity tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from citybrain.core.platform import Platform
from citybrain.gateways.alerts import GatewayAlerts
from citybrain.protocols import jt808
from citybrain.scenes.traffic.gateway import Jt808Gateway
from citybrain.scenes.traffic.settings import GatewayConfig
from citybrain.scenes.traffic.sim import auth_frame, location_frame, register_frame
from citybrain.scenes.traffic.simworld import Fix
from citybrain.testing import run_gateway
from tests.scenes.traffic.traffic_testkit import T_PEAK

PHONE = "013912345678"
PLATE = "赣A12345"
CLOCK = (T_PEAK + 60_000) / 1000


def gateway(p: Platform, **kw: Any) -> Jt808Gateway:
    """A gateway on a free port whose clock reads CLOCK, with its identity alerts stored."""
    kw.setdefault("alerts", GatewayAlerts(p.runtime("traffic"), "traffic", "jt808"))
    return Jt808Gateway(p.batcher.submit, GatewayConfig(port=0), clock=lambda: CLOCK, **kw)


def run_terminals(p: Platform, main: Callable[[Jt808Gateway], Awaitable[None]], **kw: Any) -> None:
    run_gateway(p, gateway(p, **kw), main)


class Terminal:
    def __init__(self, phone: str, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self.phone, self.r, self.w = phone, r, w
        self.splitter = jt808.FrameSplitter()
        self.frames: list[bytes] = []
        self.serial = 0

    @classmethod
    async def open(cls, gw: Jt808Gateway, phone: str = PHONE) -> Terminal:
        return cls(phone, *await asyncio.open_connection("127.0.0.1", gw.port))

    def next(self) -> int:
        self.serial += 1
        return self.serial

    async def reply(self) -> jt808.Message:
        while not self.frames:
            data = await asyncio.wait_for(self.r.read(4096), 5)
            assert data, "connection closed"
            self.frames += self.splitter.feed(data)
        return jt808.decode_frame(self.frames.pop(0))

    async def register(self, plate: str = PLATE, color: int = 2) -> jt808.RegisterResponse:
        self.w.write(register_frame(self.phone, self.next(), plate, color))
        reg = (await self.reply()).body
        assert isinstance(reg, jt808.RegisterResponse) and reg.reply_serial == self.serial
        return reg

    async def authenticate(self, code: str) -> int:
        self.w.write(auth_frame(self.phone, self.next(), code))
        ack = (await self.reply()).body
        assert isinstance(ack, jt808.PlatformGeneralResponse) and ack.reply_msg_id == jt808.AUTHENTICATE
        assert ack.reply_serial == self.serial
        return ack.result

    async def login(self, plate: str = PLATE, color: int = 2) -> str:
        """Register and authenticate, both accepted; the auth code."""
        reg = await self.register(plate, color)
        assert reg.result == 0 and reg.auth_code
        assert await self.authenticate(reg.auth_code) == 0
        return str(reg.auth_code)

    def location_frame(
        self, ts: int, lon: float = 18.05, lat: float = 59.34, serial: int | None = None
    ) -> bytes:
        fix = Fix("x", "bus", ts, lon, lat, 31.5, 90.0)
        frame: bytes = location_frame(self.phone, serial or self.next(), fix)
        return frame

    async def location(self, ts: int) -> int:
        self.w.write(self.location_frame(ts))
        ack = (await self.reply()).body
        assert isinstance(ack, jt808.PlatformGeneralResponse) and ack.reply_msg_id == jt808.LOCATION_REPORT
        return ack.result

    async def logout(self) -> None:
        """0x0003: the gateway forgets this connection as the terminal's live one before it answers."""
        head = jt808.Header(msg_id=jt808.LOGOUT, phone=self.phone, serial=self.next())
        self.w.write(jt808.encode_frame(jt808.Message(head, jt808.Logout())))
        ack = await self.reply()
        assert isinstance(ack.body, jt808.PlatformGeneralResponse) and ack.body.reply_msg_id == jt808.LOGOUT

    async def closed_by_server(self) -> bool:
        return await asyncio.wait_for(self.r.read(4096), 5) == b""

    async def close(self) -> None:
        self.w.close()
        with contextlib.suppress(OSError):
            await self.w.wait_closed()
