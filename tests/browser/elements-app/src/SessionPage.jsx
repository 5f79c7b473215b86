// whoami through the same origin: the email of the session's identity, its level and methods, and sign-out
// (the logout URL is fetched on click, so its token never sits in the page).
import { useEffect, useState } from 'react';
import { frontend } from './config.js';

export function SessionPage() {
  const [state, setState] = useState({ status: 'loading' });

  useEffect(() => {
    (async () => {
      try {
        const session = await frontend.toSession();
        setState({ status: 'active', session });
      } catch (e) {
        const status = e?.response?.status;
        const body = status ? await e.response.json().catch(() => null) : null;
        setState({ status: 'none', httpStatus: status ?? null, errorId: body?.error?.id ?? null });
      }
    })();
  }, []);

  if (state.status === 'loading') return <p data-testid="session-loading">Loading…</p>;
  if (state.status === 'none') {
    return (
      <main data-testid="no-session" data-http-status={state.httpStatus ?? ''} data-error-id={state.errorId ?? ''}>
        <p>No session ({state.httpStatus ?? 'network error'}{state.errorId ? `, ${state.errorId}` : ''}).</p>
        <a href="/login">Sign in</a>
      </main>
    );
  }
  const { session } = state;
  const signOut = async () => {
    const { logout_url: logoutUrl } = await frontend.createBrowserLogoutFlow();
    window.location.assign(logoutUrl);
  };
  const methods = (session.authentication_methods ?? []).map((m) => m.method).join(', ');
  return (
    <main data-testid="session-page" style={{ fontFamily: 'sans-serif', padding: '2rem' }}>
      <h1>Signed in</h1>
      <dl>
        <dt>Email</dt>
        <dd data-testid="session-email">{session.identity?.traits?.email}</dd>
        <dt>Identity</dt>
        <dd data-testid="session-identity-id">{session.identity?.id}</dd>
        <dt>Assurance level</dt>
        <dd data-testid="session-aal">{session.authenticator_assurance_level}</dd>
        <dt>Methods</dt>
        <dd data-testid="session-methods">{methods}</dd>
      </dl>
      <button type="button" data-testid="logout" onClick={signOut}>Sign out</button>
    </main>
  );
}
