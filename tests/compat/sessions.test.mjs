// Wire compatibility of the session API with the real Ory Kratos SDK (@ory/kratos-client 26.2.0):
// what a Kratos client sees must be what it would see talking to Kratos.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { FrontendApi, IdentityApi } from '@ory/kratos-client';
import { adminJson, rejectsWithStatus, sdkConfiguration, startService } from './harness.mjs';

const COOKIE_NAME = 'ory_kratos_session';
const NO_CREDENTIALS = 'No valid session credentials found in the request.';

describe('Kratos SDK against OrleansSessions', () => {
  let service;
  let frontend;
  let identityApi;

  before(async () => {
    service = await startService();
    frontend = new FrontendApi(sdkConfiguration(service.publicUrl));
    identityApi = new IdentityApi(sdkConfiguration(service.adminUrl));
  });

  after(async () => {
    await service?.stop();
  });

  async function createIdentity() {
    const email = `user-${randomUUID()}@example.com`;
    const { body } = await adminJson(service.adminUrl, 'POST', '/admin/identities', {
      schema_id: 'default',
      traits: { email },
      metadata_public: { plan: 'free' },
    }, 201);
    assert.match(body.id, /^[0-9a-f-]{36}$/);
    return body;
  }

  async function issueApiSession(identityId) {
    const { body } = await adminJson(service.adminUrl, 'POST', `/admin/identities/${identityId}/sessions`, { channel: 'api' }, 201);
    assert.equal(typeof body.session_token, 'string');
    return body;
  }

  async function issueBrowserSession(identityId) {
    const { body, headers } = await adminJson(service.adminUrl, 'POST', `/admin/identities/${identityId}/sessions`, { channel: 'browser' }, 201);
    assert.equal(body.session_cookie.name, COOKIE_NAME);
    assert.equal(typeof body.session_cookie.value, 'string');
    assert.ok(headers.getSetCookie().some((c) => c.startsWith(`${COOKIE_NAME}=`)), 'the issuance sets the session cookie');
    return body;
  }

  test('toSession with xSessionToken returns the session', async () => {
    const identity = await createIdentity();
    const issued = await issueApiSession(identity.id);

    const response = await frontend.toSession({ xSessionToken: issued.session_token });

    assert.equal(response.status, 200);
    const session = response.data;
    assert.equal(session.id, issued.session.id);
    assert.equal(session.identity.id, identity.id);
    assert.equal(session.active, true);
    assert.equal(session.authenticator_assurance_level, 'aal1');
    assert.equal(session.authentication_methods[0].method, 'password');
    assert.equal(response.headers['x-kratos-authenticated-identity-id'], identity.id);
  });

  test('toSession with the session cookie returns a browser session', async () => {
    const identity = await createIdentity();
    const issued = await issueBrowserSession(identity.id);

    const response = await frontend.toSession({ cookie: `${COOKIE_NAME}=${issued.session_cookie.value}` });

    assert.equal(response.status, 200);
    const session = response.data;
    assert.equal(session.id, issued.session.id);
    assert.equal(session.identity.id, identity.id);
    assert.equal(session.active, true);
    assert.equal(session.authenticator_assurance_level, 'aal1');
    assert.equal(session.authentication_methods[0].method, 'password');
  });

  test('a session token is refused in the cookie parameter', async () => {
    const identity = await createIdentity();
    const issued = await issueApiSession(identity.id);

    await rejectsWithStatus(frontend.toSession({ cookie: `${COOKIE_NAME}=${issued.session_token}` }), 401);
  });

  test('a browser cookie value is refused as xSessionToken', async () => {
    const identity = await createIdentity();
    const issued = await issueBrowserSession(identity.id);

    await rejectsWithStatus(frontend.toSession({ xSessionToken: issued.session_cookie.value }), 401);
  });

  test('IdentityApi.disableSession revokes the session', async () => {
    const identity = await createIdentity();
    const issued = await issueApiSession(identity.id);
    await frontend.toSession({ xSessionToken: issued.session_token }); // active before

    const disabled = await identityApi.disableSession({ id: issued.session.id });
    assert.equal(disabled.status, 204);

    const response = await rejectsWithStatus(frontend.toSession({ xSessionToken: issued.session_token }), 401);
    assert.equal(response.data.error.reason, NO_CREDENTIALS);
  });

  test('IdentityApi.disableSession of an unknown session is 404', async () => {
    await rejectsWithStatus(identityApi.disableSession({ id: randomUUID() }), 404);
  });

  test('toSession without credentials is 401 with Kratos reason', async () => {
    const response = await rejectsWithStatus(frontend.toSession(), 401);
    assert.equal(response.data.error.reason, NO_CREDENTIALS);
    assert.equal(response.data.error.id, undefined, 'Kratos sends no error.id here');
  });
});
