/**
 * Errors graft reports to users: one line, and an exit status.
 *
 * @module
 */

/** An error with a one-line message meant for the user and an exit status. */
export class GraftError extends Error {
  /** Exit status: 2 for bad usage, 1 for failures. */
  readonly exitCode: number;
  /** The errno behind the failure, when there is one. */
  readonly errno?: number;

  /** A failure with a one-line message; `exitCode` 1 (failure) or 2 (usage). */
  constructor(message: string, exitCode = 1, errno?: number) {
    super(message);
    this.name = "GraftError";
    this.exitCode = exitCode;
    this.errno = errno;
  }
}

/** Bad usage: a malformed argument or an impossible combination (exit 2). */
export class UsageError extends GraftError {
  /** A usage mistake, described in one line. */
  constructor(message: string) {
    super(message, 2);
    this.name = "UsageError";
  }
}

/** The broker refused a request or could not be reached. */
export class BrokerError extends GraftError {
  /** A broker refusal with its errno, when the broker sent one. */
  constructor(message: string, errno?: number) {
    super(message, 1, errno);
    this.name = "BrokerError";
  }
}

/** `s` on one line with control characters shown as "?" (for messages quoting untrusted text). */
export function printable(s: string): string {
  return Array.from(s.replace(/\s*\n\s*/g, " "), (c) => {
    const n = c.charCodeAt(0);
    return n < 32 || n === 127 ? "?" : c;
  }).join("");
}
