// Paging controls: "1–50 of 1,234", previous/next and the page size.

import { fmtInt } from "../format";

export const PAGE_SIZES = [25, 50, 100, 200];

interface Props {
  /** Zero-based page. */
  page: number;
  size: number;
  total: number;
  shown: number;
  onPage: (page: number) => void;
  onSize?: (size: number) => void;
  testid: string;
  loading?: boolean;
}

export function Pager({ page, size, total, shown, onPage, onSize, testid, loading }: Props) {
  const first = total === 0 || shown === 0 ? 0 : page * size + 1;
  const last = shown === 0 ? 0 : page * size + shown;
  const pages = Math.max(1, Math.ceil(total / size));
  return (
    <div class="pager" data-testid={`${testid}-pager`}>
      <span class="pager-range" data-testid={`${testid}-range`}>
        {first === 0 ? "0" : `${fmtInt(first)}–${fmtInt(last)}`} of{" "}
        <span data-testid={`${testid}-total`} data-total={total}>
          {fmtInt(total)}
        </span>
        {loading && <span class="spinner" aria-label="loading" />}
      </span>
      <span class="pager-buttons">
        <button type="button" class="btn btn-small" disabled={page <= 0} onClick={() => onPage(page - 1)} data-testid={`${testid}-prev`}>
          ‹ Prev
        </button>
        <span class="pager-page" data-testid={`${testid}-page`}>
          {fmtInt(page + 1)} / {fmtInt(pages)}
        </span>
        <button type="button" class="btn btn-small" disabled={page + 1 >= pages} onClick={() => onPage(page + 1)} data-testid={`${testid}-next`}>
          Next ›
        </button>
        {onSize && (
          <select
            class="select select-small"
            aria-label="Page size"
            value={String(size)}
            onChange={(e) => onSize(Number((e.currentTarget as HTMLSelectElement).value))}
            data-testid={`${testid}-page-size`}
          >
            {PAGE_SIZES.map((n) => (
              <option value={String(n)} key={n}>
                {n} / page
              </option>
            ))}
          </select>
        )}
      </span>
    </div>
  );
}
