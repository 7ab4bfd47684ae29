// The typed client of the Sluice HTTP API (same origin). Every failure becomes an ApiError
// carrying the server's `{"error": {"code", "message"}}`, or a network error's text. Listings
// return their rows together with the `X-Total-Count` total. When a bearer token is stored
// (the Guests page asks for one after the server answered a write with 401/403), every request
// carries it.

import type {
  Activation,
  AlertRow,
  CanaryReport,
  GuestsResponse,
  Health,
  LogRow,
  PatternRow,
  PatternVolume,
  Pipeline,
  Timeline,
  UploadResult,
} from "./types";

const TOKEN_KEY = "sluice.token";

export class ApiError extends Error {
  /** The HTTP status, or 0 when the server could not be reached. */
  readonly status: number;
  /** The server's error code (`not_found`, `unauthorized`, ...), or `network`, `bad_response`. */
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }

  /** Whether the server wants a (different) bearer token for this request. */
  get needsToken(): boolean {
    return (this.status === 401 || this.status === 403) && (this.code === "unauthorized" || this.code === "forbidden");
  }
}

export function isAbort(e: unknown): boolean {
  return e instanceof DOMException && e.name === "AbortError";
}

export function getToken(): string {
  try {
    return localStorage.getItem(TOKEN_KEY) ?? "";
  } catch {
    return "";
  }
}

export function setToken(token: string): void {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    // Storage disabled: the token lasts as long as nothing; writes will ask again.
  }
}

export type Params = Record<string, string | number | undefined | null>;

/** `path?query` with the parameters that have a value. */
export function url(path: string, params: Params = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

interface RequestOptions {
  method?: string;
  body?: BodyInit;
  json?: unknown;
  contentType?: string;
  signal?: AbortSignal | undefined;
}

async function request(path: string, opts: RequestOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { Accept: "application/json" };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  let body = opts.body;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers["Content-Type"] = "application/json";
  } else if (opts.contentType) {
    headers["Content-Type"] = opts.contentType;
  }
  let response: Response;
  try {
    response = await fetch(path, { method: opts.method ?? "GET", headers, body: body ?? null, signal: opts.signal ?? null });
  } catch (e) {
    if (isAbort(e)) throw e;
    throw new ApiError(0, "network", `cannot reach the server (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!response.ok) throw await errorOf(response);
  return response;
}

async function errorOf(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => "");
  try {
    const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (parsed.error && typeof parsed.error.message === "string") {
      return new ApiError(response.status, parsed.error.code ?? "error", parsed.error.message);
    }
  } catch {
    // Not JSON: fall through to the status line.
  }
  const detail = text.trim().slice(0, 200);
  return new ApiError(response.status, "http_error", `${response.status} ${response.statusText}${detail ? `: ${detail}` : ""}`);
}

async function json<T>(response: Response): Promise<T> {
  let text: string;
  try {
    text = await response.text();
  } catch (e) {
    if (isAbort(e)) throw e;
    throw new ApiError(response.status, "network", "the connection closed while reading the response");
  }
  if (text.trim() === "") return null as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(response.status, "bad_response", "the server sent a response that is not JSON");
  }
}

export async function getJson<T>(path: string, params?: Params, signal?: AbortSignal): Promise<T> {
  return json<T>(await request(url(path, params), { signal }));
}

export interface Page<T> {
  rows: T[];
  total: number;
}

/** A listing and its `X-Total-Count`. */
export async function getPage<T>(path: string, params: Params, signal?: AbortSignal): Promise<Page<T>> {
  const response = await request(url(path, params), { signal });
  const body = await json<T[] | null>(response);
  const rows = Array.isArray(body) ? body : [];
  const header = response.headers.get("X-Total-Count");
  const total = header !== null && /^\d+$/.test(header) ? Number(header) : rows.length;
  return { rows, total };
}

async function send<T>(method: string, path: string, payload?: unknown): Promise<T> {
  return json<T>(await request(path, payload === undefined ? { method } : { method, json: payload }));
}

export interface LogQuery {
  limit?: number;
  offset?: number;
  levels?: string;
  source?: string;
  since?: string;
  until?: string;
  q?: string;
  ids?: string;
}

const enc = encodeURIComponent;

export const api = {
  health: (signal?: AbortSignal) => getJson<Health>("/health", undefined, signal),
  logs: (q: LogQuery, signal?: AbortSignal) => getPage<LogRow>("/api/v1/logs", { ...q }, signal),
  patterns: (limit: number, offset: number, signal?: AbortSignal) =>
    getPage<PatternRow>("/api/v1/patterns", { limit, offset }, signal),
  patternVolume: (ids: string[], since: string, buckets: number, signal?: AbortSignal) =>
    getJson<PatternVolume>("/api/v1/patterns/volume", { ids: ids.join(","), since, buckets }, signal),
  alerts: (limit: number, offset: number, severity: string | undefined, signal?: AbortSignal) =>
    getPage<AlertRow>("/api/v1/alerts", { limit, offset, severity }, signal),
  pipeline: (signal?: AbortSignal) => getJson<Pipeline>("/api/v1/pipeline", undefined, signal),
  timeline: (since: string, buckets: number, signal?: AbortSignal) =>
    getJson<Timeline>("/api/v1/timeline", { since, buckets }, signal),
  guests: (signal?: AbortSignal) => getJson<GuestsResponse>("/api/v1/guests", undefined, signal),

  async upload(name: string, bytes: ArrayBuffer): Promise<UploadResult> {
    const response = await request(`/api/v1/guests/${enc(name)}`, { method: "PUT", body: bytes, contentType: "application/wasm" });
    return json<UploadResult>(response);
  },
  activate: (name: string, version: string, stage?: string) =>
    send<{ activated: Activation[] }>("POST", `/api/v1/guests/${enc(name)}/activate`, { version, ...(stage ? { stage } : {}) }),
  rollback: (name: string, stage?: string) =>
    send<{ activated: Activation[] }>("POST", `/api/v1/guests/${enc(name)}/rollback`, stage ? { stage } : {}),
  canaryStart: (name: string, version: string, stage?: string) =>
    send<{ canaries: CanaryReport[] }>("POST", `/api/v1/guests/${enc(name)}/canary`, { version, ...(stage ? { stage } : {}) }),
  canaryPromote: (name: string) => send<unknown>("POST", `/api/v1/guests/${enc(name)}/canary/promote`, {}),
  canaryDiscard: (name: string) => send<unknown>("DELETE", `/api/v1/guests/${enc(name)}/canary`),
};
