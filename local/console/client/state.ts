/** What the page holds between redraws. */
import type { WireDeliverySummary } from '../wire';

export const state: {
  /** The list, newest first, as the last `/api/deliveries` answered. */
  deliveries: readonly WireDeliverySummary[];
  /** The delivery open in the detail panel. */
  selected: number | undefined;
} = { deliveries: [], selected: undefined };
