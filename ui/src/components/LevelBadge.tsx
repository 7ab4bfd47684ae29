// A coloured badge for an event level or an alert/insight severity.

const LEVEL_CLASS: Record<string, string> = {
  DEBUG: "debug",
  INFO: "info",
  WARNING: "warning",
  WARN: "warning",
  ERROR: "error",
  CRITICAL: "critical",
  FATAL: "critical",
};

export function levelClass(level: string | null | undefined): string {
  return LEVEL_CLASS[(level ?? "").toUpperCase()] ?? "debug";
}

export function LevelBadge({ level }: { level: string | null | undefined }) {
  const text = (level ?? "?").toUpperCase();
  return (
    <span class={`badge lvl-${levelClass(text)}`} data-testid="level-badge" title={text}>
      {text === "WARNING" ? "WARN" : text === "CRITICAL" ? "CRIT" : text}
    </span>
  );
}

export function SeverityBadge({ severity }: { severity: string | null | undefined }) {
  const text = (severity ?? "unknown").toLowerCase();
  return (
    <span class={`badge sev lvl-${levelClass(text)}`} data-testid="severity-badge">
      {text}
    </span>
  );
}
