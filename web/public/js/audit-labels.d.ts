// Types for the server modules and tests that import the browser module (this file is not served).
export const ACTION_LABELS: Record<string, string>;
export const OUTCOME_LABELS: Record<string, string>;
export const ROLE_LABELS: Record<string, string>;
export const DETAIL_LABELS: Record<string, string>;
export function actionLabel(code: string): string;
export function outcomeLabel(code: string): string;
export function roleText(role: string): string;
export function detailLabel(key: string): string;
export function detailValue(v: unknown, depth?: number, key?: string): string;
export function detailPairs(details: unknown): Array<[string, string]>;
export function detailsText(details: unknown): string;
