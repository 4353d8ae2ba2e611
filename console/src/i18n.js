// Chinese first, English second: the console's own words; the API's titles ("已派单 / dispatched")
// are split by pick(). Element Plus gets its zh-cn or en locale from App.vue.
import { ref } from "vue";

export const locale = ref(localStorage.getItem("citybrain.console.locale") || "zh-CN");

export function toggleLocale() {
  locale.value = locale.value === "zh-CN" ? "en" : "zh-CN";
  localStorage.setItem("citybrain.console.locale", locale.value);
  document.documentElement.lang = locale.value;
}

const WORDS = {
  "app.title": ["城市大脑 · 工单工作台", "City Brain · case console"],
  "nav.inbox": ["我的待办", "My inbox"],
  "nav.cases": ["工单查询", "Find cases"],
  "nav.new": ["来电登记", "Register a call"],
  "nav.dispatch": ["派遣台", "Dispatch"],
  "auth.title": ["工单工作台登录", "Sign in to the case console"],
  "auth.username": ["用户名", "Username"],
  "auth.password": ["密码", "Password"],
  "auth.code": ["动态口令(如已绑定)", "One-time code (if enrolled)"],
  "auth.submit": ["登录", "Sign in"],
  "auth.signout": ["退出", "Sign out"],
  "lang.switch": ["English", "中文"],
  "list.empty": ["暂无工单", "No cases"],
  "list.refresh": ["刷新", "Refresh"],
  "list.keys": ["↑↓ 选择,Enter 打开", "↑↓ to move, Enter to open"],
  "col.id": ["工单编号", "Case"],
  "col.title": ["标题", "Title"],
  "col.type": ["类型", "Type"],
  "col.category": ["类别", "Category"],
  "col.state": ["状态", "State"],
  "col.department": ["承办单位", "Department"],
  "col.due": ["办结期限", "Due"],
  "col.step_due": ["环节期限", "Step due"],
  "col.opened": ["受理时间", "Opened"],
  "col.area": ["区域 / 网格", "Area / grid"],
  "filter.text": ["关键字(标题、内容)", "Text (title, fields)"],
  "filter.type": ["类型", "Type"],
  "filter.state": ["状态", "State"],
  "filter.department": ["承办单位", "Department"],
  "filter.area": ["区划或网格代码", "Area or grid code"],
  "filter.category": ["类别", "Category"],
  "filter.open": ["仅未办结", "Open only"],
  "filter.overdue": ["仅超期", "Overdue only"],
  "filter.search": ["查询", "Search"],
  "filter.reset": ["重置", "Reset"],
  "case.back": ["返回", "Back"],
  "case.fields": ["诉求信息", "Details"],
  "case.timeline": ["办理过程", "Timeline"],
  "case.actions": ["办理操作", "Actions"],
  "case.no_actions": ["当前无可执行的操作", "Nothing for you to do here now"],
  "case.map": ["位置", "Location"],
  "case.no_location": ["无坐标", "No coordinates"],
  "case.grid": ["单元网格", "Unit grid"],
  "case.note": ["备注(可选)", "Note (optional)"],
  "case.submit": ["提交", "Submit"],
  "case.cancel": ["取消", "Cancel"],
  "case.done": ["已提交", "Done"],
  "case.stale": ["工单已被他人更新,已重新载入:", "The case changed meanwhile and was reloaded: "],
  "case.assumed": ["期限按工作日推定(日历未覆盖)", "Deadline assumes weekdays (beyond the calendar)"],
  "sla.paused": ["计时暂停", "SLA paused"],
  "sla.left": ["剩余", "left"],
  "sla.over": ["已超时", "overdue by"],
  "sla.closed_on_time": ["按期办结", "closed on time"],
  "sla.closed_late": ["超期办结", "closed late"],
  "sla.none": ["无期限", "no deadline"],
  "new.title": ["12345 来电登记", "Register a 12345 call"],
  "new.type": ["工单类型", "Case type"],
  "new.category": ["诉求类别", "Appeal kind"],
  "new.subject": ["标题", "Title"],
  "new.description": ["诉求内容", "What the caller says"],
  "new.name": ["来电人", "Caller's name"],
  "new.phone": ["联系电话", "Phone"],
  "new.address": ["地址", "Address"],
  "new.area": ["区划或网格代码", "Area or unit-grid code"],
  "new.lon": ["经度", "Longitude"],
  "new.lat": ["纬度", "Latitude"],
  "new.submit": ["登记", "Register"],
  "new.created": ["已登记,办结期限", "Registered; due"],
  "dispatch.title": ["待派遣工单", "Cases to dispatch"],
  "dispatch.to": ["派往", "To"],
  "dispatch.go": ["派单", "Dispatch"],
  "dispatch.suggested": ["按派遣规则:", "By the routing rules:"],
  "dispatch.merges": ["疑似重复(建议并单)", "Suggested merges (likely duplicates)"],
  "dispatch.merge": ["并入该单", "Merge into this"],
  "dispatch.none": ["无疑似重复", "No likely duplicates"],
  "dispatch.distance": ["相距", "apart"],
  "field.department": ["承办单位", "Department"],
  "field.reason": ["原因", "Reason"],
  "field.question": ["需补充的内容", "What the citizen should add"],
  "field.answer": ["群众补充的内容", "What the citizen added"],
  "field.reply": ["答复内容", "Reply"],
  "field.satisfaction": ["满意度", "Satisfaction"],
  "field.score": ["评分", "Score"],
  "field.master": ["主工单编号", "Master case"],
  "field.text": ["备注内容", "Note"],
  "field.contact_note": ["联系情况", "Contact note"],
  "field.result": ["核查结果", "Check result"],
  "field.description": ["诉求内容", "Description"],
  "field.name": ["来电人", "Caller"],
  "field.phone": ["联系电话", "Phone"],
  "field.address": ["地址", "Address"],
  "field.status_note": ["状态说明", "Status note"],
  "field.photos": ["照片", "Photos"],
};

export function t(key) {
  const w = WORDS[key];
  if (!w) return key;
  return locale.value === "zh-CN" ? w[0] : w[1];
}

/** "已派单 / dispatched" -> the part for the current locale. */
export function pick(title) {
  if (!title) return "";
  const [zh, en] = String(title).split(" / ");
  return locale.value === "zh-CN" || !en ? zh : en;
}
