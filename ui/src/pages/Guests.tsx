// Guests: each stage's guest, its active and previous versions and every other version with its
// counters; activation, rollback and canaries (start, watch, promote, discard); and uploading a
// new version. Refreshes every 2 s. Write requests need a bearer token when the server has one:
// after a 401/403 the page asks for it and keeps it in this browser.

import { useState } from "preact/hooks";
import { ApiError, api, getToken, setToken } from "../api";
import { ErrorBanner, Notice } from "../components/ErrorBanner";
import { fmtAgo, fmtBytes, fmtDateTime, fmtInt, shortId } from "../format";
import { useLoad, useNow } from "../hooks";
import type { CanaryReport, Guest, GuestVersion, StageState, UploadResult } from "../types";

interface Outcome {
  kind: "ok" | "error";
  text: string;
}

type Run = (label: string, action: () => Promise<unknown>, done: (result: unknown) => string) => Promise<boolean>;

function TokenPanel({ asked, onSaved }: { asked: boolean; onSaved: () => void }) {
  const [text, setText] = useState("");
  const stored = getToken();
  if (!asked && !stored) return null;
  return (
    <form
      class="panel token-panel"
      data-testid="token-panel"
      onSubmit={(e) => {
        e.preventDefault();
        setToken(text.trim());
        setText("");
        onSaved();
      }}
    >
      <div class="panel-title">API token</div>
      <p class="muted">
        {asked
          ? "The server asks for a bearer token for changes to guests. It is kept in this browser only."
          : "A bearer token is stored in this browser and sent with every request."}
      </p>
      <div class="row-inline">
        <input
          type="password"
          class="input mono"
          placeholder={stored ? "•••••••• (stored)" : "token"}
          value={text}
          autocomplete="off"
          onInput={(e) => setText((e.currentTarget as HTMLInputElement).value)}
          data-testid="token-input"
          aria-label="API token"
        />
        <button type="submit" class="btn btn-primary" disabled={text.trim() === ""} data-testid="token-save">
          Save token
        </button>
        {stored && (
          <button
            type="button"
            class="btn"
            onClick={() => {
              setToken("");
              onSaved();
            }}
            data-testid="token-clear"
          >
            Forget token
          </button>
        )}
      </div>
    </form>
  );
}

interface UploadProps {
  names: string[];
  stages: StageState[];
  run: Run;
  busy: boolean;
  onNeedToken: () => void;
}

