import nodemailer from 'nodemailer';
import type { DeliveryConfig } from '../config.js';
import type { Logger } from '../logger.js';

export interface Email {
  to: string;
  subject: string;
  text: string;
  /** Stable per delivery, so a resent email carries the same Message-ID and can be deduplicated. */
  messageId: string;
}

export interface Mailer {
  /** Resolves once the server (or the log) accepted the email; throws otherwise. */
  send(email: Email): Promise<void>;
  close(): void;
}

/** SMTP through nodemailer when SMTP_URL is set; otherwise emails are written to the log. */
export function createMailer(config: DeliveryConfig, log: Logger): Mailer {
  if (!config.smtpUrl) {
    return {
      send(email) {
        log.info(
          { email: { to: email.to, subject: email.subject, text: email.text } },
          'email (SMTP_URL is not set, so it is logged instead of sent)',
        );
        return Promise.resolve();
      },
      close() {},
    };
  }
  const transport = nodemailer.createTransport(config.smtpUrl);
  return {
    async send(email) {
      await transport.sendMail({
        from: config.mailFrom,
        to: email.to,
        subject: email.subject,
        text: email.text,
        messageId: email.messageId,
      });
    },
    close() {
      transport.close();
    },
  };
}

/**
 * What the delivery log records for a failed send: the SMTP reply code or a short class. The
 * server's own words can name its address or the recipient's, so they go to the server log only.
 */
export function emailFailureClass(error: unknown): string {
  const { code, responseCode } = (error ?? {}) as { code?: unknown; responseCode?: unknown };
  if (typeof responseCode === 'number') return `SMTP ${responseCode}`;
  switch (code) {
    case 'ETIMEDOUT':
      return 'timeout';
    case 'ETLS':
      return 'TLS error';
    case 'ECONNECTION':
    case 'ESOCKET':
    case 'EDNS':
      return 'connection failed';
    default:
      return 'the mail server did not accept the email';
  }
}
