"""Importers on tiny files written here: OSM XML, GeoJSON, shapefiles (incl. GBK attributes)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
import shapefile
from hypothesis import given, settings
from hypothesis import strategies as st

from citybrain.core.errors import CitybrainError, ConfigError, DecodeError
from citybrain.geo.importers import parse_geojson, parse_osm_xml, read_geojson, read_osm_xml, read_shapefile
from citybrain.geo.network import RoadNetwork

WGS84_PRJ = (
    'GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],'
    'PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]'
)
UTM_PRJ = 'PROJCS["WGS_1984_UTM_Zone_50N",GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984"]]]'

OSM = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6">
  <node id="1" lat="39.9000" lon="116.4000"/>
  <node id="2" lat="39.9000" lon="116.4010"/>
  <node id="3" lat="39.9000" lon="116.4020"/>
  <node id="4" lat="39.9010" lon="116.4010"/>
  <node id="5" lat="39.8990" lon="116.4010"/>
  <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/>
    <tag k="highway" v="primary"/><tag k="name:zh" v="长安街"/><tag k="maxspeed" v="60"/></way>
  <way id="11"><nd ref="4"/><nd ref="2"/>
    <tag k="highway" v="residential"/><tag k="oneway" v="yes"/><tag k="name" v="North St"/></way>
  <way id="12"><nd ref="5"/><nd ref="2"/>
    <tag k="highway" v="tertiary"/><tag k="oneway" v="-1"/><tag k="maxspeed" v="20 mph"/></way>
  <way id="13"><nd ref="1"/><nd ref="4"/><tag k="highway" v="footway"/></way>
</osm>
"""


def test_osm_xml(tmp_path: Path) -> None:
    p = tmp_path / "t.osm"
    p.write_text(OSM, encoding="utf-8")
    net = read_osm_xml(p)
    # way 10 is split at node 2 (shared) into 2 pieces x 2 directions; 11 and 12 are one-way
    assert len(net) == 6
    pairs = {(e.source, e.target) for e in net}
    assert (4, 2) in pairs and (2, 4) not in pairs  # oneway=yes
    assert (2, 5) in pairs and (5, 2) not in pairs  # oneway=-1 reverses the way
    main = [e for e in net if e.ref == "osm:way/10"]
    assert {e.name for e in main} == {"长安街"}  # name:zh used when name is missing
    assert all(e.speed_limit_kmh == 60 for e in main)
    (rev,) = [e for e in net if e.ref == "osm:way/12"]
    assert rev.speed_limit_kmh == pytest.approx(32.19, abs=0.01)
    assert rev.oneway
    # about 85 m per 0.001 deg of longitude at 39.9 N
    e12 = next(e for e in main if (e.source, e.target) == (1, 2))
    assert e12.length_m == pytest.approx(85.4, abs=0.5)
    assert all(e.road_class != "footway" for e in net)


def test_osm_xml_errors_name_the_place() -> None:
    with pytest.raises(DecodeError, match=r"line 3, column 2"):
        parse_osm_xml(b"<osm>\n<node id='1' lat='1' lon='2'>\n</osm>", source="x.osm")
    with pytest.raises(DecodeError, match="node id='7'"):
        parse_osm_xml(b"<osm><node id='7' lat='north' lon='2'/></osm>", source="x.osm")
    with pytest.raises(DecodeError, match="no road edges"):
        parse_osm_xml(b"<osm/>", source="x.osm")


def _geojson(features: Sequence[Mapping[str, object]]) -> str:
    return json.dumps({"type": "FeatureCollection", "features": features})


def test_geojson(tmp_path: Path) -> None:
    feats = [
        {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": [[18.05, 59.33], [18.051, 59.33]]},
            "properties": {"u": 1, "v": 2, "oneway": True, "name": "Sveavägen", "highway": "primary"},
        },
        {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": [[18.051, 59.33], [18.051, 59.331]]},
            "properties": {"maxspeed": "30", "oneway": "no"},
        },
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [18.0, 59.0]}, "properties": {}},
    ]
    p = tmp_path / "roads.geojson"
    p.write_text(_geojson(feats), encoding="utf-8")
    net = read_geojson(p)
    assert len(net) == 3
    assert net.edge(0).name == "Sveavägen" and net.edge(0).oneway
    assert net.edge(1).speed_limit_kmh == 30 and net.edge(2).source == net.edge(1).target
    # our own export re-imports edge for edge
    again = parse_geojson(json.dumps(net.to_geojson()))
    assert [(e.id, e.source, e.target, e.name) for e in again] == [
        (e.id, e.source, e.target, e.name) for e in net
    ]


