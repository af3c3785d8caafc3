import type { Classification } from './config.ts';

/** 保管期限 codes of DA/T 22-2015: 永久, 定期30年, 定期10年. */
export const RETENTIONS = ['Y', 'D30', 'D10'] as const;
export type Retention = (typeof RETENTIONS)[number];

/**
 * 共享范围 of an item in 联合检索 (federation/): 本单位 never leaves the office (the default, also
 * when absent), 上级 is searchable by the office's parent in the federation, 全辖区 by every office.
 * Within the 安全保密管理员's sharing policy: an item beyond it is not shared whatever its scope.
 */
export const SHARING_SCOPES = ['office', 'parent', 'all'] as const;
export type SharingScope = (typeof SHARING_SCOPES)[number];
export const SHARING_SCOPE_LABELS: Record<SharingScope, string> = { office: '本单位', parent: '上级', all: '全辖区' };

/** The item's scope; absent means 本单位. */
export function sharingScopeOf(meta: { sharing?: SharingScope }): SharingScope {
  return meta.sharing ?? 'office';
}

/** A box in page-image pixels (origin top-left). */
export interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export interface OcrSymbol {
  text: string;
  box: Box;
  confidence: number;
}

export interface OcrWord {
  text: string;
  box: Box;
  confidence: number;
  symbols: OcrSymbol[];
}

export interface OcrLine {
  text: string;
  box: Box;
  confidence: number;
  words: OcrWord[];
  /** The recogniser was unsure of this line (ingest/ocr/line-quality.ts): offered for review. */
  weak?: true;
}

/** What the OCR read on one page (text.json holds one per page). */
export interface PageText {
  /** 1-based page number within the item. */
  page: number;
  /** Page image size in pixels and its resolution. */
  width: number;
  height: number;
  dpi: number;
  /** Clockwise rotation applied to the scan to make it upright before OCR. */
  rotation: 0 | 90 | 180 | 270;
  /** Normalised text: no spaces between Chinese characters, lines joined by \n, NFKC-folded. */
  text: string;
  /** Mean confidence 0-100. */
  confidence: number;
  lines: OcrLine[];
  /** 'ocr' when read by tesseract, 'pdf-text' when taken from an existing PDF text layer. */
  source: 'ocr' | 'pdf-text';
  /** Indexes (0-based) into `lines` of the lines flagged weak; absent when none. */
  weakLines?: number[];
  /** A person should check this page's text (weak lines or low confidence); absent when not. */
  review?: true;
}

/** Catalogue data of one archived item (件), item.json. Field names follow ../shared/DESIGN.md. */
export interface ItemMetadata {
  /** Format version of item.json (docs/FORMATS.md); absent in items stored before versions: 1. */
  formatVersion?: number;
  itemId: string;
  /** 档号 全宗号-年度-保管期限-机构代码-件号, e.g. J012-2014-Y-BGS-0042 (unique). */
  archivalCode?: string;
  fonds?: string;
  year?: number;
  retention?: Retention;
  department?: string;
  itemNo?: number;
  title?: string;
  docNumber?: string;
  responsible?: string;
  date?: string;
  classification: Classification;
  /** Posts (岗位 codes) allowed to see the item. */
  posts: string[];
  pageCount: number;
  /** Files as received: name relative to the item's original/ folder, SHA-256, size. */
  originals: Array<{ name: string; sha256: string; bytes: number }>;
  createdAt: string;
  updatedAt: string;
  /**
   * 待著录: the item came without catalogue data (no CSV row, no 题名), so its title is only the
   * file or folder name it was given; listed for the archivist until they save its metadata.
   */
  cataloguePending?: true;
  /** 共享范围 (SHARING_SCOPES); absent = 'office' (本单位). */
  sharing?: SharingScope;
  /** Pages (1-based) whose OCR text is flagged for review (text.json `review`); absent when none. */
  reviewPages?: number[];
}
