import { SetMetadata, applyDecorators } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';
import { PUBLIC_OPERATION_EXTENSION } from '../openapi/openapi-document.js';

export const IS_PUBLIC_KEY = 'isPublic';

/**
 * Opts a route or controller out of the global JWT guard. The same decorator marks the operations
 * `security: []` in the OpenAPI document, so the document cannot disagree with the guard.
 */
export const Public = () => applyDecorators(SetMetadata(IS_PUBLIC_KEY, true), ApiExtension(PUBLIC_OPERATION_EXTENSION, true));