def test_geojson_errors() -> None:
    with pytest.raises(DecodeError, match="line 1, column"):
        parse_geojson("{not json", source="a.geojson")
    with pytest.raises(DecodeError, match="feature 0"):
        parse_geojson(
            _geojson([{"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[1, 2]]}}])
        )
    with pytest.raises(DecodeError, match="not a WGS-84"):
        parse_geojson(
            _geojson(
                [
                    {
                        "type": "Feature",
                        "geometry": {"type": "LineString", "coordinates": [[500000, 4e6], [1, 2]]},
                    }
                ]
            )
        )


def _write_shp(base: Path, encoding: str, prj: str | None, cpg: str | None) -> None:
    with shapefile.Writer(str(base), shapeType=shapefile.POLYLINE, encoding=encoding) as w:
        w.field("link_id", "N", 9)
        w.field("dir", "N", 9)
        w.field("from_node", "N", 9)
        w.field("to_node", "N", 9)
        w.field("road_name", "C", 40)
        w.line([[(108.95, 34.14), (108.951, 34.14)]])
        w.record(7, 1, 100, 200, "神舟大道")
        w.line([[(108.951, 34.14), (108.951, 34.141)]])
        w.record(8, 0, 200, 300, "雁塔南路")
    if prj is not None:
        base.with_suffix(".prj").write_text(prj)
    if cpg is not None:
        base.with_suffix(".cpg").write_text(cpg)


@pytest.mark.parametrize("cpg", ["GBK", None, "936"])
def test_shapefile_gbk(tmp_path: Path, cpg: str | None) -> None:
    base = tmp_path / "links"
    _write_shp(base, "gbk", WGS84_PRJ, cpg)
    assert "神".encode("gbk") in base.with_suffix(".dbf").read_bytes()
    net = read_shapefile(base.with_suffix(".shp"))
    assert [e.name for e in net] == ["神舟大道", "雁塔南路", "雁塔南路"]  # dir=0 -> both directions
    assert [(e.source, e.target) for e in net] == [(100, 200), (200, 300), (300, 200)]
    assert net.edge(0).oneway and not net.edge(1).oneway


def test_shapefile_rejects_projected_prj(tmp_path: Path) -> None:
    base = tmp_path / "utm"
    _write_shp(base, "utf-8", UTM_PRJ, "UTF-8")
    with pytest.raises(ConfigError, match="only WGS-84"):
        read_shapefile(base)


def test_shapefile_missing(tmp_path: Path) -> None:
    with pytest.raises(DecodeError, match="not found"):
        read_shapefile(tmp_path / "nothing.shp")


def _only_citybrain_errors(fn: object, data: object) -> None:
    try:
        net = fn(data)  # type: ignore[operator]
    except CitybrainError:
        return
    assert isinstance(net, RoadNetwork)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_bytes(data: bytes) -> None:
    _only_citybrain_errors(parse_osm_xml, data)
    _only_citybrain_errors(parse_geojson, data)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_text(text: str) -> None:
    _only_citybrain_errors(parse_osm_xml, text)
    _only_citybrain_errors(parse_geojson, text)


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=5),
    lambda c: (
        st.lists(c, max_size=4) | st.dictionaries(st.sampled_from(["type", "coordinates", "u", "v", "id"]), c)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(json_values, st.booleans())
def test_fuzz_geojson_structures(geometry: object, directed: bool) -> None:
    doc = {
        "type": "FeatureCollection",
        "citybrain:directed": directed,
        "features": [{"type": "Feature", "geometry": geometry, "properties": {"id": 1}}],
    }
    _only_citybrain_errors(parse_geojson, json.dumps(doc))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                '<node id="1" lat="1" lon="1"/>',
                '<node id="2" lat="1.001" lon="1"/>',
                '<way id="9">',
                "</way>",
                '<nd ref="1"/>',
                '<nd ref="2"/>',
                '<nd ref="x"/>',
                '<tag k="highway" v="primary"/>',
                '<tag k="oneway" v="-1"/>',
                "<osm>",
                "</osm>",
            ]
        ),
        max_size=14,
    )
)
def test_fuzz_osm_structures(parts: list[str]) -> None:
    _only_citybrain_errors(parse_osm_xml, "<osm>" + "".join(parts) + "</osm>")
