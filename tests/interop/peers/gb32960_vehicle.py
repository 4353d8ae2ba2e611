"""A GB/T 32960 vehicle built on rtm-con (PyPI ``rtm_con``), talking to a real citybrain gateway.

    gb32960_vehicle.py HOST PORT EDITION VIN DATA_TIME

EDITION is 2016 or 2025 (rtm-con encodes both); DATA_TIME is the ISO time the vehicle stamps on
its frames. Over one TCP connection it sends login, a real-time report, heartbeat, a heartbeat
with a broken BCC, time calibration and logout, all built by rtm-con, reads back each reply the
platform sends and parses it with rtm-con (``msg_checked``: the BCC is verified). The real-time
report gets no reply (Annex B.2.1): the frame read after it must be the heartbeat's.

One JSON object per line: ``step``, ``sent`` (hex), ``reply`` (hex or null), ``rtm_con`` (rtm-con's
reading of the reply) and, for the report, ``values`` (rtm-con's reading of what it sent).
"""

from __future__ import annotations

import json
import socket
import sys
from datetime import datetime

import gb32960_rtmcon as rc


def read_frame(sock: socket.socket) -> bytes:
    def exactly(n: int) -> bytes:
        out = b""
        while len(out) < n:
            chunk = sock.recv(n - len(out))
            if not chunk:
                raise ConnectionError(f"connection closed after {len(out)} of {n} bytes")
            out += chunk
        return out

    head = exactly(24)
    return head + exactly(int.from_bytes(head[22:24], "big") + 1)


def main() -> None:
    host, port, edition, vin, when = sys.argv[1:6]
    t = datetime.fromisoformat(when)
    heartbeat = rc.frame(edition, "heartbeat", vin, b"")
    steps: list[tuple[str, bytes, bool]] = [  # (step, frame, a reply is due)
        ("login", rc.login(edition, vin, t, 1), True),
        ("realtime", rc.realtime(edition, vin, t), False),
        ("heartbeat", heartbeat, True),
        ("heartbeat_bad_bcc", heartbeat[:-1] + bytes([heartbeat[-1] ^ 0xFF]), True),
        ("time_calibration", rc.frame(edition, "time_sync", vin, b""), True),
        ("logout", rc.logout(edition, vin, t, 1), True),
    ]
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        for step, frame, answered in steps:
            sock.sendall(frame)
            line: dict[str, object] = {"step": step, "edition": edition, "sent": frame.hex(), "reply": None}
            if step == "realtime":
                line["values"] = rc.parse_request_values(frame)
            if answered:
                reply = read_frame(sock)
                line |= {"reply": reply.hex(), "rtm_con": rc.parse_reply(reply)}
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
