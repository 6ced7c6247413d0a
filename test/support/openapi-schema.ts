/**
 * Checks real HTTP answers against the OpenAPI document: is the status documented for the operation,
 * does the body match the documented schema, are the documented headers there. It covers the subset
 * of OpenAPI 3.0 schemas the document uses ($ref, type, properties, required, additionalProperties,
 * items, enum, nullable, anyOf/oneOf/allOf, the uuid and date-time formats), and says so when it
 * meets anything else, so a schema it cannot judge never passes silently.
 */
export interface OpenApiDocument {
  paths: Record<string, Record<string, OperationObject>>;
  components: { schemas: Record<string, Schema> };
  security?: unknown[];
}

export interface OperationObject {
  security?: unknown[];
  summary?: string;
  requestBody?: { required?: boolean; content?: Record<string, { schema?: Schema }> };
  responses: Record<string, ResponseObject>;
  parameters?: Array<{ name: string; in: string; schema?: Schema }>;
}

interface ResponseObject {
  description?: string;
  headers?: Record<string, { schema?: Schema }>;
  content?: Record<string, { schema?: Schema }>;
}

export type Schema = Record<string, any>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const KNOWN_KEYWORDS = new Set([
  '$ref', 'type', 'properties', 'required', 'additionalProperties', 'items', 'enum', 'nullable', 'anyOf', 'oneOf', 'allOf',
  'format', 'description', 'example', 'examples', 'title', 'maxLength', 'minLength', 'minimum', 'maximum', 'default',
]);

export function schemaProblems(document: OpenApiDocument, schema: Schema, value: unknown, at = '$'): string[] {
  if (schema.$ref) {
    const name = String(schema.$ref).replace('#/components/schemas/', '');
    const target = document.components.schemas[name];
    return target ? schemaProblems(document, target, value, at) : [`${at}: unknown $ref ${schema.$ref}`];
  }
  const unknown = Object.keys(schema).filter((keyword) => !KNOWN_KEYWORDS.has(keyword));
  if (unknown.length > 0) return [`${at}: the checker does not know ${unknown.join(', ')}`];
  if (value === null) return schema.nullable ? [] : [`${at}: null but not nullable`];
  if (schema.allOf) return schema.allOf.flatMap((part: Schema) => schemaProblems(document, part, value, at));
  for (const keyword of ['anyOf', 'oneOf'] as const) {
    if (!schema[keyword]) continue;
    const results = (schema[keyword] as Schema[]).map((part) => schemaProblems(document, part, value, at));
    const matching = results.filter((problems) => problems.length === 0).length;
    if (keyword === 'anyOf' ? matching === 0 : matching !== 1) {
      return [`${at}: ${matching} of the ${keyword} alternatives match (${results.map((problems) => problems.join('; ')).join(' | ')})`];
    }
  }
  const problems: string[] = [];
  switch (schema.type) {
    case undefined:
      break;
    case 'object': {
      if (typeof value !== 'object' || Array.isArray(value)) return [`${at}: expected an object, got ${JSON.stringify(value)}`];
      const record = value as Record<string, unknown>;
      for (const field of schema.required ?? []) if (!(field in record)) problems.push(`${at}.${field}: required but missing`);
      for (const [field, fieldValue] of Object.entries(record)) {
        const fieldSchema = schema.properties?.[field] ?? schema.additionalProperties;
        if (fieldSchema === false) problems.push(`${at}.${field}: not in the schema`);
        else if (fieldSchema && fieldSchema !== true) problems.push(...schemaProblems(document, fieldSchema, fieldValue, `${at}.${field}`));
      }
      break;
    }
    case 'array':
      if (!Array.isArray(value)) return [`${at}: expected an array, got ${JSON.stringify(value)}`];
      value.forEach((item, index) => problems.push(...schemaProblems(document, schema.items ?? {}, item, `${at}[${index}]`)));
      break;
    case 'string':
      if (typeof value !== 'string') return [`${at}: expected a string, got ${JSON.stringify(value)}`];
      if (schema.format === 'uuid' && !UUID.test(value)) problems.push(`${at}: not a uuid: ${value}`);
      if (schema.format === 'date-time' && Number.isNaN(Date.parse(value))) problems.push(`${at}: not a date-time: ${value}`);
      break;
    case 'integer':
      if (!Number.isInteger(value)) return [`${at}: expected an integer, got ${JSON.stringify(value)}`];
      break;
    case 'number':
      if (typeof value !== 'number') return [`${at}: expected a number, got ${JSON.stringify(value)}`];
      break;
    case 'boolean':
      if (typeof value !== 'boolean') return [`${at}: expected a boolean, got ${JSON.stringify(value)}`];
      break;
    default:
      return [`${at}: the checker does not know type ${schema.type}`];
  }
  if (typeof value === 'number' && schema.minimum !== undefined && value < schema.minimum) problems.push(`${at}: ${value} < minimum ${schema.minimum}`);
  if (typeof value === 'number' && schema.maximum !== undefined && value > schema.maximum) problems.push(`${at}: ${value} > maximum ${schema.maximum}`);
  if (typeof value === 'string' && schema.maxLength !== undefined && value.length > schema.maxLength) problems.push(`${at}: longer than ${schema.maxLength}`);
  if (typeof value === 'string' && schema.minLength !== undefined && value.length < schema.minLength) problems.push(`${at}: shorter than ${schema.minLength}`);
  if (schema.enum && !schema.enum.includes(value)) problems.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  return problems;
}

export interface Exchange {
  method: string;
  /** The document's path template, e.g. `/api/sessions/{id}/`. */
  path: string;
  status: number;
  /** The raw body text ('' for none). */
  body: string;
  headers: Record<string, string>;
}

/** What is wrong with one answer of the service, judged by the document (empty: it agrees). */
export function exchangeProblems(document: OpenApiDocument, exchange: Exchange): string[] {
  const what = `${exchange.method} ${exchange.path} ${exchange.status}`;
  const operation = document.paths[exchange.path]?.[exchange.method.toLowerCase()];
  if (!operation) return [`${what}: no such operation in the document`];
  const response = operation.responses[String(exchange.status)];
  if (!response) return [`${what}: status not documented (documented: ${Object.keys(operation.responses).join(', ')})`];
  const problems: string[] = [];
  for (const [header, definition] of Object.entries(response.headers ?? {})) {
    const value = exchange.headers[header.toLowerCase()];
    if (value === undefined) {
      problems.push(`${what}: documented header ${header} missing`);
      continue;
    }
    // Header values are text: an integer header is checked as the integer it spells.
    const typed = definition.schema?.type === 'integer' && /^-?\d+$/.test(value) ? Number(value) : value;
    problems.push(...schemaProblems(document, definition.schema ?? {}, typed, `header ${header}`).map((problem) => `${what}: ${problem}`));
  }
  const schema = response.content?.['application/json']?.schema;
  if (!schema) return exchange.body === '' ? problems : [...problems, `${what}: documented without a body, got ${exchange.body.slice(0, 200)}`];
  let body: unknown;
  try {
    body = JSON.parse(exchange.body);
  } catch {
    return [...problems, `${what}: body is not JSON: ${exchange.body.slice(0, 200)}`];
  }
  return [...problems, ...schemaProblems(document, schema, body).map((problem) => `${what}: ${problem}`)];
}
