"""TLS for the platform's listeners (the HTTP API and the TCP device gateways), with certificate
reload without a restart.

:class:`ReloadingTls` owns one server ``ssl.SSLContext`` that the listener is given once. When the
certificate or key file changes (their size, mtime or inode, checked every ``check_every_s``
seconds) or the process gets SIGHUP, the new pair is first loaded into a scratch context: only
when that succeeds (the files parse and the key matches the certificate) is it loaded into the live
context. OpenSSL copies the context's certificate into each connection when the connection starts,
so a connection opened after the swap presents the new certificate and the open ones keep theirs.
A pair that does not load (half-copied files, a key for another certificate) is logged and
counted, and the previous certificate stays in service; the files are tried again when they change
once more.

Client certificates: with ``client_ca`` set, the listener asks for a client certificate and refuses
a handshake without one signed by those CAs (vehicle terminals with a security chip). A changed
CA file is loaded into the live context too; OpenSSL only adds to a trust store, so a CA taken
out of the file stays trusted until a restart.

Certificates and CA files are PEM. ``key`` may be empty when the certificate file holds the key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import ssl

import msgspec

from citybrain.core.errors import ConfigError

log = logging.getLogger(__name__)

_Stamp = tuple[tuple[int, int, int] | None, ...]
_LIVE: set[ReloadingTls] = set()  # watched contexts: SIGHUP reloads them all
_SIGHUP_LOOPS: set[asyncio.AbstractEventLoop] = set()


class TlsSettings(msgspec.Struct, forbid_unknown_fields=True):
    """``[...tls]`` of a device gateway: TLS instead of plain TCP when ``cert`` is set."""

    cert: str = ""  # PEM certificate chain file; set it to serve TLS (plain TCP when empty)
    key: str = ""  # PEM private key file (empty: the key is in the cert file)
    client_ca: str = ""  # PEM CA file: when set, clients must present a certificate signed by one of these
    reload_s: float = 5.0  # how often the files are checked for a new certificate (SIGHUP: at once)

    def build(self, name: str) -> ReloadingTls | None:
        """The reloading context for these settings, or None for plain TCP."""
        if not self.cert:
            return None
        return ReloadingTls(self.cert, self.key, self.client_ca, check_every_s=self.reload_s, name=name)


class ReloadingTls:
    """``context`` is the server context to hand to the listener; ``start``/``stop`` watch the files."""

    def __init__(
        self, cert: str, key: str = "", client_ca: str = "", *, check_every_s: float = 5.0, name: str = "tls"
    ) -> None:
        self.cert, self.key, self.client_ca = cert, key or None, client_ca or None
        self.check_every_s = check_every_s
        self.name = name
        self.reloads = 0  # certificate pairs swapped in since start
        self.reload_errors = 0  # changed files that did not load (the previous pair stays)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            self.context.load_cert_chain(self.cert, self.key)
            if self.client_ca:
                self.context.load_verify_locations(cafile=self.client_ca)
        except (OSError, ssl.SSLError) as err:
            msg = f"{name}: cannot load TLS certificate {cert} / key {key or cert}: {err}"
            raise ConfigError(msg) from err
        if self.client_ca:
            self.context.verify_mode = ssl.CERT_REQUIRED
        self._stamp = self._files_stamp()
        self._task: asyncio.Task[None] | None = None

    def _files_stamp(self) -> _Stamp:
        out: list[tuple[int, int, int] | None] = []
        for path in (self.cert, self.key, self.client_ca):
            try:
                st = os.stat(path) if path else None
            except OSError:
                st = None
            out.append(None if st is None else (st.st_mtime_ns, st.st_size, st.st_ino))
        return tuple(out)

    def reload(self, force: bool = False) -> bool:
        """Swap in the files' certificate when they changed (or ``force``); True when swapped."""
        stamp = self._files_stamp()
        if stamp == self._stamp and not force:
            return False
        self._stamp = stamp
        try:
            trial = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            trial.load_cert_chain(self.cert, self.key)  # a broken pair never reaches the live context
            if self.client_ca:
                trial.load_verify_locations(cafile=self.client_ca)
            self.context.load_cert_chain(self.cert, self.key)
            if self.client_ca:
                self.context.load_verify_locations(cafile=self.client_ca)
        except (OSError, ssl.SSLError) as err:
            self.reload_errors += 1
            log.error("%s: new TLS certificate %s not loaded, the previous one stays: %s", self.name,
                      self.cert, err)  # fmt: skip
            return False
        self.reloads += 1
        log.info("%s: TLS certificate reloaded from %s", self.name, self.cert)
        return True

    def start(self) -> None:
        """Check the files every ``check_every_s`` (0: only on SIGHUP); call in the serving loop."""
        loop = asyncio.get_running_loop()
        _LIVE.add(self)
        if loop not in _SIGHUP_LOOPS and hasattr(signal, "SIGHUP"):
            # not in the main thread, or a loop without signal support: the timer still works
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signal.SIGHUP, reload_all)
                _SIGHUP_LOOPS.add(loop)
        if self.check_every_s > 0 and self._task is None:
            self._task = loop.create_task(self._watch(), name=f"{self.name}-tls-reload")

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.check_every_s)
            self.reload()

    async def stop(self) -> None:
        _LIVE.discard(self)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if not _LIVE:
            for loop in list(_SIGHUP_LOOPS):
                with contextlib.suppress(Exception):  # a closed loop has nothing to remove
                    loop.remove_signal_handler(signal.SIGHUP)
                _SIGHUP_LOOPS.discard(loop)


def reload_all() -> None:
    """SIGHUP: reload every watched certificate now, changed or not."""
    for tls in list(_LIVE):
        tls.reload(force=True)
