-- Grain state: the same table as 0008_orleans_grain_state.postgres.sql, so that both dialects keep one schema. Orleans'
-- ADO.NET grain storage is used on PostgreSQL only (an embedded SQLite node keeps its login flows in memory), so no
-- queries are registered here and the table stays empty.
CREATE TABLE orleans_grain_state (
    service_id   TEXT    NOT NULL,
    grain_type   TEXT    NOT NULL,
    grain_id_n0  INTEGER NOT NULL,
    grain_id_n1  INTEGER NOT NULL,
    grain_id_ext TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    payload      BLOB    NULL,
    modified_at  INTEGER NOT NULL,
    PRIMARY KEY (service_id, grain_type, grain_id_n0, grain_id_n1, grain_id_ext)
);
CREATE INDEX orleans_grain_state_modified ON orleans_grain_state (modified_at);
