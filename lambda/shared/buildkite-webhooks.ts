/**
 * This deployment's webhook in Buildkite, through the Notification Services API (REFERENCE §3a):
 * what it should look like, how to find it among the organization's services (by URL and
 * description, so services kitebridge did not create are never touched), and the calls that read
 * and change it. Used by `npm run register` and the webhook token rotation.
 */
import { BUILDKITE_EVENTS } from './contract';
import { BUILDKITE_SCOPES, type BuildkiteRestClient } from './buildkite-rest';
import { isJsonObject } from './json-object';

/** The events a Pipelines webhook can send, all of them (`ping` is sent whenever settings change). */
export const WEBHOOK_EVENTS: readonly string[] = [
  ...BUILDKITE_EVENTS.build,
  ...BUILDKITE_EVENTS.job,
  ...BUILDKITE_EVENTS.agent,
  ...BUILDKITE_EVENTS.agentToken,
];

/** The description kitebridge gives its webhook: how it recognises its own. */
export function webhookDescription(stackName: string): string {
  return `kitebridge (${stackName})`;
}

/** A webhook's settings as the API reads and writes them; fields kitebridge does not set are kept. */
export interface WebhookSettings {
  readonly url?: string;
  readonly token?: string;
  readonly token_mode?: string;
  readonly events?: readonly string[];
  readonly tls_verify?: boolean;
  readonly [other: string]: unknown;
}

/** One notification service of the organization, read leniently (`id` or `uuid`, provider as text or `{id}`). */
export interface NotificationService {
  readonly id: string;
  readonly provider: string;
  readonly description: string;
  readonly settings: WebhookSettings;
}

/** What kitebridge's webhook must be: this URL and token, signature mode, every event. */
export interface DesiredWebhook {
  readonly url: string;
  readonly token: string;
  readonly description: string;
}

/** Reads one service from the API's JSON; undefined when it has no id. */
export function readService(raw: unknown): NotificationService | undefined {
  if (!isJsonObject(raw)) return undefined;
  const id = typeof raw.id === 'string' ? raw.id : typeof raw.uuid === 'string' ? raw.uuid : undefined;
  if (id === undefined) return undefined;
  const provider = isJsonObject(raw.provider)
    ? String(raw.provider.id ?? raw.provider.name ?? '')
    : typeof raw.provider === 'string'
      ? raw.provider
      : '';
  return {
    id,
    provider: provider.toLowerCase(),
    description: typeof raw.description === 'string' ? raw.description : '',
    settings: isJsonObject(raw.settings) ? (raw.settings as WebhookSettings) : {},
  };
}

