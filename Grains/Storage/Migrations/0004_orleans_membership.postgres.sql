-- Orleans cluster membership (orleans:membership = postgres), read and written by Microsoft.Orleans.Clustering.AdoNet.
-- That provider runs only the queries it finds in orleansquery, by key, with its own parameter names
-- (@DeploymentId, @Address, …) and reads result columns by name (case-insensitively), so the tables below
-- use our naming and the queries alias their columns to the names it expects. Kept in step with
-- 0004_orleans_membership.sqlite.sql (same tables and columns; SQLite clustering is not offered).
-- Timestamps are timestamptz here, not microseconds as elsewhere: the provider reads them as DateTime.
-- SiloStatus values used below: 3 = Active, 6 = Dead.

-- The provider loads every row with exactly "SELECT QueryKey, QueryText FROM OrleansQuery".
CREATE TABLE orleansquery (
    querykey  TEXT NOT NULL PRIMARY KEY,
    querytext TEXT NOT NULL
);

-- One row per cluster (DeploymentId = the cluster id): the version every membership change must name and bump.
CREATE TABLE orleans_membership_version (
    deployment_id TEXT        NOT NULL PRIMARY KEY,
    changed_at    TIMESTAMPTZ NOT NULL,
    version       INTEGER     NOT NULL
);

-- One row per silo incarnation (address, port, generation) of a cluster.
CREATE TABLE orleans_membership (
    deployment_id   TEXT        NOT NULL REFERENCES orleans_membership_version (deployment_id) ON DELETE CASCADE,
    address         TEXT        NOT NULL,
    port            INTEGER     NOT NULL,
    generation      INTEGER     NOT NULL,
    silo_name       TEXT        NOT NULL,
    host_name       TEXT        NOT NULL,
    status          INTEGER     NOT NULL,
    proxy_port      INTEGER     NOT NULL,
    suspect_times   TEXT        NULL,
    start_time      TIMESTAMPTZ NOT NULL,
    i_am_alive_time TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (deployment_id, address, port, generation)
);

INSERT INTO orleansquery (querykey, querytext) VALUES

-- Creates the cluster's version row unless it exists; answers 1 when it created it, else 0.
('InsertMembershipVersionKey', $q$
WITH created AS (
    INSERT INTO orleans_membership_version (deployment_id, changed_at, version)
    VALUES (@DeploymentId, now(), 0)
    ON CONFLICT (deployment_id) DO NOTHING
    RETURNING 1
)
SELECT count(*) FROM created
$q$),

-- Adds a silo if the caller saw the current version and the silo is not there yet, bumping the version in
-- the same statement; answers 1 on success, 0 otherwise (the caller re-reads and retries).
('InsertMembershipKey', $q$
WITH bumped AS (
    UPDATE orleans_membership_version
    SET version = version + 1, changed_at = now()
    WHERE deployment_id = @DeploymentId AND version = @Version
      AND NOT EXISTS (SELECT 1 FROM orleans_membership m
                      WHERE m.deployment_id = @DeploymentId AND m.address = @Address
                        AND m.port = @Port AND m.generation = @Generation)
    RETURNING deployment_id
), added AS (
    INSERT INTO orleans_membership (deployment_id, address, port, generation, silo_name, host_name, status,
                                    proxy_port, suspect_times, start_time, i_am_alive_time)
    SELECT deployment_id, @Address, @Port, @Generation, @SiloName, @HostName, @Status,
           @ProxyPort, NULL, @StartTime, @IAmAliveTime
    FROM bumped
    ON CONFLICT DO NOTHING
    RETURNING 1
)
SELECT count(*) FROM added
$q$),

-- Changes a silo's status and suspicions under the same version check; answers 1 on success, 0 otherwise.
('UpdateMembershipKey', $q$
WITH bumped AS (
    UPDATE orleans_membership_version
    SET version = version + 1, changed_at = now()
    WHERE deployment_id = @DeploymentId AND version = @Version
      AND EXISTS (SELECT 1 FROM orleans_membership m
                  WHERE m.deployment_id = @DeploymentId AND m.address = @Address
                    AND m.port = @Port AND m.generation = @Generation)
    RETURNING deployment_id
), changed AS (
    UPDATE orleans_membership m
    SET status = @Status, suspect_times = @SuspectTimes, i_am_alive_time = @IAmAliveTime
    FROM bumped b
    WHERE m.deployment_id = b.deployment_id AND m.address = @Address
      AND m.port = @Port AND m.generation = @Generation
    RETURNING 1
)
SELECT count(*) FROM changed
$q$),

-- The heartbeat: no version check, no answer.
('UpdateIAmAlivetimeKey', $q$
UPDATE orleans_membership
SET i_am_alive_time = @IAmAliveTime
WHERE deployment_id = @DeploymentId AND address = @Address AND port = @Port AND generation = @Generation
$q$),

-- The version row, joined to one silo's row when there is one (no StartTime means no such silo).
('MembershipReadRowKey', $q$
SELECT v.deployment_id AS DeploymentId, m.address AS Address, m.port AS Port, m.generation AS Generation,
       m.silo_name AS SiloName, m.host_name AS HostName, m.status AS Status, m.proxy_port AS ProxyPort,
       m.suspect_times AS SuspectTimes, m.start_time AS StartTime, m.i_am_alive_time AS IAmAliveTime,
       v.version AS Version
FROM orleans_membership_version v
LEFT JOIN orleans_membership m
       ON m.deployment_id = v.deployment_id AND m.address = @Address AND m.port = @Port AND m.generation = @Generation
WHERE v.deployment_id = @DeploymentId
$q$),

-- The version row, joined to every silo row of the cluster.
('MembershipReadAllKey', $q$
SELECT v.deployment_id AS DeploymentId, m.address AS Address, m.port AS Port, m.generation AS Generation,
       m.silo_name AS SiloName, m.host_name AS HostName, m.status AS Status, m.proxy_port AS ProxyPort,
       m.suspect_times AS SuspectTimes, m.start_time AS StartTime, m.i_am_alive_time AS IAmAliveTime,
       v.version AS Version
FROM orleans_membership_version v
LEFT JOIN orleans_membership m ON m.deployment_id = v.deployment_id
WHERE v.deployment_id = @DeploymentId
$q$),

-- Forgets a whole cluster (its silo rows go with the version row, ON DELETE CASCADE).
('DeleteMembershipTableEntriesKey', $q$
DELETE FROM orleans_membership_version WHERE deployment_id = @DeploymentId
$q$),

-- The gateways of the silos in the given status (Active), for clients.
('GatewaysQueryKey', $q$
SELECT address AS Address, proxy_port AS ProxyPort, generation AS Generation
FROM orleans_membership
WHERE deployment_id = @DeploymentId AND status = @Status AND proxy_port > 0
$q$),

-- Removes the rows of dead silos not heard of since the cutoff.
('CleanupDefunctSiloEntriesKey', $q$
DELETE FROM orleans_membership
WHERE deployment_id = @DeploymentId AND status = 6 AND i_am_alive_time < @IAmAliveTime
$q$),

-- Removes one dead silo's row, only while it still holds the times the caller read.
('CleanupDefunctSiloEntryKey', $q$
DELETE FROM orleans_membership
WHERE deployment_id = @DeploymentId AND address = @Address AND port = @Port AND generation = @Generation
  AND status = 6 AND start_time = @StartTime AND i_am_alive_time = @IAmAliveTime
$q$);
