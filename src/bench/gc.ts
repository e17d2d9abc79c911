/**
 * A full garbage collection between measurements, so a major GC of garbage left by earlier work
 * (a training run, the previous scenario) does not land inside a timed run and stall the load
 * generator's event loop. Uses V8's `gc()` (exposed at run time); a no-op where it is unavailable.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | null | undefined;

/** Runs a full GC if the engine allows it. */
export function collectGarbage(): void {
  if (gc === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as () => void;
    } catch {
      gc = null;
    }
  }
  gc?.();
}
