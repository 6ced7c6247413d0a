/**
 * What must never reach a production log line: credentials and links. The request log line only
 * carries chosen fields (no headers, no body, no query string), so these are the second line of
 * defence for whatever else is logged — an error message, a field a future change adds.
 */

/** pino `redact` paths: header and body fields that carry credentials, wherever an object is logged. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'authorization',
  'cookie',
  'password',
  'token',
  'refresh',
  'access',
  'link',
  '*.authorization',
  '*.cookie',
  '*.password',
  '*.old_password',
  '*.new_password',
  '*.token',
  '*.refresh',
  '*.access',
  '*.link',
];

export const REDACTED = '[redacted]';

const SECRET_PATTERNS: Array<[RegExp, string]> = [
  // A JWT (access or refresh token): base64url header starting {"…, payload and signature.
  [/eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*/g, `${REDACTED}`],
  // An Authorization header value.
  [/\b(Bearer|Basic)\s+[^\s,;"']+/gi, `$1 ${REDACTED}`],
  // A link's secret query parameters (reset and verification links carry uid and token).
  [/([?&](?:token|uid|code|key|password|refresh|access)=)[^&\s"'#<>]+/gi, `$1${REDACTED}`],
  // A reset or verification token on its own (AccountTokensService: "<timestamp b36>-<hmac hex>").
  [/\b[0-9a-z]{1,10}-[0-9a-f]{40}\b/g, REDACTED],
  // Credentials in a connection URL (postgres://user:password@host, smtp://user:pass@host).
  [/(\b[a-z][a-z0-9+.-]*:\/\/)[^\s/@:]*:[^\s/@]*@/gi, `$1${REDACTED}@`],
];

/** The text with every token, credential and link secret it contains replaced by "[redacted]". */
export function redactSecrets(text: string): string {
  let result = text;
  for (const [pattern, replacement] of SECRET_PATTERNS) result = result.replace(pattern, replacement);
  return result;
}
