import { CSV_COLUMNS } from './csv-manifest.ts';

/** The file name offered for download (ASCII fallback for old browsers beside the UTF-8 one). */
export const CSV_TEMPLATE_NAME = '著录清单模板.csv';

/**
 * The CSV manifest template archivists download from the 采集 page: the headers the importer
 * reads (csv-manifest.ts, README "CSV manifest") and one example row, which itself passes the
 * check. UTF-8 with a BOM and CRLF line ends: without the BOM, Excel and WPS on a Chinese
 * Windows read the file as GBK and show mojibake; with it, both open it correctly and keep UTF-8
 * when saved as "CSV UTF-8". The importer accepts it as it is, BOM included.
 */
export function csvTemplate(): Buffer {
  const header = Object.values(CSV_COLUMNS);
  const example: Record<keyof typeof CSV_COLUMNS, string> = {
    file: '扫描件/关于召开档案工作会议的通知.pdf',
    archivalCode: 'J012-2014-Y-BGS-0001',
    title: '关于召开档案工作会议的通知',
    docNumber: '呼编办发〔2014〕12号',
    responsible: '办公室',
    date: '2014-03-12',
    retention: '永久',
    classification: '内部',
    posts: 'BGS；ZH',
    sharing: '本单位',
  };
  const cell = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const rows = [header, (Object.keys(CSV_COLUMNS) as Array<keyof typeof CSV_COLUMNS>).map((k) => example[k])];
  return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(rows.map((r) => r.map(cell).join(',')).join('\r\n') + '\r\n', 'utf8')]);
}
