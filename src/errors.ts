/** Errors alm-otel raises to its caller or passes to `onError`. */

/**
 * Thrown (or returned as a rejection, for async tools) when policy denies a tool call.
 * The tool body never ran.
 */
export class ToolDeniedError extends Error {
  override readonly name = 'ToolDeniedError';

  constructor(
    readonly toolName: string,
    readonly toolCallId: string,
    readonly reason: string,
  ) {
    // Same wording as the reference SDK's PermissionError.
    super(`Tool '${toolName}' denied: ${reason}`);
  }
}

/** Invalid configuration, thrown by constructors. `issues` holds one line per bad field. */
export class ALMConfigError extends Error {
  override readonly name = 'ALMConfigError';

  constructor(readonly issues: readonly string[]) {
    super(`Invalid alm-otel configuration:\n${issues.map((line) => `  - ${line}`).join('\n')}`);
  }
}

/** Events could not be delivered to the sink; passed to `onError`, never thrown into the agent. */
export class ALMDeliveryError extends Error {
  override readonly name = 'ALMDeliveryError';

  constructor(
    message: string,
    /** How many events this failure concerns. */
    readonly eventCount: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
