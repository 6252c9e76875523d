import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import { BlockList, isIPv6 } from 'node:net';
import { gatewayAnswerBody, GATEWAY_ANSWERS, type GatewayAnswerCode } from '../lambda/shared/gateway-answers';
import { matchRoute, ROUTES, type MatchedRoute } from '../lambda/shared/routes';

export type ProxyHandler = (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;

export interface GatewayOptions {
  readonly handler: ProxyHandler;
  /** CIDRs allowed to call the Buildkite routes; loopback is always allowed locally. Empty + allowAny = anyone. */
  readonly allowlist: readonly string[];
  readonly allowAnySourceIp: boolean;
  /** Bodies larger than this are refused with 413 before the handler runs (API Gateway's own limit is 10 MB). */
  readonly maxRequestBytes?: number;
  readonly stage?: string;
  /** Per trigger name, the CIDRs allowed to call `/triggers/{name}` (absent: any address). */
  readonly triggerAllowlists?: Readonly<Record<string, readonly string[]>>;
  /** Admit 127.0.0.0/8 and ::1 whatever the allowlist says. @default true */
  readonly allowLoopback?: boolean;
  /**
   * Told when the handler itself throws (a defect): the request gets the deployed API's 5xx
   * answer, 503 `unavailable`, as API Gateway gives when the function fails.
   */
  readonly onHandlerError?: (error: unknown) => void;
  /**
   * Answers requests that are not for a webhook route (the local console's pages); returns true
   * when it answered one. Webhook routes never reach it.
   */
  readonly otherRequests?: (request: http.IncomingMessage, response: http.ServerResponse) => boolean;
  /** Told of each webhook-route request the gateway refuses itself (source address, body size). */
  readonly onRefused?: (
    request: http.IncomingMessage,
    matched: MatchedRoute,
    code: GatewayAnswerCode,
    bytes: number,
  ) => void;
}

/** The request target's path and query, or undefined when it is not a URL (answered 404). */
function parseTarget(target: string | undefined): URL | undefined {
  try {
    return new URL(target ?? '/', 'http://local');
  } catch {
    return undefined;
  }
}

function buildAllowlist(cidrs: readonly string[], allowLoopback: boolean): BlockList {
  const list = new BlockList();
  for (const cidr of [...cidrs, ...(allowLoopback ? ['127.0.0.0/8', '::1/128'] : [])]) {
    const [address, prefix] = cidr.split('/') as [string, string];
    list.addSubnet(address, Number(prefix), isIPv6(address) ? 'ipv6' : 'ipv4');
  }
  return list;
}

/** `::ffff:127.0.0.1` (an IPv4 peer on a dual-stack socket) → `127.0.0.1`. */
function clientIp(socketAddress: string | undefined): string {
  const address = socketAddress ?? '0.0.0.0';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

// ignoreBOM keeps a leading byte-order mark: the handler must see the exact bytes sent.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Turns an HTTP request into the API Gateway REST proxy event Lambda receives: header case
 * kept, multi-value headers, the body as text or (when it is not valid UTF-8) base64 with
 * `isBase64Encoded`, source IP, resource path and path parameters.
 */
export function toProxyEvent(
  request: http.IncomingMessage,
  body: Buffer,
  matched: MatchedRoute,
  sourceIp: string,
  stage: string,
): APIGatewayProxyEvent {
  // Maps, not object literals: a header may be named `constructor` or `__proto__`.
  const headers = new Map<string, string>();
  const multiValueHeaders = new Map<string, string[]>();
  for (let i = 0; i < request.rawHeaders.length; i += 2) {
    const name = request.rawHeaders[i] as string;
    const value = request.rawHeaders[i + 1] as string;
    headers.set(name, value);
    multiValueHeaders.set(name, [...(multiValueHeaders.get(name) ?? []), value]);
  }
  let text: string;
  let isBase64Encoded = false;
  try {
    text = utf8.decode(body);
  } catch {
    text = body.toString('base64');
    isBase64Encoded = true;
  }
  const url = parseTarget(request.url) ?? new URL('http://local/');
  const now = Date.now();
  const requestId = randomUUID();
  return {
    resource: matched.resource,
    path: url.pathname,
    httpMethod: request.method ?? 'POST',
    headers: Object.fromEntries(headers),
    multiValueHeaders: Object.fromEntries(multiValueHeaders),
    queryStringParameters: url.search ? Object.fromEntries(url.searchParams) : null,
    multiValueQueryStringParameters: null,
    pathParameters: matched.pathParameters,
    stageVariables: null,
    body: body.length === 0 ? null : text,
    isBase64Encoded,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: null,
      protocol: `HTTP/${request.httpVersion}`,
      httpMethod: request.method ?? 'POST',
      path: `/${stage}${url.pathname}`,
      stage,
      requestId,
      requestTimeEpoch: now,
      resourceId: 'local',
      resourcePath: matched.resource,
      identity: anonymousIdentity(sourceIp, request.headers['user-agent'] ?? null),
    },
  };
}

/** The request identity API Gateway gives an unauthenticated caller: only address and user agent. */
export function anonymousIdentity(
  sourceIp: string,
  userAgent: string | null,
): APIGatewayProxyEvent['requestContext']['identity'] {
  return {
    accessKey: null,
    accountId: null,
    apiKey: null,
    apiKeyId: null,
    caller: null,
    clientCert: null,
    cognitoAuthenticationProvider: null,
    cognitoAuthenticationType: null,
    cognitoIdentityId: null,
    cognitoIdentityPoolId: null,
    principalOrgId: null,
    sourceIp,
    user: null,
    userAgent,
    userArn: null,
  };
}

/** An HTTP server that serves the deployed API's routes and policy in front of the real handler. */
export function createGateway(options: GatewayOptions): http.Server {
  const allowLoopback = options.allowLoopback ?? true;
  const allowlist = buildAllowlist(options.allowlist, allowLoopback);
  const triggerAllowlists = new Map(
    Object.entries(options.triggerAllowlists ?? {}).map(([name, cidrs]) => [
      name,
      buildAllowlist(cidrs, allowLoopback),
    ]),
  );
  /** The policy for a route: the Buildkite allowlist, a trigger's own list, or none. */
  const admits = (matched: MatchedRoute, ip: string) => {
    const type = isIPv6(ip) ? 'ipv6' : 'ipv4';
    if (matched.resource === ROUTES.trigger) {
      const list = triggerAllowlists.get(matched.pathParameters?.name ?? '');
      return !list || list.check(ip, type);
    }
    return options.allowAnySourceIp || allowlist.check(ip, type);
  };
  const maxRequestBytes = options.maxRequestBytes ?? 10 * 1024 * 1024;
  const stage = options.stage ?? 'local';

  const answer = (response: http.ServerResponse, status: number, body: string) => {
    response.writeHead(status, {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(body),
    });
    response.end(body);
  };
  const gatewayAnswer = (response: http.ServerResponse, code: GatewayAnswerCode) =>
    answer(response, GATEWAY_ANSWERS[code].status, gatewayAnswerBody(code));

  return http.createServer((request, response) => {
    const target = parseTarget(request.url);
    const matched = target ? matchRoute(target.pathname) : undefined;
    if (!matched || request.method !== 'POST') {
      if (!matched && options.otherRequests?.(request, response)) return;
      request.resume();
      gatewayAnswer(response, 'not_found');
      return;
    }
    const sourceIp = clientIp(request.socket.remoteAddress);
    if (!admits(matched, sourceIp)) {
      request.resume();
      gatewayAnswer(response, 'forbidden_source_ip');
      options.onRefused?.(request, matched, 'forbidden_source_ip', 0);
      return;
    }

    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    request.on('data', (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > maxRequestBytes) {
        refused = true;
        gatewayAnswer(response, 'body_too_large');
        options.onRefused?.(request, matched, 'body_too_large', size);
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => {
      if (refused) return;
      const event = toProxyEvent(request, Buffer.concat(chunks), matched, sourceIp, stage);
      options
        .handler(event)
        .then((result) => answer(response, result.statusCode, result.body))
        .catch((error: unknown) => {
          options.onHandlerError?.(error);
          gatewayAnswer(response, 'unavailable');
        });
    });
  });
}
