-- Regions (kept in step with 0007_regions.postgres.sql): the same columns and tables, so that both schemas stay
-- one. Only PostgreSQL replicates between regions; regions cannot be configured on SQLite, so here every row's
-- region stays '' and the two tables stay empty.
ALTER TABLE identities ADD COLUMN region TEXT NOT NULL DEFAULT '';
ALTER TABLE identity_credentials ADD COLUMN region TEXT NOT NULL DEFAULT '';
ALTER TABLE identity_identifiers ADD COLUMN region TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN region TEXT NOT NULL DEFAULT '';
ALTER TABLE data_protection_keys ADD COLUMN region TEXT NOT NULL DEFAULT '';
ALTER TABLE tokenizer_keys ADD COLUMN region TEXT NOT NULL DEFAULT '';

CREATE UNIQUE INDEX identities_replica ON identities (id, region);
CREATE UNIQUE INDEX identity_credentials_replica ON identity_credentials (identity_id, region);
CREATE UNIQUE INDEX sessions_replica ON sessions (id, region);
CREATE UNIQUE INDEX data_protection_keys_replica ON data_protection_keys (friendly_name, region);
CREATE UNIQUE INDEX tokenizer_keys_replica ON tokenizer_keys (kid, region);

CREATE TABLE region_heartbeats (
    region  TEXT    NOT NULL PRIMARY KEY,
    beat_at INTEGER NOT NULL
);

CREATE TABLE region_changes (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT    NOT NULL CHECK (kind IN ('session', 'identity', 'heartbeat')),
    key         TEXT    NOT NULL,
    identity_id TEXT    NULL,
    region      TEXT    NOT NULL,
    value       INTEGER NULL,
    recorded_at INTEGER NOT NULL
);
CREATE INDEX region_changes_recorded ON region_changes (recorded_at);
