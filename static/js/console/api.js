// The REST API of the mediator console: one function per call; every failure is an ApiError
// carrying the server's error body ({code, message}) or the code "network".

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code);
    this.status = status;
    this.code = code;
  }
}

async function request(method, path, body) {
  const init = { method, cache: "no-store", credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, "network", "");
  }
  const data = await response.json().catch(() => null);
  if (response.ok) return data;
  if (data?.code) throw new ApiError(response.status, data.code, data.message ?? "");
  const code = response.status >= 500 ? "internal" : `http_${response.status}`;
  throw new ApiError(response.status, code, "");
}

const casePath = (number) => `/api/cases/${encodeURIComponent(number)}`;

/** A file (the transcript PDF) as a Blob; a failure is an ApiError like any other call's. */
async function file(path) {
  let response;
  try {
    response = await fetch(path, { cache: "no-store", credentials: "same-origin" });
  } catch {
    throw new ApiError(0, "network", "");
  }
  if (response.ok) {
    try {
      return await response.blob();
    } catch {
      throw new ApiError(0, "network", "");
    }
  }
  const data = await response.json().catch(() => null);
  if (data?.code) throw new ApiError(response.status, data.code, data.message ?? "");
  const code = response.status >= 500 ? "internal" : `http_${response.status}`;
  throw new ApiError(response.status, code, "");
}

/** A sitting's termination notice (调解终止通知书), a PDF download (same-origin cookie). */
export const terminationUrl = (number, sittingId) =>
  `${casePath(number)}/sittings/${encodeURIComponent(String(sittingId))}/termination.pdf`;

/** The case bundle (a zip for a court or supervisor); `recordings` adds the recording files. */
export const bundleUrl = (number, recordings = false) =>
  `${casePath(number)}/bundle.zip${recordings ? "?recordings=1" : ""}`;

/** The transcript document as a printable page: opened in a tab (same-origin cookie). */
export const transcriptPageUrl = (number) => `${casePath(number)}/transcript.html`;

export const api = {
  me: () => request("GET", "/api/me"),
  /** The office's rules: {categories, acceptance_days, mediation_days}. */
  office: () => request("GET", "/api/office"),
  login: (username, password) => request("POST", "/api/session", { username, password }),
  logout: () => request("DELETE", "/api/session"),

  /** `query`: {page, per_page, status, category, q, deadline}; empty values are left out. */
  listCases(query) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== "" && value !== null && value !== undefined) params.set(key, String(value));
    }
    return request("GET", `/api/cases?${params}`);
  },
  /** The cases behind one dashboard figure: {figure, from, to, category, mediator, page,
   * per_page}; the same answer as listCases. */
  figureCases(query) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== "" && value !== null && value !== undefined) params.set(key, String(value));
    }
    return request("GET", `/api/stats/cases?${params}`);
  },
  createCase: (body) => request("POST", "/api/cases", body),
  getCase: (number, reveal = false) =>
    request("GET", `${casePath(number)}${reveal ? "?reveal=1" : ""}`),
  /** `changes`: any of {title, category, claim, amount_in_dispute, complaint_number}. */
  updateCase: (number, changes) => request("PATCH", casePath(number), changes),
  /** `amountRecovered` only with `to: "settled"`; left out when not given. */
  changeStatus(number, to, reason, amountRecovered) {
    const body = { to, reason };
    if (amountRecovered) body.amount_recovered = amountRecovered;
    return request("POST", `${casePath(number)}/status`, body);
  },
  addParty: (number, party) => request("POST", `${casePath(number)}/parties`, party),
  issueInvitations: (number, validHours) =>
    request("POST", `${casePath(number)}/invitations`, { valid_hours: validHours }),
  /** Every invitation of the case, newest first; `link` is always null (shown once only). */
  listInvitations: (number) => request("GET", `${casePath(number)}/invitations`),
  revokeInvitation: (id) =>
    request("POST", `/api/invitations/${encodeURIComponent(id)}/revoke`, {}),
  closeSitting: (number, sittingId) =>
    request(
      "POST",
      `${casePath(number)}/sittings/${encodeURIComponent(String(sittingId))}/close`,
      {},
    ),
  getRecord: (number) => request("GET", `${casePath(number)}/record`),
  addNote: (number, text) => request("POST", `${casePath(number)}/notes`, { text }),
  /** {recordings: [{id, sitting_id, participant_id, role, name, started_at, ended_at, duration,
   * codecs, size, sha256, sealed_after_crash, content_type, url}]}; `url` plays in a <video>. */
  listRecordings: (number) => request("GET", `${casePath(number)}/recordings`),
  /** {jobs: [{id, sitting_id, status, progress, error, size, sha256, duration, url}]}: the
   * playback files (every participant side by side), made by a background worker. */
  listPlayback: (number) => request("GET", `${casePath(number)}/playback`),
  /** Queue the sitting's playback file (or get the one queued or running): 409 sitting_open,
   * no_recordings. */
  requestPlayback: (number, sittingId) =>
    request(
      "POST",
      `${casePath(number)}/sittings/${encodeURIComponent(String(sittingId))}/playback`,
      {},
    ),
  /** {evidence: [{id, filename, content_type, size, sha256, submitted_by, role, at, url}]};
   * `url` is fetched with evidenceFile (a PDF is served sandboxed: never opened directly). */
  listEvidence: (number) => request("GET", `${casePath(number)}/evidence`),
  /** One evidence file (its list entry's `url`) as a Blob of its content type. */
  evidenceFile: (url) => file(url),
  /** The transcript document as a PDF Blob (made on the server, ≈ 1–2 s). */
  transcriptPdf: (number) => file(`${casePath(number)}/transcript.pdf`),
  /** {seq, at, author, text}: the summary as saved (the same text again saves nothing new). */
  saveSummary: (number, text) => request("PUT", `${casePath(number)}/summary`, { text }),
  /** {answers: [{role, rating, comment, sitting_id, at}]}: the parties' satisfaction. */
  caseSatisfaction: (number) => request("GET", `${casePath(number)}/satisfaction`),
};
