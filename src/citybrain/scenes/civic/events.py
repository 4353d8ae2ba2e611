"""Civic events: what city cameras' AI reports (the cases themselves travel as ``cases.changed``)."""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec

from citybrain.sdk import Event


class CameraDetection(Event, tag="civic.camera"):
    """A camera's video analytics saw something (illegal parking, street vending, exposed
    garbage ...). ``key`` is the camera id; ``category`` the 部件/事件 小类 it saw; ``area`` the unit
    grid (15 digits) or district the camera covers."""

    scene: ClassVar[str] = "civic"
    category: Annotated[str, msgspec.Meta(min_length=1, max_length=64, description="事件小类, e.g. 占道经营")]
    area: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{6,15}$", description="unit-grid or district code")]
    confidence: Annotated[float, msgspec.Meta(ge=0, le=1, description="the model's confidence")] = 1.0
    lon: Annotated[float, msgspec.Meta(ge=-180, le=180)] | None = None
    lat: Annotated[float, msgspec.Meta(ge=-90, le=90)] | None = None
    image: Annotated[str, msgspec.Meta(max_length=512, description="a reference to the frame")] = ""
