import argon2 from 'argon2';
import { ApplianceError } from '../core/index.ts';

/**
 * argon2id, 64 MiB, 3 passes, 1 lane (RFC 9106's second recommendation with one lane; OWASP's
 * floor is 19 MiB × 2 passes). Measured on the 2-core appliance class (bench/auth.ts): ~150 ms per
 * hash or verify, so a login costs about that and a guessing attack ~6 guesses/s per core. One
 * lane because concurrent logins already use both cores; 64 MiB × libuv's 4 threads bounds memory
 * at 256 MiB. Old hashes keep verifying when these change (the parameters live in each hash).
 */
export const ARGON2_PARAMS = { type: argon2.argon2id, memoryCost: 65_536, timeCost: 3, parallelism: 1 } as const;

export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 128;

/** Hashing behind an interface so a bench or test can count calls to the real thing. */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
}

export const argon2Hasher: PasswordHasher = {
  hash: (password) => argon2.hash(password, ARGON2_PARAMS),
  async verify(hash, password) {
    try {
      return await argon2.verify(hash, password);
    } catch {
      return false; // a malformed stored hash never lets anyone in
    }
  },
};

/** Problems with a proposed password, in Chinese, empty when it is acceptable. */
export function passwordProblems(password: string, username: string): string[] {
  const out: string[] = [];
  const chars = [...password];
  if (chars.length < PASSWORD_MIN_LENGTH) out.push(`密码至少 ${PASSWORD_MIN_LENGTH} 个字符`);
  if (chars.length > PASSWORD_MAX_LENGTH) out.push(`密码最多 ${PASSWORD_MAX_LENGTH} 个字符`);
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((re) => re.test(password)).length;
  if (classes < 3) out.push('密码须包含大写字母、小写字母、数字、符号中的至少三类');
  const u = username.trim().toLowerCase();
  if (u.length >= 3 && password.toLowerCase().includes(u)) out.push('密码不能包含用户名');
  if (/^(.)\1+$/.test(password)) out.push('密码不能由同一字符重复组成');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(password)) out.push('密码不能包含控制字符');
  return out;
}

export function assertPasswordPolicy(password: string, username: string): void {
  const problems = passwordProblems(password, username);
  if (problems.length) {
    throw new ApplianceError('PASSWORD_POLICY', `密码不符合要求：${problems.join('；')}。`, `password policy: ${problems.length} problem(s)`, { details: { problems } });
  }
}
