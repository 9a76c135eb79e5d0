/**
 * Laravel length-aware pagination as Factus returns it:
 * `{data: [...], pagination: {total, per_page, current_page, last_page, from, to, links}}`.
 */

export interface PaginationLink {
  url: string | null;
  label: string;
  active: boolean;
}

export interface Paginated<T> {
  data: T[];
  pagination: {
    total: number;
    per_page: number;
    current_page: number;
    last_page: number;
    from: number | null;
    to: number | null;
    links: PaginationLink[];
  };
}

/** `requestUrl` keeps its other query parameters (filters) in the page links. */
export function paginate<T>(items: readonly T[], requestUrl: URL, perPage: number): Paginated<T> {
  const requested = Number.parseInt(requestUrl.searchParams.get('page') ?? '1', 10);
  const currentPage = Number.isFinite(requested) && requested >= 1 ? requested : 1;
  const total = items.length;
  const lastPage = Math.max(1, Math.ceil(total / perPage));
  const start = (currentPage - 1) * perPage;
  const data = items.slice(start, start + perPage);

  const pageUrl = (page: number) => {
    const url = new URL(requestUrl);
    url.searchParams.set('page', String(page));
    return url.toString();
  };
  const links: PaginationLink[] = [
    { url: currentPage > 1 ? pageUrl(currentPage - 1) : null, label: '&laquo; Anterior', active: false },
  ];
  for (let page = 1; page <= lastPage; page += 1) {
    links.push({ url: pageUrl(page), label: String(page), active: page === currentPage });
  }
  links.push({
    url: currentPage < lastPage ? pageUrl(currentPage + 1) : null,
    label: 'Siguiente &raquo;',
    active: false,
  });

  return {
    data,
    pagination: {
      total,
      per_page: perPage,
      current_page: currentPage,
      last_page: lastPage,
      from: data.length > 0 ? start + 1 : null,
      to: data.length > 0 ? start + data.length : null,
      links,
    },
  };
}
