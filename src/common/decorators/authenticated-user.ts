/** What the JWT guard puts on the request for an authenticated call. */
export interface AuthenticatedUser {
  id: number;
  /** Session id of the token; null for tokens issued by the Django system (they carry no `sid`). */
  sid: string | null;
  jti: string;
  /** Issued-at of the access token, epoch seconds. */
  iat: number;
  /** Expiry of the access token, epoch seconds. */
  exp: number;
}
