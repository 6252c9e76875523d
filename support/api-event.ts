import type { APIGatewayProxyEvent } from 'aws-lambda';
import { computeSignature } from '../lambda/verify/signature';
import { anonymousIdentity } from '../local/gateway';

export const TOKEN = 'test-webhook-token-0123456789';
export const NOW = new Date('2026-11-23T12:00:00.000Z');
export const NOW_SECONDS = Math.floor(NOW.getTime() / 1000);

export interface EventOptions {
  readonly body?: string;
  readonly headers?: Record<string, string>;
  readonly isBase64Encoded?: boolean;
  readonly pathToken?: string;
  readonly requestId?: string;
}

/** An API Gateway REST proxy event as Lambda receives it for POST /buildkite[/{urlToken}]. */
export function apiEvent(options: EventOptions = {}): APIGatewayProxyEvent {
  const headers = { 'Content-Type': 'application/json', ...options.headers };
  const resource = options.pathToken === undefined ? '/buildkite' : '/buildkite/{urlToken}';
  const path = options.pathToken === undefined ? '/buildkite' : `/buildkite/${options.pathToken}`;
  return {
    resource,
    path,
    httpMethod: 'POST',
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: options.pathToken === undefined ? null : { urlToken: options.pathToken },
    stageVariables: null,
    body: options.body ?? null,
    isBase64Encoded: options.isBase64Encoded ?? false,
    requestContext: {
      accountId: '123456789012',
      apiId: 'abcde12345',
      authorizer: null,
      protocol: 'HTTP/1.1',
      httpMethod: 'POST',
      path: `/v1${path}`,
      stage: 'v1',
      requestId: options.requestId ?? 'req-1',
      requestTimeEpoch: NOW.getTime(),
      resourceId: 'res1',
      resourcePath: resource,
      identity: anonymousIdentity('192.0.2.10', 'Buildkite-Request'),
    },
  };
}

export function signatureHeader(body: string, token = TOKEN, timestamp = NOW_SECONDS): string {
  return `timestamp=${timestamp},signature=${computeSignature(token, String(timestamp), Buffer.from(body))}`;
}

export const PING = JSON.stringify({ event: 'ping', service: { id: 's1', provider: 'webhook' } });
export const BUILD_FINISHED = JSON.stringify({
  event: 'build.finished',
  build: { id: 'b1', number: 1042, state: 'failed', branch: 'main' },
  pipeline: { slug: 'deploy-api' },
  sender: { id: 'u1', name: 'Some Person' },
});
