import type { APIGatewayProxyEvent } from 'aws-lambda';

/** What the verifier needs from an API Gateway REST proxy event, normalised. */
export interface InboundRequest {
  /** Header values by lower-case name; a header sent more than once keeps every distinct value. */
  readonly headers: ReadonlyMap<string, readonly string[]>;
  /** The body bytes exactly as sent (base64-decoded when API Gateway flagged it). */
  readonly rawBody: Buffer;
  readonly sourceIp: string;
  readonly requestId: string;
  /** The `{urlToken}` path parameter of `POST /buildkite/{urlToken}`, when that route was used. */
  readonly pathToken?: string;
  /** The `{name}` path parameter of `POST /triggers/{name}`, when that route was used. */
  readonly triggerName?: string;
}

export function toInboundRequest(event: APIGatewayProxyEvent): InboundRequest {
  const headers = new Map<string, string[]>();
  const add = (name: string, value: string | undefined) => {
    if (value === undefined) return;
    const key = name.toLowerCase();
    const values = headers.get(key) ?? [];
    if (!values.includes(value)) values.push(value);
    headers.set(key, values);
  };
  for (const [name, values] of Object.entries(event.multiValueHeaders ?? {})) {
    for (const value of values ?? []) add(name, value);
  }
  for (const [name, value] of Object.entries(event.headers ?? {})) add(name, value);

  const body = event.body ?? '';
  const rawBody = event.isBase64Encoded ? Buffer.from(body, 'base64') : Buffer.from(body, 'utf8');
  const pathToken = event.pathParameters?.urlToken;
  const triggerName = event.resource === '/triggers/{name}' ? event.pathParameters?.name : undefined;
  return {
    headers,
    rawBody,
    sourceIp: event.requestContext?.identity?.sourceIp ?? 'unknown',
    requestId: event.requestContext?.requestId ?? 'unknown',
    ...(pathToken !== undefined ? { pathToken } : {}),
    ...(triggerName !== undefined ? { triggerName } : {}),
  };
}

/** Every distinct value sent for a header (case-insensitive name). */
export function headerValues(request: InboundRequest, name: string): readonly string[] {
  return request.headers.get(name.toLowerCase()) ?? [];
}

/** `application/json`, optionally with parameters such as `; charset=utf-8`. */
export function isJsonContentType(value: string | undefined): boolean {
  if (!value) return false;
  const mediaType = value.split(';')[0]?.trim().toLowerCase();
  return mediaType === 'application/json';
}