function UploadForm({ names, stages, run, busy, onNeedToken }: UploadProps) {
  const [choice, setChoice] = useState("");
  const [newName, setNewName] = useState("");
  const [file, setFile] = useState<File | null>(null);
  const [result, setResult] = useState<UploadResult | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [sending, setSending] = useState(false);
  const selected = choice || names[0] || "";
  const name = selected === "\u0000new" ? newName.trim() : selected;
  const using = result ? stages.filter((s) => s.guest === result.name) : [];
  const activeEverywhere = result !== null && using.length > 0 && using.every((s) => s.active === result.version);

  const upload = async (e: Event) => {
    e.preventDefault();
    if (!file || !name) return;
    setSending(true);
    setError(null);
    setResult(null);
    try {
      const bytes = await file.arrayBuffer();
      setResult(await api.upload(name, bytes));
    } catch (err) {
      setError(err instanceof Error ? err : new Error(String(err)));
      if (err instanceof ApiError && err.needsToken) onNeedToken();
    } finally {
      setSending(false);
    }
  };

  return (
    <form class="panel upload" onSubmit={upload} data-testid="guest-upload">
      <div class="panel-title">Upload a version</div>
      <div class="upload-fields">
        <label class="field">
          <span class="field-label">Guest</span>
          <select class="select" value={selected} onChange={(e) => setChoice((e.currentTarget as HTMLSelectElement).value)} data-testid="guest-upload-guest">
            {names.map((n) => (
              <option value={n} key={n}>
                {n}
                {stages.some((s) => s.guest === n) ? ` (stage ${stages.filter((s) => s.guest === n).map((s) => s.stage).join(", ")})` : ""}
              </option>
            ))}
            <option value={"\u0000new"}>new guest…</option>
          </select>
        </label>
        {selected === "\u0000new" && (
          <label class="field">
            <span class="field-label">Name</span>
            <input class="input mono" value={newName} placeholder="my-guest" onInput={(e) => setNewName((e.currentTarget as HTMLInputElement).value)} data-testid="guest-upload-name" />
          </label>
        )}
        <label class="field field-wide">
          <span class="field-label">Component (.wasm)</span>
          <input
            type="file"
            class="input file"
            accept=".wasm,application/wasm"
            onChange={(e) => {
              setFile((e.currentTarget as HTMLInputElement).files?.[0] ?? null);
              setResult(null);
              setError(null);
            }}
            data-testid="guest-upload-input"
          />
        </label>
        <button type="submit" class="btn btn-primary" disabled={!file || !name || sending} data-testid="guest-upload-submit">
          {sending ? "Uploading…" : "Upload"}
        </button>
      </div>
      {error && (
        <Notice kind="error" testid="guest-upload-error">
          <strong>Upload refused:</strong> {error.message}
          {error instanceof ApiError && error.status > 0 && <span class="muted"> (HTTP {error.status}, {error.code})</span>}
        </Notice>
      )}
      {result && (
        <Notice kind="ok" testid="guest-upload-result">
          <div>
            {result.created ? "Uploaded" : "Already known:"} <strong>{result.name}</strong> version{" "}
            <code data-testid="guest-upload-version">{result.version}</code> ({fmtBytes(result.size)}, world {result.world}
            {result.signed_by ? `, signed by ${result.signed_by}` : ", unsigned"}).
          </div>
          <div class="row-inline">
            {activeEverywhere ? (
              <span data-testid="guest-upload-active">Active on {using.map((s) => s.stage).join(", ")}.</span>
            ) : using.length === 0 ? (
              <span class="muted">No stage runs the guest {result.name}; a pipeline must name it before it can be activated.</span>
            ) : (
              <>
                <button
                  type="button"
                  class="btn btn-primary"
                  disabled={busy}
                  onClick={() =>
                    void run(
                      `Activate ${result.name} ${result.version}`,
                      () => api.activate(result.name, result.version),
                      () => `Activated ${result.name} ${result.version} on ${using.map((s) => s.stage).join(", ")}.`,
                    )
                  }
                  data-testid="guest-upload-activate"
                >
                  Activate {shortId(result.version)}
                  {using.length > 1 ? ` on all ${using.length} stages` : ` on ${using[0]?.stage ?? ""}`}
                </button>
                {using.length === 1 && !using[0]?.canary && (
                  <button
                    type="button"
                    class="btn"
                    disabled={busy}
                    onClick={() =>
                      void run(
                        `Canary ${result.name} ${result.version}`,
                        () => api.canaryStart(result.name, result.version, using[0]?.stage),
                        () => `Canary of ${result.version} started on ${using[0]?.stage ?? ""}.`,
                      )
                    }
                    data-testid="guest-upload-canary"
                  >
                    Start a canary instead
                  </button>
                )}
              </>
            )}
          </div>
        </Notice>
      )}
    </form>
  );
}

function Stats({ v }: { v: GuestVersion }) {
  const s = v.stats;
  if (!s) return <td colSpan={6} class="muted">not run</td>;
  return (
    <>
      <td class="num">{fmtInt(s.events_in)}</td>
      <td class="num">{fmtInt(s.events_out)}</td>
      <td class={`num${s.failures > 0 ? " bad" : ""}`}>{fmtInt(s.failures)}</td>
      <td class={`num${s.traps > 0 ? " bad" : ""}`}>{fmtInt(s.traps)}</td>
      <td class="num">{s.calls === 0 || s.p99_call_ms === null || s.p99_call_ms === undefined ? "–" : s.p99_call_ms.toFixed(s.p99_call_ms < 10 ? 2 : 0)}</td>
      <td class="num">{fmtBytes(s.memory_high_water_bytes)}</td>
    </>
  );
}

