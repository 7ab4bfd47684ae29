// Filter controls shared by the pages: a multi-select of levels and text fields that commit
// their value after a pause in typing (or at once on Enter), so each keystroke does not refetch
// or reconnect.

import { useEffect, useRef, useState } from "preact/hooks";
import { LEVELS } from "../types";
import { levelClass } from "./LevelBadge";

export function LevelPicker({ value, onChange, testid }: { value: string[]; onChange: (levels: string[]) => void; testid: string }) {
  const toggle = (level: string) => {
    const next = value.includes(level) ? value.filter((l) => l !== level) : [...value, level];
    onChange(LEVELS.filter((l) => next.includes(l)));
  };
  return (
    <div class="level-picker" role="group" aria-label="Levels" data-testid={`${testid}-levels`}>
      {LEVELS.map((level) => {
        const on = value.includes(level);
        return (
          <button
            type="button"
            key={level}
            class={`chip lvl-${levelClass(level)}${on ? " on" : ""}`}
            aria-pressed={on}
            onClick={() => toggle(level)}
            data-testid={`${testid}-level-${level}`}
          >
            {level === "WARNING" ? "WARN" : level === "CRITICAL" ? "CRIT" : level}
          </button>
        );
      })}
      {value.length > 0 && (
        <button type="button" class="chip chip-clear" onClick={() => onChange([])} title="All levels" data-testid={`${testid}-level-all`}>
          all
        </button>
      )}
    </div>
  );
}

interface TextProps {
  value: string;
  onCommit: (value: string) => void;
  placeholder: string;
  label: string;
  testid: string;
  delayMs?: number;
  wide?: boolean;
}

export function TextFilter({ value, onCommit, placeholder, label, testid, delayMs = 350, wide }: TextProps) {
  const [text, setText] = useState(value);
  const committed = useRef(value);
  const timer = useRef<number | undefined>(undefined);

  // A value changed from outside (a link, the back button) replaces what is typed.
  useEffect(() => {
    if (value !== committed.current) {
      committed.current = value;
      setText(value);
    }
  }, [value]);

  useEffect(() => () => window.clearTimeout(timer.current), []);

  const commit = (v: string) => {
    window.clearTimeout(timer.current);
    const trimmed = v.trim();
    if (trimmed !== committed.current) {
      committed.current = trimmed;
      onCommit(trimmed);
    }
  };

  return (
    <label class={`field${wide ? " field-wide" : ""}`}>
      <span class="field-label">{label}</span>
      <span class="field-input">
        <input
          type="search"
          class="input"
          value={text}
          placeholder={placeholder}
          spellcheck={false}
          autocomplete="off"
          onInput={(e) => {
            const v = (e.currentTarget as HTMLInputElement).value;
            setText(v);
            window.clearTimeout(timer.current);
            timer.current = window.setTimeout(() => commit(v), delayMs);
          }}
          onKeyDown={(e) => {
            if (e.key === "Enter") commit((e.currentTarget as HTMLInputElement).value);
          }}
          onBlur={(e) => commit((e.currentTarget as HTMLInputElement).value)}
          data-testid={testid}
        />
      </span>
    </label>
  );
}
