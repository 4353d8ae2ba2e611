"""The payment providers' clients by channel name, and the sandbox providers started in-process
for the channels configured without a URL (the demo and the tests: a real provider is a URL and
its notice-signing key)."""

from __future__ import annotations

from pathlib import Path

from citybrain.scenes.paylater.channels import Channel, SandboxChannel
from citybrain.scenes.paylater.sandbox import SandboxProvider
from citybrain.scenes.paylater.settings import ChannelSettings


class Providers:
    """The channels' clients by name, and the sandbox providers started for them."""

    def __init__(self) -> None:
        self.channels: dict[str, Channel] = {}
        self.sandboxes: dict[str, SandboxProvider] = {}  # channel -> the sandbox started for it
        self.clients: list[SandboxChannel] = []

    def start(self, settings: dict[str, ChannelSettings], seed: int) -> None:
        for i, (name, cfg) in enumerate(sorted(settings.items())):
            if cfg.url:
                pem = Path(cfg.public_key_file).read_bytes() if cfg.public_key_file else b""
                client = SandboxChannel(cfg.url, pem, cfg.serial, name=name, timeout_s=cfg.timeout_s)
            else:
                box = SandboxProvider(seed=seed + i, delay_ms=cfg.sandbox_delay_ms,
                                      fail_rate=cfg.sandbox_fail_rate,
                                      drop_rate=cfg.sandbox_drop_rate).start()  # fmt: skip
                self.sandboxes[name] = box
                client = SandboxChannel(
                    box.url, box.public_key_pem, box.serial, name=name, timeout_s=cfg.timeout_s
                )
            self.clients.append(client)
            self.channels[name] = client

    def close(self) -> None:
        for client in self.clients:
            client.close()
        for box in self.sandboxes.values():
            box.close()
        self.channels.clear()
        self.sandboxes.clear()
