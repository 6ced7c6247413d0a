import { type ArgumentMetadata, Injectable, ValidationPipe, type ValidationError } from '@nestjs/common';
import { drfValidationError, drfFieldError } from '../http/drf-errors.js';

const PYTHON_TYPE_NAMES: Record<string, string> = {
  string: 'str',
  number: 'int',
  boolean: 'bool',
};

function flatten(errors: ValidationError[], prefix = '', into: Record<string, string[]> = {}): Record<string, string[]> {
  for (const error of errors) {
    const field = prefix ? `${prefix}.${error.property}` : error.property;
    if (error.constraints) into[field] = Object.values(error.constraints);
    if (error.children?.length) flatten(error.children, field, into);
  }
  return into;
}

/**
 * The global ValidationPipe, configured the way Django REST framework behaves: unknown fields are
 * stripped and never bound, each field reports its first problem, and errors come back as
 * `400 {"field": ["message"]}`. A body that is not a JSON object gets DRF's non_field_errors answer.
 */
@Injectable()
export class DrfValidationPipe extends ValidationPipe {
  constructor() {
    super({
      whitelist: true,
      forbidNonWhitelisted: false,
      transform: true,
      stopAtFirstError: true,
      validationError: { target: false, value: false },
      exceptionFactory: (errors) => drfValidationError(flatten(errors)),
    });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' && metadata.metatype && this.toValidate(metadata)) {
      if (value === undefined || value === null || value === '') {
        value = {};
      } else if (Array.isArray(value) || typeof value !== 'object') {
        const got = Array.isArray(value) ? 'list' : (PYTHON_TYPE_NAMES[typeof value] ?? typeof value);
        throw drfFieldError('non_field_errors', `Invalid data. Expected a dictionary, but got ${got}.`);
      }
    }
    return super.transform(value, metadata);
  }
}
