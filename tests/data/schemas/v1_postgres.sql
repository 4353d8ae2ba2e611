-- citybrain store schema version 1 (PostgreSQL): the DDL as of git beb8bd9 (src/citybrain/core/store/schema.py TABLES + postgres.py _EXTRA_DDL).
-- Frozen: the migration tests build a database from it and upgrade it. Do not edit.
CREATE TABLE IF NOT EXISTS events ( partition INTEGER NOT NULL, poff BIGINT NOT NULL, id VARCHAR NOT NULL, kind VARCHAR NOT NULL, key VARCHAR NOT NULL, source VARCHAR NOT NULL, ts BIGINT NOT NULL, ingest_ts BIGINT NOT NULL, payload VARCHAR NOT NULL) PARTITION BY RANGE (ts);
CREATE TABLE IF NOT EXISTS metrics ( name VARCHAR NOT NULL, key VARCHAR NOT NULL, ts BIGINT NOT NULL, value DOUBLE PRECISION NOT NULL, PRIMARY KEY (name, key, ts));
CREATE TABLE IF NOT EXISTS states ( scene VARCHAR NOT NULL, key VARCHAR NOT NULL, ts BIGINT NOT NULL, data VARCHAR NOT NULL, PRIMARY KEY (scene, key));
CREATE TABLE IF NOT EXISTS alerts ( id VARCHAR PRIMARY KEY, rule VARCHAR NOT NULL, scene VARCHAR NOT NULL, key VARCHAR NOT NULL, dedupe_key VARCHAR NOT NULL, severity VARCHAR NOT NULL, status VARCHAR NOT NULL, title VARCHAR NOT NULL, message VARCHAR NOT NULL, data VARCHAR NOT NULL, opened_ts BIGINT NOT NULL, last_ts BIGINT NOT NULL, count BIGINT NOT NULL, acked_by VARCHAR, acked_ts BIGINT, ack_note VARCHAR, resolved_by VARCHAR, resolved_ts BIGINT, resolve_note VARCHAR);
CREATE TABLE IF NOT EXISTS checkpoints ( processor VARCHAR NOT NULL, partition INTEGER NOT NULL, poff BIGINT NOT NULL, state BYTEA NOT NULL, updated_ts BIGINT NOT NULL, PRIMARY KEY (processor, partition));
CREATE TABLE IF NOT EXISTS late_events ( processor VARCHAR NOT NULL, partition INTEGER NOT NULL, poff BIGINT NOT NULL, id VARCHAR NOT NULL, ts BIGINT NOT NULL, watermark BIGINT NOT NULL, recorded_ts BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS quarantine ( stage VARCHAR NOT NULL, processor VARCHAR NOT NULL, partition INTEGER NOT NULL, poff BIGINT NOT NULL, id VARCHAR NOT NULL, kind VARCHAR NOT NULL, key VARCHAR NOT NULL, source VARCHAR NOT NULL, ts BIGINT NOT NULL, reason VARCHAR NOT NULL, payload VARCHAR NOT NULL, recorded_ts BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens ( id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, scopes VARCHAR NOT NULL, hash VARCHAR NOT NULL, created_ts BIGINT NOT NULL, revoked_ts BIGINT);
CREATE TABLE IF NOT EXISTS audit ( ts BIGINT NOT NULL, actor VARCHAR NOT NULL, action VARCHAR NOT NULL, target VARCHAR NOT NULL, detail VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS event_heads (partition INTEGER PRIMARY KEY, poff BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS sink_positions (partition INTEGER PRIMARY KEY, seq BIGINT NOT NULL, updated_ts BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS partition_owners (partition INTEGER PRIMARY KEY, epoch BIGINT NOT NULL, owner VARCHAR NOT NULL, claimed_ts BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS events_ts_brin ON events USING brin (ts);
CREATE INDEX IF NOT EXISTS events_log ON events (partition, poff);
CREATE INDEX IF NOT EXISTS events_id ON events (id);
CREATE INDEX IF NOT EXISTS metrics_ts_brin ON metrics USING brin (ts);
CREATE INDEX IF NOT EXISTS alerts_opened ON alerts (opened_ts);
