// One table of Chinese names for the audit trail's codes, shared by the auditor's page (browser) and
// the server's exports (CSV, XLSX, the PDF summary): what the page shows is what the file says.
// A code not in the table is shown as it is (a new action must never disappear from a report).

export const ACTION_LABELS = {
  'auth.login': '登录',
  'auth.logout': '退出登录',
  'auth.lockout': '账户锁定',
  'auth.password.change': '修改密码',
  'auth.setup': '初始设置（建立三员账户）',
  'auth.setup-token': '生成初始设置令牌',
  'auth.csrf': '请求校验失败（CSRF）',
  'authz.denied': '越权访问被拒绝',
  'user.create': '新建账户',
  'user.disable': '停用账户',
  'user.enable': '启用账户',
  'user.unlock': '解锁账户',
  'user.password.reset': '重置密码',
  'user.roles': '变更角色',
  'user.access': '变更岗位与密级',
  'post.create': '新建岗位',
  'post.update': '修改岗位',
  'post.disable': '停用岗位',
  'item.search': '检索',
  'item.view': '查看条目',
  'item.page.view': '查看页面',
  'item.download': '下载 PDF',
  'item.edit': '修改著录信息',
  'item.sharing': '批量设置共享范围',
  'item.reocr': '重新识别完成',
  'item.reocr.request': '申请重新识别',
  'ingest.submit': '提交采集',
  'ingest.job.start': '采集任务开始',
  'ingest.job.done': '采集任务结束',
  'ingest.item': '条目归档',
  'ingest.refused': '拒绝归档',
  'ingest.quarantine': '隔离染毒文件',
  'search.reindex': '重建检索索引',
  'search.compact': '压缩检索索引文件',
  'federation.invite': '签发联合检索邀请',
  'federation.join': '加入联合检索单位',
  'federation.remove': '移除联合检索单位',
  'federation.peers.view': '查看联合检索单位',
  'federation.search.answer': '应答其他单位的联合检索',
  'federation.credential.issue': '向其他单位发放检索凭据',
  'federation.endpoint.deny': '拒绝联合检索端点的请求',
  'sharing.policy': '修改联合检索共享策略',
  'audit.read': '查阅审计记录',
  'audit.verify': '校验审计链',
  'audit.export': '导出审计记录',
  'audit.summary': '打印审计汇总',
  'integrity.check': '完整性检测（四性检测）',
  'integrity.print': '打印四性检测报告',
  'backup.create': '创建备份',
  'backup.verify': '校验备份',
  'backup.restore': '恢复备份',
  'signatures.import': '导入病毒特征库',
  'selfcheck.run': '隔离自检',
  'departments.update': '修改机构名称表',
  'audit.resume': '续接审计链（新验证密钥）',
  'audit.seal.key.view': '查看审计验证密钥',
  'audit.seal.key.taken': '确认已取走验证密钥',
  'auth.denied.folded': '未登录请求被拒（按来源与分钟合并）',
  'auth.required': '未登录访问被拒',
  'auth.session.address-mismatch': '会话来自另一地址，已结束',
  'backup.prune': '清理过期的定时备份',
  'backup.recipient.add': '登记备份接收公钥',
  'demo.setup': '演示模式初始化',
  'ingest.file-refused': '拒绝链接或特殊文件',
  'ingest.job.events': '查看采集任务进度（实时）',
  'ingest.job.list': '查看采集任务列表',
  'ingest.job.view': '查看采集任务',
  'integrity.view': '查阅四性检测报告',
  'item.list': '查看条目列表',
  'item.text.view': '查阅全文',
  'user.password.reset.confirm': '确认密码重置',
};

export const OUTCOME_LABELS = {
  success: '成功',
  failure: '失败',
  denied: '拒绝',
  refused: '已拒绝',
};

export const ROLE_LABELS = {
  staff: '查阅人员',
  archivist: '档案员',
  sysadmin: '系统管理员',
  secadmin: '安全保密管理员',
  auditor: '安全审计员',
  console: '控制台',
  system: '系统',
};

