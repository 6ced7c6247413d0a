import { applyDecorators, type Type } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiConsumes,
  ApiExtraModels,
  ApiNotFoundResponse,
  ApiPayloadTooLargeResponse,
  ApiPropertyOptional,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
  ApiUnsupportedMediaTypeResponse,
  DECORATORS,
  getSchemaPath,
} from '@nestjs/swagger';
import { AuthenticationErrorDto, ErrorDto, LoginErrorDto, ThrottledErrorDto, TokenErrorDto } from './drf-error.dto.js';

/**
 * The error responses the OpenAPI document gives each operation, one helper per set of errors that
 * one piece of the service answers, so that a controller says which pieces a route goes through
 * rather than repeating schemas. Keep each helper true to the code it names.
 */

/** The body types the service parses (src/common/http/json-body.ts; Nest's Fastify adapter adds forms). */
export const BODY_MEDIA_TYPES = ['application/json', 'application/x-www-form-urlencoded'] as const;

/** Every 401 carries it (DrfExceptionFilter). */
const WWW_AUTHENTICATE = {
  'WWW-Authenticate': { required: true, description: 'Always `Bearer realm="api"`', schema: { type: 'string' } },
} as const;

const fieldErrorModels = new Map<Type, Type>();

/**
 * The field errors of a request body, as a schema of their own (`RegisterValidationErrorDto` for
 * `RegisterDto`): one optional list of messages per field the DTO documents, and DRF's
 * `non_field_errors` for a body that is not an object. Built from the DTO's @ApiProperty fields, so
 * a field added to a DTO shows up here by itself.
 */
function fieldErrorsModel(dto: Type): Type {
  const known = fieldErrorModels.get(dto);
  if (known) return known;
  const name = `${dto.name.replace(/Dto$/, '')}ValidationErrorDto`;
  const model = { [name]: class {} }[name]!;
  const documented = (Reflect.getMetadata(DECORATORS.API_MODEL_PROPERTIES_ARRAY, dto.prototype) ?? []) as string[];
  const fields = documented.map((key) => key.replace(/^:/, ''));
  for (const field of [...fields, 'non_field_errors']) {
    const description = field === 'non_field_errors' ? 'Errors about the body as a whole' : `What is wrong with \`${field}\``;
    ApiPropertyOptional({ type: [String], description })(model.prototype, field);
  }
  fieldErrorModels.set(dto, model);
  return model;
}

/**
 * A request body of type `dto`, JSON or form-encoded (DRF parses both; browsers' plain forms send the
 * latter), with the answers a body can get before the route runs: 400 with field errors (or
 * `{detail}` when the body cannot be parsed, e.g. malformed JSON), 413 past the body size limit, 415
 * for any other content type. `fieldErrors` adds what the route itself checks (duplicates, wrong
 * old password...) to the 400's description.
 */
export function ApiRequestBody(dto: Type, options: { required?: boolean; fieldErrors?: string } = {}) {
  const fieldErrors = fieldErrorsModel(dto);
  return applyDecorators(
    ApiConsumes(...BODY_MEDIA_TYPES),
    ApiBody({ type: dto, required: options.required ?? true }),
    ApiExtraModels(fieldErrors, ErrorDto),
    ApiBadRequestResponse({
      description: [
        'Field errors: `{"field": ["message", ...]}`, `non_field_errors` for the body as a whole.',
        options.fieldErrors,
        'A body that cannot be parsed (malformed JSON) gets `{"detail": "..."}` instead.',
      ].filter(Boolean).join(' '),
      schema: { anyOf: [{ $ref: getSchemaPath(fieldErrors) }, { $ref: getSchemaPath(ErrorDto) }] },
    }),
    ApiPayloadTooLargeResponse({ type: ErrorDto, description: 'The body is larger than the limit (16 KiB by default)' }),
    ApiUnsupportedMediaTypeResponse({ type: ErrorDto, description: 'The body is neither JSON nor form-encoded' }),
  );
}

/** simplejwt's token views: the token in the body is malformed, expired, of the wrong type or revoked. */
export const ApiTokenErrors = () =>
  ApiUnauthorizedResponse({ type: TokenErrorDto, headers: WWW_AUTHENTICATE, description: 'The token was refused (`token_not_valid`)' });

/** The login's one answer for a wrong password, an unknown user and an inactive account. */
export const ApiLoginErrors = () =>
  ApiUnauthorizedResponse({
    type: LoginErrorDto,
    headers: WWW_AUTHENTICATE,
    description: 'Wrong credentials, unknown user or inactive account, indistinguishably (`no_active_account`)',
  });

/** The global JWT guard's refusals on a bearer-protected route. */
export const ApiAuthenticationErrors = () =>
  ApiUnauthorizedResponse({
    type: AuthenticationErrorDto,
    headers: WWW_AUTHENTICATE,
    description: 'Missing, invalid, expired or revoked access token',
  });

/** RateLimitService's refusal: DRF's Throttled, with the wait in Retry-After. */
export const ApiThrottledResponse = () =>
  ApiTooManyRequestsResponse({
    type: ThrottledErrorDto,
    description: 'Rate limited: retry after the number of seconds in Retry-After',
    headers: { 'Retry-After': { required: true, description: 'Seconds to wait before retrying', schema: { type: 'integer', minimum: 1 } } },
  });

/** DRF's NotFound: `{"detail": "Not found."}`. */
export const ApiNotFound = (description: string) => ApiNotFoundResponse({ type: ErrorDto, description });
