"""amqtt glue for the embedded broker: two plugins that enforce :class:`BrokerAccounts` (login,
then every PUBLISH and SUBSCRIBE), and a broker that refuses a failed login before amqtt touches
the session of a client already connected under the same client id. Imported only when the
embedded broker starts (amqtt is not needed with an external broker)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


class GuardedBroker(Broker):  # type: ignore[misc]
    """amqtt 0.12.1 takes over the session of a connected client with the same client id before it
    acts on a failed authentication, and deletes it for a clean-session CONNECT even earlier, so an
    unauthenticated client could cut the platform's subscription. Both are refused here first."""

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
