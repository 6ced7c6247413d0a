/**
 * Who is calling: what an authentication strategy puts on the request (`@CurrentUser()`). A small
 * discriminated union on `kind`, one member per kind of credential. A module that adds a strategy
 * adds its member by augmenting `PrincipalKinds` (declaration merging), so nothing here changes:
 *
 *   declare module '../common/auth/principal.js' {
 *     interface PrincipalKinds { 'api-key': { kind: 'api-key'; userId: number; keyId: string } }
 *   }
 */
export interface PrincipalKinds {
  /** A holder of one of our access tokens (a login session; a token of the Django system has none). */
  session: SessionPrincipal;
}

export interface SessionPrincipal {
  kind: 'session';
  userId: number;
  /** The token's session (`sid`); null for tokens issued by the Django system. */
  sessionId: string | null;
  jti: string;
  /** Issued-at of the access token, epoch seconds. */
  iat: number;
  /** Expiry of the access token, epoch seconds. */
  exp: number;
}

export type PrincipalKind = keyof PrincipalKinds;
/** Every member has a `kind` and the `userId` it acts for. */
export type Principal = PrincipalKinds[PrincipalKind];

/** The kinds a route accepts when it does not say (`@Authenticated()` without arguments). */
export const DEFAULT_PRINCIPAL_KINDS: readonly PrincipalKind[] = ['session'];
