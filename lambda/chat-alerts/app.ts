/**
 * The chat-alerts consumer: event in, alerts out. Shared by the Lambda handler and the local bus;
 * everything with I/O (state, posting, clock) is injected.
 *
 * Failed jobs and `build.finished` may arrive in any order. A failure alert waits until
 * `jobsGraceMs` after the build finished (not after arrival) so that jobs delivered at about the
 * same time are listed; a failed job that arrives after its build's alert was posted is posted as
 * a short follow-up to the same destinations, while fewer than 5 jobs have been listed. Both sides
 * write before they read (the alert record, the job), so a job is never missed; in a narrow race it
 * can be listed twice.
 *
 * An oversized delivery is read whole first (its pointer carries only routing fields). A delivery
 * whose body lacks what an alert needs (documented examples elide whole objects), or whose stored
 * body is gone, is skipped: reported once (log line and `Skipped` metric), never thrown, since
 * retrying cannot bring the fields back. What can still be said is said (a blocked build without
 * a number is still announced).
 */
import type { EventEnvelope } from '../shared/contract';
import type { BodyReader } from '../shared/oversized';
import { readFullEvent, type SkipReporter } from '../shared/skipped';
import { composeMessage } from './alert-message';
import { PermanentError, RetryableDeliveryError } from './errors';
import { wantsAlert } from './filters';
import type { Alert, BuildAlert, Destination, FailedJob, Skip } from './model';
import { MAX_FAILED_JOBS, SKIP_REASONS } from './model';
import { buildKey, isBlocked, isSkip, namesBuild, parseBuild, parseFailedJob, statelessAlert } from './parse';
import { renderSlack } from './slack';
import type { AlertLog, AlertStateStore, Poster } from './ports';
import { renderTeams } from './teams';
import { applyBuildResult, resultOf, streakKey, type Transition } from './transitions';

