/**
 * Official-document text composed from parts (通知, 请示, 批复, 函, 会议纪要, name lists), seeded,
 * so the generated bench set reads other text than the shared samples: other wording, other
 * names, dates, numbers, phone numbers, e-mail and web addresses, document numbers.
 */
import { seeded } from '../../test/support/damaged-page.ts';

type Rnd = () => number;
const pick = <T>(r: Rnd, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const int = (r: Rnd, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

const ORGS = [
  '县农业农村局',
  '市水务局',
  '区教育局',
  '市档案馆',
  '县财政局',
  '市交通运输局',
  '区卫生健康委员会',
  '县自然资源局',
  '市文化广电旅游局',
  '区应急管理局',
  '县人力资源和社会保障局',
  '市统计局',
];
const UNITS = ['各乡镇人民政府', '各街道办事处', '局属各单位', '机关各科室', '各区县档案馆', '各中小学校', '各有关单位'];
const MATTERS = [
  '开展档案数字化加工质量检查',
  '做好汛期安全生产工作',
  '组织全市统计业务培训',
  '调整公务用车管理办法',
  '推进农村饮水安全巩固提升工程',
  '申请追加图书馆设备购置经费',
  '举办第五届职工运动会',
  '加强冬春季森林防火工作',
  '开展食品安全专项整治行动',
  '建立重点项目联系制度',
  '规范政府采购合同备案',
  '做好离退休干部走访慰问',
];
const SURNAMES =
  '王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤';
const GIVEN = '建国伟芳秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英文辉鹏华红玉飞志宏海燕晓东春梅玲丹凤兵斌宇浩凯健俊帆帅旭宁';
const TITLES = ['科员', '副科长', '科长', '主任科员', '副主任', '主任', '档案管理员', '会计', '工程师', '副局长'];

const name = (r: Rnd) => pick(r, [...SURNAMES]) + Array.from({ length: int(r, 1, 2) }, () => pick(r, [...GIVEN])).join('');
const year = (r: Rnd) => int(r, 2008, 2023);
const date = (r: Rnd, y = year(r)) => `${y}年${int(r, 1, 12)}月${int(r, 1, 28)}日`;
const phone = (r: Rnd) => (r() < 0.5 ? `0${int(r, 10, 99)}-${int(r, 6000000, 8999999)}` : `1${pick(r, ['3', '5', '8'])}${int(r, 100000000, 999999999)}`);
const money = (r: Rnd) => (r() < 0.5 ? `${int(r, 3, 980)}.${int(r, 10, 99)}万元` : `${int(r, 1200, 99000)}元`);
const docNo = (r: Rnd, y: number) => `${pick(r, ['农', '水', '教', '档', '财', '交'])}${pick(r, ['发', '办', '函', '字'])}〔${y}〕${int(r, 1, 120)}号`;

const SENTENCES: Array<(r: Rnd, y: number) => string> = [
  (r, y) => `根据${pick(r, ORGS)}${date(r, y)}会议精神，结合我单位工作实际，现将有关事项通知如下。`,
  (r) => `各单位要高度重视，明确一名分管领导和${int(r, 1, 3)}名具体工作人员，确保各项任务按时完成。`,
  (r, y) => `本次检查时间为${date(r, y)}至${date(r, y)}，共抽查案卷${int(r, 120, 980)}卷，合格率为${int(r, 90, 99)}.${int(r, 0, 9)}%。`,
  (r) => `经费预算共计${money(r)}，其中设备购置${money(r)}，其余用于人员培训和资料印刷。`,
  (r) => `联系人：${name(r)}，联系电话：${phone(r)}，电子邮箱：${pick(r, ['dag', 'office', 'xxzx', 'tjj', 'swj'])}${int(r, 1, 99)}@${pick(r, ['gov', 'dag', 'zw'])}.${pick(r, ['cn', 'gov.cn'])}。`,
  () => `请于每月5日前将上月工作进展情况报送办公室，逾期未报的予以通报。`,
  (r) => `对检查中发现的问题，要建立台账，逐项整改，整改情况于${int(r, 10, 30)}个工作日内书面报告。`,
  () => `严格执行各项规章制度，落实岗位责任，杜绝推诿扯皮、敷衍塞责等现象。`,
  (r) => `全年共受理群众来信来访${int(r, 60, 900)}件次，办结率达到${int(r, 95, 100)}%，群众满意度明显提升。`,
  (r) => `会议由${pick(r, TITLES)}${name(r)}主持，${int(r, 12, 60)}名干部职工参加了会议。`,
  (r) => `系统采用B/S架构，支持PDF、OFD和TIFF格式，服务器配置为${int(r, 8, 64)}核CPU、${pick(r, [32, 64, 128, 256])}GB内存。`,
  () => `各级各部门要加强统筹协调，形成工作合力，切实把各项措施落到实处。`,
  (r) => `项目总投资${money(r)}，建设周期${int(r, 6, 36)}个月，预计于${year(r)}年底前竣工验收。`,
  () => `凡涉及国家秘密的档案，必须按照保密规定进行管理，未经批准不得擅自复制或者外借。`,
  (r) => `详细情况请登录www.${pick(r, ['dangan', 'nongye', 'jiaoyu', 'shuiwu'])}${int(r, 1, 9)}.gov.cn查询，或拨打服务热线${phone(r)}。`,
  () => `妥否，请批示。`,
  () => `以上意见如无不妥，请批转各单位遵照执行。`,
  () => `对工作中表现突出的单位和个人，年终评比时给予表彰；对工作不力、造成不良影响的，依照有关规定追究责任。`,
  (r) => `截至${int(r, 3, 11)}月底，已完成年度计划的${int(r, 40, 95)}%，其中第一批${int(r, 10, 40)}个项目全部开工。`,
  () => `各单位应当于本通知下发之日起，对照上述要求开展自查，并填写附件中的自查表。`,
];

/** A line of text as printed: its width in em (Chinese characters 1, digits and Latin about half). */
const width = (s: string) => [...s].reduce((n, c) => n + (/[\x20-\x7e]/.test(c) ? 0.55 : 1), 0);
/** Marks no line begins with (避头: GB/T 15834, Word's and WPS's default; half-width ones by UAX #14: no break before . , : ; ! ? ) - or %). */
const NEVER_LEADS = /^[，。、：；！？）”〕%.,:;!?)\-]/u;

/** Prose broken into printed lines of at most `em` width, the first line indented two characters. */
export function wrap(text: string, em: number, indent = 2): string[] {
  const out: string[] = [];
  let line = '';
  let room = em - indent;
  for (const ch of text) {
    if (width(line + ch) > room && !NEVER_LEADS.test(ch)) {
      out.push(line);
      line = '';
      room = em;
    }
    line += ch;
  }
  if (line) out.push(line);
  return out;
}

export interface ComposedLine {
  text: string;
  kind: 'title' | 'body' | 'first' | 'head' | 'sign' | 'row';
  cells?: string[];
}

/** One document of its kind, seeded: its lines as printed (prose already wrapped at `em`). */
export function composeDocument(seed: number, em: number, minLines = 40): ComposedLine[] {
  const r = seeded(seed);
  const y = year(r);
  const org = pick(r, ORGS);
  const matter = pick(r, MATTERS);
  const kind = pick(r, ['通知', '请示', '批复', '函', '会议纪要', '名单'] as const);
  const lines: ComposedLine[] = [];
  const para = (n: number) => {
    const text = Array.from({ length: n }, () => pick(r, SENTENCES)(r, y)).join('');
    wrap(text, em).forEach((t, i) => lines.push({ text: t, kind: i === 0 ? 'first' : 'body' }));
  };
  lines.push({ text: `${org}`, kind: 'head' });
  lines.push({ text: docNo(r, y), kind: 'head' });
  lines.push({ text: `关于${matter}的${kind === '名单' ? '人员名单' : kind}`, kind: 'title' });
  if (kind === '批复') {
    lines.push({ text: `${pick(r, UNITS).replace(/^各/, '')}：`, kind: 'head' });
    wrap(`你单位《关于${matter}的请示》（${docNo(r, y)}）收悉。经研究，现批复如下：`, em).forEach((t, i) => lines.push({ text: t, kind: i ? 'body' : 'first' }));
  } else if (kind === '请示' || kind === '函') lines.push({ text: `${pick(r, ORGS)}：`, kind: 'head' });
  else if (kind !== '会议纪要') lines.push({ text: `${pick(r, UNITS)}：`, kind: 'head' });
  if (kind === '名单') {
    para(2);
    const cols = ['序号', '姓名', '职务', '出生年月', '联系电话'];
    lines.push({ text: cols.join(' '), kind: 'row', cells: cols });
    for (let i = 1; i <= Math.max(12, minLines - 12); i++) {
      const cells = [String(i), name(r), pick(r, TITLES), `${int(r, 1962, 1999)}.${String(int(r, 1, 12)).padStart(2, '0')}`, phone(r)];
      lines.push({ text: cells.join(' '), kind: 'row', cells });
    }
    para(1);
  } else {
    const heads = ['一、', '二、', '三、', '四、', '五、', '六、', '七、', '八、'];
    for (let k = 0; k < heads.length && (k < 3 || lines.length < minLines); k++) {
      if (kind !== '请示') lines.push({ text: `${heads[k]}${pick(r, ['工作目标', '主要任务', '时间安排', '保障措施', '有关要求', '基本情况', '存在问题', '下一步打算'])}`, kind: 'head' });
      para(int(r, 3, 5));
    }
  }
  if (kind === '通知') lines.push({ text: '特此通知。', kind: 'first' });
  lines.push({ text: org, kind: 'sign' });
  lines.push({ text: date(r, y), kind: 'sign' });
  return lines;
}