/** Names of the keys found in records' details. */
export const DETAIL_LABELS = {
  q: '检索词',
  total: '结果数',
  year: '年度',
  fonds: '全宗',
  department: '机构',
  retention: '保管期限',
  offset: '起始位置',
  sort: '排序',
  from: '起',
  to: '止',
  actor: '操作人',
  filterAction: '操作筛选',
  filterOutcome: '结果筛选',
  records: '记录数',
  format: '格式',
  offsetRecords: '翻页位置',
  error: '错误代码',
  code: '错误代码',
  message: '说明',
  reason: '原因',
  method: '请求方法',
  permission: '所需权限',
  path: '路径',
  job: '任务',
  via: '来源方式',
  items: '条目',
  label: '名称',
  archivalCode: '档号',
  title: '题名',
  pages: '页数',
  page: '页码',
  itemId: '条目',
  file: '文件',
  files: '文件数',
  signature: '病毒特征',
  classification: '密级',
  ceiling: '本机密级上限',
  mustChangePassword: '须修改密码',
  roles: '角色',
  before: '变更前',
  after: '变更后',
  posts: '岗位',
  clearance: '密级',
  name: '名称',
  counts: '统计',
  scan: '病毒扫描',
  auditOk: '审计链完好',
  gaps: '件号缺口',
  untrackedPaths: '未登记路径',
  problems: '问题',
  problemCount: '问题数',
  firstBroken: '首个断点',
  chainOk: '审计链完好',
  backupId: '备份号',
  parentId: '基于',
  bytes: '字节数',
  included: '包含条目',
  ms: '用时（毫秒）',
  status: '状态',
  engine: '引擎',
  version: '版本',
  replaced: '替换',
  failures: '失败数',
  minutes: '分钟',
  seq: '序号',
  archived: '已归档',
  quarantined: '已隔离',
  duplicate: '重复',
  refused: '已拒绝',
  failed: '失败',
  ok: '正常',
  changed: '被改动',
  missing: '缺失',
  untracked: '未登记',
  unusable: '不可用',
  unsafe: '不安全',
  upload: '上传',
  cli: '命令行',
  inbox: '监视文件夹',
  reocr: '重新识别',
};

export function actionLabel(code) {
  return Object.prototype.hasOwnProperty.call(ACTION_LABELS, code) ? ACTION_LABELS[code] : String(code ?? '');
}

export function outcomeLabel(code) {
  return Object.prototype.hasOwnProperty.call(OUTCOME_LABELS, code) ? OUTCOME_LABELS[code] : String(code ?? '');
}

/** 'secadmin' → 安全保密管理员; 'staff+archivist' → 查阅人员、档案员; '-' stays '-'. */
export function roleText(role) {
  if (!role || role === '-') return '-';
  return String(role)
    .split('+')
    .map((r) => (Object.prototype.hasOwnProperty.call(ROLE_LABELS, r) ? ROLE_LABELS[r] : r))
    .join('、');
}

export function detailLabel(key) {
  return Object.prototype.hasOwnProperty.call(DETAIL_LABELS, key) ? DETAIL_LABELS[key] : String(key);
}

const VALUE_WORDS = { true: '是', false: '否', null: '—' };

/** Coded values of a few keys (never of free text such as a query or a user name). */
const VALUE_LABELS = {
  status: { ok: '正常', changed: '被改动', missing: '缺失', untracked: '未登记', unusable: '不可用', unsafe: '不安全' },
  via: { upload: '网页上传', cli: '命令行', inbox: '监视文件夹', reocr: '重新识别' },
  reason: { 'above-ceiling': '密级高于本机上限' },
  kind: { full: '完整', incremental: '增量' },
  format: { csv: 'CSV', xlsx: 'Excel（XLSX）', jsonl: 'JSONL' },
};

const OUTCOME_LABELS_BY_KEY = { outcome: OUTCOME_LABELS };

/** A detail's value as one line of text: lists joined with 、, objects as 名称：值 pairs. */
export function detailValue(v, depth = 0, key = '') {
  if (v === null || v === undefined) return VALUE_WORDS.null;
  if (typeof v === 'boolean') return VALUE_WORDS[String(v)];
  if (typeof v === 'string') {
    const named = Object.prototype.hasOwnProperty.call(VALUE_LABELS, key) ? VALUE_LABELS[key] : OUTCOME_LABELS_BY_KEY[key];
    return named && Object.prototype.hasOwnProperty.call(named, v) ? named[v] : v;
  }
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v)) return v.length ? v.map((x) => detailValue(x, depth + 1, key)).join('、') : '无';
  if (typeof v === 'object') {
    if (depth > 2) return JSON.stringify(v);
    const parts = Object.entries(v).map(([k, x]) => `${detailLabel(k)}：${detailValue(x, depth + 1, k)}`);
    return parts.length ? `（${parts.join('，')}）` : '—';
  }
  return String(v);
}

/** The details of a record as [名称, 值] pairs in the record's own order. */
export function detailPairs(details) {
  if (!details || typeof details !== 'object') return [];
  return Object.entries(details)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => [detailLabel(k), detailValue(v, 0, k)]);
}

/** The details as one line: 检索词：机构编制；结果数：3. */
export function detailsText(details) {
  return detailPairs(details)
    .map(([k, v]) => `${k}：${v}`)
    .join('；');
}
