// A pattern template with its variable parts (`<*>`) highlighted.

import { Fragment } from "preact";

export function Template({ text }: { text: string }) {
  const parts = text.split("<*>");
  return (
    <span class="template">
      {parts.map((part, i) => (
        <Fragment key={i}>
          {part}
          {i < parts.length - 1 && <span class="var">&lt;*&gt;</span>}
        </Fragment>
      ))}
    </span>
  );
}
