// Ory's documented pattern: no ?flow= → the browser goes to /self-service/login/browser, which creates the
// flow and sends it back here; with ?flow= → getLoginFlow, rendered by Elements' <Login>.
import { FlowType, handleFlowError } from '@ory/client-fetch';
import { Login } from '@ory/elements-react/theme';
import { useEffect, useState } from 'react';
import { frontend, oryConfig } from './config.js';

function startFlow(params) {
  const query = new URLSearchParams();
  for (const name of ['aal', 'refresh', 'return_to']) {
    if (params.has(name)) query.set(name, params.get(name));
  }
  const suffix = query.size ? `?${query}` : '';
  window.location.assign(`/self-service/login/browser${suffix}`);
}

export function LoginPage() {
  const [flow, setFlow] = useState(null);
  const [error, setError] = useState(null);

  useEffect(() => {
    const params = new URLSearchParams(window.location.search);
    const id = params.get('flow');
    if (!id) {
      startFlow(params);
      return;
    }
    frontend.getLoginFlowRaw({ id })
      .then((response) => response.value())
      .then(setFlow)
      .catch(handleFlowError({
        flowType: FlowType.Login,
        onRestartFlow: () => startFlow(params),
        onValidationError: setFlow,
        onRedirect: (url) => window.location.assign(url),
      }))
      .catch((e) => setError(String(e?.message ?? e)));
  }, []);

  if (error) return <p data-testid="login-error">{error}</p>;
  if (!flow) return <p data-testid="login-loading">Loading…</p>;
  return (
    <main data-testid="login-page" data-flow-id={flow.id} data-requested-aal={flow.requested_aal ?? ''}>
      <Login flow={flow} config={oryConfig} />
    </main>
  );
}
