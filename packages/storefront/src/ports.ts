/** Where a service reports what went wrong off the request path (a pino logger is one). */
export interface WarningLog {
  warn(fields: Record<string, unknown>, message: string): void;
}
