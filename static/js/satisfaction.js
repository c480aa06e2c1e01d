// 满意度: once the sitting has ended, the consumer and the business rate it 1–5 (with an optional
// comment) on their own link. The card lives on the "ended" screen; after a reload the page shows
// the link as refused (the room is gone), and the card moves there. The server decides who may
// answer: GET answers 200 only for a party of an ended sitting, so nothing shows for the mediator.

import { lang, onLangChange, t } from "./i18n.js";
import { state, subscribe } from "./state.js";

const MAX_COMMENT = 1000;
/** Refusals after which the link still belongs to a sitting that has ended. */
const ENDED_CODES = new Set(["room_not_found", "sitting_ended"]);

const card = document.querySelector('[data-testid="satisfaction"]');
/** hidden | loading | form | sending | done */
const local = { status: "hidden", rating: 0, comment: "", answer: null, error: "" };
let asked = false;
/** What the card was last drawn from: redrawn only when it changes (typing keeps its focus). */
let drawn = "";

function endedView(s) {
  if (s.view === "ended") return true;
  return s.view === "refused" && ENDED_CODES.has(s.refusal?.code);
}

function url() {
  return `/api/rooms/${encodeURIComponent(state.roomId)}/satisfaction`;
}

function headers(extra = {}) {
  return { Authorization: `Bearer ${state.token}`, ...extra };
}

/** The page hears "ended" a moment before the server has closed the sitting on record. */
const NOT_ENDED_RETRIES = 10;
const RETRY_MS = 1000;

async function load(attempt = 0) {
  local.status = "loading";
  try {
    const response = await fetch(url(), { headers: headers(), cache: "no-store" });
    if (!response.ok) {
      const body = await response.json().catch(() => null);
      if (body?.code === "sitting_not_ended" && attempt < NOT_ENDED_RETRIES) {
        setTimeout(() => load(attempt + 1), RETRY_MS);
        return;
      }
      local.status = "hidden"; // the mediator, a live sitting, a withdrawn link: no card
      return;
    }
    const body = await response.json();
    local.answer = body.answer;
    local.status = body.answer ? "done" : "form";
  } catch {
    local.status = "hidden";
  } finally {
    render();
  }
}

async function send() {
  if (!local.rating) {
    local.error = t("satisfaction.pick");
    render();
    return;
  }
  local.status = "sending";
  local.error = "";
  render();
  try {
    const response = await fetch(url(), {
      method: "POST",
      headers: headers({ "Content-Type": "application/json" }),
      body: JSON.stringify({ rating: local.rating, comment: local.comment.trim() }),
    });
    const body = await response.json().catch(() => null);
    if (response.ok) {
      local.answer = body;
      local.status = "done";
    } else if (body?.code === "already_answered") {
      local.status = "done";
      local.error = t("satisfaction.error.already_answered");
    } else {
      local.status = "form";
      local.error = t("satisfaction.error.other", { code: body?.code ?? response.status });
    }
  } catch {
    local.status = "form";
    local.error = t("satisfaction.error.other", { code: "network" });
  }
  render();
}

function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "testid") node.dataset.testid = value;
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

function stars() {
  const group = el("div", {
    className: "satisfaction-scale",
    role: "radiogroup",
    "aria-label": t("satisfaction.title"),
  });
  for (let n = 1; n <= 5; n += 1) {
    const chosen = local.rating === n;
    const button = el(
      "button",
      {
        type: "button",
        className: `satisfaction-point${chosen ? " chosen" : ""}`,
        role: "radio",
        "aria-checked": String(chosen),
        "aria-label": `${t("satisfaction.star", { n })} ${t(`satisfaction.label.${n}`)}`,
        testid: `satisfaction-${n}`,
        disabled: local.status === "sending",
      },
      [
        el("span", { className: "satisfaction-number", textContent: String(n) }),
        el("span", { className: "satisfaction-word", textContent: t(`satisfaction.label.${n}`) }),
      ],
    );
    button.addEventListener("click", () => {
      local.rating = n;
      local.error = "";
      render();
    });
    group.append(button);
  }
  return group;
}

function form() {
  const comment = el("textarea", {
    id: "satisfaction-comment",
    className: "text-input",
    rows: 3,
    maxLength: MAX_COMMENT,
    value: local.comment,
    testid: "satisfaction-comment",
    disabled: local.status === "sending",
  });
  comment.addEventListener("input", () => {
    local.comment = comment.value;
  });
  const submit = el("button", {
    type: "submit",
    className: "btn btn-primary",
    testid: "satisfaction-submit",
    textContent: t(local.status === "sending" ? "satisfaction.sending" : "satisfaction.submit"),
    disabled: local.status === "sending",
  });
  const box = el("form", { className: "satisfaction-form", noValidate: true }, [
    el("p", { className: "message-title", textContent: t("satisfaction.title") }),
    el("p", { className: "message-todo", textContent: t("satisfaction.hint") }),
    stars(),
    el("label", {
      className: "field-label",
      htmlFor: "satisfaction-comment",
      textContent: t("satisfaction.comment"),
    }),
    comment,
    el("p", {
      className: "field-error",
      role: "alert",
      testid: "satisfaction-error",
      textContent: local.error,
      hidden: !local.error,
    }),
    submit,
  ]);
  box.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  return box;
}

function done() {
  const rating = local.answer?.rating;
  const children = [
    el("p", {
      className: "message-title",
      testid: "satisfaction-thanks",
      textContent: local.error || t("satisfaction.thanks"),
    }),
  ];
  if (rating) {
    const label = t(`satisfaction.label.${rating}`);
    children.push(
      el("p", {
        className: "message-todo",
        testid: "satisfaction-yours",
        textContent: t("satisfaction.yours", { n: rating, label }),
      }),
    );
  }
  return el("div", {}, children);
}

function render() {
  if (!card) return;
  const show = endedView(state) && ["form", "sending", "done"].includes(local.status);
  card.hidden = !show;
  card.dataset.status = local.status;
  if (!show) return;
  // After a reload the ended sitting shows as a refused link: the card goes where the eye is.
  const view = document.querySelector(`[data-view="${state.view}"]`);
  if (view && card.parentElement !== view) view.append(card);
  const signature = [local.status, local.rating, local.error, lang(), state.view].join("|");
  if (signature === drawn) return;
  drawn = signature;
  card.replaceChildren(local.status === "done" ? done() : form());
}

subscribe(() => {
  if (!asked && endedView(state) && state.token && state.roomId) {
    asked = true;
    load();
  }
  render();
});
onLangChange(render);
