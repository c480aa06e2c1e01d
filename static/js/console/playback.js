// The playback files of a case (回放文件): per sitting with recordings, one MP4 with every
// participant side by side, made on the server by a background worker. This panel asks for
// one, follows its progress (polling while a job is queued or running), then plays it here.
//
// Self-contained: main.js calls `show(number, recordings, sittings)` whenever the case's
// recordings are (re)loaded, and `show(null)` when the case page is left.

import { onLangChange, t } from "../i18n.js";
import { api } from "./api.js";

const POLL_MS = 1500;

function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else if (key === "testid") node.dataset.testid = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

function clockOf(seconds) {
  const total = Math.max(0, Math.round(seconds ?? 0));
  const m = Math.floor(total / 60);
  return `${m}:${String(total % 60).padStart(2, "0")}`;
}

function sizeOf(bytes) {
  if (!Number.isFinite(bytes)) return "";
  return bytes >= 1024 * 1024
    ? `${(bytes / 1024 / 1024).toFixed(1)} MB`
    : `${Math.max(1, Math.round(bytes / 1024))} KB`;
}

/** Words for a failed request: the server's message when it sent one. */
function failure(err) {
  const key = `console.playback.error.${err?.code}`;
  const known = t(key);
  return known !== key ? known : err?.message || t("console.playback.error.other");
}

export function createPlayback(root) {
  let number = null;
  let sittings = []; // [{id, n}] with at least one recording still on the server
  let jobs = [];
  let errors = {}; // sitting id → words
  let timer = null;
  let seq = 0;
  let playing = null; // job id

  const list = el("ol", { class: "recordings", testid: "playback-list" });
  const player = el("video", {
    class: "player-video",
    testid: "playback-player",
    controls: true,
    playsinline: true,
    preload: "metadata",
  });
  const caption = el("figcaption", { class: "player-caption", testid: "playback-caption" });
  const box = el("figure", { class: "player", testid: "playback-player-box", hidden: true }, [
    player,
    caption,
  ]);
  const heading = el("h3", { class: "card-title", id: "h-playback" });
  const intro = el("p", { class: "muted" });
  root.replaceChildren(heading, intro, box, list);
  root.setAttribute("aria-labelledby", "h-playback");

  function latest(sittingId) {
    const mine = jobs.filter((j) => j.sitting_id === sittingId);
    return mine.length ? mine[mine.length - 1] : null;
  }

  function active() {
    return jobs.some((j) => j.status === "queued" || j.status === "running");
  }

  function schedule() {
    clearTimeout(timer);
    timer = null;
    if (number && active()) timer = setTimeout(refresh, POLL_MS);
  }

  async function refresh() {
    const asked = number;
    const mine = ++seq;
    try {
      const answer = await api.listPlayback(asked);
      if (mine !== seq || asked !== number) return;
      jobs = answer.jobs;
    } catch (err) {
      if (mine !== seq || asked !== number) return;
      errors = { ...errors, list: failure(err) };
    }
    draw();
    schedule();
  }

  async function ask(sittingId) {
    const asked = number;
    errors = { ...errors, [sittingId]: null };
    try {
      const job = await api.requestPlayback(asked, sittingId);
      if (asked !== number) return;
      jobs = [...jobs.filter((j) => j.id !== job.id), job];
    } catch (err) {
      if (asked !== number) return;
      errors = { ...errors, [sittingId]: failure(err) };
    }
    draw();
    schedule();
  }

  function play(job) {
    playing = job.id;
    player.src = job.url;
    box.hidden = false;
    caption.textContent = t("console.playback.caption", {
      n: sittings.find((s) => s.id === job.sitting_id)?.n ?? job.sitting_id,
      duration: clockOf(job.duration),
    });
    player.play().catch(() => {});
    box.scrollIntoView({ block: "nearest" });
    draw();
  }

  function item(sitting) {
    const job = latest(sitting.id);
    const status = job?.status ?? "none";
    const title = t("console.recordings.sitting", { n: sitting.n });
    const parts = [el("p", { class: "party-head" }, [el("strong", { text: title })])];
    if (status === "queued" || status === "running") {
      const percent = Math.round((job.progress ?? 0) * 100);
      parts.push(
        el("p", {
          testid: "playback-status",
          text: t(`console.playback.${status}`, { percent }),
        }),
        el("progress", {
          testid: "playback-progress",
          max: "100",
          value: String(percent),
          "aria-label": t("console.playback.progress.label", { n: sitting.n }),
        }),
      );
    } else if (status === "done") {
      parts.push(
        el("span", { class: "entry-meta" }, [
          el("span", { text: t("console.recordings.duration", { time: clockOf(job.duration) }) }),
          el("span", { text: sizeOf(job.size) }),
          el("span", {
            testid: "playback-hash",
            title: job.sha256,
            text: t("console.recordings.hash", { hash: (job.sha256 ?? "").slice(0, 12) }),
          }),
        ]),
        el("div", { class: "actions" }, [
          el("button", {
            type: "button",
            class: playing === job.id ? "btn btn-primary" : "btn btn-secondary",
            testid: "playback-play",
            "data-action": "play",
            "data-job": String(job.id),
            "aria-pressed": String(playing === job.id),
            text: t(playing === job.id ? "console.recordings.playing" : "console.recordings.play"),
          }),
          el("a", {
            class: "btn btn-secondary",
            testid: "playback-download",
            href: job.url,
            download: "",
            text: t("console.playback.download"),
          }),
        ]),
      );
    } else {
      if (status === "failed") {
        parts.push(
          el("p", { class: "hint-warn", testid: "playback-failed", text: job.error ?? "" }),
        );
      }
      parts.push(
        el("div", { class: "actions" }, [
          el("button", {
            type: "button",
            class: "btn btn-secondary",
            testid: "playback-make",
            "data-action": "make",
            "data-sitting": String(sitting.id),
            text: t(status === "failed" ? "console.playback.retry" : "console.playback.make"),
          }),
        ]),
      );
    }
    if (errors[sitting.id]) {
      parts.push(el("p", { class: "form-error", role: "alert", text: errors[sitting.id] }));
    }
    return el(
      "li",
      { testid: "playback-item", "data-sitting": String(sitting.id), "data-status": status },
      parts,
    );
  }

  function draw() {
    heading.textContent = t("console.playback.heading");
    intro.textContent = t("console.playback.text");
    root.hidden = !number || sittings.length === 0;
    const items = sittings.map(item);
    if (errors.list) items.push(el("li", { class: "form-error", role: "alert", text: errors.list }));
    list.replaceChildren(...items);
    list.setAttribute("aria-busy", String(active()));
  }

  list.addEventListener("click", (event) => {
    const button = event.target.closest("[data-action]");
    if (!button) return;
    if (button.dataset.action === "make") ask(Number(button.dataset.sitting));
    else if (button.dataset.action === "play") {
      const job = jobs.find((j) => j.id === Number(button.dataset.job));
      if (job?.url) play(job);
    }
  });
  onLangChange(draw);

  return {
    /** The case on show: its recordings and sittings (or `null` once the page is left). */
    show(nextNumber, recordings = [], caseSittings = []) {
      if (nextNumber !== number) {
        jobs = [];
        errors = {};
        playing = null;
        player.removeAttribute("src");
        box.hidden = true;
      }
      number = nextNumber;
      const kept = new Set(recordings.filter((r) => !r.deleted_at).map((r) => r.sitting_id));
      sittings = caseSittings
        .map((s, i) => ({ id: s.id, n: i + 1 }))
        .filter((s) => kept.has(s.id));
      draw();
      if (number) refresh();
      else schedule();
    },
  };
}
