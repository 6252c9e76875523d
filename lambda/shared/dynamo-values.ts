import type { AttributeValue } from '@aws-sdk/client-dynamodb';

/** A number as a DynamoDB `N` attribute value. */
export function num(value: number): { N: string } {
  return { N: String(value) };
}

/**
 * The number in an item's `N` attribute, `undefined` when the item or the attribute is missing (or
 * is not a number attribute). A value that does not parse reads as `NaN`, as `Number` reads it.
 */
export function readNum(item: Record<string, AttributeValue> | undefined, name: string): number | undefined {
  const value = item?.[name]?.N;
  return value === undefined ? undefined : Number(value);
}
