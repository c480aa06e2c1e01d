// Message tables: every string a user sees comes from here (zh-CN is the default).

const STORAGE_KEY = "mediation-room.lang";

export const MESSAGES = {
  "zh-CN": {
    "app.title": "云端调解室",
    "lang.toggle": "English",
    "lang.toggle.label": "切换到英文",
    "loading": "正在打开调解室…",

    "role.mediator": "调解员",
    "role.consumer": "消费者",
    "role.business": "商家",

    "case.line": "案件 {number}：{title}",

    "join.for": "这个链接是给：",
    "join.name.label": "您的称呼（其他参与方会看到）",
    "join.name.invalid": "请填写 1 到 40 个字的称呼。",
    "join.preview.label": "您的画面预览",
    "join.preview.off": "摄像头未开启",
    "join.preview.starting": "正在打开摄像头和麦克风…",
    "join.camera.label": "摄像头",
    "join.mic.label": "麦克风",
    "join.device.default": "默认设备",
    "join.device.unnamed": "设备 {n}",
    "join.button": "进入调解室",
    "join.without": "不开摄像头和麦克风进入",
    "join.retry.media": "重新检测摄像头和麦克风",
    "join.hint": "进入后可以随时开关摄像头和麦克风。",

    "media.denied": "未获得使用摄像头和麦克风的许可。",
    "media.denied.todo":
      "请点击地址栏里的摄像头图标，选择“允许”，然后点“重新检测”。也可以不开摄像头和麦克风直接进入。",
    "media.notfound": "没有找到摄像头或麦克风。",
    "media.notfound.todo": "请连接设备后点“重新检测”，或不开摄像头和麦克风直接进入。",
    "media.notfound.video": "没有找到摄像头，将只使用麦克风。",
    "media.notfound.audio": "没有找到麦克风，将只使用摄像头。",
    "media.busy": "摄像头或麦克风正被其他程序占用。",
    "media.busy.todo": "请关闭正在使用摄像头的其他程序（例如其他视频通话），然后点“重新检测”。",
    "media.insecure": "这个页面无法使用摄像头和麦克风（需要安全的 https 连接）。",
    "media.insecure.todo": "请联系调解员确认链接地址，或不开摄像头和麦克风直接进入。",
    "media.failed": "无法打开摄像头或麦克风。",
    "media.failed.todo": "请点“重新检测”，或不开摄像头和麦克风直接进入。",

    "refused.token_missing": "链接不完整，缺少邀请码。",
    "refused.token_missing.todo": "请打开调解员发给您的链接。",
    "refused.token_malformed": "无法识别这个链接，可能复制时被截断了。",
    "refused.token_malformed.todo": "请把收到的链接完整地重新复制一遍再打开。",
    "refused.token_invalid": "这个链接无效：它被改动过，或来自其他系统。",
    "refused.token_invalid.todo": "请联系调解员，索取新的链接。",
    "refused.token_expired": "这个链接已过期。",
    "refused.token_expired.todo": "请联系调解员，索取新的链接。",
    "refused.token_foreign": "这个链接不属于当前地址的调解室。",
    "refused.token_foreign.todo": "请按收到的原样打开链接，不要修改地址。",
    "refused.token_revoked": "这个链接已被调解员收回。",
    "refused.token_revoked.todo": "请联系调解员，索取新的链接。",
    "refused.token_unknown": "这个链接不在本案的邀请记录中。",
    "refused.token_unknown.todo": "请联系调解员，索取新的链接。",
    "refused.room_not_found": "这个调解室不存在或已不再开放。",
    "refused.room_not_found.todo": "请联系调解员。",
    "refused.unknown": "暂时无法进入调解室（代码：{code}）。",
    "refused.unknown.todo": "请稍后重试，或联系调解员。",
    "refused.network": "无法连接到服务器。",
    "refused.network.todo": "请检查网络连接后重试。",
    "refused.retry": "重试",

    "conn.idle": "未连接",
    "conn.connecting": "连接中",
    "conn.connected": "已连接",
    "conn.reconnecting": "重新连接中",
    "conn.failed": "连接失败",
    "conn.failed.todo": "音视频连接没有建立，可能是网络限制。请点“重试”。",
    "conn.retry": "重试",

    "room.waiting": "正在等待其他参与方进入…",
    "room.you": "我",
    "room.self.label": "{role} · {name}（我）",
    "room.tile.label": "{role} · {name}",
    "room.camera.off": "摄像头已关闭",
    "room.video.waiting": "正在接收画面…",
    "room.mic.off": "已静音",
    "room.audio.blocked": "点此播放声音",

    "ctl.mic.on": "静音",
    "ctl.mic.off": "取消静音",
    "ctl.camera.on": "关闭摄像头",
    "ctl.camera.off": "开启摄像头",
    "ctl.leave": "离开",

    "notice.media_on_failed": "无法打开{device}：{reason}",
    "notice.device.audio": "麦克风",
    "notice.device.video": "摄像头",
    "notice.server": "操作未成功（代码：{code}）。",
    "notice.dismiss": "知道了",

    "left.heading": "您已离开调解室",
    "left.text": "如果是误点，可以重新进入。",
    "left.rejoin": "重新进入",
    "replaced.heading": "您已在另一个窗口进入调解室",
    "replaced.text": "同一个链接在别的标签页或设备上打开后，这里就停止了。",
    "replaced.rejoin": "在这里继续",
    "ended.heading": "调解室已关闭",
    "ended.text": "本次调解已结束。如有疑问，请联系调解员。",
  },
  en: {
    "app.title": "Cloud mediation room",
    "lang.toggle": "中文",
    "lang.toggle.label": "Switch to Chinese",
    "loading": "Opening the mediation room…",

    "role.mediator": "Mediator",
    "role.consumer": "Consumer",
    "role.business": "Business",

    "case.line": "Case {number}: {title}",

    "join.for": "This link is for:",
    "join.name.label": "Your name (the others will see it)",
    "join.name.invalid": "Please enter a name of 1 to 40 characters.",
    "join.preview.label": "Your camera preview",
    "join.preview.off": "Camera is off",
    "join.preview.starting": "Starting camera and microphone…",
    "join.camera.label": "Camera",
    "join.mic.label": "Microphone",
    "join.device.default": "Default device",
    "join.device.unnamed": "Device {n}",
    "join.button": "Enter",
    "join.without": "Enter without camera and microphone",
    "join.retry.media": "Check camera and microphone again",
    "join.hint": "You can switch your camera and microphone on and off at any time.",

    "media.denied": "The page is not allowed to use your camera and microphone.",
    "media.denied.todo":
      "Click the camera icon in the address bar, choose “Allow”, then “Check again”. Or enter without camera and microphone.",
    "media.notfound": "No camera or microphone was found.",
    "media.notfound.todo":
      "Connect a device and click “Check again”, or enter without camera and microphone.",
    "media.notfound.video": "No camera was found; only the microphone will be used.",
    "media.notfound.audio": "No microphone was found; only the camera will be used.",
    "media.busy": "The camera or microphone is in use by another program.",
    "media.busy.todo":
      "Close the other program using the camera (another video call, for example), then click “Check again”.",
    "media.insecure": "This page cannot use the camera and microphone (it needs a secure https link).",
    "media.insecure.todo":
      "Ask the mediator to check the link, or enter without camera and microphone.",
    "media.failed": "The camera or microphone could not be started.",
    "media.failed.todo": "Click “Check again”, or enter without camera and microphone.",

    "refused.token_missing": "The link is incomplete: the invitation code is missing.",
    "refused.token_missing.todo": "Open the link the mediator sent you.",
    "refused.token_malformed": "This link can't be read; it may have been cut off when copied.",
    "refused.token_malformed.todo": "Copy the whole link you received again and open it.",
    "refused.token_invalid": "This link is not valid: it was changed, or it comes from another system.",
    "refused.token_invalid.todo": "Ask the mediator for a new link.",
    "refused.token_expired": "This link has expired.",
    "refused.token_expired.todo": "Ask the mediator for a new link.",
    "refused.token_foreign": "This link belongs to a different mediation room than this address.",
    "refused.token_foreign.todo": "Open the link exactly as you received it.",
    "refused.token_revoked": "The mediator has withdrawn this link.",
    "refused.token_revoked.todo": "Ask the mediator for a new link.",
    "refused.token_unknown": "This link is not among this case's invitations.",
    "refused.token_unknown.todo": "Ask the mediator for a new link.",
    "refused.room_not_found": "This mediation room does not exist or is no longer open.",
    "refused.room_not_found.todo": "Please contact the mediator.",
    "refused.unknown": "The room can't be entered right now (code: {code}).",
    "refused.unknown.todo": "Try again later, or contact the mediator.",
    "refused.network": "The server can't be reached.",
    "refused.network.todo": "Check your network connection and try again.",
    "refused.retry": "Try again",

    "conn.idle": "Not connected",
    "conn.connecting": "Connecting",
    "conn.connected": "Connected",
    "conn.reconnecting": "Reconnecting",
    "conn.failed": "Connection failed",
    "conn.failed.todo":
      "Audio and video could not connect, perhaps because of network limits. Click “Try again”.",
    "conn.retry": "Try again",

    "room.waiting": "Waiting for the other parties to enter…",
    "room.you": "Me",
    "room.self.label": "{role} · {name} (me)",
    "room.tile.label": "{role} · {name}",
    "room.camera.off": "Camera is off",
    "room.video.waiting": "Receiving video…",
    "room.mic.off": "Muted",
    "room.audio.blocked": "Tap to play sound",

    "ctl.mic.on": "Mute",
    "ctl.mic.off": "Unmute",
    "ctl.camera.on": "Stop video",
    "ctl.camera.off": "Start video",
    "ctl.leave": "Leave",

    "notice.media_on_failed": "The {device} could not be started: {reason}",
    "notice.device.audio": "microphone",
    "notice.device.video": "camera",
    "notice.server": "That did not work (code: {code}).",
    "notice.dismiss": "OK",

    "left.heading": "You left the mediation room",
    "left.text": "If that was a mistake, you can enter again.",
    "left.rejoin": "Enter again",
    "replaced.heading": "You entered the room in another window",
    "replaced.text": "The same link was opened in another tab or device, so this page stopped.",
    "replaced.rejoin": "Continue here",
    "ended.heading": "The mediation room is closed",
    "ended.text": "This mediation has ended. Contact the mediator if you have questions.",
  },
};

