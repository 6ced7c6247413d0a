/**
 * A front-end team's program: a client generated from openapi.json by openapi-typescript, called
 * through openapi-fetch. test/openapi-contract.e2e-spec.ts copies it next to the generated `api.d.ts`,
 * type-checks it with `tsc --strict` (browser libs, no Node types) and runs it against a live
 * service. Every property it reads, error bodies included, must be typed by the document: were the
 * error schemas missing, `error` would be `never` and this file would not compile.
 */
import createClient, { type Middleware } from 'openapi-fetch';
import type { paths } from './api.js';

/** One answer as it came over the wire, for the test to check against the document. */
export interface Exchange {
  method: string;
  path: string;
  status: number;
  body: string;
  headers: Record<string, string>;
}

export interface NewUser {
  username: string;
  email: string;
  password: string;
}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

const bearer = (access: string) => ({ headers: { Authorization: `Bearer ${access}` } });

export async function runFlow(baseUrl: string, user: NewUser) {
  const exchanges: Exchange[] = [];
  const recorder: Middleware = {
    async onResponse({ request, response, schemaPath }) {
      exchanges.push({
        method: request.method,
        path: schemaPath,
        status: response.status,
        body: await response.clone().text(),
        headers: Object.fromEntries(response.headers.entries()),
      });
    },
  };
  const api = createClient<paths>({ baseUrl });
  api.use(recorder);

  // Register; the same again is a 400 naming the taken fields.
  const registered = await api.POST('/api/register/', { body: user });
  check(registered.data, `register: ${registered.response.status}`);
  const userId: number = registered.data.id;
  const duplicate = await api.POST('/api/register/', { body: user });
  check(duplicate.error && 'username' in duplicate.error, `duplicate register: ${duplicate.response.status}`);
  const usernameErrors: string[] | undefined = duplicate.error.username;
  check(usernameErrors?.[0]?.includes('already exists'), `duplicate register: ${JSON.stringify(duplicate.error)}`);

  // A wrong password: simplejwt's 401.
  const wrong = await api.POST('/api/token/', { body: { username: user.username, password: `${user.password}-wrong` } });
  check(wrong.error && 'code' in wrong.error && wrong.error.code === 'no_active_account', `wrong password: ${wrong.response.status}`);
  const wrongDetail: string = wrong.error.detail;

  // Log in, form-encoded as a plain HTML form would send it (the document lists both body types).
  const login = await api.POST('/api/token/', {
    body: { username: user.username, password: user.password },
    bodySerializer: (body) => new URLSearchParams(body).toString(),
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  });
  check(login.data, `login: ${login.response.status}`);
  const first: { access: string; refresh: string } = login.data;

  // Who am I; without a token, DRF's "credentials were not provided".
  const me = await api.GET('/api/me/', bearer(first.access));
  check(me.data, `me: ${me.response.status}`);
  check(me.data.id === userId && me.data.username === user.username, `me: ${JSON.stringify(me.data)}`);
  const anonymous = await api.GET('/api/me/');
  check(anonymous.error, `anonymous me: ${anonymous.response.status}`);
  const anonymousDetail: string = anonymous.error.detail;

  // My sessions: one, the current one, with a uuid id.
  const sessions = await api.GET('/api/sessions/', bearer(first.access));
  check(sessions.data, `sessions: ${sessions.response.status}`);
  const current = sessions.data.find((session) => session.current);
  check(current && sessions.data.length === 1, `sessions: ${JSON.stringify(sessions.data)}`);
  const sessionId: string = current.id;

  // Refresh (rotation): a new pair.
  const refreshed = await api.POST('/api/token/refresh/', { body: { refresh: first.refresh } });
  check(refreshed.data, `refresh: ${refreshed.response.status}`);
  const second: { access: string; refresh: string } = refreshed.data;
  check(second.refresh !== first.refresh, 'refresh: the refresh token was not rotated');

  // Log out with the body left out (it is optional), then the session's tokens are refused.
  const logout = await api.POST('/api/logout/', bearer(second.access));
  check(logout.response.status === 205 && !logout.error, `logout: ${logout.response.status}`);
  const revoked = await api.GET('/api/me/', bearer(second.access));
  check(revoked.error && 'code' in revoked.error && revoked.error.code === 'token_not_valid', `me after logout: ${revoked.response.status}`);
  const revokedMessage: string | undefined = revoked.error.messages?.[0]?.message;
  const dead = await api.POST('/api/token/refresh/', { body: { refresh: second.refresh } });
  check(dead.error && 'code' in dead.error && dead.error.code === 'token_not_valid', `refresh after logout: ${dead.response.status}`);
  const deadDetail: string = dead.error.detail;

  // Log in again: the ended session is not live any more (404), the new one ends with DELETE (204).
  const again = await api.POST('/api/token/', { body: { username: user.username, password: user.password } });
  check(again.data, `second login: ${again.response.status}`);
  const ended = await api.DELETE('/api/sessions/{id}/', { params: { path: { id: sessionId } }, ...bearer(again.data.access) });
  check(ended.error && ended.response.status === 404, `delete an ended session: ${ended.response.status}`);
  const endedDetail: string = ended.error.detail;
  const list = await api.GET('/api/sessions/', bearer(again.data.access));
  check(list.data?.length === 1 && list.data[0]!.id !== sessionId, `sessions after the second login: ${JSON.stringify(list.data)}`);
  const end = await api.DELETE('/api/sessions/{id}/', { params: { path: { id: list.data[0]!.id } }, ...bearer(again.data.access) });
  check(end.response.status === 204 && !end.error, `delete my session: ${end.response.status}`);

  return {
    exchanges,
    read: { userId, usernameErrors, wrongDetail, anonymousDetail, sessionId, revokedMessage, deadDetail, endedDetail },
  };
}
