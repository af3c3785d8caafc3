/**
 * Call fn(0) … fn(count - 1), at most `lanes` at a time, in order of index. After the first
 * failure no new call starts; it is thrown once the calls already running have ended (so nothing
 * is still working when the caller cleans up).
 */
export async function inLanes(count: number, lanes: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: { error: unknown } | undefined;
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(count, lanes)) }, async () => {
      while (next < count && !failed) {
        const i = next++;
        try {
          await fn(i);
        } catch (error) {
          failed ??= { error };
        }
      }
    }),
  );
  if (failed) throw failed.error;
}
