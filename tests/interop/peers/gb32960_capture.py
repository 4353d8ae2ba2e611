"""Capture rtm-con's side of the GB/T 32960 platform replies as test data (run once, commit the output).

    .interop/bin/python tests/interop/peers/gb32960_capture.py \
        > tests/data/interop/gb32960/rtm_con_replies.json

For both editions and every request the platform answers, it records the request as rtm-con builds
it (some with the BCC broken on purpose), the reply rtm-con expects for it, built by rtm-con itself
(response flag, VIN and the platform time as the data unit), and rtm-con's own parse of that reply.
tests/protocols/gb32960/test_gb32960_rtmcon_replies.py checks citybrain's replies against them
without the peers' environment. See tests/data/interop/gb32960/SOURCE.md.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from importlib.metadata import version

import gb32960_rtmcon as rc

NOW = datetime(2026, 7, 7, 7, 0, 0, tzinfo=rc.BJT)  # the platform's clock when it answers
SENT = datetime(2026, 7, 7, 6, 59, 30, tzinfo=rc.BJT)  # the vehicle's data time
VIN = "LRTMCON0000000001"


def requests(edition: str) -> list[tuple[str, str, bytes]]:
    """(case, rtm-con message type, request frame)"""
    return [
        ("login", "login", rc.login(edition, VIN, SENT, 7)),
        ("heartbeat", "heartbeat", rc.frame(edition, "heartbeat", VIN, b"")),
        ("time_calibration", "time_sync", rc.frame(edition, "time_sync", VIN, b"")),
        ("logout", "logout", rc.logout(edition, VIN, SENT, 7)),
        ("platform_login", "plt_login", rc.platform_login(edition, VIN, SENT, 1)),
        ("platform_logout", "plt_logout", rc.platform_logout(edition, VIN, SENT, 1)),
    ]


def broken(raw: bytes) -> bytes:
    return raw[:-1] + bytes([raw[-1] ^ 0xFF])


def main() -> None:
    cases = []
    for edition in ("2016", "2025"):
        reqs = requests(edition)
        reqs.append(("realtime", "realtime", rc.realtime(edition, VIN, SENT)))
        for case, msg_type, raw in reqs:
            variants = [(case, raw, "ok")] if case != "realtime" else []
            if case in ("login", "heartbeat", "realtime"):
                variants.append((f"{case}_bad_bcc", broken(raw), "nok"))
            for name, request, ack in variants:
                reply = rc.frame(edition, msg_type, VIN, {"timestamp": NOW}, ack=ack)
                cases.append(
                    {
                        "case": name,
                        "edition": edition,
                        "request": request.hex(),
                        "bcc_ok": ack == "ok",
                        "rtm_con_reply": reply.hex(),
                        "rtm_con_reading": rc.parse_reply(reply),
                    }
                )
    out = {
        "library": "rtm_con",
        "version": version("rtm_con"),
        "construct": version("construct"),
        "platform_time": NOW.isoformat(),
        "cases": cases,
    }
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