export interface ChatAlertsDeps {
  readonly store: AlertStateStore;
  readonly poster: Poster;
  readonly destinations: readonly Destination[];
  /** Reads the stored body of an oversized delivery (S3 deployed, a folder locally). */
  readonly bodies: BodyReader;
  readonly log?: AlertLog;
  /** Told about deliveries no alert can be made from (log line, `Skipped` metric by `Reason`). */
  readonly skips?: Pick<SkipReporter, 'skipped'>;
  /** How long after a build finished its failure alert waits for failed jobs. @default 5000 */
  readonly jobsGraceMs?: number;
  /** How long a delivery claim holds off a concurrent duplicate. @default 120000 */
  readonly leaseMs?: number;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** The oldest failed jobs first, at most 5. */
function pickJobs(jobs: readonly FailedJob[]): FailedJob[] {
  return [...jobs]
    .sort((a, b) => (a.finishedAt ?? 0) - (b.finishedAt ?? 0) || a.id.localeCompare(b.id))
    .slice(0, MAX_FAILED_JOBS);
}

const FAILURE_KINDS = new Set<Alert['kind']>(['build.failed', 'build.still_failing']);

/** Turns kitebridge events into chat alerts. */
export class ChatAlertsApp {
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly deps: ChatAlertsDeps) {
    this.now = deps.now ?? Date.now;
    this.sleep = deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /**
   * Handles one event, read whole; throws when any destination could not be served or the stored
   * body could not be read (the event is retried). A body no alert can be made from is skipped.
   */
  async handle(event: EventEnvelope): Promise<void> {
    const full = await readFullEvent(event, this.deps.bodies);
    const skipped: Skip | undefined = full.skip ? { skip: full.skip } : await this.route(full.event);
    if (!skipped) return;
    this.deps.skips?.skipped({
      reason: skipped.skip,
      eventId: event.id,
      detailType: event['detail-type'],
      effect: 'no alert',
      details: { why: SKIP_REASONS[skipped.skip] },
    });
  }

  private async route(event: EventEnvelope): Promise<Skip | undefined> {
    const detail = event.detail;
    const delivery = detail.delivery as { dedupeKey?: unknown } | undefined;
    const eventKey = typeof delivery?.dedupeKey === 'string' ? delivery.dedupeKey : event.id;
    const type = event['detail-type'];
    if (type === 'build.finished') return this.onBuildFinished(detail, eventKey);
    if (type === 'job.finished') return this.onJobFinished(detail);
    const alert = statelessAlert(type, detail);
    if (alert === undefined) {
      this.deps.log?.info('Event carries nothing to alert on', { detailType: type, eventId: event.id });
      return undefined;
    }
    if (isSkip(alert)) return alert;
    await this.deliverTo(alert, `event#${eventKey}`);
    return undefined;
  }

  private async onBuildFinished(
    detail: Record<string, unknown>,
    eventKey: string,
  ): Promise<Skip | undefined> {
    const build = parseBuild(detail);
    if (!build) return { skip: 'build-missing' };
    const key = buildKey(build);
    if (isBlocked(detail)) {
      if (!namesBuild(build)) return { skip: 'build-unidentified' };
      return this.deliverTo({ kind: 'build.blocked', build, failedJobs: [] }, `event#${eventKey}`);
    }
    if (!build.state) return { skip: 'build-missing-state' };
    if (build.state === 'canceled' || build.state === 'canceling') {
      if (!namesBuild(build)) return { skip: 'build-unidentified' };
      return this.deliverTo(
        { kind: 'build.canceled', build, failedJobs: [] },
        key ? `build#${key}#canceled` : `event#${eventKey}`,
      );
    }
    const result = resultOf(build.state);
    if (!result) return undefined;
    // Streaks are ordered by build number and kept per pipeline: without either, no transition.
    if (build.number === undefined) return { skip: 'build-missing-number' };
    if (!build.pipelineSlug || !key) return { skip: 'build-missing-pipeline' };
    const { number } = build;
    const transition = await this.deps.store.updateStreak<Transition | undefined>(
      streakKey(build.pipelineSlug, build.branch),
      (current) => {
        const applied = applyBuildResult(current, number, result);
        return { state: applied.state, result: applied.transition };
      },
    );
    if (!transition) return undefined;
    const alert: BuildAlert = { kind: transition.kind, build, failures: transition.failures, failedJobs: [] };
    const destinations = this.deps.destinations.filter((d) => wantsAlert(d, alert));
    if (destinations.length === 0) return undefined;
    if (!FAILURE_KINDS.has(alert.kind)) {
      await this.deliver(alert, `build#${key}#${alert.kind}`, destinations);
      return undefined;
    }

    // Write before read (see the module comment), then give late job events their grace period.
    await this.deps.store.createBuildAlert(
      key,
      destinations.map((d) => d.name),
    );
    const waitMs = (build.finishedAt ?? this.now()) + (this.deps.jobsGraceMs ?? 5000) - this.now();
    if (waitMs > 0) await this.sleep(Math.min(waitMs, this.deps.jobsGraceMs ?? 5000));
    const failedJobs = pickJobs(await this.deps.store.listFailedJobs(key));
    await this.deliver({ ...alert, failedJobs }, `build#${key}#${alert.kind}`, destinations);
    await this.deps.store.addListedJobs(
      key,
      failedJobs.map((j) => j.id),
    );
    return undefined;
  }

  /** Delivers to every destination that wants the alert. */
  private async deliverTo(alert: Alert, key: string): Promise<undefined> {
    await this.deliver(
      alert,
      key,
      this.deps.destinations.filter((d) => wantsAlert(d, alert)),
    );
    return undefined;
  }

  private async onJobFinished(detail: Record<string, unknown>): Promise<Skip | undefined> {
    const job = parseFailedJob(detail);
    if (job === undefined || isSkip(job)) return job;
    const build = parseBuild(detail);
    if (!build) return { skip: 'build-missing' };
    const key = buildKey(build);
    if (!key) return { skip: 'job-build-unidentified' };
    await this.deps.store.putFailedJob(key, job);
    const record = await this.deps.store.getBuildAlert(key);
    if (!record || record.jobIds.includes(job.id) || record.jobIds.length >= MAX_FAILED_JOBS)
      return undefined;
    const destinations = this.deps.destinations.filter((d) => record.destinations.includes(d.name));
    await this.deliver(
      { kind: 'build.failed_jobs', build, failedJobs: [job] },
      `job#${job.id}`,
      destinations,
    );
    await this.deps.store.addListedJobs(key, [job.id]);
    return undefined;
  }

  /**
   * Posts an alert to each destination at most once per `key`. Every destination is tried; then a
   * retryable failure, if any, is thrown (so the event is retried and destinations already served
   * are skipped), else a permanent one.
   */
  private async deliver(alert: Alert, key: string, destinations: readonly Destination[]): Promise<void> {
    const message = composeMessage(alert);
    const failures: Error[] = [];
    for (const destination of destinations) {
      const claim = await this.deps.store.claimDelivery(key, destination.name, this.deps.leaseMs ?? 120_000);
      if (claim === 'sent') {
        this.deps.log?.info('Alert already posted', { kind: alert.kind, key, destination: destination.name });
        continue;
      }
      if (claim === 'busy') {
        failures.push(
          new RetryableDeliveryError(destination.name, 'another invocation is posting this alert'),
        );
        continue;
      }
      try {
        const payload = destination.service === 'slack' ? renderSlack(message) : renderTeams(message);
        await this.deps.poster.post(destination, { message, payload });
        await this.deps.store.completeDelivery(key, destination.name);
        this.deps.log?.info('Alert posted', { kind: alert.kind, key, destination: destination.name });
      } catch (error) {
        failures.push(error instanceof Error ? error : new Error(String(error)));
        await this.deps.store.releaseDelivery(key, destination.name).catch((releaseError: unknown) =>
          this.deps.log?.warn('Could not release a delivery claim; it expires by itself', {
            key,
            destination: destination.name,
            error: String(releaseError),
          }),
        );
      }
    }
    const retryable = failures.find((f) => !(f instanceof PermanentError));
    if (retryable) throw retryable;
    if (failures[0]) throw failures[0];
  }
}
