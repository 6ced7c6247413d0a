import { HttpException, HttpStatus } from '@nestjs/common';

/**
 * Error bodies in Django REST framework's shapes, so clients written against the Django system keep
 * working: validation errors `{"field": ["message"]}`, everything else `{"detail": "...", "code"?: "..."}`.
 */
export type DrfErrorBody = Record<string, unknown>;

export class DrfException extends HttpException {
  constructor(status: number, readonly body: DrfErrorBody, readonly headers: Record<string, string> = {}) {
    super(body, status);
  }
}

export const drfValidationError = (errors: Record<string, string[]>) => new DrfException(HttpStatus.BAD_REQUEST, errors);

export const drfFieldError = (field: string, message: string) => drfValidationError({ [field]: [message] });

/** simplejwt's token view error: `{"detail": "...", "code": "token_not_valid"}`. */
export const tokenNotValid = (detail = 'Token is invalid or expired') =>
  new DrfException(HttpStatus.UNAUTHORIZED, { detail, code: 'token_not_valid' });

/** DRF's NotAuthenticated: a protected route called without credentials. */
export const notAuthenticated = () =>
  new DrfException(HttpStatus.UNAUTHORIZED, { detail: 'Authentication credentials were not provided.' });

/** simplejwt's JWTAuthentication error for a bearer token that fails validation. */
export const bearerTokenNotValid = (message = 'Token is invalid or expired') =>
  new DrfException(HttpStatus.UNAUTHORIZED, {
    detail: 'Given token not valid for any token type',
    code: 'token_not_valid',
    messages: [{ token_class: 'AccessToken', token_type: 'access', message }],
  });

/** DRF's PermissionDenied: authenticated, but with a kind of credential the route does not accept. */
export const permissionDenied = () =>
  new DrfException(HttpStatus.FORBIDDEN, { detail: 'You do not have permission to perform this action.' });

export const authenticationFailed = (detail: string, code: string) =>
  new DrfException(HttpStatus.UNAUTHORIZED, { detail, code });

export const noActiveAccount = () =>
  new DrfException(HttpStatus.UNAUTHORIZED, {
    detail: 'No active account found with the given credentials',
    code: 'no_active_account',
  });

export const throttled = (retryAfterSeconds: number) =>
  new DrfException(
    HttpStatus.TOO_MANY_REQUESTS,
    { detail: `Request was throttled. Expected available in ${retryAfterSeconds} seconds.`, code: 'throttled' },
    { 'Retry-After': String(retryAfterSeconds) },
  );
