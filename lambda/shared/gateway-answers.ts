/**
 * The answers API Gateway gives itself (no function runs), in the same `{error, message}` shape
 * as the verify function's. The deployed API installs them as gateway responses; the local
 * gateway gives the ones it can produce (403, 404, 413, and 503 when the handler throws).
 */

/** One gateway answer. */
export interface GatewayAnswer {
  readonly status: number;
  /** The API Gateway response types (`ResponseType`) answered this way. */
  readonly responseTypes: readonly string[];
  readonly message: string;
}

export const GATEWAY_ANSWERS = {
  forbidden_source_ip: {
    status: 403,
    responseTypes: ['ACCESS_DENIED'],
    message:
      'This source address may not call this endpoint; its IP allowlist is in the kitebridge configuration.',
  },
  not_found: {
    status: 404,
    responseTypes: ['MISSING_AUTHENTICATION_TOKEN', 'RESOURCE_NOT_FOUND'],
    message: 'No such route. Buildkite deliveries go to POST /buildkite or POST /buildkite/{token}.',
  },
  body_too_large: {
    status: 413,
    responseTypes: ['REQUEST_TOO_LARGE'],
    message: 'The body is larger than API Gateway accepts (10 MB).',
  },
  throttled: {
    status: 429,
    responseTypes: ['THROTTLED'],
    message: 'Too many requests; slow down and retry.',
  },
  unavailable: {
    status: 503,
    // Every 5xx API Gateway gives, a Lambda integration failure (function crash) included.
    responseTypes: ['DEFAULT_5XX'],
    message: 'The endpoint could not process the request; nothing was accepted. Retry shortly.',
  },
} as const satisfies Record<string, GatewayAnswer>;

export type GatewayAnswerCode = keyof typeof GATEWAY_ANSWERS;

/** The JSON body of a gateway answer. */
export function gatewayAnswerBody(code: GatewayAnswerCode): string {
  return JSON.stringify({ error: code, message: GATEWAY_ANSWERS[code].message });
}
