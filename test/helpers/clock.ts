import { vi } from "vitest";

/**
 * Virtual time for the Worker, its objects and its consumer, which share the test's isolate:
 * only `Date` is faked, so I/O and the runtime's own timers behave as usual.
 */
export function useVirtualClock(startIso: string): {
  set(iso: string): void;
  advanceMs(ms: number): void;
  nowMs(): number;
} {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(new Date(startIso));
  return {
    set: (iso) => vi.setSystemTime(new Date(iso)),
    advanceMs: (ms) => vi.setSystemTime(new Date(Date.now() + ms)),
    nowMs: () => Date.now(),
  };
}

export function restoreClock(): void {
  vi.useRealTimers();
}
