// An in-app link: navigates with the History API on a plain click, behaves as a normal link
// otherwise (new tab, copy address).

import type { ComponentChildren } from "preact";
import { onLinkClick } from "../router";

interface Props {
  href: string;
  children: ComponentChildren;
  class?: string;
  testid?: string;
  current?: boolean;
  onNavigate?: () => void;
}

export function Link({ href, children, class: cls, testid, current, onNavigate }: Props) {
  return (
    <a
      href={href}
      class={cls}
      aria-current={current ? "page" : undefined}
      data-testid={testid}
      onClick={(e) => {
        onLinkClick(e, href);
        onNavigate?.();
      }}
    >
      {children}
    </a>
  );
}
