import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/**
 * The error bodies of the OpenAPI document, in Django REST framework's shapes (see
 * `common/http/drf-errors.ts`, which builds them). Documentation only: nothing instantiates these.
 * Validation errors (`{"field": ["message"]}`) get one schema per request body, built by
 * `ApiRequestBody` from the body's DTO.
 */

/** DRF's generic error: `{"detail": "Not found."}`, a body that is not JSON, a body too large… */
export class ErrorDto {
  @ApiProperty({ example: 'Not found.' })
  detail: string;
}

/** simplejwt's token views (refresh, verify, blacklist): the token in the body was refused. */
export class TokenErrorDto {
  @ApiProperty({
    example: 'Token is invalid or expired',
    description: '"Token is invalid or expired", "Token is expired", "Token is blacklisted" or "Token has wrong type"',
  })
  detail: string;

  @ApiProperty({ enum: ['token_not_valid'] })
  code: 'token_not_valid';
}

/** simplejwt's login error: wrong password, unknown user and inactive account all look alike. */
export class LoginErrorDto {
  @ApiProperty({ example: 'No active account found with the given credentials' })
  detail: string;

  @ApiProperty({ enum: ['no_active_account'] })
  code: 'no_active_account';
}

/** One entry of `messages` in simplejwt's bearer-token error. */
export class TokenErrorMessageDto {
  @ApiProperty({ example: 'AccessToken' })
  token_class: string;

  @ApiProperty({ example: 'access' })
  token_type: string;

  @ApiProperty({ example: 'Token is blacklisted' })
  message: string;
}

/**
 * A bearer-protected route refused the request (DRF's NotAuthenticated / simplejwt's
 * JWTAuthentication): no `code` when no token was sent, `token_not_valid` with `messages` for a bad,
 * expired or revoked token, `user_not_found` / `user_inactive` for a token of a gone account.
 */
export class AuthenticationErrorDto {
  @ApiProperty({ example: 'Given token not valid for any token type' })
  detail: string;

  @ApiPropertyOptional({ enum: ['token_not_valid', 'user_not_found', 'user_inactive'] })
  code?: 'token_not_valid' | 'user_not_found' | 'user_inactive';

  @ApiPropertyOptional({ type: [TokenErrorMessageDto] })
  messages?: TokenErrorMessageDto[];
}

/** DRF's Throttled; the Retry-After header says the same number of seconds. */
export class ThrottledErrorDto {
  @ApiProperty({ example: 'Request was throttled. Expected available in 42 seconds.' })
  detail: string;

  @ApiProperty({ enum: ['throttled'] })
  code: 'throttled';
}
