// UI words in Chinese (default) and English. Messages from the server stay as the server wrote
// them (Chinese, with a stable code): they are what the people here act on.
const zh = {
  appName: '档案检索一体机',
  login: '登录', logout: '退出', username: '用户名', password: '密码', displayName: '姓名',
  loginTitle: '登录档案检索一体机', language: 'English',
  setupTitle: '初始设置：建立三员账户', setupIntro: '首次启动时，服务器控制台会显示一次性“初始设置令牌”。用它依次建立系统管理员、安全保密管理员和安全审计员三个账户（三人分立）。',
  setupToken: '初始设置令牌', role: '角色', createAdmin: '建立账户', setupDone: '已建立账户：{name}', setupVacant: '尚缺：{roles}',
  mustChange: '首次登录或密码被重置，请先修改密码。', currentPassword: '当前密码', newPassword: '新密码', repeatPassword: '再次输入新密码', changePassword: '修改密码', passwordMismatch: '两次输入的新密码不一致。',
  navSearch: '检索', navIngest: '采集', navCatalogue: '著录', navSystem: '系统', navSecurity: '岗位与密级', navAudit: '审计',
  searchPlaceholder: '输入关键词（如：机构编制），按 / 键聚焦', searchLabel: '检索档案', resultsCount: '共 {total} 件，第 {from}–{to} 件', noResults: '没有找到符合条件的档案。', searching: '检索中…',
  facetYear: '年度', facetFonds: '全宗', facetDepartment: '机构', facetRetention: '保管期限', clearFilters: '清除筛选',
  archivalCode: '档号', title: '题名', year: '年度', pagesMatched: '命中页：{pages}', page: '第 {n} 页', prev: '上一页', next: '下一页', prevPage: '上一页', nextPage: '下一页',
  docNumber: '文号', responsible: '责任者', date: '日期', classification: '密级', retention: '保管期限', fonds: '全宗号', department: '机构', posts: '岗位', pageCount: '页数',
  downloadPdf: '下载 PDF', backToResults: '返回检索结果', recognisedText: '识别文字', pageOf: '第 {n} / {total} 页', hitsOnPage: '本页命中 {n} 处', keysViewer: '← → 翻页，Esc 返回',
  ingestTitle: '批量上传', dropHere: '把扫描文件或整个文件夹拖到这里', chooseFiles: '选择文件', chooseFolder: '选择文件夹', csvFile: 'CSV 清单（可选）', demoBanner: '演示模式：临时数据，仅装有 ClamAV 测试特征库（不是真实病毒库），停止后全部删除。请勿导入真实档案。', csvTemplate: '下载 CSV 清单模板', csvTemplateHint: '（Excel、WPS 可直接打开；表头勿改，每行一件）', postsField: '岗位（逗号分隔）', upload: '开始上传', uploading: '上传中 {pct}%', selected: '已选 {n} 个文件，{items} 件', clearSelection: '清空',
  jobsTitle: '任务', live: '实时进度', pagesPerMin: '{v} 页/分钟', eta: '预计剩余 {v}', jobState: { queued: '排队', running: '处理中', waiting: '等待', done: '完成', partial: '部分失败', failed: '失败' },
  stage: { received: '已接收', scanned: '已查毒', ocr: '识别中', assembled: '已生成 PDF', stored: '已入库', indexed: '已索引', done: '完成' },
  outcome: { pending: '处理中', archived: '已归档', quarantined: '已隔离', duplicate: '重复', refused: '已拒绝', failed: '失败' },
  failures: '失败与原因', problems: '未能接收的文件', noJobs: '还没有任务。', itemsFinished: '{done}/{total} 件', pagesDone: '{done}/{total} 页', hiddenItems: '另有 {n} 件无权查看', reocrOf: '重新识别：{item}', sessionEnded: '会话已失效，请重新登录。',
  pendingTitle: '待著录', pendingNote: '以下条目导入时没有著录信息，题名暂取自文件名或文件夹名；保存著录后即从此列表移除。', pendingNone: '没有待著录的条目。', batch: '批次', zoomIn: '放大', zoomOut: '缩小', zoomFit: '适合宽度', thumbnails: '页面缩略图',
  catalogueTitle: '条目著录', edit: '编辑', save: '保存', saved: '已保存。', lowConfidence: '识别可信度低，请复核', confidence: '可信度', reviewPages: '需复核的页', reocr: '重新识别', reocrQueued: '已提交重新识别任务 {job}，进度见“采集”页。', reocrNote: '用原件重新识别文字，替换页面图像、识别文字与 PDF；档号等著录信息不变。',
  systemTitle: '系统管理', accounts: '账户', createUser: '新建账户', roles: '角色', disabled: '已停用', enabled: '正常', disable: '停用', enable: '启用', resetPassword: '重置密码', health: '服务状态', backups: '备份', disk: '磁盘', diskUse: '磁盘使用', free: '可用', used: '已用', refresh: '刷新',
  securityTitle: '岗位与密级', postsTitle: '岗位', createPost: '新建岗位', code: '代码', name: '名称', assign: '授予岗位与密级', clearance: '密级', apply: '应用', signatures: '病毒特征库',
  sealTitle: '审计封印', sealKeyWaiting: '待取走的验证密钥', sealKeyIntro: '本机为审计记录的封印生成了验证密钥（指纹 {id}，生成于 {time}）。请抄录或打印下面的文本与二维码，离开本机保管（打印后封存，或存入移动介质）。持有它才能证明审计记录未被改动；本机只保留向前演化的封印密钥。确认取走后，本机上的验证密钥文件即被删除，之后无法再从本机取得。', sealKeyPrint: '打印', sealKeyTaken: '我已取走验证密钥，删除本机副本', sealKeyConfirm: '确认已把验证密钥抄录或打印并带离本机？删除后本机不再保留。', sealKeyErased: '已删除本机上的验证密钥（指纹 {id}）。请妥善保管您带走的副本。', sealKeyNone: '本机没有待取走的验证密钥（已由安全审计员取走，本机不留副本）。', sealQrAlt: '验证密钥二维码', sealVerifyTitle: '用验证密钥核验封印', sealPaste: '粘贴验证密钥（可含多把，每把一行）', sealVerify: '核验封印', sealFromFile: '或从移动介质读取密钥文件', sealOk: '✓ 审计链与封印核验通过', sealBad: '✗ 核验失败',
  auditTitle: '审计记录', actor: '操作人', action: '操作', target: '对象', outcome2: '结果', time: '时间', source: '来源', from: '起', to: '止', filter: '筛选', export: '导出', chain: '审计链', chainOk: '完整：{n} 条记录', chainBroken: '断裂：自第 {n} 条起', searchActivity: '检索次数（每小时）',
  ingestRate: '采集速度（页/小时）', queueLength: '队列长度（未完成任务）', ok: '正常', degraded: '降级', down: '故障',
  componentNames: { meilisearch: '检索引擎', clamd: '病毒扫描', disk: '磁盘', ocrData: 'OCR 语言数据', selfcheck: '隔离自检' }, componentCol: '组件', statusCol: '状态', reasonCol: '说明',
  roleNames: { staff: '查阅人员', archivist: '档案员', sysadmin: '系统管理员', secadmin: '安全保密管理员', auditor: '安全审计员' },
  retentionNames: { Y: '永久', D30: '定期30年', D10: '定期10年' },
  backupConsoleNote: '备份加密给安全保密管理员登记的接收公钥、由本机签名：系统管理员能做备份、能校验其结构与签名，但打不开它。解密校验与恢复须安全保密管理员的私钥，在控制台运行 archive backup verify / restore --identity。', backupOut: '备份文件（移动介质上的完整路径）', backupRecipients: '接收公钥', backupNoRecipients: '尚未登记接收公钥：请安全保密管理员先登记（archive backup recipients add），之前不能备份。', backupSigner: '本机签名公钥', backupSchedule: '定时备份', backupScheduleOff: '未开启（backup.schedule、backup.target）', backupLastGood: '上次成功', backupLastRun: '上次运行', backupNever: '尚无', backupFull: '完整备份', backupIncrementalFrom: '增量，基于', backupRun: '开始备份', backupVerify: '校验备份', backupVerifyFiles: '要校验的备份文件（可多个，以空格分隔）', backupRunning: '进行中（{who} 发起）', backupDone: '备份完成：{id} → {file}，{items} 个条目，{size}', backupVerified: '结构与签名完好（未解密，内容须安全保密管理员校验）：{list}', noBackups: '本机尚无备份记录。', backupKind: '类型', backupId: '备份号', backupParent: '基于', backupItems: '条目数', backupSize: '大小', backupFile: '文件', backupKinds: { full: '完整', incremental: '增量' },
  integrityTitle: '完整性检测（四性检测）', integrityRun: '立即检测', integrityRunning: '正在检测，请稍候…', integrityOk: '全部正常', integrityBad: '发现问题', integrityRanAt: '检测时间 {time}，用时 {ms} 毫秒', integrityTotal: '条目总数', integrityItem: '条目', integrityStatusCol: '状态', integrityProblems: '问题', integrityNoItemProblems: '所有条目均正常。', integrityAllProblems: '全部问题（{n}）',
  integrityStatus: { ok: '正常', changed: '被改动', missing: '缺失', untracked: '未登记', unusable: '不可用', unsafe: '不安全' }, integrityAspects: { authenticity: '真实性', completeness: '完整性', usability: '可用性', security: '安全性' },
  signaturesDown: '病毒扫描服务不可用。', signatureEngine: '引擎版本', signatureVersion: '特征库版本', signatureDate: '特征库日期', signatureAge: '已有天数', signatureStale: '病毒特征库已 {days} 天未更新（上限 {max} 天），请尽快导入新特征库。', signatureImportNote: '导入特征库请在控制台运行 archive signatures import 路径（特征文件不经过浏览器）。',
  exportCsv: '导出 CSV', exportXlsx: '导出 Excel', exportJsonl: '导出 JSONL', printPdf: '打印/导出PDF', auditAll: '全部', auditDetails: '详情', auditCount: '共 {total} 条，第 {from}–{to} 条（新的在前）', auditNewer: '较新', auditOlder: '较早', noArchivalCode: '（无档号）',
  sortLabel: '排序', sortNames: { relevance: '相关度', date: '日期（新的在前）', archivalCode: '档号' },
  departmentsTitle: '机构代码与名称', departmentsNote: '检索页的“机构”筛选显示此处的名称；没有名称的代码照原样显示。', departmentCode: '机构代码', departmentName: '名称', addDepartment: '添加一行', saveDepartments: '保存',
  sessionLost: '会话已失效，请重新登录。',
  locked: '已锁定', unlock: '解锁', unlocked: '已解锁：{name}', lockedUntil: '锁定至 {time}', consoleOnly: '（三员账户由对应管理员或在控制台处理）',
  mustChangeFlag: '⚑', mustChangeTip: '须在下次登录时修改密码（新账户或密码被重置）', legendMustChange: '⚑ 表示该账户须在下次登录时修改密码。',
  resetPending: '待确认重置', resetPendingTip: '密码已由 {by} 于 {time} 重置，查阅权限须待安全保密管理员确认', resetDialogTitle: '重置密码：{name}', resetDialogNote: '重置后该账户须在登录时自行修改密码；其查阅、采集权限须待安全保密管理员确认此次重置后恢复。', cancel: '取消', resetDone: '已重置 {name} 的密码，待安全保密管理员确认。',
  resetNoticeTitle: '您的密码已被重置', resetNotice: '您的密码已由管理员（{by}）于 {time} 重置。查阅、下载与采集档案的权限须待安全保密管理员确认此次重置后恢复。确认前您只能修改自己的密码。', resetNoticeWaiting: '您已设置了自己的密码。查阅、下载与采集档案的权限须待安全保密管理员确认此次重置后恢复，请联系安全保密管理员。',
  resetsTitle: '待确认的密码重置', noResets: '没有待确认的密码重置。', confirmReset: '确认重置', confirmed: '已确认 {name} 的密码重置。', resetBy: '重置人', resetAt: '重置时间', ownerChanged: '本人已改密', yes: '是', no: '否',
  rename: '改名', postDisabled: '已停用', postEnabled: '启用中', disablePost: '停用', enablePost: '启用', postSaved: '岗位 {code} 已更新。', postsNote: '岗位不能删除：停用后不能再授予账户或新条目，已有条目不变。',
  aboveCeiling: '（高于本机上限 {ceiling}）', filingPosts: '另可归档岗位', filingNote: '档案员只能向所在岗位归档；此处授予的岗位也可归档。',
  networkError: '无法连接到一体机服务，请检查网络后重试。', notFound: '页面不存在。',
};