/** The URLs compare without a trailing slash and with a lower-case scheme and host. */
function sameUrl(a: string | undefined, b: string): boolean {
  if (a === undefined) return false;
  const norm = (u: string) => {
    try {
      const url = new URL(u.trim());
      return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}${url.search}`;
    } catch {
      return u.trim();
    }
  };
  return norm(a) === norm(b);
}

/** kitebridge's webhook among the organization's services, and the others that point at its URL. */
export interface WebhookMatch {
  /** The service with this URL and kitebridge's description, if there is one. */
  readonly own?: NotificationService;
  /** Webhooks for the same URL that kitebridge did not create (another description). */
  readonly strangers: readonly NotificationService[];
}

/**
 * Finds kitebridge's webhook by URL and description. Two with both is an error (kitebridge never
 * creates a second one): the message names them so a person can delete the extra one.
 */
export function findOwnWebhook(
  services: readonly NotificationService[],
  url: string,
  description: string,
): WebhookMatch {
  const forUrl = services.filter((s) => s.provider === 'webhook' && sameUrl(s.settings.url, url));
  const own = forUrl.filter((s) => s.description === description);
  if (own.length > 1) {
    throw new Error(
      `Buildkite has ${own.length} webhooks for ${url} described "${description}" (${own.map((s) => s.id).join(', ')}): ` +
        'delete all but one in Organization Settings → Notification Services, then run the command again.',
    );
  }
  return {
    ...(own[0] ? { own: own[0] } : {}),
    strangers: forUrl.filter((s) => s.description !== description),
  };
}

/** The create body (REFERENCE §3a): signature mode, every event, TLS verified. */
export function webhookBody(desired: DesiredWebhook): Record<string, unknown> {
  return {
    provider: 'webhook',
    description: desired.description,
    settings: {
      url: desired.url,
      token: desired.token,
      token_mode: 'signature',
      events: [...WEBHOOK_EVENTS],
      tls_verify: true,
    },
  };
}

/**
 * What differs between the webhook Buildkite has and the one wanted, as field names (never
 * values: the token is a secret). Empty when nothing needs changing.
 */
export function webhookDifferences(existing: NotificationService, desired: DesiredWebhook): string[] {
  const s = existing.settings;
  const out: string[] = [];
  if (!sameUrl(s.url, desired.url)) out.push('url');
  if (s.token !== desired.token) out.push('token');
  if (s.token_mode !== 'signature') out.push(`token_mode (${String(s.token_mode ?? 'unset')} → signature)`);
  const events = new Set(s.events ?? []);
  const missing = WEBHOOK_EVENTS.filter((e) => !events.has(e));
  if (missing.length > 0) out.push(`events (adds ${missing.join(', ')})`);
  if (s.tls_verify === false) out.push('tls_verify (false → true)');
  return out;
}

/** The calls on the organization's notification services. Errors are BuildkiteApiErrors. */
export class BuildkiteWebhooks {
  constructor(
    private readonly client: BuildkiteRestClient,
    readonly organization: string,
  ) {}

  private get path(): string {
    return `/v2/organizations/${encodeURIComponent(this.organization)}/services`;
  }

  /** Every notification service of the organization (all pages). */
  async list(): Promise<NotificationService[]> {
    const raw = await this.client.list<unknown>(this.path, {
      query: { per_page: 100 },
      scope: BUILDKITE_SCOPES.readNotificationServices,
    });
    return raw.flatMap((r) => readService(r) ?? []);
  }

  async get(id: string): Promise<NotificationService> {
    const answer = await this.client.get<unknown>(`${this.path}/${encodeURIComponent(id)}`, {
      scope: BUILDKITE_SCOPES.readNotificationServices,
    });
    return this.service(answer.body, 'GET');
  }

  /** Creates kitebridge's webhook; Buildkite answers 201 and sends a ping. */
  async create(desired: DesiredWebhook): Promise<NotificationService> {
    const answer = await this.client.post<unknown>(this.path, webhookBody(desired), {
      scope: BUILDKITE_SCOPES.writeNotificationServices,
      redact: [desired.token],
    });
    return this.service(answer.body, 'POST');
  }

  /**
   * Updates a webhook. `settings` are merged into the ones it has (the API's PATCH changes only
   * what it names; sending the whole settings object keeps that true however it merges).
   */
  async update(
    existing: NotificationService,
    changes: { readonly description?: string; readonly settings?: WebhookSettings },
  ): Promise<NotificationService> {
    const body = {
      ...(changes.description === undefined ? {} : { description: changes.description }),
      ...(changes.settings ? { settings: { ...existing.settings, ...changes.settings } } : {}),
    };
    const secrets = [changes.settings?.token, existing.settings.token].filter((t): t is string => !!t);
    const answer = await this.client.patch<unknown>(`${this.path}/${encodeURIComponent(existing.id)}`, body, {
      scope: BUILDKITE_SCOPES.writeNotificationServices,
      redact: secrets,
    });
    return this.service(answer.body, 'PATCH', existing);
  }

  private service(body: unknown, method: string, fallback?: NotificationService): NotificationService {
    const service = readService(body);
    if (service) return service;
    if (fallback && (body === undefined || body === null)) return fallback;
    throw new Error(
      `Buildkite answered ${method} ${this.path} with a body that is not a notification service.`,
    );
  }
}
