// The console's addresses: #/cases?status=&category=&deadline=&q=&page=, #/new, #/case/<number>.

export const EMPTY_QUERY = {
  status: "",
  category: "",
  deadline: "",
  q: "",
  page: 1,
  // The cases behind one figure of the dashboard (GET /api/stats/cases).
  figure: "",
  from: "",
  to: "",
  mediator: "",
};
const FILTERS = ["status", "category", "deadline", "q", "figure", "from", "to", "mediator"];

export function parseRoute(hash) {
  const [path, search = ""] = hash.replace(/^#/, "").split("?");
  const caseMatch = path.match(/^\/case\/(.+)$/);
  if (caseMatch) return { name: "case", number: decodeURIComponent(caseMatch[1]) };
  if (path === "/new") return { name: "create" };
  if (path === "/dashboard" || path === "/work") return { name: path.slice(1), search };
  const params = new URLSearchParams(search);
  const query = { ...EMPTY_QUERY };
  for (const key of FILTERS) query[key] = params.get(key) ?? "";
  query.page = Math.max(1, Number.parseInt(params.get("page") ?? "1", 10) || 1);
  return { name: "list", query };
}

export function listHash(query) {
  const params = new URLSearchParams();
  for (const key of FILTERS) if (query[key]) params.set(key, query[key]);
  if (query.page > 1) params.set("page", String(query.page));
  const search = params.toString();
  return `#/cases${search ? `?${search}` : ""}`;
}

export function caseHash(number) {
  return `#/case/${encodeURIComponent(number)}`;
}