const en = {
  appName: 'Archive Appliance',
  login: 'Log in', logout: 'Log out', username: 'User name', password: 'Password', displayName: 'Full name',
  loginTitle: 'Log in to the archive appliance', language: '中文',
  setupTitle: 'First start: create the three administrators', setupIntro: 'At first start the server console prints a one-time setup token. Use it to create the system administrator, the security administrator and the security auditor (three separate people).',
  setupToken: 'Setup token', role: 'Role', createAdmin: 'Create account', setupDone: 'Account created: {name}', setupVacant: 'Still needed: {roles}',
  mustChange: 'First login or password reset: change your password first.', currentPassword: 'Current password', newPassword: 'New password', repeatPassword: 'Repeat new password', changePassword: 'Change password', passwordMismatch: 'The two new passwords differ.',
  navSearch: 'Search', navIngest: 'Ingest', navCatalogue: 'Catalogue', navSystem: 'System', navSecurity: 'Posts & clearance', navAudit: 'Audit',
  searchPlaceholder: 'Type keywords; press / to focus', searchLabel: 'Search the archive', resultsCount: '{total} items, {from}–{to}', noResults: 'No matching items.', searching: 'Searching…',
  facetYear: 'Year', facetFonds: 'Fonds', facetDepartment: 'Office', facetRetention: 'Retention', clearFilters: 'Clear filters',
  archivalCode: 'Reference code', title: 'Title', year: 'Year', pagesMatched: 'Pages: {pages}', page: 'Page {n}', prev: 'Previous', next: 'Next', prevPage: 'Previous page', nextPage: 'Next page',
  docNumber: 'Document no.', responsible: 'Author', date: 'Date', classification: 'Classification', retention: 'Retention', fonds: 'Fonds', department: 'Office', posts: 'Posts', pageCount: 'Pages',
  downloadPdf: 'Download PDF', backToResults: 'Back to results', recognisedText: 'Recognised text', pageOf: 'Page {n} of {total}', hitsOnPage: '{n} hits on this page', keysViewer: '← → turn pages, Esc back',
  ingestTitle: 'Batch upload', dropHere: 'Drop scans or a whole folder here', chooseFiles: 'Choose files', chooseFolder: 'Choose folder', csvFile: 'CSV manifest (optional)', demoBanner: 'Demo mode: throwaway data, ClamAV test signatures only (not real virus signatures), all deleted when stopped. Do not ingest real archives.', csvTemplate: 'Download the CSV manifest template', csvTemplateHint: '(opens in Excel and WPS; keep the headers, one item per row)', postsField: 'Posts (comma separated)', upload: 'Upload', uploading: 'Uploading {pct}%', selected: '{n} files selected, {items} items', clearSelection: 'Clear',
  jobsTitle: 'Jobs', live: 'Live progress', pagesPerMin: '{v} pages/min', eta: 'ETA {v}', jobState: { queued: 'queued', running: 'running', waiting: 'waiting', done: 'done', partial: 'partly failed', failed: 'failed' },
  stage: { received: 'received', scanned: 'virus-checked', ocr: 'OCR', assembled: 'PDF built', stored: 'stored', indexed: 'indexed', done: 'done' },
  outcome: { pending: 'in progress', archived: 'archived', quarantined: 'quarantined', duplicate: 'duplicate', refused: 'refused', failed: 'failed' },
  failures: 'Failures and reasons', problems: 'Files not accepted', noJobs: 'No jobs yet.', itemsFinished: '{done}/{total} items', pagesDone: '{done}/{total} pages', hiddenItems: '{n} more items you may not see', reocrOf: 'Re-OCR: {item}', sessionEnded: 'Your session has ended; please log in again.',
  pendingTitle: 'To catalogue', pendingNote: 'These items arrived without catalogue data; their title is the file or folder name until saved.', pendingNone: 'Nothing to catalogue.', batch: 'Batch', zoomIn: 'Zoom in', zoomOut: 'Zoom out', zoomFit: 'Fit width', thumbnails: 'Page thumbnails',
  catalogueTitle: 'Catalogue', edit: 'Edit', save: 'Save', saved: 'Saved.', lowConfidence: 'Low OCR confidence: please review', confidence: 'Confidence', reviewPages: 'Pages to review', reocr: 'Re-OCR', reocrQueued: 'Re-OCR job {job} queued; follow it on the Ingest page.', reocrNote: 'Reads the originals again and replaces page images, text and PDF; catalogue data stays.',
  systemTitle: 'System administration', accounts: 'Accounts', createUser: 'New account', roles: 'Roles', disabled: 'disabled', enabled: 'active', disable: 'Disable', enable: 'Enable', resetPassword: 'Reset password', health: 'Service health', backups: 'Backups', disk: 'Disk', diskUse: 'Disk use', free: 'free', used: 'used', refresh: 'Refresh',
  securityTitle: 'Posts and clearances', postsTitle: 'Posts', createPost: 'New post', code: 'Code', name: 'Name', assign: 'Assign posts and clearance', clearance: 'Clearance', apply: 'Apply', signatures: 'Virus signatures',
  sealTitle: 'Audit seals', sealKeyWaiting: 'Verification key to take away', sealKeyIntro: 'The appliance generated the verification key of the audit seals (key id {id}, created {time}). Copy or print the text and QR code below and keep them off this machine. Once you confirm, the key file on the appliance is erased for good.', sealKeyPrint: 'Print', sealKeyTaken: 'I have taken the key away: erase it here', sealKeyConfirm: 'Have you copied or printed the verification key and taken it off the machine? It will be erased here.', sealKeyErased: 'Verification key {id} erased from the appliance.', sealKeyNone: 'No verification key waiting (taken away by the auditor; none kept here).', sealQrAlt: 'Verification key QR code', sealVerifyTitle: 'Verify the seals with the key', sealPaste: 'Paste the verification key(s), one per line', sealVerify: 'Verify seals', sealFromFile: 'or read the key file from removable media', sealOk: '✓ Chain and seals verified', sealBad: '✗ Verification failed',
  auditTitle: 'Audit trail', actor: 'Who', action: 'What', target: 'Target', outcome2: 'Outcome', time: 'When', source: 'From', from: 'From', to: 'To', filter: 'Filter', export: 'Export', chain: 'Audit chain', chainOk: 'intact: {n} records', chainBroken: 'broken from record {n}', searchActivity: 'Searches per hour',
  ingestRate: 'Ingest rate (pages/hour)', queueLength: 'Queue length (open jobs)', ok: 'OK', degraded: 'degraded', down: 'down',
  componentNames: { meilisearch: 'Search engine (Meilisearch)', clamd: 'Virus scanner (clamd)', disk: 'Disk', ocrData: 'OCR language data', selfcheck: 'Isolation self-check' }, componentCol: 'Component', statusCol: 'Status', reasonCol: 'Details',
  roleNames: { staff: 'Staff', archivist: 'Archivist', sysadmin: 'System administrator', secadmin: 'Security administrator', auditor: 'Security auditor' },
  retentionNames: { Y: 'Permanent', D30: '30 years', D10: '10 years' },
  backupConsoleNote: 'Backups are encrypted to the recipient keys the security officer registered and signed by this appliance: the system administrator makes them and checks their structure and signature, but cannot open them. Content verification and restore need the security officer\'s private key, at the console: archive backup verify / restore --identity.', backupOut: 'Backup file (full path on the removable medium)', backupRecipients: 'Recipients', backupNoRecipients: 'No recipient registered yet: the security officer registers one first (archive backup recipients add); no backup until then.', backupSigner: 'Signing key of this appliance', backupSchedule: 'Scheduled backup', backupScheduleOff: 'off (backup.schedule, backup.target)', backupLastGood: 'last good', backupLastRun: 'last run', backupNever: 'none', backupFull: 'Full backup', backupIncrementalFrom: 'Incremental from', backupRun: 'Start backup', backupVerify: 'Verify backup', backupVerifyFiles: 'Backup files to verify (several, separated by spaces)', backupRunning: 'running (started by {who})', backupDone: 'Backup done: {id} → {file}, {items} items, {size}', backupVerified: 'Structure and signature intact (not decrypted: content is checked by the security officer): {list}', noBackups: 'No backups recorded on this appliance yet.', backupKind: 'Kind', backupId: 'Backup', backupParent: 'Based on', backupItems: 'Items', backupSize: 'Size', backupFile: 'File', backupKinds: { full: 'full', incremental: 'incremental' },
  integrityTitle: 'Integrity check', integrityRun: 'Check now', integrityRunning: 'Checking, please wait…', integrityOk: 'All good', integrityBad: 'Problems found', integrityRanAt: 'Checked {time}, took {ms} ms', integrityTotal: 'Items', integrityItem: 'Item', integrityStatusCol: 'Status', integrityProblems: 'Problems', integrityNoItemProblems: 'Every item is fine.', integrityAllProblems: 'All problems ({n})',
  integrityStatus: { ok: 'ok', changed: 'changed', missing: 'missing', untracked: 'untracked', unusable: 'unusable', unsafe: 'unsafe' }, integrityAspects: { authenticity: 'Authenticity', completeness: 'Completeness', usability: 'Usability', security: 'Security' },
  signaturesDown: 'The virus scanner is not available.', signatureEngine: 'Engine', signatureVersion: 'Signature version', signatureDate: 'Signature date', signatureAge: 'Age (days)', signatureStale: 'Virus signatures are {days} days old (limit {max}); import new signatures soon.', signatureImportNote: 'Import signatures at the console with archive signatures import PATH (signature files never go through the browser).',
  exportCsv: 'Export CSV', exportXlsx: 'Export Excel', exportJsonl: 'Export JSONL', printPdf: 'Print / PDF', auditAll: 'all', auditDetails: 'Details', auditCount: '{total} records, {from}–{to} (newest first)', auditNewer: 'Newer', auditOlder: 'Older', noArchivalCode: '(no reference code)',
  sortLabel: 'Sort', sortNames: { relevance: 'Relevance', date: 'Date (newest first)', archivalCode: 'Reference code' },
  departmentsTitle: 'Office codes and names', departmentsNote: 'The search page shows these names in the Office filter; codes without a name are shown as they are.', departmentCode: 'Office code', departmentName: 'Name', addDepartment: 'Add a row', saveDepartments: 'Save',
  sessionLost: 'Your session has ended; please log in again.',
  locked: 'locked', unlock: 'Unlock', unlocked: 'Unlocked: {name}', lockedUntil: 'locked until {time}', consoleOnly: '(officers are managed by their own officer or at the console)',
  mustChangeFlag: '⚑', mustChangeTip: 'Must change the password at next login (new account or reset)', legendMustChange: '⚑: this account must change its password at next login.',
  resetPending: 'reset awaiting confirmation', resetPendingTip: 'Password reset by {by} at {time}; item access waits for the security administrator', resetDialogTitle: 'Reset password: {name}', resetDialogNote: 'The account must set its own password at login; its item access returns when the security administrator confirms this reset.', cancel: 'Cancel', resetDone: 'Password of {name} reset; awaiting the security administrator.',
  resetNoticeTitle: 'Your password was reset', resetNotice: 'Your password was reset by an administrator ({by}) at {time}. Searching, reading and filing archives return when the security administrator confirms the reset. Until then you can only change your own password.', resetNoticeWaiting: 'You have set your own password. Searching, reading and filing archives return when the security administrator confirms the reset; please contact them.',
  resetsTitle: 'Password resets awaiting confirmation', noResets: 'No resets awaiting confirmation.', confirmReset: 'Confirm reset', confirmed: 'Reset of {name} confirmed.', resetBy: 'Reset by', resetAt: 'Reset at', ownerChanged: 'Owner changed it', yes: 'yes', no: 'no',
  rename: 'Rename', postDisabled: 'disabled', postEnabled: 'in use', disablePost: 'Disable', enablePost: 'Enable', postSaved: 'Post {code} updated.', postsNote: 'Posts are never deleted: a disabled post is given to no account or new item; existing items keep it.',
  aboveCeiling: ' (above this appliance\'s ceiling {ceiling})', filingPosts: 'Also files into', filingNote: 'Archivists file only into their own posts, and into the posts granted here.',
  networkError: 'Cannot reach the appliance; check the network and retry.', notFound: 'No such page.',
};

const DICTS = { 'zh-CN': zh, en };
let current = localStorage.getItem('archive.lang') === 'en' ? 'en' : 'zh-CN';
document.documentElement.lang = current;

export function lang() {
  return current;
}

export function setLang(l) {
  current = DICTS[l] ? l : 'zh-CN';
  localStorage.setItem('archive.lang', current);
  document.documentElement.lang = current;
}

/** t('resultsCount', {total: 3}) or t('roleNames.staff'). */
export function t(key, vars) {
  let v = key.split('.').reduce((o, k) => (o ? o[k] : undefined), DICTS[current]);
  if (v === undefined) v = key.split('.').reduce((o, k) => (o ? o[k] : undefined), zh) ?? key;
  if (typeof v === 'string' && vars) v = v.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ''));
  return v;
}
