import { PasswordHasher } from '../auth/password.js';
import { createKysely, createPool } from '../db/pool.js';
import { seedDemo } from '../db/seed.js';
import { runWithDatabase } from './run.js';

await runWithDatabase(async (endpoints, _log, _applied, config) => {
  if (config.production) {
    console.error(
      'The demo accounts have published passwords: they are never seeded in production.',
    );
    return 1;
  }
  const db = createKysely(
    createPool({ connectionString: endpoints.apiUrl, max: 2, statementTimeoutMs: 0 }),
  );
  try {
    // Progress goes to stderr, so stdout stays the list of accounts.
    const accounts = await seedDemo(db, new PasswordHasher(), (done, total, step) =>
      console.error(`[${done}/${total}] ${step}`),
    );
    for (const a of accounts) console.log(`${a.email}  ${a.password}`);
    return 0;
  } catch (error) {
    if ((error as { code?: string }).code === '23505') {
      console.error('The demo data is already there (its emails and slugs are taken).');
      return 1;
    }
    throw error;
  } finally {
    await db.destroy();
  }
});
