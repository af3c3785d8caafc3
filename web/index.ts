// web/: the koa application: routes, pages, client scripts and styles (all served locally).
export { createWebApp, type WebDeps } from './app.ts';
