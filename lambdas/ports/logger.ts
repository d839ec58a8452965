/**
 * Structured logging as the core needs it. The embedded runtime writes JSON lines; the AWS
 * runtime passes Powertools' Logger, which has the same shape. Fields never carry tokens,
 * signing keys or signatures.
 */
export type Logger = {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
};
