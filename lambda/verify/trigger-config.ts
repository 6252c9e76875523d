import { TRIGGER_KINDS, type TriggerDefinition } from '../shared/triggers';

/**
 * Reads the TRIGGERS environment variable the stack sets (a JSON list of definitions, each with
 * its secret's ARN). Absent means no triggers. A malformed value fails the cold start, naming it.
 */
export function parseTriggerDefinitions(value: string | undefined): TriggerDefinition[] {
  if (value === undefined || value === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new Error('Environment variable TRIGGERS is not JSON; redeploy the stack.');
  }
  if (!Array.isArray(parsed))
    throw new Error('Environment variable TRIGGERS must be a JSON list; redeploy the stack.');
  return parsed.map((item: unknown, i) => {
    const d = item as Partial<TriggerDefinition>;
    if (
      typeof d?.name !== 'string' ||
      !(TRIGGER_KINDS as readonly string[]).includes(d.kind as string) ||
      typeof d.secretArn !== 'string'
    ) {
      throw new Error(
        `TRIGGERS[${i}] needs a name, a kind (${TRIGGER_KINDS.join(', ')}) and a secretArn; redeploy the stack.`,
      );
    }
    return d as TriggerDefinition;
  });
}
