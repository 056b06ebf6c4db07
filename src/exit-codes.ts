// Distinct exit codes, so a workflow (or a person) can tell what went wrong without reading logs.
export const EXIT = {
  OK: 0,
  /** some objects could not be transferred after retries (what succeeded stays) */
  TRANSFER_FAILED: 1,
  /** bad or missing configuration: the message names the flag / variable */
  CONFIG: 2,
  /** no valid credentials could be obtained (fatal STS error, or retries exhausted) */
  CREDENTIALS: 3,
  /** run/upload: stopped by a signal and the grace window ran out with uploads still pending */
  INCOMPLETE: 4,
  /** internal error (a bug): a stack trace was logged */
  INTERNAL: 70,
} as const;
