/** What scripts/capture-client-requests.ts has kcat produce: records k0, k1, ... with these values. */
export const KCAT_RECORDS = 20;

/** Compressible values: librdkafka sends a batch uncompressed when compression would not shrink it. */
export function kcatValue(i: number): string {
  return `value-${i}-${'abc'.repeat(40)}`;
}
