// The live tail's websocket client: connects to /api/v1/tail with server-side filters, hands
// each message on, and reconnects after a drop with exponential backoff (0.5 s doubling to 15 s,
// with jitter so that many browsers do not return at the same instant). The server's close code
// 1012 ("service restart", sent when the pipeline reloads) reconnects at once.

import { url, type Params } from "./api";

export type TailStatus = "connecting" | "open" | "reconnecting" | "closed";

export interface TailQuery {
  topics: string[];
  levels?: string[];
  source?: string;
  q?: string;
  session?: string;
}

export interface TailMessage {
  topic: string;
  payload: unknown;
}

export interface TailHandlers {
  onMessage: (message: TailMessage) => void;
  onStatus?: (status: TailStatus, detail: string) => void;
}

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 15_000;
/** A connection that stayed open this long resets the backoff. */
const STABLE_MS = 5_000;

export function tailUrl(query: TailQuery): string {
  const params: Params = {
    topics: query.topics.join(","),
    levels: query.levels && query.levels.length > 0 ? query.levels.join(",") : undefined,
    source: query.source,
    q: query.q,
    session: query.session,
  };
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${url("/api/v1/tail", params)}`;
}

export class Tail {
  private socket: WebSocket | null = null;
  private timer: number | undefined;
  private attempts = 0;
  private openedAt = 0;
  private stopped = false;

  constructor(
    private readonly query: TailQuery,
    private readonly handlers: TailHandlers,
  ) {
    this.connect();
  }

  /** Closes the socket for good. */
  close(): void {
    this.stopped = true;
    window.clearTimeout(this.timer);
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onopen = socket.onclose = socket.onmessage = socket.onerror = null;
      // Closing a socket that is still connecting makes the browser log a warning; let it open
      // and close it then.
      if (socket.readyState === WebSocket.CONNECTING) socket.onopen = () => socket.close(1000);
      else socket.close(1000);
    }
    this.status("closed", "");
  }

  private status(status: TailStatus, detail: string): void {
    this.handlers.onStatus?.(status, detail);
  }

  private connect(): void {
    if (this.stopped) return;
    this.status(this.attempts === 0 ? "connecting" : "reconnecting", this.attempts === 0 ? "" : `attempt ${this.attempts + 1}`);
    let socket: WebSocket;
    try {
      socket = new WebSocket(tailUrl(this.query));
    } catch (e) {
      this.retry(e instanceof Error ? e.message : String(e), false);
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      this.openedAt = Date.now();
      this.status("open", "");
    };
    socket.onmessage = (ev: MessageEvent) => {
      if (typeof ev.data !== "string") return;
      let message: TailMessage;
      try {
        message = JSON.parse(ev.data) as TailMessage;
      } catch {
        return;
      }
      if (message && typeof message.topic === "string") this.handlers.onMessage(message);
    };
    socket.onclose = (ev: CloseEvent) => {
      this.socket = null;
      if (this.stopped) return;
      if (this.openedAt && Date.now() - this.openedAt > STABLE_MS) this.attempts = 0;
      this.openedAt = 0;
      const why = ev.code === 1012 ? "the server restarted the stream" : ev.reason || `closed (code ${ev.code})`;
      this.retry(why, ev.code === 1012);
    };
  }

  private retry(detail: string, immediately: boolean): void {
    const delay = immediately ? 100 : Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** this.attempts) * (0.75 + Math.random() * 0.5);
    this.attempts += 1;
    this.status("reconnecting", `${detail}; retrying in ${(delay / 1000).toFixed(1)} s`);
    this.timer = window.setTimeout(() => this.connect(), delay);
  }
}
