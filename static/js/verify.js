// The public check of a settlement agreement: its code's facts, and whether a PDF is the sealed one.
// Messages live here (this page loads nothing else); zh-CN is the default.

const MESSAGES = {
  "zh-CN": {
    "lang.toggle": "English",
    "verify.title": "调解协议核验",
    "verify.intro": "输入调解协议书底部印有的核验码，可查看协议的签订日期和文本哈希；上传协议 PDF，可核对它是否与存档一致。",
    "verify.code.label": "核验码（10 位字母和数字）",
    "verify.submit": "查询",
    "verify.case": "案件编号",
    "verify.sealed": "签订日期",
    "verify.parties": "当事人",
    "verify.text_hash": "协议文本 SHA-256",
    "verify.pdf_hash": "协议 PDF SHA-256",
    "verify.pdf_hash.none": "PDF 尚未生成",
    "verify.file.label": "选择要核对的协议 PDF",
    "verify.check": "核对 PDF",
    "verify.checking": "正在查询…",
    "verify.found": "找到已签署的调解协议。",
    "verify.invalid": "核验码应为 10 位字母和数字，例如 7K3QD-9XW2M，请检查后重试。",
    "verify.no_file": "请先选择 PDF 文件。",
    "verify.match": "一致：这份 PDF 与存档的协议完全相同。",
    "verify.mismatch": "不一致：这份 PDF 与存档的协议不同，可能被改动过。请向调解机构核实。",
    "verify.error": "查询失败：{message}",
    "verify.network": "网络连接失败，请稍后重试。",
    "role.consumer": "消费者",
    "role.business": "商家",
  },
  en: {
    "lang.toggle": "中文",
    "verify.title": "Check a settlement agreement",
    "verify.intro": "Enter the verification code printed at the bottom of the agreement to see when it was signed and its text hash; upload its PDF to check it is the one on record.",
    "verify.code.label": "Verification code (10 letters and digits)",
    "verify.submit": "Look up",
    "verify.case": "Case number",
    "verify.sealed": "Signed on",
    "verify.parties": "Parties",
    "verify.text_hash": "Agreement text SHA-256",
    "verify.pdf_hash": "Agreement PDF SHA-256",
    "verify.pdf_hash.none": "The PDF has not been made yet",
    "verify.file.label": "Choose the agreement PDF to check",
    "verify.check": "Check PDF",
    "verify.checking": "Looking up…",
    "verify.found": "A signed settlement agreement was found.",
    "verify.invalid": "A code is 10 letters and digits, e.g. 7K3QD-9XW2M: check it and try again.",
    "verify.no_file": "Choose a PDF file first.",
    "verify.match": "Matches: this PDF is exactly the agreement on record.",
    "verify.mismatch": "Does not match: this PDF differs from the agreement on record and may have been altered. Ask the mediation office.",
    "verify.error": "The check failed: {message}",
    "verify.network": "The network failed; try again later.",
    "role.consumer": "Consumer",
    "role.business": "Business",
  },
};

let current = localStorage.getItem("mediation-room.lang") in MESSAGES
  ? localStorage.getItem("mediation-room.lang")
  : "zh-CN";
let lastCode = null;

function t(key, params = {}) {
  const text = MESSAGES[current][key] ?? MESSAGES["zh-CN"][key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ""));
}

function translate() {
  document.documentElement.lang = current;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  document.getElementById("lang").textContent = t("lang.toggle");
  document.title = t("verify.title");
}

function normalize(raw) {
  const clean = raw.toUpperCase().replace(/[\s\-\u3000]/g, "").replace(/O/g, "0").replace(/[IL]/g, "1");
  return /^[0-9A-HJKMNP-TV-Z]{10}$/.test(clean) ? `${clean.slice(0, 5)}-${clean.slice(5)}` : null;
}

function say(id, text, kind = "") {
  const el = document.getElementById(id);
  el.textContent = text;
  el.className = kind;
}

async function lookUp(event) {
  event.preventDefault();
  const code = normalize(document.getElementById("code").value);
  document.getElementById("result").hidden = true;
  if (!code) return say("status", t("verify.invalid"), "bad");
  say("status", t("verify.checking"));
  try {
    const resp = await fetch(`/api/verify/${encodeURIComponent(code)}`);
    const body = await resp.json();
    if (!resp.ok) return say("status", t("verify.error", { message: body.message }), "bad");
    lastCode = code;
    document.getElementById("case-number").textContent = body.case_number;
    document.getElementById("sealed-on").textContent = body.sealed_on;
    document.getElementById("parties").textContent = body.parties
      .map((p) => `${t(`role.${p.role}`)}：${p.name}`)
      .join("；");
    document.getElementById("text-hash").textContent = body.text_sha256;
    document.getElementById("pdf-hash").textContent = body.pdf_sha256 ?? t("verify.pdf_hash.none");
    document.getElementById("result").hidden = false;
    say("match", "");
    say("status", t("verify.found"), "ok");
  } catch {
    say("status", t("verify.network"), "bad");
  }
}

async function checkPdf(event) {
  event.preventDefault();
  const file = document.getElementById("file").files[0];
  if (!file || !lastCode) return say("match", t("verify.no_file"), "bad");
  const form = new FormData();
  form.append("file", file);
  say("match", t("verify.checking"));
  try {
    const resp = await fetch(`/api/verify/${encodeURIComponent(lastCode)}`, { method: "POST", body: form });
    const body = await resp.json();
    if (!resp.ok) return say("match", t("verify.error", { message: body.message }), "bad");
    say("match", body.matches ? t("verify.match") : t("verify.mismatch"), body.matches ? "ok" : "bad");
  } catch {
    say("match", t("verify.network"), "bad");
  }
}

document.getElementById("lang").addEventListener("click", () => {
  current = current === "zh-CN" ? "en" : "zh-CN";
  localStorage.setItem("mediation-room.lang", current);
  translate();
});
document.getElementById("lookup").addEventListener("submit", lookUp);
document.getElementById("upload").addEventListener("submit", checkPdf);
translate();
const fromLink = new URLSearchParams(location.search).get("code");
if (fromLink) {
  document.getElementById("code").value = fromLink;
  document.getElementById("lookup").requestSubmit();
}
