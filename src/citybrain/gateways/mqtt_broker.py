"""amqtt glue for the embedded broker: two plugins that enforce :class:`BrokerAccounts` (login,
then every PUBLISH and SUBSCRIBE), and a broker that refuses a failed login before amqtt touches
the session of a client already connected under the same client id, or a client of an MQTT version
it cannot parse. Imported only when the embedded broker starts (amqtt is not needed with an external
broker)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from amqtt.adapters import StreamReaderAdapter, StreamWriterAdapter
from amqtt.broker import Broker
from amqtt.contexts import Action
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin

from citybrain.gateways.mqtt import BrokerAccounts


class AccountsAuth(BaseAuthPlugin):  # type: ignore[misc]
    """Username, password, client id prefix and Will topic against the accounts; no anonymous."""

    @dataclass
    class Config:
        accounts: Any = None  # the BrokerAccounts object itself (dacite passes Any through)

    async def authenticate(self, *, session: Any) -> bool:
        accounts: BrokerAccounts = self.config.accounts
        will = session.will_topic if session.will_flag else None
        return accounts.login(session.username, session.password, session.client_id, will)


class AccountsAcl(BaseTopicPlugin):  # type: ignore[misc]
    """PUBLISH: the topic must match one of the account's publish filters (a refused message is
    dropped by the broker). SUBSCRIBE: the filter must lie inside one of its subscribe filters
    (a refused one gets return code 0x80)."""

    @dataclass
    class Config:
        accounts: Any = None

    async def topic_filtering(
        self, *, session: Any = None, topic: str | None = None, action: Action | None = None
    ) -> bool:
        accounts: BrokerAccounts = self.config.accounts
        user = session.username if session is not None else None
        if action == Action.PUBLISH:
            return topic is not None and accounts.may_publish(user, topic)
        if action == Action.SUBSCRIBE:
            return topic is not None and accounts.may_subscribe(user, topic)
        return True  # RECEIVE: the subscription was checked when it was made


MQTT_311 = 4  # the protocol level amqtt speaks
CONNECT_HEAD_TIMEOUT_S = 10.0  # a connection that has not said which MQTT it speaks by then is closed
# CONNACKs for clients of another protocol level, each in that client's own format: MQTT 5 reason
# code 0x84 "Unsupported Protocol Version" (with an empty property list), MQTT 3.1 return code 1
REFUSE_V5 = bytes([0x20, 0x03, 0x00, 0x84, 0x00])
REFUSE_V3 = bytes([0x20, 0x02, 0x00, 0x01])


async def connect_head(reader: asyncio.StreamReader) -> tuple[bytes, int | None]:
    """The bytes of a CONNECT up to its protocol level, and that level (None: not a CONNECT)."""
    head = await reader.readexactly(1)
    if head[0] >> 4 != 1:
        return head, None
    for _ in range(4):  # remaining length: a varint of at most four bytes
        b = await reader.readexactly(1)
        head += b
        if not b[0] & 0x80:
            break
    size = await reader.readexactly(2)
    n = int.from_bytes(size, "big")
    if n > 6:  # "MQTT" or "MQIsdp": anything longer is not a protocol name
        return head + size, None
    head += size + await reader.readexactly(n)
    level = await reader.readexactly(1)
    return head + level, level[0]


class _Replay(StreamReaderAdapter):  # type: ignore[misc]
    """amqtt's reader with the bytes already read put back in front."""

    def __init__(self, head: bytes, reader: asyncio.StreamReader) -> None:
        super().__init__(reader)
        self._head = head

    async def read(self, n: int = -1) -> bytes:
        if not self._head:
            data: bytes = await super().read(n)
            return data
        if n == -1 or n <= len(self._head):
            cut = len(self._head) if n == -1 else n
            out, self._head = self._head[:cut], self._head[cut:]
            return out
        out, self._head = self._head, b""
        rest: bytes = await super().read(n - len(out))
        return out + rest


class GuardedBroker(Broker):  # type: ignore[misc]
    """amqtt 0.12.1 takes over the session of a connected client with the same client id before it
    acts on a failed authentication, and deletes it for a clean-session CONNECT even earlier, so an
    unauthenticated client could cut the platform's subscription. Both are refused here first.
    It also misreads an MQTT 5 CONNECT (its properties) and then waits for bytes that never come:
    the device hangs with no answer. Such a client gets a CONNACK it can read, refusing its
    protocol version, and the connection is closed."""

    async def stream_connected(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, listener_name: str
    ) -> None:
        try:
            head, level = await asyncio.wait_for(connect_head(reader), CONNECT_HEAD_TIMEOUT_S)
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            writer.close()
            return
        if level is not None and level != MQTT_311:
            with contextlib.suppress(ConnectionError):
                writer.write(REFUSE_V5 if level > MQTT_311 else REFUSE_V3)
                await writer.drain()
            writer.close()
            return
        await self._client_connected(listener_name, _Replay(head, reader), StreamWriterAdapter(writer))

    async def _delete_session(self, client_id: str) -> None:
        entry = self._sessions.get(client_id)
        if entry is not None and entry[0].transitions.is_connected():
            return  # a connected client's session is taken over only after the newcomer authenticated
        await super()._delete_session(client_id)

    async def _handle_client_session(
        self, reader: Any, writer: Any, client_session: Any, handler: Any, server: Any, listener_name: str
    ) -> None:
        if not await self._authenticate(client_session, self.listeners_config[listener_name]):
            handler.attach(client_session, reader, writer)
            await handler.mqtt_connack_authorize(False)  # CONNACK "not authorized", then close
            await writer.close()
            return
        await super()._handle_client_session(reader, writer, client_session, handler, server, listener_name)
