-- Revoke-all, delete-all and identity deletion write one row, not one per session (kept in step with
-- 0006_revocation_marks.sqlite.sql). An identity's revocation mark: its sessions issued up to
-- sessions_revoked_up_to (but sessions_revoked_except) are revoked, those issued up to sessions_deleted_up_to are
-- gone. A deleted identity stays as a tombstone (deleted_at) until the cleanup has removed its sessions; every
-- read of identities and sessions leaves tombstones and what they took out.
ALTER TABLE identities ADD COLUMN sessions_revoked_up_to BIGINT NULL;
ALTER TABLE identities ADD COLUMN sessions_revoked_except TEXT COLLATE "C" NULL;
ALTER TABLE identities ADD COLUMN sessions_deleted_up_to BIGINT NULL;
ALTER TABLE identities ADD COLUMN deleted_at BIGINT NULL;
CREATE INDEX identities_deleted ON identities (deleted_at) WHERE deleted_at IS NOT NULL;
