// The admin identity API through the real Ory Kratos SDK (@ory/kratos-client 26.2.0, IdentityApi):
// create, get, update, patch, list (with Link pagination and the identifier filter), delete, and
// the identity schemas every schema_url points at.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { FrontendApi, IdentityApi } from '@ory/kratos-client';
import { adminJson, rejectsWithStatus, sdkConfiguration, startService } from './harness.mjs';

/** No identity response may carry credentials or anything derived from a secret. */
function assertNoCredentials(data, ...secrets) {
  const text = JSON.stringify(data);
  for (const forbidden of ['credentials', 'hashed_password', '$argon2', 'otpauth', ...secrets])
    assert.ok(!text.includes(forbidden), `the response must not contain ${forbidden}: ${text}`);
}

/** The page_token of the rel="next" link, or null on the last page. */
function nextPageToken(linkHeader) {
  assert.equal(typeof linkHeader, 'string', 'listIdentities answers a Link header');
  const next = linkHeader.split(',').find((part) => part.includes('rel="next"'));
  if (!next) return null;
  const url = new URL(/<([^>]+)>/.exec(next)[1], 'http://link.invalid');
  return url.searchParams.get('page_token');
}

describe('Kratos SDK IdentityApi against OrleansSessions', () => {
  let service;
  let identityApi;
  let frontend;

  before(async () => {
    service = await startService();
    identityApi = new IdentityApi(sdkConfiguration(service.adminUrl));
    frontend = new FrontendApi(sdkConfiguration(service.publicUrl));
  });

  after(async () => {
    await service?.stop();
  });

  const email = () => `sdk-${randomUUID()}@example.com`;

  async function issueApiSession(identityId) {
    const { body } = await adminJson(service.adminUrl, 'POST', `/admin/identities/${identityId}/sessions`, { channel: 'api' }, 201);
    return body.session_token;
  }

  test('createIdentity answers 201 with the identity, and getIdentity reads it back', async () => {
    const address = email();
    const created = await identityApi.createIdentity({
      createIdentityBody: {
        schema_id: 'default',
        traits: { email: address },
        metadata_public: { plan: 'free' },
        metadata_admin: { note: 'admins only' },
        credentials: { password: { config: { password: 'sdk-password-1' } } },
      },
    });
    assert.equal(created.status, 201);
    assert.match(created.data.id, /^[0-9a-f-]{36}$/);
    assert.equal(created.data.schema_id, 'default');
    assert.equal(created.data.state, 'active');
    assert.deepEqual(created.data.traits, { email: address });
    assert.deepEqual(created.data.metadata_admin, { note: 'admins only' });
    assertNoCredentials(created.data, 'sdk-password-1');

    const read = await identityApi.getIdentity({ id: created.data.id, includeCredential: ['password'] });
    assert.equal(read.status, 200);
    assert.deepEqual(read.data, created.data);
    assertNoCredentials(read.data, 'sdk-password-1');
  });

  test('createIdentity with invalid traits is 400 naming the field, a taken email 409', async () => {
    const bad = await rejectsWithStatus(identityApi.createIdentity({ createIdentityBody: { schema_id: 'default', traits: { email: 'nope' } } }), 400);
    assert.match(bad.data.error.reason, /#\/traits\/email/);

    const address = email();
    await identityApi.createIdentity({ createIdentityBody: { schema_id: 'default', traits: { email: address } } });
    const taken = await rejectsWithStatus(identityApi.createIdentity({ createIdentityBody: { schema_id: 'default', traits: { email: address.toUpperCase() } } }), 409);
    assert.equal(taken.data.error.reason, 'An account with the same identifier (email, phone, username, ...) exists already.');
  });

  test('updateIdentity disables and re-enables the identity, and its session follows at once', async () => {
    const { data: identity } = await identityApi.createIdentity({ createIdentityBody: { schema_id: 'default', traits: { email: email() } } });
    const token = await issueApiSession(identity.id);
    assert.equal((await frontend.toSession({ xSessionToken: token })).status, 200);

    const disabled = await identityApi.updateIdentity({
      id: identity.id,
      updateIdentityBody: { schema_id: 'default', traits: identity.traits, state: 'inactive' },
    });
    assert.equal(disabled.status, 200);
    assert.equal(disabled.data.state, 'inactive');
    await rejectsWithStatus(frontend.toSession({ xSessionToken: token }), 401);

    const renamed = email();
    const enabled = await identityApi.updateIdentity({
      id: identity.id,
      updateIdentityBody: { schema_id: 'default', traits: { email: renamed }, state: 'active' },
    });
    assert.equal(enabled.data.state, 'active');
    const session = await frontend.toSession({ xSessionToken: token });
    assert.equal(session.status, 200);
    assert.equal(session.data.identity.traits.email, renamed);

    await rejectsWithStatus(identityApi.updateIdentity({
      id: randomUUID(), updateIdentityBody: { schema_id: 'default', traits: { email: email() }, state: 'active' },
    }), 404);
  });

  test('patchIdentity applies a JSON Patch and refuses one that breaks the identity', async () => {
    const { data: identity } = await identityApi.createIdentity({
      createIdentityBody: { schema_id: 'default', traits: { email: email() }, metadata_public: { plan: 'free' } },
    });
    const token = await issueApiSession(identity.id);
    const renamed = email();

    const patched = await identityApi.patchIdentity({
      id: identity.id,
      jsonPatch: [
        { op: 'test', path: '/metadata_public/plan', value: 'free' },
        { op: 'replace', path: '/traits/email', value: renamed },
        { op: 'replace', path: '/metadata_public/plan', value: 'pro' },
        { op: 'add', path: '/credentials/password/config/password', value: 'patched-password' },
        { op: 'replace', path: '/state', value: 'inactive' },
      ],
    });
    assert.equal(patched.status, 200);
    assert.equal(patched.data.traits.email, renamed);
    assert.deepEqual(patched.data.metadata_public, { plan: 'pro' });
    assert.equal(patched.data.state, 'inactive');
    assertNoCredentials(patched.data, 'patched-password');
    await rejectsWithStatus(frontend.toSession({ xSessionToken: token }), 401);

    await rejectsWithStatus(identityApi.patchIdentity({ id: identity.id, jsonPatch: [{ op: 'remove', path: '/traits/email' }] }), 400);
    await rejectsWithStatus(identityApi.patchIdentity({ id: identity.id, jsonPatch: [{ op: 'replace', path: '/id', value: randomUUID() }] }), 400);
    const unchanged = await identityApi.getIdentity({ id: identity.id });
    assert.deepEqual(unchanged.data, patched.data);
  });

  test('listIdentities walks every page through the Link header, and filters by identifier', async () => {
    const created = [];
    for (let i = 0; i < 5; i++)
      created.push((await identityApi.createIdentity({ createIdentityBody: { schema_id: 'default', traits: { email: email() } } })).data.id);

    const seen = [];
    let pageToken;
    for (let pages = 0; ; pages++) {
      assert.ok(pages < 100, 'the walk ends');
      const page = await identityApi.listIdentities({ pageSize: 2, pageToken });
      assert.equal(page.status, 200);
      assert.ok(page.data.length <= 2);
      assertNoCredentials(page.data);
      seen.push(...page.data.map((identity) => identity.id));
      pageToken = nextPageToken(page.headers.link);
      if (!pageToken) break;
    }
    assert.equal(new Set(seen).size, seen.length, 'no identity is listed twice');
    for (const id of created) assert.ok(seen.includes(id), `identity ${id} is listed`);
    const all = await identityApi.listIdentities({ pageSize: 1000 });
    assert.deepEqual(seen, all.data.map((identity) => identity.id));

    const target = await identityApi.getIdentity({ id: created[2] });
    const found = await identityApi.listIdentities({ credentialsIdentifier: target.data.traits.email.toUpperCase() });
    assert.deepEqual(found.data.map((identity) => identity.id), [created[2]]);
  });

  test('deleteIdentity answers 204, then the identity is 404 and its sessions 401', async () => {
    const { data: identity } = await identityApi.createIdentity({ createIdentityBody: { schema_id: 'default', traits: { email: email() } } });
    const token = await issueApiSession(identity.id);

    const deleted = await identityApi.deleteIdentity({ id: identity.id });
    assert.equal(deleted.status, 204);
    await rejectsWithStatus(identityApi.getIdentity({ id: identity.id }), 404);
    await rejectsWithStatus(identityApi.deleteIdentity({ id: identity.id }), 404);
    await rejectsWithStatus(frontend.toSession({ xSessionToken: token }), 401);
  });

  test('every schema_url resolves, and getIdentitySchema serves the schema', async () => {
    const { data: identity } = await identityApi.createIdentity({ createIdentityBody: { schema_id: 'default', traits: { email: email() } } });
    const schemaId = new URL(identity.schema_url).pathname.split('/').pop();
    const fromPublic = await fetch(new URL(`/schemas/${schemaId}`, service.publicUrl));
    assert.equal(fromPublic.status, 200);
    const schema = await fromPublic.json();
    assert.equal(schema.properties.traits.properties.email.format, 'email');

    const viaSdk = await identityApi.getIdentitySchema({ id: schemaId });
    assert.deepEqual(viaSdk.data, schema);
    const listed = await identityApi.listIdentitySchemas();
    assert.deepEqual(listed.data.map((s) => s.id), ['default']);
  });
});
