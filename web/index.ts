// web/: the koa application: routes, pages, client scripts and styles (all served locally).
export { createWebApp } from './app.ts';
export { auditCsv, auditJsonl, auditRows, auditXlsxStream, itemRefReader } from './audit-documents.ts';
export { createAuth } from './auth.ts';
