"""citybrain.geo — road networks, datums and map matching.

- :mod:`.network` — :class:`~.network.RoadNetwork` of directed :class:`~.network.Edge` (WGS-84
  geometry, metric work in a local projection, STRtree candidates, rustworkx routing);
- :mod:`.importers` — OSM XML, GeoJSON, ESRI shapefile (GBK-aware), SparseTaxi Beijing format;
- :mod:`.datum` — WGS-84 / GCJ-02 / BD-09 conversions;
- :mod:`.matching` — the :class:`~.matching.Matcher` interface, our HMM and the fastmm adapter.
"""
