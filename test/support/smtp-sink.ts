import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { freePort } from './redis-process.js';

export interface ReceivedMail {
  to: string;
  subject: string;
  text: string;
  html: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A real SMTP server on a loopback port (the `smtp-server` package) that keeps what it receives.
 * `failNext(address, n)` makes it refuse the next n messages to that address with a temporary error
 * (451), like a flaky relay;
 * `delayMs` makes it slow to answer each message.
 */
export class SmtpSink {
  readonly messages: ReceivedMail[] = [];
  attempts = 0;
  delayMs = 0;
  private failures = new Map<string, number>();
  private server: SMTPServer;

  private constructor(readonly port: number) {
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData: (stream, session, callback) => {
        const recipient = (session.envelope.rcptTo[0]?.address ?? '').toLowerCase();
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          this.attempts += 1;
          void (async () => {
            if (this.delayMs) await sleep(this.delayMs);
            const failuresLeft = this.failures.get(recipient) ?? 0;
            if (failuresLeft > 0) {
              this.failures.set(recipient, failuresLeft - 1);
              const error = new Error('Temporary failure, try again later') as Error & { responseCode: number };
              error.responseCode = 451;
              callback(error);
              return;
            }
            const parsed = await simpleParser(Buffer.concat(chunks));
            const to = Array.isArray(parsed.to) ? parsed.to[0].text : (parsed.to?.text ?? '');
            this.messages.push({ to, subject: parsed.subject ?? '', text: parsed.text ?? '', html: typeof parsed.html === 'string' ? parsed.html : '' });
            callback();
          })();
        });
      },
    });
  }

  static async start(): Promise<SmtpSink> {
    const sink = new SmtpSink(await freePort());
    await new Promise<void>((resolve, reject) => {
      sink.server.once('error', reject);
      sink.server.listen(sink.port, '127.0.0.1', () => resolve());
    });
    return sink;
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  failNext(address: string, count: number): void {
    this.failures.set(address.toLowerCase(), count);
  }

  /** Waits (bounded) for a message to `to` whose subject matches, and returns it. */
  async waitFor(to: string, subject: RegExp, timeoutMs = 15_000): Promise<ReceivedMail> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = this.messages.find((mail) => mail.to.toLowerCase().includes(to.toLowerCase()) && subject.test(mail.subject));
      if (found) return found;
      await sleep(50);
    }
    throw new Error(`no e-mail to ${to} matching ${subject} within ${timeoutMs} ms (got ${this.messages.length} in all)`);
  }

  count(to: string, subject: RegExp): number {
    return this.messages.filter((mail) => mail.to.toLowerCase().includes(to.toLowerCase()) && subject.test(mail.subject)).length;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** The `uid` and `token` of the link in an e-mail's plain-text body. */
export function linkParameters(mail: ReceivedMail): { uid: string; token: string; url: string } {
  const url = /https?:\/\/\S+/.exec(mail.text)?.[0];
  if (!url) throw new Error(`no link in: ${mail.text}`);
  const parsed = new URL(url);
  return { uid: parsed.searchParams.get('uid')!, token: parsed.searchParams.get('token')!, url };
}
