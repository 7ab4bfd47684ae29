// The shapes of the Sluice HTTP API's JSON, as the dashboard reads them.

export const LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] as const;
export type Level = (typeof LEVELS)[number];

export const SEVERITIES = ["info", "warning", "error", "critical"] as const;
export type Severity = (typeof SEVERITIES)[number];

/** An insight attached to a pattern: a model's answer or the offline analysis. */
export interface Insight {
  summary?: string;
  severity?: string;
  action?: string;
  source?: string;
  novel?: boolean;
  fallback_reason?: string;
  cause?: string | null;
  [key: string]: unknown;
}

/** A stored event, from `/api/v1/logs`. */
export interface LogRow {
  id: number | string;
  event_id: string;
  timestamp: string;
  received_at: string;
  level: string;
  source: string | null;
  module: string | null;
  function: string | null;
  file: string | null;
  line: number | null;
  topic: string | null;
  message: string;
  user_id: string | null;
  session_id: string | null;
  trace_id: string | null;
  attributes: Record<string, unknown> | null;
  pattern_id: string | null;
  insight: Insight | null;
  input: string | null;
}

/** An event as the live tail streams it. */
export interface LiveEvent {
  id: string;
  timestamp: string;
  level: string;
  source: string | null;
  module: string | null;
  function: string | null;
  file: string | null;
  line: number | null;
  topic: string | null;
  message: string;
  user_id: string | null;
  session_id: string | null;
  trace_id: string | null;
  attributes: Record<string, unknown> | null;
  pattern: { id: string; template: string } | null;
  insight: Insight | null;
  input: string;
}

export interface PatternRow {
  pattern_id: string;
  pattern: string;
  count: number;
  level: string | null;
  source: string | null;
  first_seen: string;
  last_seen: string;
  metadata: unknown;
  samples: unknown;
  insight: Insight | null;
  insight_at: string | null;
}

export interface PatternVolume {
  from: string;
  to: string;
  bucket_seconds: number;
  series: Record<string, number[]>;
}

/** A stored alert, from `/api/v1/alerts`. */
export interface AlertRow {
  id: string;
  stage: string;
  rule: string;
  kind: string;
  severity: string;
  title: string;
  message: string;
  key: string;
  source: string | null;
  pattern_id: string | null;
  fired_at: string;
  event_ids: string[] | null;
  alert: Record<string, unknown> | null;
}

/** An alert as a rule stage emits it, streamed on the tail's `alerts` topic. */
export interface LiveAlert {
  id?: string;
  rule?: string;
  kind?: string;
  severity?: string;
  title?: string;
  message?: string;
  key?: string;
  source?: string;
  pattern_id?: string;
  template?: string;
  fired_ns?: number;
  event_ids?: string[];
  [key: string]: unknown;
}

export interface GuestStats {
  calls: number;
  events_in: number;
  events_out: number;
  failures: number;
  traps: number;
  p99_call_ms: number | null;
  memory_high_water_bytes: number | null;
}

export interface GuestVersion {
  name: string;
  sha256: string;
  version: string;
  size: number;
  source: "builtin" | "file" | "upload" | string;
  added_at: string | null;
  signed_by: string | null;
  stats: GuestStats | null;
}

export interface Guest {
  name: string;
  versions: GuestVersion[];
}

export interface CanaryDiff {
  event_id: string;
  message: string;
  active: unknown;
  candidate: unknown;
}

export interface CanaryReport {
  stage: string;
  guest: string;
  active: string;
  candidate: string;
  started_at: string;
  events: number;
  skipped: number;
  identical: number;
  differing: number;
  candidate_errors: number;
  last_error: string | null;
  diffs: CanaryDiff[];
  max_diffs: number;
}

export interface StageState {
  stage: string;
  guest: string;
  active: string;
  previous: string | null;
  canary: CanaryReport | null;
}

export interface GuestsResponse {
  guests: Guest[];
  stages: StageState[];
}

export interface UploadResult {
  name: string;
  version: string;
  sha256: string;
  size: number;
  world: string;
  signed_by: string | null;
  created: boolean;
}

export interface Activation {
  stage: string;
  guest: string;
  active: string;
  previous: string | null;
  pause_us: number;
}

export interface PipelineInput {
  name: string;
  kind: string;
  events: number;
}

export interface PipelineStage {
  name: string;
  guest: string;
  active: string;
  events_in: number;
  events_out: number;
  failed: number;
}

export interface PipelineOutput {
  name: string;
  kind: string;
  events: number;
  durable: boolean;
  pending_bytes: number | null;
  waiting: boolean;
  last_error: string | null;
}

export interface Pipeline {
  inputs: PipelineInput[];
  stages: PipelineStage[];
  outputs: PipelineOutput[];
  totals: { received: number; stored: number; dead_lettered: number };
  uptime_seconds: number;
}

export interface TimelineBucket {
  start: string;
  start_unix: number;
  total: number;
  levels: Partial<Record<string, number>>;
}

export interface Timeline {
  from: string;
  to: string;
  bucket_seconds: number;
  buckets: TimelineBucket[];
  sources: { source: string | null; count: number }[];
}

export interface Health {
  status: string;
  version: string;
  uptime_seconds: number;
}
