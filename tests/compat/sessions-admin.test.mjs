// The session management API through the real Ory Kratos SDK (@ory/kratos-client 26.2.0): a user's own
// sessions (FrontendApi) and the admin session API (IdentityApi), on a node outside dev mode whose admin
// API needs a key, given to the SDK as Kratos's `oryAccessToken` (the Authorization header).

import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { FrontendApi, IdentityApi } from '@ory/kratos-client';
import { adminJson, rejectsWithStatus, sdkConfiguration, startService } from './harness.mjs';

const NO_SESSION_REASON = 'No valid session cookie found.';

/** The links of a Link header by relation. */
function links(header) {
  assert.equal(typeof header, 'string', 'a Link header');
  const result = {};
  for (const part of header.split(',')) {
    const match = /^<([^>]*)>; rel="([a-z]+)"$/.exec(part.trim());
    assert.ok(match, `not a link: ${part}`);
    result[match[2]] = new URL(match[1], 'http://link.invalid');
  }
  return result;
}

describe('Session management through the Kratos SDK', () => {
  let service;
  let frontend;
  let identityApi;
  let admin;

  before(async () => {
    const adminKey = randomBytes(24).toString('base64url');
    service = await startService({ dev: false, adminKey });
    frontend = new FrontendApi(sdkConfiguration(service.publicUrl));
    identityApi = new IdentityApi(sdkConfiguration(service.adminUrl, { apiKey: `Bearer ${adminKey}` }));
    admin = (method, pathname, body, status) => adminJson(service.adminUrl, method, pathname, body, status, { adminKey });
  });

  after(async () => {
    await service?.stop();
  });

  async function createIdentity() {
    const { body } = await admin('POST', '/admin/identities', { schema_id: 'default', traits: { email: `user-${randomUUID()}@example.com` } }, 201);
    return body;
  }

  async function issue(identityId, channel = 'api', device = undefined) {
    const { body } = await admin('POST', `/admin/identities/${identityId}/sessions`, { channel, device }, 201);
    return body;
  }

  async function whoamiStatus(token) {
    try {
      return (await frontend.toSession({ xSessionToken: token })).status;
    } catch (e) {
      if (!e.response) throw e;
      return e.response.status;
    }
  }

  test('the admin API refuses the SDK without the key or with a wrong one', async () => {
    const withoutKey = new IdentityApi(sdkConfiguration(service.adminUrl));
    const error = (await rejectsWithStatus(withoutKey.listSessions(), 401)).data.error;
    assert.equal(error.reason, 'The admin API needs Authorization: Bearer with a valid admin API key.');
    const wrongKey = new IdentityApi(sdkConfiguration(service.adminUrl, { apiKey: 'Bearer not-the-key' }));
    await rejectsWithStatus(wrongKey.getSession({ id: randomUUID() }), 401);
    const health = await fetch(new URL('/health/ready', service.adminUrl));
    assert.equal(health.status, 200);
  });

  test('listMySessions lists the other active sessions, with identity and devices', async () => {
    const identity = await createIdentity();
    const current = await issue(identity.id);
    const others = [await issue(identity.id, 'api', { user_agent: 'Lynx' }), await issue(identity.id), await issue(identity.id, 'browser')];
    const stranger = await issue((await createIdentity()).id);

    const response = await frontend.listMySessions({ xSessionToken: current.session_token });

    assert.equal(response.status, 200);
    assert.equal(response.headers['x-total-count'], '3');
    assert.deepEqual(response.data.map((s) => s.id).sort(), others.map((o) => o.session.id).sort());
    assert.ok(!response.data.some((s) => s.id === current.session.id || s.id === stranger.session.id));
    for (const session of response.data) {
      assert.equal(session.active, true);
      assert.equal(session.identity.id, identity.id);
      assert.ok(Array.isArray(session.devices));
    }
    assert.equal(response.data.find((s) => s.id === others[0].session.id).devices[0].user_agent, 'Lynx');

    const error = (await rejectsWithStatus(frontend.listMySessions({ xSessionToken: 'ory_st_' + 'x'.repeat(32) }), 401)).data.error;
    assert.equal(error.reason, NO_SESSION_REASON);
    assert.equal(error.id, undefined);
  });

  test('listMySessions pages through Link in both pagination styles', async () => {
    const identity = await createIdentity();
    const current = await issue(identity.id);
    const others = [];
    for (let i = 0; i < 5; i++) others.push((await issue(identity.id)).session.id);

    // Token style: follow rel="next" by its page_token and page_size.
    const seen = [];
    let response = await frontend.listMySessions({ xSessionToken: current.session_token, pageSize: 2 });
    for (let pages = 1; ; pages++) {
      assert.ok(pages <= 3, 'more pages than expected');
      assert.equal(response.headers['x-total-count'], '5');
      seen.push(...response.data.map((s) => s.id));
      const next = links(response.headers.link).next;
      if (!next) break;
      response = await frontend.listMySessions({
        xSessionToken: current.session_token,
        pageSize: Number(next.searchParams.get('page_size')),
        pageToken: next.searchParams.get('page_token'),
      });
    }
    assert.equal(seen.length, 5);
    assert.deepEqual([...seen].sort(), [...others].sort());

    // Legacy style: page and per_page from the same links.
    const legacy = [];
    response = await frontend.listMySessions({ xSessionToken: current.session_token, perPage: 2, page: 0 });
    for (;;) {
      legacy.push(...response.data.map((s) => s.id));
      const next = links(response.headers.link).next;
      if (!next) break;
      response = await frontend.listMySessions({
        xSessionToken: current.session_token,
        perPage: Number(next.searchParams.get('per_page')),
        page: Number(next.searchParams.get('page')),
      });
    }
    assert.deepEqual(legacy, seen);
  });

  test('disableMySession ends another of my sessions but never the current one', async () => {
    const identity = await createIdentity();
    const current = await issue(identity.id);
    const other = await issue(identity.id);
    const foreign = await issue((await createIdentity()).id);

    const response = await frontend.disableMySession({ id: other.session.id, xSessionToken: current.session_token });
    assert.equal(response.status, 204);
    assert.equal(await whoamiStatus(other.session_token), 401);

    // Someone else's session: 204, and it lives on.
    assert.equal((await frontend.disableMySession({ id: foreign.session.id, xSessionToken: current.session_token })).status, 204);
    assert.equal(await whoamiStatus(foreign.session_token), 200);

    const error = (await rejectsWithStatus(frontend.disableMySession({ id: current.session.id, xSessionToken: current.session_token }), 400)).data.error;
    assert.equal(error.message, 'cannot revoke current session');
    const malformed = (await rejectsWithStatus(frontend.disableMySession({ id: 'abc', xSessionToken: current.session_token }), 400)).data.error;
    assert.equal(malformed.message, 'uuid: incorrect UUID length 3 in string "abc"');
    assert.equal(await whoamiStatus(current.session_token), 200);
  });

  test('disableMyOtherSessions ends all my other sessions and counts them', async () => {
    const identity = await createIdentity();
    const current = await issue(identity.id);
    const others = [await issue(identity.id), await issue(identity.id)];
    const stranger = await issue((await createIdentity()).id);

    const response = await frontend.disableMyOtherSessions({ xSessionToken: current.session_token });

    assert.equal(response.status, 200);
    assert.deepEqual(response.data, { count: 2 });
    for (const other of others) assert.equal(await whoamiStatus(other.session_token), 401);
    assert.equal(await whoamiStatus(current.session_token), 200);
    assert.equal(await whoamiStatus(stranger.session_token), 200);
    assert.deepEqual((await frontend.disableMyOtherSessions({ xSessionToken: current.session_token })).data, { count: 0 });
  });

  test('listSessions walks every page through the Link header', async () => {
    const identity = await createIdentity();
    const created = [];
    for (let i = 0; i < 12; i++) created.push((await issue(identity.id)).session.id);

    const seen = [];
    let response = await identityApi.listSessions({ pageSize: 5 });
    for (let pages = 1; ; pages++) {
      assert.ok(pages <= 1000, 'the walk does not end');
      assert.equal(response.status, 200);
      assert.equal(response.headers['x-total-count'], undefined);
      const rels = links(response.headers.link);
      assert.ok(rels.first, 'rel="first" is always there');
      seen.push(...response.data.map((s) => s.id));
      for (const session of response.data) {
        assert.equal(session.identity, null);
        assert.equal(session.devices, null);
      }
      if (!rels.next) break;
      assert.equal(rels.next.searchParams.get('page_size'), '5');
      response = await identityApi.listSessions({ pageSize: 5, pageToken: rels.next.searchParams.get('page_token') });
    }
    assert.equal(new Set(seen).size, seen.length, 'no session twice');
    for (const id of created) assert.ok(seen.includes(id), `session ${id} was never listed`);

    const expanded = await identityApi.listSessions({ pageSize: 1000, expand: ['identity', 'devices'], active: true });
    const mine = expanded.data.filter((s) => s.identity?.id === identity.id);
    assert.equal(mine.length, 12);
    assert.ok(mine.every((s) => Array.isArray(s.devices) && s.active === true));

    const error = (await rejectsWithStatus(identityApi.listSessions({ pageToken: 'crafted' }), 400)).data.error;
    assert.equal(error.reason, 'The page token is invalid, do not craft your own page tokens');
  });

  test('getSession answers one session, expanded on request; 404 when unknown', async () => {
    const identity = await createIdentity();
    const issued = await issue(identity.id, 'api', { ip_address: '203.0.113.5' });

    const plain = await identityApi.getSession({ id: issued.session.id });
    assert.equal(plain.status, 200);
    assert.equal(plain.data.id, issued.session.id);
    assert.equal(plain.data.identity, null);
    assert.deepEqual(plain.data.devices, []);

    const expanded = await identityApi.getSession({ id: issued.session.id, expand: ['identity', 'devices'] });
    assert.equal(expanded.data.identity.id, identity.id);
    assert.equal(expanded.data.devices[0].ip_address, '203.0.113.5');

    await rejectsWithStatus(identityApi.getSession({ id: randomUUID() }), 404);
  });

  test('disableSession revokes; the session stays readable as inactive', async () => {
    const identity = await createIdentity();
    const issued = await issue(identity.id);

    assert.equal((await identityApi.disableSession({ id: issued.session.id })).status, 204);
    assert.equal(await whoamiStatus(issued.session_token), 401);
    assert.equal((await identityApi.getSession({ id: issued.session.id })).data.active, false);
    await rejectsWithStatus(identityApi.disableSession({ id: randomUUID() }), 404);
  });

  test('extendSession answers the session with its identity and a renewed expiry', async () => {
    const identity = await createIdentity();
    const issued = await (async () => {
      const { body } = await admin('POST', `/admin/identities/${identity.id}/sessions`, { channel: 'api', lifespan: '1h' }, 201);
      return body;
    })();

    const response = await identityApi.extendSession({ id: issued.session.id });

    assert.equal(response.status, 200);
    assert.equal(response.data.id, issued.session.id);
    assert.equal(response.data.identity.id, identity.id);
    // The default lifespan (24h) replaces the hour it was issued with.
    assert.ok(Date.parse(response.data.expires_at) - Date.parse(issued.session.expires_at) > 22 * 3600_000,
      `${response.data.expires_at} vs ${issued.session.expires_at}`);
    const whoami = await frontend.toSession({ xSessionToken: issued.session_token });
    assert.equal(whoami.data.expires_at, response.data.expires_at);
    await rejectsWithStatus(identityApi.extendSession({ id: randomUUID() }), 404);
  });

  test('listIdentitySessions lists one identity, filtered by active, with a total', async () => {
    const identity = await createIdentity();
    const live = await issue(identity.id);
    const revoked = await issue(identity.id);
    await issue((await createIdentity()).id);
    await identityApi.disableSession({ id: revoked.session.id });

    const all = await identityApi.listIdentitySessions({ id: identity.id });
    assert.equal(all.status, 200);
    assert.equal(all.headers['x-total-count'], '2');
    assert.deepEqual(all.data.map((s) => s.id).sort(), [live.session.id, revoked.session.id].sort());
    assert.ok(all.data.every((s) => s.identity.id === identity.id && Array.isArray(s.devices)));

    const active = await identityApi.listIdentitySessions({ id: identity.id, active: true });
    assert.deepEqual(active.data.map((s) => s.id), [live.session.id]);
    const inactive = await identityApi.listIdentitySessions({ id: identity.id, active: false });
    assert.deepEqual(inactive.data.map((s) => s.id), [revoked.session.id]);

    const unknown = await identityApi.listIdentitySessions({ id: randomUUID() });
    assert.deepEqual(unknown.data, []);
  });

  test('deleteIdentitySessions ends every session of the identity; 404 when there are none', async () => {
    const identity = await createIdentity();
    const sessions = [await issue(identity.id), await issue(identity.id)];
    const stranger = await issue((await createIdentity()).id);

    assert.equal((await identityApi.deleteIdentitySessions({ id: identity.id })).status, 204);

    for (const session of sessions) assert.equal(await whoamiStatus(session.session_token), 401);
    assert.equal(await whoamiStatus(stranger.session_token), 200);
    assert.deepEqual((await identityApi.listIdentitySessions({ id: identity.id })).data, []);
    await rejectsWithStatus(identityApi.deleteIdentitySessions({ id: identity.id }), 404);
  });
});
