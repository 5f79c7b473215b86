// The app and the Kratos API share one origin (the test's server passes the Kratos paths on).
import { Configuration, FrontendApi } from '@ory/client-fetch';

const origin = window.location.origin;

export const frontend = new FrontendApi(new Configuration({
  basePath: origin,
  credentials: 'include',
  headers: { Accept: 'application/json' },
}));

/** Ory Elements' configuration: the service has login and logout only, so no sign-up or recovery links. */
export const oryConfig = {
  sdk: { url: origin },
  project: {
    name: 'OrleansSessions',
    default_redirect_url: `${origin}/session`,
    login_ui_url: `${origin}/login`,
    error_ui_url: `${origin}/error`,
    settings_ui_url: `${origin}/settings`,
    registration_enabled: false,
    registration_ui_url: `${origin}/registration`,
    recovery_enabled: false,
    recovery_ui_url: `${origin}/recovery`,
    verification_enabled: false,
    verification_ui_url: `${origin}/verification`,
  },
};
