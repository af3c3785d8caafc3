import { clamdCommand } from './clamd-address.ts';

export interface ClamdHealth {
  status: 'ok' | 'down';
  reason: string;
  version?: string;
}

/** PING and VERSION: is the scanner there, and which signatures does it hold. */
export async function clamdHealth(address: string): Promise<ClamdHealth> {
  try {
    const pong = await clamdCommand(address, 'PING');
    if (pong.trim() !== 'PONG') return { status: 'down', reason: `unexpected reply to PING: ${pong.slice(0, 80)}` };
    const version = (await clamdCommand(address, 'VERSION')).trim();
    return { status: 'ok', reason: 'answering', version };
  } catch (e) {
    return { status: 'down', reason: `clamd unreachable at ${address}: ${(e as Error).message}` };
  }
}
