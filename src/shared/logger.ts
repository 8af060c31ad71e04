/** Structured log lines about ids, never content. Injected so tests can stay quiet or listen. */
export interface Logger {
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}

function line(level: string, event: string, fields: Record<string, unknown> = {}): string {
  return JSON.stringify({ level, event, ...fields });
}

/** Writes JSON lines to the Workers log. */
export const consoleLogger: Logger = {
  info: (event, fields) => console.info(line("info", event, fields)),
  warn: (event, fields) => console.warn(line("warn", event, fields)),
  error: (event, fields) => console.error(line("error", event, fields)),
};

export const silentLogger: Logger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** The logger a Worker or object uses: `LOG_LEVEL=silent` (tests) mutes it. */
export function loggerFor(env: { LOG_LEVEL?: string }): Logger {
  return env.LOG_LEVEL === "silent" ? silentLogger : consoleLogger;
}
