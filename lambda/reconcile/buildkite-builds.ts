/**
 * The builds source: Buildkite's builds API through the shared REST client, paginated by `Link`,
 * paced by the rate-limit headers, waiting out a 429 when the wait fits in the run.
 */
import {
  BUILDKITE_SCOPES,
  BuildkiteRateLimitError,
  BuildkiteUnexpectedResponseError,
  type BuildkiteRestClient,
  type RateLimit,
} from '../shared/buildkite-rest';
import { FINISHED_STATES } from './domain';
import { PageLimitReached, RateBudgetSpent, type ApiBuild, type BuildPage, type BuildSource } from './ports';

export interface ApiBuildSourceOptions {
  /** Pages read per run at most (100 builds each). @default 20 */
  readonly maxPages?: number;
  /**
   * Requests to leave to everything else that uses the organization's and the token's limits
   * (200 and 50 a minute): below this many left in a window, wait for its reset. @default 10
   */
  readonly reserve?: number;
  /** Milliseconds this run may still spend waiting (the Lambda's remaining time, less a margin). */
  readonly remainingMs: () => number;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** 429s waited out for one page before giving up until the next run. @default 3 */
  readonly maxRetries?: number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Seconds until the first window that is down to `reserve` requests resets, or 0 when none is. */
export function pacingWaitSeconds(rateLimit: RateLimit, reserve: number): number {
  const waits: number[] = [];
  if (rateLimit.remaining !== undefined && rateLimit.remaining <= reserve)
    waits.push(rateLimit.resetSeconds ?? 60);
  if (rateLimit.userRemaining !== undefined && rateLimit.userRemaining <= reserve) {
    waits.push(rateLimit.userResetSeconds ?? 60);
  }
  return waits.length ? Math.max(...waits) : 0;
}

export class ApiBuildSource implements BuildSource {
  private readonly maxPages: number;
  private readonly reserve: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly maxRetries: number;

  constructor(
    private readonly client: BuildkiteRestClient,
    private readonly organization: string,
    private readonly options: ApiBuildSourceOptions,
  ) {
    this.maxPages = options.maxPages ?? 20;
    this.reserve = options.reserve ?? 10;
    this.sleep = options.sleep ?? defaultSleep;
    this.maxRetries = options.maxRetries ?? 3;
  }

  async *finishedBuilds(from: Date): AsyncIterable<BuildPage> {
    let path = `/v2/organizations/${encodeURIComponent(this.organization)}/builds`;
    let query: Record<string, string | number | readonly string[]> | undefined = {
      finished_from: from.toISOString(),
      'state[]': FINISHED_STATES,
      per_page: 100,
    };
    for (let page = 1; ; page++) {
      const { builds, nextUrl, rateLimit, requests } = await this.fetchPage(path, query);
      yield { builds, requests };
      if (nextUrl === undefined) return;
      // More pages than a run may read: say so rather than leave the older builds unchecked silently.
      if (page >= this.maxPages) throw new PageLimitReached(this.maxPages);
      path = this.pathOf(nextUrl);
      query = undefined;
      const wait = pacingWaitSeconds(rateLimit, this.reserve);
      if (wait > 0) await this.wait(wait, 0);
    }
  }

  /** The client path of a next link: what follows the API's base URL (which may have a path). */
  private pathOf(nextUrl: string): string {
    const base = this.client.baseUrl;
    if (!nextUrl.startsWith(`${base}/`)) {
      throw new BuildkiteUnexpectedResponseError(
        'GET',
        new URL(nextUrl).pathname,
        200,
        `its next-page link leads outside ${base}`,
      );
    }
    return nextUrl.slice(base.length);
  }

  private async fetchPage(
    path: string,
    query: Record<string, string | number | readonly string[]> | undefined,
  ): Promise<{ builds: ApiBuild[]; nextUrl?: string; rateLimit: RateLimit; requests: number }> {
    for (let requests = 1; ; requests++) {
      try {
        const response = await this.client.get<ApiBuild[]>(path, {
          ...(query ? { query } : {}),
          scope: BUILDKITE_SCOPES.readBuilds,
        });
        if (!Array.isArray(response.body)) {
          throw new Error(`Buildkite's builds API answered ${response.status} without a list of builds.`);
        }
        return {
          builds: response.body,
          rateLimit: response.rateLimit,
          requests,
          ...(response.nextUrl ? { nextUrl: response.nextUrl } : {}),
        };
      } catch (error) {
        if (!(error instanceof BuildkiteRateLimitError)) throw error;
        if (requests > this.maxRetries) throw new RateBudgetSpent(error.retryAfterSeconds, requests);
        await this.wait(error.retryAfterSeconds, requests);
      }
    }
  }

  /** Waits `seconds` if the run has that long left, else stops the run until the next one. */
  private async wait(seconds: number, requests: number): Promise<void> {
    if (seconds * 1000 > this.options.remainingMs()) throw new RateBudgetSpent(seconds, requests);
    await this.sleep(seconds * 1000);
  }
}
