// Starts one OrleansSessions node for a test file and stops it afterwards.
//
// The node is the built Silo (the test script builds it first), on port 0 for both listeners, a
// fresh SQLite directory and free Orleans ports, so several runs can share a machine. Readiness
// is the node's own "OrleansSessions ready: public API <url>, admin API <url>" log line.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Configuration } from '@ory/kratos-client';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');

/** The Silo assembly to run; SILO_DLL overrides it (e.g. a Release build). */
export const siloDll = process.env.SILO_DLL
  ?? path.join(repoRoot, 'Silo', 'bin', 'Debug', 'net10.0', 'OrleansSessions.Silo.dll');

const READY_TIMEOUT_MS = Number(process.env.COMPAT_READY_TIMEOUT_MS ?? 60_000);
const STOP_TIMEOUT_MS = 10_000;
const READY = /OrleansSessions ready: public API (https?:\/\/[^\s,]+),? admin API (https?:\/\/[^\s,]+)/;

/** A TCP port that was free a moment ago (the OS picks it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts a node and resolves once it announced its addresses. By default in dev mode (the admin API
 * open); with `dev: false` the node needs `adminKey`, which admin calls then send as
 * `Authorization: Bearer <adminKey>`.
 * @param {{dev?: boolean, adminKey?: string, extraArgs?: string[]}} [options]
 * @returns {Promise<{publicUrl: string, adminUrl: string, adminKey: string | undefined, output: () => string, stop: () => Promise<void>}>}
 */
export async function startService({ dev = true, adminKey, extraArgs = [] } = {}) {
  if (!existsSync(siloDll))
    throw new Error(`${siloDll} does not exist: build the solution first (./test.sh does).`);

  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'orleans-sessions-compat-'));
  const siloPort = await freePort();
  let gatewayPort = await freePort();
  while (gatewayPort === siloPort) gatewayPort = await freePort();

  const args = [
    siloDll,
    '--serve:public:port=0',
    '--serve:admin:port=0',
    `--store:data_directory=${dataDir}`,
    `--orleans:silo_port=${siloPort}`,
    `--orleans:gateway_port=${gatewayPort}`,
    `--dev=${dev}`,
    '--hashers:argon2:memory_kib=1024',
    '--hashers:argon2:parallelism=1',
    ...extraArgs,
  ];
  // The Silo's folder is the content root, so its appsettings.json is the base configuration.
  const child = spawn('dotnet', args, {
    cwd: path.dirname(siloDll),
    // The key goes in the environment, not on the command line where any process listing shows it.
    env: {
      ...process.env, DOTNET_NOLOGO: '1', DOTNET_CLI_TELEMETRY_OPTOUT: '1',
      ...(adminKey === undefined ? {} : { serve__admin__api_keys__0: adminKey }),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  let output = '';
  let exited = null;
  const exitedPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
  });
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');

  const cleanupDir = () => rmSync(dataDir, { recursive: true, force: true });
  // Never leave a node behind, even when the test process dies without running `after`.
  const killOnExit = () => { if (exited === null) child.kill('SIGKILL'); };
  process.once('exit', killOnExit);

  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (exited === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => { if (exited === null) child.kill('SIGKILL'); }, STOP_TIMEOUT_MS);
      await exitedPromise;
      clearTimeout(timer);
    }
    cleanupDir();
  };

  try {
    const urls = await new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`OrleansSessions was not ready within ${READY_TIMEOUT_MS} ms.`)),
        READY_TIMEOUT_MS);
      child.on('error', (error) => { clearTimeout(timer); reject(error); });
      exitedPromise.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`OrleansSessions exited before it was ready (code ${code}, signal ${signal}).`));
      });
      let ready = false;
      const onData = (chunk) => {
        output += chunk;
        if (ready) return;
        const match = READY.exec(output);
        if (match) {
          ready = true;
          clearTimeout(timer);
          resolve({ publicUrl: match[1], adminUrl: match[2] });
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', (chunk) => { output += chunk; });
    });
    return { ...urls, adminKey, output: () => output, stop };
  } catch (error) {
    await stop();
    error.message += `\n--- dotnet ${args.join(' ')} (cwd ${path.dirname(siloDll)}) output ---\n${output}`;
    throw error;
  }
}

/** The base path the SDK wants: the URL without its trailing slash. */
export function basePath(url) {
  return url.replace(/\/+$/, '');
}

/**
 * JSON request with plain fetch, for admin setup calls. Throws unless the status is the expected one.
 * `adminKey`, when given, is sent as `Authorization: Bearer <adminKey>`.
 */
export async function adminJson(baseUrl, method, pathname, body, expectedStatus, { adminKey } = {}) {
  const headers = body === undefined ? {} : { 'Content-Type': 'application/json' };
  if (adminKey !== undefined) headers.Authorization = `Bearer ${adminKey}`;
  const response = await fetch(new URL(pathname, baseUrl), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  if (response.status !== expectedStatus)
    throw new Error(`${method} ${pathname}: expected ${expectedStatus}, got ${response.status}: ${text}`);
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

/** An SDK client as an application would build it; env proxies never apply to the loopback node. */
export function sdkConfiguration(url, extra = {}) {
  return new Configuration({ basePath: basePath(url), baseOptions: { proxy: false, timeout: 30_000 }, ...extra });
}

/**
 * Awaits an SDK call that must fail with HTTP `status`; returns the error response. With `envelope` (the default)
 * the body must be Kratos's JSON error envelope carrying that code (a login flow's 400, for one, is a flow instead).
 */
export async function rejectsWithStatus(call, status, { envelope = true } = {}) {
  let error;
  try {
    const response = await call;
    assert.fail(`expected HTTP ${status}, the SDK resolved with HTTP ${response.status}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    error = e;
  }
  assert.ok(error.response, `expected an HTTP error response, got: ${error}`);
  assert.equal(error.response.status, status, JSON.stringify(error.response.data));
  if (envelope) {
    assert.equal(typeof error.response.data, 'object', 'the error body is JSON');
    assert.equal(error.response.data.error?.code, status, `error.code in ${JSON.stringify(error.response.data)}`);
  }
  return error.response;
}
