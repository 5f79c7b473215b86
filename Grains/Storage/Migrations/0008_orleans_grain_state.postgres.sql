-- Grain state kept by Microsoft.Orleans.Persistence.AdoNet (on PostgreSQL: the login flows, so that a flow outlives
-- the silo that held it). Like the membership queries of 0004, the provider runs only the queries it finds in
-- orleansquery, by key, binding its own parameter names (@ServiceId, @GrainTypeString, @GrainIdN0, …) and reading
-- result columns by name; the table uses our naming. Kept in step with 0008_orleans_grain_state.sqlite.sql.
-- A grain is named by its service, its grain type and its key: a GUID key as two 64-bit halves (n0, n1), an integer
-- key as n1, a string key as the extension with both halves 0, and the key extension when there is one ('' when
-- not). The provider's hashes of the id and type are not needed: the key itself is the primary key.
-- version is the ETag: 1 for a new row, one more for each write; a write naming another version changes nothing and
-- answers no row, which the provider reports as a conflict. modified_at (Unix microseconds, as elsewhere) is for the
-- cleanup of rows no grain will read again.
CREATE TABLE orleans_grain_state (
    service_id   TEXT    COLLATE "C" NOT NULL,
    grain_type   TEXT    COLLATE "C" NOT NULL,
    grain_id_n0  BIGINT  NOT NULL,
    grain_id_n1  BIGINT  NOT NULL,
    grain_id_ext TEXT    COLLATE "C" NOT NULL,
    version      INTEGER NOT NULL,
    payload      BYTEA   NULL,
    modified_at  BIGINT  NOT NULL,
    PRIMARY KEY (service_id, grain_type, grain_id_n0, grain_id_n1, grain_id_ext)
);
CREATE INDEX orleans_grain_state_modified ON orleans_grain_state (modified_at);

-- The provider binds a null ETag or key extension with no type, so every parameter is cast where it is used.
INSERT INTO orleansquery (querykey, querytext) VALUES

-- The state and its version; no row when the grain has none.
('ReadFromStorageKey', $q$
SELECT payload AS PayloadBinary, version AS Version
FROM orleans_grain_state
WHERE service_id = CAST(@ServiceId AS text) AND grain_type = CAST(@GrainTypeString AS text)
  AND grain_id_n0 = CAST(@GrainIdN0 AS bigint) AND grain_id_n1 = CAST(@GrainIdN1 AS bigint)
  AND grain_id_ext = coalesce(CAST(@GrainIdExtensionString AS text), '')
$q$),

-- Without a version: creates the row at version 1, unless one exists. With one: replaces the state of the row at that
-- version and counts it up. Answers the new version, or no row when the grain's version is not the stored one.
('WriteToStorageKey', $q$
WITH created AS (
    INSERT INTO orleans_grain_state (service_id, grain_type, grain_id_n0, grain_id_n1, grain_id_ext, version, payload, modified_at)
    SELECT CAST(@ServiceId AS text), CAST(@GrainTypeString AS text), CAST(@GrainIdN0 AS bigint), CAST(@GrainIdN1 AS bigint),
           coalesce(CAST(@GrainIdExtensionString AS text), ''), 1, CAST(@PayloadBinary AS bytea),
           (extract(epoch FROM clock_timestamp()) * 1000000)::bigint
    WHERE CAST(@GrainStateVersion AS integer) IS NULL
    ON CONFLICT DO NOTHING
    RETURNING version
), replaced AS (
    UPDATE orleans_grain_state
    SET version = version + 1, payload = CAST(@PayloadBinary AS bytea),
        modified_at = (extract(epoch FROM clock_timestamp()) * 1000000)::bigint
    WHERE service_id = CAST(@ServiceId AS text) AND grain_type = CAST(@GrainTypeString AS text)
      AND grain_id_n0 = CAST(@GrainIdN0 AS bigint) AND grain_id_n1 = CAST(@GrainIdN1 AS bigint)
      AND grain_id_ext = coalesce(CAST(@GrainIdExtensionString AS text), '')
      AND version = CAST(@GrainStateVersion AS integer)
    RETURNING version
)
SELECT version AS NewGrainStateVersion FROM created
UNION ALL
SELECT version FROM replaced
$q$),

-- Empties the state of the row at the grain's version and counts the version up; answers the new version.
('ClearStorageKey', $q$
UPDATE orleans_grain_state
SET version = version + 1, payload = NULL, modified_at = (extract(epoch FROM clock_timestamp()) * 1000000)::bigint
WHERE service_id = CAST(@ServiceId AS text) AND grain_type = CAST(@GrainTypeString AS text)
  AND grain_id_n0 = CAST(@GrainIdN0 AS bigint) AND grain_id_n1 = CAST(@GrainIdN1 AS bigint)
  AND grain_id_ext = coalesce(CAST(@GrainIdExtensionString AS text), '')
  AND version = CAST(@GrainStateVersion AS integer)
RETURNING version
$q$),

-- Deletes the row at the grain's version; answers that version plus one, as the provider expects of a delete.
('DeleteStorageKey', $q$
DELETE FROM orleans_grain_state
WHERE service_id = CAST(@ServiceId AS text) AND grain_type = CAST(@GrainTypeString AS text)
  AND grain_id_n0 = CAST(@GrainIdN0 AS bigint) AND grain_id_n1 = CAST(@GrainIdN1 AS bigint)
  AND grain_id_ext = coalesce(CAST(@GrainIdExtensionString AS text), '')
  AND version = CAST(@GrainStateVersion AS integer)
RETURNING version + 1
$q$);
