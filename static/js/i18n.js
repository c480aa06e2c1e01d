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

    // ---- the mediator console (console.html) ----
    "console.title": "调解员工作台 · 云端调解室",
    "console.title.case": "{number} {title} · 调解员工作台",
    "console.brand": "调解员工作台",
    "console.user": "调解员：{name}",
    "console.loading": "正在打开工作台…",
    "console.logout": "退出",
    "console.back": "‹ 返回案件列表",
    "console.cancel": "取消",
    "console.retry": "重试",
    "console.saving": "正在保存…",

    "console.login.heading": "调解员登录",
    "console.login.text": "请使用单位为您开设的账号登录。",
    "console.login.username": "用户名",
    "console.login.password": "密码",
    "console.login.submit": "登录",
    "console.login.busy": "正在登录…",

    "console.err.login.required": "请填写用户名和密码。",
    "console.err.bad_credentials": "用户名或密码不正确，请重新输入。",
    "console.err.not_logged_in": "登录已过期，请重新登录。",
    "console.err.network": "无法连接到服务器，请检查网络后重试。",
    "console.err.internal": "服务器出错了，请稍后重试。",
    "console.err.case_not_found": "没有找到这个案件，或它不属于您的单位。",
    "console.err.invitation_not_found": "没有找到这个邀请链接。",
    "console.err.invalid_status_transition":
      "案件状态已经变化，不能这样变更。页面已更新，请重新选择。",
    "console.err.conflict": "这个操作与案件当前的情况冲突。",
    "console.err.party.conflict": "本案已经有这一方当事人了。",
    "console.err.invite.conflict": "请先添加消费者和商家，再开启调解。",
    "console.err.note.required": "请填写笔录内容。",
    "console.err.invalid_payload": "请检查：{fields}",
    "console.err.detail": "服务器提示：{message}",
    "console.err.unknown": "操作未成功（代码：{code}）。",
    "console.err.invalid_field": "请检查填写的内容。",
    "console.err.sitting_not_found": "没有找到这场调解。",
    "console.err.edit.invalid_status_transition": "案件已办结，案件信息不能再修改。",

    "console.problem.required": "不能为空",
    "console.problem.too_long": "最多 {n} 个字符",
    "console.problem.pattern": "格式不正确",
    "console.problem.decimals": "最多保留两位小数（精确到分）",
    "console.problem.too_big": "数额过大",
    "console.problem.number": "请填写数字",
    "console.problem.negative": "不能为负数",
    "console.problem.date": "日期格式不正确",
    "console.problem.choose": "请从列表中选择",
    "console.problem.future": "不能晚于今天",

    "console.field.title": "案件标题",
    "console.field.title.placeholder": "例如：空调安装后不制冷退款纠纷",
    "console.field.category": "投诉类别",
    "console.field.category.choose": "请选择类别",
    "console.field.claim": "消费者诉求",
    "console.field.claim.placeholder": "例如：退还货款 3299 元",
    "console.field.amount_in_dispute": "争议金额（元）",
    "console.field.amount.placeholder": "例如 3299.00",
    "console.field.received_on": "收到投诉日期",
    "console.field.complaint_number": "12315 投诉单号（可选）",
    "console.field.name.consumer": "姓名",
    "console.field.name.business": "商家名称",
    "console.field.phone": "手机号码",
    "console.field.id_number": "身份证号",
    "console.field.credit_code": "统一社会信用代码",
    "console.field.contact_person": "联系人",
    "console.field.reason": "理由（可选，记入案件记录）",
    "console.field.valid_hours": "链接有效期",
    "console.field.amount_recovered": "为消费者挽回的金额（元，可选）",

    "console.category.appliances": "家用电器",
    "console.category.prepaid": "预付卡",
    "console.category.online": "网络购物",
    "console.category.catering": "餐饮",
    "console.category.beauty": "美容美发",
    "console.category.cars": "汽车",
    "console.category.renovation": "房屋装修",
    "console.category.education": "教育培训",
    "console.category.other": "其他",

    "console.status.received": "已收到（待受理）",
    "console.status.accepted": "已受理",
    "console.status.in_mediation": "调解中",
    "console.status.settled": "调解成功",
    "console.status.not_settled": "调解不成（终止）",
    "console.status.not_accepted": "不予受理",
    "console.status.withdrawn": "已撤回",

    "console.action.accepted": "受理",
    "console.action.not_accepted": "不予受理",
    "console.action.withdrawn": "登记撤回",
    "console.action.in_mediation": "开始调解",
    "console.action.settled": "调解成功，结案",
    "console.action.not_settled": "调解不成，终止调解",

    "console.status.heading": "案件状态",
    "console.status.current": "当前状态：",
    "console.status.final": "案件已办结，状态不能再变更。",
    "console.status.confirm": "确定把案件状态改为“{status}”吗？",
    "console.status.confirm.button": "确认变更",
    "console.status.busy": "正在变更…",
    "console.status.done": "案件状态已改为“{status}”。",
    "console.status.recovered.hint": "填写后记入案件信息；不清楚可以不填。",

    "console.deadline.acceptance": "受理期限",
    "console.deadline.mediation": "调解期限",
    "console.deadline.flag.ok": "正常",
    "console.deadline.flag.due_soon": "临期",
    "console.deadline.flag.overdue": "超期",
    "console.deadline.left": "{what}：还剩 {n} 个工作日（{due}到期）",
    "console.deadline.today": "{what}：今天到期（{due}）",
    "console.deadline.over": "{what}：已超期 {n} 个工作日（{due}到期）",
    "console.deadline.none": "已办结，无期限",

    "console.list.heading": "案件",
    "console.list.new": "新建案件",
    "console.list.search.label": "搜索",
    "console.list.search.placeholder": "案件编号、标题或 12315 单号",
    "console.list.search.submit": "搜索",
    "console.list.filter.status": "状态",
    "console.list.filter.category": "类别",
    "console.list.filter.deadline": "期限",
    "console.list.filter.all": "全部",
    "console.list.clear": "清除筛选",
    "console.list.total": "共 {total} 件",
    "console.list.loading": "正在加载案件…",
    "console.list.empty": "没有符合条件的案件。",
    "console.list.empty.none": "还没有案件。点“新建案件”登记第一件投诉。",
    "console.list.amount": "争议 {amount}",
    "console.list.received": "{date}收到",
    "console.list.page": "第 {page} / {pages} 页",
    "console.list.prev": "上一页",
    "console.list.next": "下一页",
    "console.list.sep": "、",

    "console.create.heading": "新建案件",
    "console.create.text": "登记一件消费投诉。带 * 的为必填项。",
    "console.create.submit": "创建案件",
    "console.create.busy": "正在创建…",
    "console.create.rules":
      "本单位规则：收到投诉后 {accept} 个工作日内决定是否受理；受理后 {mediate} 个工作日内未达成协议的，终止调解。",
    "console.create.done": "案件 {number} 已创建。",

    "console.case.loading": "正在打开案件…",
    "console.case.details": "案件信息",
    "console.case.number": "案件编号",
    "console.case.complaint_number": "12315 投诉单号",
    "console.case.category": "投诉类别",
    "console.case.claim": "消费者诉求",
    "console.case.amount": "争议金额",
    "console.case.recovered": "挽回金额",
    "console.case.received_on": "收到日期",
    "console.case.accepted_on": "受理日期",
    "console.case.concluded_on": "办结日期",
    "console.case.empty": "未填写",
    "console.case.not_yet": "尚未",
    "console.case.edit": "编辑",

    "console.edit.heading": "编辑案件信息",
    "console.edit.text": "只保存改动过的内容，每次修改都记入案件的审计记录。带 * 的为必填项。",
    "console.edit.submit": "保存修改",
    "console.edit.done": "案件信息已更新。",
    "console.edit.unchanged": "没有修改任何内容。",

    "console.parties.heading": "当事人",
    "console.parties.reveal": "显示完整信息",
    "console.parties.hide": "隐藏完整信息",
    "console.parties.masked": "个人信息已部分隐藏。",
    "console.parties.revealed": "正在显示完整的个人信息，用完请点“隐藏完整信息”。",
    "console.parties.missing": "尚未添加{role}。",
    "console.parties.add.consumer": "添加消费者",
    "console.parties.add.business": "添加商家",
    "console.parties.added": "已添加{role}：{name}",

    "console.invite.heading": "远程调解",
    "console.invite.text":
      "开启调解会新开一场调解，并生成调解员、消费者、商家三个专用链接。每个链接只给收到它的人使用，可以随时收回。",
    "console.invite.open": "开启调解（生成邀请链接）",
    "console.invite.again": "再开一场调解（生成新链接）",
    "console.invite.busy": "正在生成链接…",
    "console.invite.needs_parties": "请先添加消费者和商家，才能开启调解。",
    "console.invite.closed": "案件已办结，不能再开启调解。",
    "console.invite.hours": "{n} 小时",
    "console.invite.days": "{n} 天",
    "console.invite.issued": "已生成三个邀请链接。",
    "console.invite.current": "本场调解的链接（房间 {room}）",
    "console.invite.room": "房间 {room}",
    "console.invite.older": "之前生成的链接（{n} 场）",
    "console.invite.not_kept":
      "链接只在生成时显示这一次，只保存在当前浏览器标签页中。请现在把消费者和商家的链接发给他们（复制后用短信或微信发送，或让对方扫码）。链接丢失了就找不回来：请再开一场调解，生成新链接。",
    "console.invite.expires": "有效期至 {time}",
    "console.invite.revoked": "已收回（{time}）",
    "console.invite.link.label": "{role}的邀请链接",
    "console.invite.copy": "复制链接",
    "console.invite.copied": "已复制 ✓",
    "console.invite.copy_failed": "无法自动复制，请长按上面的链接手动复制。",
    "console.invite.enter": "进入调解室",
    "console.invite.revoke": "收回链接",
    "console.invite.revoke.ask":
      "收回后链接立即失效：{role}如在调解室中会被立即请出，也不能再用它进入。确定收回吗？",
    "console.invite.revoke.confirm": "确认收回",
    "console.invite.revoked.done": "{role}的链接已收回。",
    "console.invite.qr": "{role}可用手机扫码进入",
    "console.invite.qr.label": "{role}邀请链接的二维码",
    "console.invite.expired": "已于 {time} 过期",
    "console.invite.ended": "本场调解已结束，这个链接不能再用了。",
    "console.invite.room_ended":
      "本场调解已结束，下面的链接都已失效。如需再谈，请再开一场调解，生成新链接。",
    "console.invite.state.valid": "有效",
    "console.invite.state.expired": "已过期",
    "console.invite.state.revoked": "已收回",
    "console.invite.state.ended": "本场已结束",
    "console.invite.list.heading": "本案的全部邀请链接",
    "console.invite.list.text":
      "这里列出本案发出的每一个邀请链接：发给谁、是否还有效。链接本身只在生成时显示一次，服务器不保存，之后无法再显示。链接丢失了，请把它收回，再开一场调解，生成新链接。",
    "console.invite.list.loading": "正在加载邀请链接…",
    "console.invite.list.none": "还没有发出邀请链接。",
    "console.invite.list.none_valid": "目前没有有效的邀请链接。",
    "console.invite.list.ended_note": "结束一场调解后，那一场的链接也就不能再用了。",
    "console.invite.list.inactive": "已失效的链接（{n} 个）",

    "console.sitting.state.open": "进行中",
    "console.sitting.state.closed": "已结束",
    "console.sitting.close": "结束本次调解",
    "console.sitting.close.ask":
      "结束后调解室立即关闭：房间里的所有人都会被请出，这一场的链接全部失效。确定结束吗？",
    "console.sitting.close.confirm": "确认结束",
    "console.sitting.closed.done": "第 {n} 场调解已结束。",

    "console.record.heading": "案件记录",
    "console.record.refresh": "刷新记录",
    "console.record.audit.ok": "记录完整性校验：通过",
    "console.record.audit.bad": "记录完整性校验：未通过",
    "console.record.audit.count": "（共 {n} 条审计记录）",
    "console.record.sittings": "调解场次",
    "console.record.sittings.none": "还没有调解场次。",
    "console.record.sitting": "第 {n} 场 · 房间 {room}",
    "console.record.sitting.open": "{start} 开始",
    "console.record.sitting.closed": "{start} 至 {end}",
    "console.record.transcript": "笔录",
    "console.record.transcript.none": "还没有记录。",
    "console.record.entry.by": "{author}（{role}）",
    "console.record.note.label": "添加笔录",
    "console.record.note.placeholder": "例如：双方同意退款 3299 元，商家 3 个工作日内支付。",
    "console.record.note.submit": "添加笔录",
    "console.record.note.added": "笔录已添加。",
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

    // ---- the mediator console (console.html) ----
    "console.title": "Mediator console · Cloud mediation room",
    "console.title.case": "{number} {title} · Mediator console",
    "console.brand": "Mediator console",
    "console.user": "Mediator: {name}",
    "console.loading": "Opening the console…",
    "console.logout": "Log out",
    "console.back": "‹ Back to cases",
    "console.cancel": "Cancel",
    "console.retry": "Try again",
    "console.saving": "Saving…",

    "console.login.heading": "Mediator login",
    "console.login.text": "Log in with the account your office set up for you.",
    "console.login.username": "Username",
    "console.login.password": "Password",
    "console.login.submit": "Log in",
    "console.login.busy": "Logging in…",

    "console.err.login.required": "Enter your username and password.",
    "console.err.bad_credentials": "Wrong username or password. Please try again.",
    "console.err.not_logged_in": "Your session has ended. Please log in again.",
    "console.err.network": "Can't reach the server. Check the network and try again.",
    "console.err.internal": "The server failed. Please try again later.",
    "console.err.case_not_found": "No such case, or it belongs to another office.",
    "console.err.invitation_not_found": "No such invitation link.",
    "console.err.invalid_status_transition":
      "The case's status has changed, so that step is not possible. The page is updated: choose again.",
    "console.err.conflict": "That conflicts with the case as it is now.",
    "console.err.party.conflict": "The case has this party already.",
    "console.err.invite.conflict":
      "Add the consumer and the business first, then open a mediation.",
    "console.err.note.required": "Write the note first.",
    "console.err.invalid_payload": "Please check: {fields}",
    "console.err.detail": "Server says: {message}",
    "console.err.unknown": "That did not work (code: {code}).",
    "console.err.invalid_field": "Please check what you entered.",
    "console.err.sitting_not_found": "No such sitting.",
    "console.err.edit.invalid_status_transition":
      "The case is concluded: its details can no longer be changed.",

    "console.problem.required": "Required",
    "console.problem.too_long": "At most {n} characters",
    "console.problem.pattern": "Not in the right format",
    "console.problem.decimals": "At most two decimals (fen)",
    "console.problem.too_big": "Too large",
    "console.problem.number": "Enter a number",
    "console.problem.negative": "Can't be negative",
    "console.problem.date": "Not a valid date",
    "console.problem.choose": "Choose one from the list",
    "console.problem.future": "Can't be later than today",

    "console.field.title": "Title",
    "console.field.title.placeholder": "e.g. Refund for an air conditioner that doesn't cool",
    "console.field.category": "Category",
    "console.field.category.choose": "Choose a category",
    "console.field.claim": "Consumer's claim",
    "console.field.claim.placeholder": "e.g. Refund of 3,299 yuan",
    "console.field.amount_in_dispute": "Amount in dispute (CNY)",
    "console.field.amount.placeholder": "e.g. 3299.00",
    "console.field.received_on": "Date received",
    "console.field.complaint_number": "12315 complaint number (optional)",
    "console.field.name.consumer": "Name",
    "console.field.name.business": "Business name",
    "console.field.phone": "Mobile phone",
    "console.field.id_number": "ID card number",
    "console.field.credit_code": "Unified social credit code",
    "console.field.contact_person": "Contact person",
    "console.field.reason": "Reason (optional, kept in the case record)",
    "console.field.valid_hours": "Links valid for",
    "console.field.amount_recovered": "Amount recovered for the consumer (CNY, optional)",

    "console.category.appliances": "Household appliances",
    "console.category.prepaid": "Prepaid cards",
    "console.category.online": "Online shopping",
    "console.category.catering": "Catering",
    "console.category.beauty": "Beauty and hairdressing",
    "console.category.cars": "Cars",
    "console.category.renovation": "Home renovation",
    "console.category.education": "Education and training",
    "console.category.other": "Other",

    "console.status.received": "Received (to be accepted)",
    "console.status.accepted": "Accepted",
    "console.status.in_mediation": "In mediation",
    "console.status.settled": "Settled",
    "console.status.not_settled": "Not settled (terminated)",
    "console.status.not_accepted": "Not accepted",
    "console.status.withdrawn": "Withdrawn",

    "console.action.accepted": "Accept",
    "console.action.not_accepted": "Decline to accept",
    "console.action.withdrawn": "Record withdrawal",
    "console.action.in_mediation": "Start mediation",
    "console.action.settled": "Settled: close the case",
    "console.action.not_settled": "Not settled: terminate",

    "console.status.heading": "Status",
    "console.status.current": "Now: ",
    "console.status.final": "The case is concluded; its status can't change any more.",
    "console.status.confirm": "Change the case's status to “{status}”?",
    "console.status.confirm.button": "Confirm",
    "console.status.busy": "Changing…",
    "console.status.done": "The case's status is now “{status}”.",
    "console.status.recovered.hint": "Kept in the case's details; leave it empty if unknown.",

    "console.deadline.acceptance": "Acceptance",
    "console.deadline.mediation": "Mediation",
    "console.deadline.flag.ok": "On time",
    "console.deadline.flag.due_soon": "Due soon",
    "console.deadline.flag.overdue": "Overdue",
    "console.deadline.left": "{what}: {n} working days left (due {due})",
    "console.deadline.today": "{what}: due today ({due})",
    "console.deadline.over": "{what}: {n} working days overdue (was due {due})",
    "console.deadline.none": "Concluded: no deadline",

    "console.list.heading": "Cases",
    "console.list.new": "New case",
    "console.list.search.label": "Search",
    "console.list.search.placeholder": "Case number, title or 12315 number",
    "console.list.search.submit": "Search",
    "console.list.filter.status": "Status",
    "console.list.filter.category": "Category",
    "console.list.filter.deadline": "Deadline",
    "console.list.filter.all": "All",
    "console.list.clear": "Clear filters",
    "console.list.total": "Cases found: {total}",
    "console.list.loading": "Loading cases…",
    "console.list.empty": "No cases match.",
    "console.list.empty.none": "No cases yet. Tap “New case” to register the first complaint.",
    "console.list.amount": "In dispute: {amount}",
    "console.list.received": "Received {date}",
    "console.list.page": "Page {page} of {pages}",
    "console.list.prev": "Previous",
    "console.list.next": "Next",
    "console.list.sep": ", ",

    "console.create.heading": "New case",
    "console.create.text": "Register a consumer complaint. Fields marked * are required.",
    "console.create.submit": "Create case",
    "console.create.busy": "Creating…",
    "console.create.rules":
      "Your office's rules: decide whether to accept within {accept} working days of receipt; mediation ends if there is no agreement within {mediate} working days of acceptance.",
    "console.create.done": "Case {number} created.",

    "console.case.loading": "Opening the case…",
    "console.case.details": "Details",
    "console.case.number": "Case number",
    "console.case.complaint_number": "12315 complaint number",
    "console.case.category": "Category",
    "console.case.claim": "Consumer's claim",
    "console.case.amount": "Amount in dispute",
    "console.case.recovered": "Amount recovered",
    "console.case.received_on": "Received",
    "console.case.accepted_on": "Accepted",
    "console.case.concluded_on": "Concluded",
    "console.case.empty": "Not given",
    "console.case.not_yet": "Not yet",
    "console.case.edit": "Edit",

    "console.edit.heading": "Edit the case's details",
    "console.edit.text":
      "Only what you change is saved; every change is kept in the case's audit trail. Fields marked * are required.",
    "console.edit.submit": "Save changes",
    "console.edit.done": "The case's details are updated.",
    "console.edit.unchanged": "Nothing was changed.",

    "console.parties.heading": "Parties",
    "console.parties.reveal": "Show full details",
    "console.parties.hide": "Hide full details",
    "console.parties.masked": "Personal details are partly hidden.",
    "console.parties.revealed":
      "Full personal details are shown. Tap “Hide full details” when done.",
    "console.parties.missing": "No {role} yet.",
    "console.parties.add.consumer": "Add the consumer",
    "console.parties.add.business": "Add the business",
    "console.parties.added": "{role} added: {name}",

    "console.invite.heading": "Remote mediation",
    "console.invite.text":
      "Opening a mediation starts a new sitting and issues three personal links: mediator, consumer and business. Each link is for the person who receives it and can be withdrawn at any time.",
    "console.invite.open": "Open a mediation (issue invitations)",
    "console.invite.again": "Open another sitting (new links)",
    "console.invite.busy": "Issuing links…",
    "console.invite.needs_parties": "Add the consumer and the business before opening a mediation.",
    "console.invite.closed": "The case is concluded; no new mediation can be opened.",
    "console.invite.hours": "{n} hours",
    "console.invite.days": "{n} days",
    "console.invite.issued": "Three invitation links issued.",
    "console.invite.current": "Links for this sitting (room {room})",
    "console.invite.room": "Room {room}",
    "console.invite.older": "Earlier links ({n} sittings)",
    "console.invite.not_kept":
      "The links are shown this once and kept in this browser tab only. Send the consumer and the business their links now (copy them into an SMS or WeChat, or let them scan the code). A lost link can't be found again: open another sitting to issue new links.",
    "console.invite.expires": "Valid until {time}",
    "console.invite.revoked": "Withdrawn ({time})",
    "console.invite.link.label": "The {role}'s invitation link",
    "console.invite.copy": "Copy link",
    "console.invite.copied": "Copied ✓",
    "console.invite.copy_failed":
      "Couldn't copy automatically: press and hold the link above to copy it.",
    "console.invite.enter": "Enter the room",
    "console.invite.revoke": "Withdraw link",
    "console.invite.revoke.ask":
      "The link stops working at once: the {role} is put out of the room if inside, and can't enter with it again. Withdraw it?",
    "console.invite.revoke.confirm": "Withdraw",
    "console.invite.revoked.done": "The {role}'s link has been withdrawn.",
    "console.invite.qr": "{role}: scan with a phone to enter",
    "console.invite.qr.label": "QR code of the {role}'s invitation link",
    "console.invite.expired": "Expired {time}",
    "console.invite.ended": "This sitting has ended: the link no longer works.",
    "console.invite.room_ended":
      "This sitting has ended: the links below no longer work. To talk again, open another sitting to issue new links.",
    "console.invite.state.valid": "Valid",
    "console.invite.state.expired": "Expired",
    "console.invite.state.revoked": "Withdrawn",
    "console.invite.state.ended": "Sitting ended",
    "console.invite.list.heading": "All of this case's invitations",
    "console.invite.list.text":
      "Every invitation link issued for this case: whom it is for and whether it still works. A link is shown only once, when it is issued; the server does not keep it, so it can't be shown again. If a link is lost, withdraw it and open another sitting to issue new links.",
    "console.invite.list.loading": "Loading the invitations…",
    "console.invite.list.none": "No invitations issued yet.",
    "console.invite.list.none_valid": "No invitation is valid now.",
    "console.invite.list.ended_note": "When a sitting ends, its links stop working too.",
    "console.invite.list.inactive": "Links no longer valid ({n})",

    "console.sitting.state.open": "Open",
    "console.sitting.state.closed": "Ended",
    "console.sitting.close": "End this sitting",
    "console.sitting.close.ask":
      "The room closes at once: everyone in it is put out and this sitting's links stop working. End it?",
    "console.sitting.close.confirm": "End it",
    "console.sitting.closed.done": "Sitting {n} has ended.",

    "console.record.heading": "Case record",
    "console.record.refresh": "Refresh",
    "console.record.audit.ok": "Record integrity check: passed",
    "console.record.audit.bad": "Record integrity check: FAILED",
    "console.record.audit.count": " ({n} audit events)",
    "console.record.sittings": "Sittings",
    "console.record.sittings.none": "No sittings yet.",
    "console.record.sitting": "Sitting {n} · room {room}",
    "console.record.sitting.open": "Started {start}",
    "console.record.sitting.closed": "{start} to {end}",
    "console.record.transcript": "Transcript",
    "console.record.transcript.none": "Nothing recorded yet.",
    "console.record.entry.by": "{author} ({role})",
    "console.record.note.label": "Add a note",
    "console.record.note.placeholder":
      "e.g. Both agree to a refund of 3,299 yuan, paid within 3 working days.",
    "console.record.note.submit": "Add note",
    "console.record.note.added": "Note added.",
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