export const LANGUAGES = Object.keys(MESSAGES);
const DEFAULT_LANG = "zh-CN";

let current = readStoredLang();
const listeners = new Set();

function readStoredLang() {
  try {
    const stored = localStorage.getItem(STORAGE_KEY);
    if (stored && stored in MESSAGES) return stored;
  } catch {
    // Storage can be unavailable (private mode, blocked cookies): fall back to the default.
  }
  return DEFAULT_LANG;
}

export function lang() {
  return current;
}

export function setLang(next) {
  if (!(next in MESSAGES) || next === current) return;
  current = next;
  try {
    localStorage.setItem(STORAGE_KEY, next);
  } catch {
    // Not remembered, still switched.
  }
  for (const listener of listeners) listener(current);
}

export function toggleLang() {
  setLang(current === "zh-CN" ? "en" : "zh-CN");
}

export function onLangChange(listener) {
  listeners.add(listener);
}

/** The message for `key` in the current language, with `{name}` placeholders filled in. */
export function t(key, params = {}) {
  const table = MESSAGES[current];
  let text = table[key] ?? MESSAGES[DEFAULT_LANG][key];
  if (text === undefined) {
    console.warn("i18n: no message for", key);
    return key;
  }
  for (const [name, value] of Object.entries(params)) {
    text = text.replaceAll(`{${name}}`, String(value));
  }
  return text;
}

export function hasMessage(key) {
  return key in MESSAGES[DEFAULT_LANG];
}

/** Fill every `data-i18n` element (text) and `data-i18n-<attr>` attribute under `root`. */
export function translateStatic(root = document) {
  document.documentElement.lang = current;
  for (const el of root.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n);
  }
  for (const attr of ["placeholder", "aria-label", "title"]) {
    const dataKey = `i18n${attr.replace(/(^|-)(\w)/g, (_, __, c) => c.toUpperCase())}`;
    for (const el of root.querySelectorAll(`[data-i18n-${attr}]`)) {
      el.setAttribute(attr, t(el.dataset[dataKey]));
    }
  }
}