function Canary({ c, run, busy }: { c: CanaryReport; run: Run; busy: boolean }) {
  const [showDiffs, setShowDiffs] = useState(false);
  const now = useNow(5000);
  const compared = c.identical + c.differing;
  return (
    <div class="canary" data-testid={`canary-${c.stage}`}>
      <div class="canary-head">
        <strong>Canary</strong> <code>{c.candidate}</code> against active <code>{c.active}</code>
        <span class="muted"> · started {fmtAgo(c.started_at, now)}</span>
      </div>
      <div class="canary-stats">
        <span>
          <strong data-testid={`canary-events-${c.stage}`}>{fmtInt(c.events)}</strong> events
        </span>
        <span class="ok-text">
          <strong data-testid={`canary-identical-${c.stage}`}>{fmtInt(c.identical)}</strong> identical
        </span>
        <span class={c.differing > 0 ? "warn-text" : ""}>
          <strong data-testid={`canary-differing-${c.stage}`}>{fmtInt(c.differing)}</strong> differing
        </span>
        <span class={c.candidate_errors > 0 ? "bad" : ""}>
          <strong data-testid={`canary-errors-${c.stage}`}>{fmtInt(c.candidate_errors)}</strong> errors
        </span>
        <span class="muted">{fmtInt(c.skipped)} skipped</span>
        {compared > 0 && <span class="muted">{((c.identical / compared) * 100).toFixed(1)}% identical</span>}
      </div>
      {c.last_error && <div class="bad">Last error: {c.last_error}</div>}
      <div class="row-inline">
        <button
          type="button"
          class="btn btn-primary"
          disabled={busy}
          onClick={() => void run(`Promote canary of ${c.guest}`, () => api.canaryPromote(c.guest), () => `Promoted ${c.candidate} on ${c.stage}.`)}
          data-testid={`canary-promote-${c.stage}`}
        >
          Promote
        </button>
        <button
          type="button"
          class="btn"
          disabled={busy}
          onClick={() => void run(`Discard canary of ${c.guest}`, () => api.canaryDiscard(c.guest), () => `Discarded the canary of ${c.candidate}.`)}
          data-testid={`canary-discard-${c.stage}`}
        >
          Discard
        </button>
        {c.diffs.length > 0 && (
          <button type="button" class="link" onClick={() => setShowDiffs(!showDiffs)} data-testid={`canary-diffs-toggle-${c.stage}`}>
            {showDiffs ? "hide diffs" : `show ${c.diffs.length} diff${c.diffs.length === 1 ? "" : "s"}`}
            {c.diffs.length >= c.max_diffs ? ` (first ${c.max_diffs} kept)` : ""}
          </button>
        )}
      </div>
      {showDiffs && (
        <ul class="diffs" data-testid={`canary-diffs-${c.stage}`}>
          {c.diffs.map((d, i) => (
            <li key={`${d.event_id}-${i}`}>
              <div>
                <code>{d.event_id}</code> {d.message}
              </div>
              <div class="diff-pair">
                <div>
                  <div class="details-title">active</div>
                  <pre class="raw">{JSON.stringify(d.active, null, 2)}</pre>
                </div>
                <div>
                  <div class="details-title">candidate</div>
                  <pre class="raw">{JSON.stringify(d.candidate, null, 2)}</pre>
                </div>
              </div>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function VersionTable({ guest, stage, run, busy }: { guest: Guest; stage: StageState | null; run: Run; busy: boolean }) {
  const now = useNow(10_000);
  const versions = [...guest.versions].sort((a, b) => {
    const rank = (v: GuestVersion) => (stage && v.version === stage.active ? 0 : stage && v.version === stage.previous ? 1 : 2);
    return rank(a) - rank(b) || (b.added_at ?? "").localeCompare(a.added_at ?? "");
  });
  const who = stage ? stage.stage : guest.name;
  return (
    <div class="table-wrap">
      <table class="table">
        <thead>
          <tr>
            <th class="w-version">Version</th>
            <th class="w-source">Source</th>
            <th class="num w-num">Size</th>
            <th class="w-added">Added</th>
            <th class="num w-num" title="Events in">In</th>
            <th class="num w-num" title="Events out">Out</th>
            <th class="num w-num">Failures</th>
            <th class="num w-num">Traps</th>
            <th class="num w-num" title="99th percentile of a call, ms">p99 ms</th>
            <th class="num w-num" title="Memory high water">Memory</th>
            <th class="w-actions" />
          </tr>
        </thead>
        <tbody>
          {versions.map((v) => {
            const isActive = stage?.active === v.version;
            const isPrevious = stage?.previous === v.version;
            return (
              <tr key={v.version} class={isActive ? "row-active" : ""} data-testid={`version-${who}-${v.version}`}>
                <td>
                  <code title={`sha256 ${v.sha256}`}>{v.version}</code>
                  {isActive && <span class="tag tag-ok">active</span>}
                  {isPrevious && <span class="tag">previous</span>}
                  {v.signed_by && (
                    <span class="tag" title={`signed by ${v.signed_by}`}>
                      signed
                    </span>
                  )}
                </td>
                <td>{v.source}</td>
                <td class="num">{fmtBytes(v.size)}</td>
                <td title={fmtDateTime(v.added_at)}>{v.added_at ? fmtAgo(v.added_at, now) : "–"}</td>
                <Stats v={v} />
                <td class="actions">
                  {stage && !isActive && (
                    <>
                      <button
                        type="button"
                        class="btn btn-small"
                        disabled={busy}
                        onClick={() =>
                          void run(`Activate ${guest.name} ${v.version} on ${stage.stage}`, () => api.activate(guest.name, v.version, stage.stage), () => `Activated ${v.version} on ${stage.stage}.`)
                        }
                        data-testid={`activate-${stage.stage}-${v.version}`}
                      >
                        Activate
                      </button>
                      {!stage.canary && (
                        <button
                          type="button"
                          class="btn btn-small"
                          disabled={busy}
                          onClick={() =>
                            void run(`Canary ${guest.name} ${v.version} on ${stage.stage}`, () => api.canaryStart(guest.name, v.version, stage.stage), () => `Canary of ${v.version} started on ${stage.stage}.`)
                          }
                          data-testid={`canary-start-${stage.stage}-${v.version}`}
                        >
                          Canary
                        </button>
                      )}
                    </>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function StageCard({ stage, guest, run, busy }: { stage: StageState; guest: Guest | undefined; run: Run; busy: boolean }) {
  return (
    <section class="panel stage-card" data-testid={`stage-${stage.stage}`}>
      <div class="stage-head">
        <div>
          <div class="stage-name">{stage.stage}</div>
          <div class="muted">
            guest <strong>{stage.guest}</strong>
          </div>
        </div>
        <div class="stage-versions">
          <div>
            <span class="muted">active </span>
            <code data-testid={`stage-active-${stage.stage}`} data-version={stage.active}>
              {stage.active}
            </code>
          </div>
          <div>
            <span class="muted">previous </span>
            <code data-testid={`stage-previous-${stage.stage}`}>{stage.previous ?? "–"}</code>
          </div>
        </div>
        <button
          type="button"
          class="btn"
          disabled={busy || !stage.previous}
          title={stage.previous ? `Back to ${stage.previous}` : "No previous version to go back to"}
          onClick={() => void run(`Roll back ${stage.stage}`, () => api.rollback(stage.guest, stage.stage), () => `Rolled ${stage.stage} back to ${stage.previous ?? ""}.`)}
          data-testid={`rollback-${stage.stage}`}
        >
          Roll back
        </button>
      </div>
      {stage.canary && <Canary c={stage.canary} run={run} busy={busy} />}
      {guest ? <VersionTable guest={guest} stage={stage} run={run} busy={busy} /> : <div class="muted">No versions listed for {stage.guest}.</div>}
    </section>
  );
}

export function Guests() {
  const guests = useLoad((signal) => api.guests(signal), [], 2000);
  const [busy, setBusy] = useState<string | null>(null);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [askToken, setAskToken] = useState(false);
  const [, setTokenVersion] = useState(0);

  const run: Run = async (label, action, done) => {
    setBusy(label);
    setOutcome(null);
    try {
      const result = await action();
      setOutcome({ kind: "ok", text: done(result) });
      guests.reload();
      return true;
    } catch (e) {
      if (e instanceof ApiError && e.needsToken) setAskToken(true);
      const why = e instanceof ApiError && e.status > 0 ? `${e.message} (HTTP ${e.status}, ${e.code})` : e instanceof Error ? e.message : String(e);
      setOutcome({ kind: "error", text: `${label}: ${why}` });
      return false;
    } finally {
      setBusy(null);
    }
  };

  const data = guests.data;
  const stages = data?.stages ?? [];
  const list = data?.guests ?? [];
  const names = [...new Set([...stages.map((s) => s.guest), ...list.map((g) => g.name)])];
  const unused = list.filter((g) => !stages.some((s) => s.guest === g.name));

  return (
    <div class="page page-guests">
      <div class="page-head">
        <h1>Guests</h1>
        <span class="muted">Stages run WebAssembly guests; a new version takes over without a restart.</span>
      </div>
      <ErrorBanner error={guests.error} what="the guests" onRetry={guests.reload} />
      {outcome && (
        <Notice kind={outcome.kind} testid="guest-action-result">
          {outcome.text}{" "}
          <button type="button" class="link" onClick={() => setOutcome(null)}>
            dismiss
          </button>
        </Notice>
      )}
      {busy && (
        <Notice kind="info" testid="guest-busy">
          {busy}…
        </Notice>
      )}
      <TokenPanel
        asked={askToken}
        onSaved={() => {
          setAskToken(false);
          setOutcome(null);
          setTokenVersion((n) => n + 1);
        }}
      />
      <UploadForm names={names} stages={stages} run={run} busy={busy !== null} onNeedToken={() => setAskToken(true)} />
      {!data && guests.loading && <div class="empty">Loading…</div>}
      {stages.map((s) => (
        <StageCard key={s.stage} stage={s} guest={list.find((g) => g.name === s.guest)} run={run} busy={busy !== null} />
      ))}
      {unused.length > 0 && (
        <section class="panel">
          <div class="panel-title">Guests no stage runs</div>
          {unused.map((g) => (
            <div key={g.name} class="unused-guest">
              <div class="stage-name">{g.name}</div>
              <VersionTable guest={g} stage={null} run={run} busy={busy !== null} />
            </div>
          ))}
        </section>
      )}
    </div>
  );
}
