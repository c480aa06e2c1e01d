// Evidence over HTTP (docs/protocol.md, "Evidence over HTTP"): upload with progress, list, fetch.
// Every request carries the page's invitation token as a Bearer header.

/** Bigger files are refused by the server (413); checked here first to save a phone's data. */
export const MAX_EVIDENCE_BYTES = 20 * 1024 * 1024;

/** A refused request: `code` is the error body's code (or `network`, `http_<status>`). */
export class EvidenceError extends Error {
  constructor(code, status = 0) {
    super(code);
    this.code = code;
    this.status = status;
  }
}

function errorFrom(status, body) {
  if (body && typeof body.code === "string") return new EvidenceError(body.code, status);
  if (status === 413) return new EvidenceError("evidence_too_large", status);
  if (status === 415) return new EvidenceError("evidence_type_unsupported", status);
  return new EvidenceError(status >= 500 ? "internal" : `http_${status}`, status);
}

/**
 * POST one file as multipart `file`; `onProgress(loaded, total)` follows the upload.
 * Resolves the stored evidence; rejects with an EvidenceError. `abort()` on the returned
 * promise's `xhr` cancels.
 */
export function uploadEvidence({ roomId, token, file, onProgress }) {
  const xhr = new XMLHttpRequest();
  const done = new Promise((resolve, reject) => {
    xhr.open("POST", `/api/rooms/${encodeURIComponent(roomId)}/evidence`);
    xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress?.(event.loaded, event.total);
    });
    xhr.addEventListener("load", () => {
      const body = xhr.response;
      if (xhr.status >= 200 && xhr.status < 300 && body?.evidence) resolve(body.evidence);
      else reject(errorFrom(xhr.status, body));
    });
    xhr.addEventListener("error", () => reject(new EvidenceError("network")));
    xhr.addEventListener("abort", () => reject(new EvidenceError("aborted")));
    const form = new FormData();
    form.append("file", file, file.name || "evidence");
    xhr.send(form);
  });
  done.xhr = xhr;
  return done;
}

/** The evidence this participant may see (all of the case's for the mediator). */
export async function listEvidence({ roomId, token }) {
  let response;
  try {
    response = await fetch(`/api/rooms/${encodeURIComponent(roomId)}/evidence`, {
      headers: { Authorization: `Bearer ${token}` },
      cache: "no-store",
    });
  } catch {
    throw new EvidenceError("network");
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) throw errorFrom(response.status, body);
  return body?.evidence ?? [];
}

/** The file itself as a Blob (the URL needs the Bearer header, so no plain <img src>). */
export async function fetchEvidenceBlob({ url, token }) {
  let response;
  try {
    response = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
  } catch {
    throw new EvidenceError("network");
  }
  if (!response.ok) {
    throw errorFrom(response.status, await response.json().catch(() => null));
  }
  return response.blob();
}

/** How the in-page viewer can show a file of this type: image | pdf | download. */
export function viewerKind(contentType) {
  const type = (contentType ?? "").toLowerCase();
  // Browsers (except Safari) can't draw HEIC/HEIF: offer it as a download.
  if (type === "image/heic" || type === "image/heif") return "download";
  if (type.startsWith("image/")) return "image";
  if (type === "application/pdf") return "pdf";
  return "download";
}
