// A visible banner for a failed request, with the server's own message.

import type { ComponentChildren } from "preact";
import { ApiError } from "../api";

export function ErrorBanner({ error, what, onRetry }: { error: Error | undefined | null; what?: string; onRetry?: () => void }) {
  if (!error) return null;
  let detail = error.message;
  if (error instanceof ApiError) {
    if (error.status === 0) detail = error.message;
    else if (error.status === 404 && error.code === "not_found") detail = `${error.message} (this server may be older than the dashboard)`;
    else detail = `${error.message} (HTTP ${error.status}, ${error.code})`;
  }
  return (
    <div class="banner banner-error" role="alert" data-testid="error-banner">
      <strong>{what ? `Could not load ${what}` : "Request failed"}:</strong> <span>{detail}</span>
      {onRetry && (
        <button type="button" class="btn btn-small" onClick={onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function Notice({ kind, children, testid }: { kind: "info" | "ok" | "warn" | "error"; children: ComponentChildren; testid?: string }) {
  return (
    <div class={`banner banner-${kind}`} role={kind === "error" ? "alert" : "status"} data-testid={testid}>
      {children}
    </div>
  );
}
