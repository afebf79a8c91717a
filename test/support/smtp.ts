import { Writable } from 'node:stream';
import { SMTPServer } from 'smtp-server';
import { tokenInMail } from './accounts.js';
import { freePort } from './ports.js';
import { waitFor } from './wait.js';

export interface Mail {
  from: string;
  to: string[];
  /** The raw message as the server received it (headers and encoded body). */
  data: string;
  /** The body with quoted-printable soft breaks and escapes undone. */
  text: string;
}

export interface SmtpInbox {
  url: string;
  mails: Mail[];
  /** The first mail to `to` whose text matches, once it has arrived. */
  waitForMail(to: string, match?: RegExp): Promise<Mail>;
  close(): Promise<void>;
}

function decodeQuotedPrintable(raw: string): string {
  const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
  const bytes = Buffer.from(
    body
      .replace(/=\r\n/g, '')
      .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
    'latin1',
  );
  return bytes.toString('utf8');
}

/** A real SMTP server on a free loopback port that keeps every message it receives. */
export async function startSmtpInbox(): Promise<SmtpInbox> {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.pipe(
        new Writable({
          write(chunk: Buffer, _encoding, done) {
            chunks.push(chunk);
            done();
          },
          final(done) {
            const data = Buffer.concat(chunks).toString('utf8');
            mails.push({
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              to: session.envelope.rcptTo.map((r) => r.address),
              data,
              text: decodeQuotedPrintable(data),
            });
            done();
            callback();
          },
        }),
      );
    },
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const find = (to: string, match: RegExp | undefined) =>
    mails.find((m) => m.to.includes(to) && (!match || match.test(m.text)));
  return {
    url: `smtp://127.0.0.1:${port}`,
    mails,
    async waitForMail(to, match) {
      await waitFor(`an email to ${to}`, () => find(to, match) !== undefined);
      return find(to, match) as Mail;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The one-time token in an account email (verification, reset, invitation). */
export function tokenIn(mail: Mail): string {
  const token = tokenInMail(mail.text);
  if (!token) throw new Error(`no token in the email:\n${mail.text}`);
  return token;
}
