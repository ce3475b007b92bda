// Process-wide telemetry switches. The library never reads the environment: the service sets
// these from its config through `initTelemetry`, and SDK users may call the setter themselves.

let captureContent = false;

/**
 * Turns recording of prompt, completion and memory-query text on spans on or off for the
 * whole process. Default off; `initTelemetry` sets it from
 * `config.telemetry.captureContent` (`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`).
 */
export function setContentCapture(enabled: boolean): void {
  captureContent = enabled;
}

/** Whether content capture is on for the process (default `false`). */
export function contentCaptureEnabled(): boolean {
  return captureContent;
}
