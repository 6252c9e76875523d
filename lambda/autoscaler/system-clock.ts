import type { Clock } from './ports';

/** The real clock. */
export const systemClock: Clock = {
  now: (): number => Date.now(),
  sleep: (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms)),
};
