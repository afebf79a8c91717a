import argon2 from 'argon2';

/** OWASP's argon2id minimum (19 MiB, 2 passes); raise through configuration, never lower. */
export const ARGON2_OPTIONS = {
  type: argon2.argon2id,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
} as const;

export interface PasswordVerification {
  valid: boolean;
  /** A fresh hash to store when the stored one used weaker parameters. */
  rehash: string | undefined;
}

export class PasswordHasher {
  #dummyHash: Promise<string> | undefined;

  constructor(private readonly options: typeof ARGON2_OPTIONS = ARGON2_OPTIONS) {}

  hash(password: string): Promise<string> {
    return argon2.hash(password, this.options);
  }

  async verify(storedHash: string, password: string): Promise<PasswordVerification> {
    // A malformed stored hash makes argon2 throw; it simply does not match.
    const valid = await argon2.verify(storedHash, password).catch(() => false);
    const rehash =
      valid && argon2.needsRehash(storedHash, this.options) ? await this.hash(password) : undefined;
    return { valid, rehash };
  }

  /**
   * Spends the same work as a real verification, for logins of unknown emails, so response time
   * does not reveal which emails have accounts.
   */
  async verifyNothing(password: string): Promise<void> {
    this.#dummyHash ??= this.hash('tenantql timing equaliser');
    await argon2.verify(await this.#dummyHash, password).catch(() => false);
  }
}
