import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import nodemailer, { type Transporter } from 'nodemailer';
import { mailConfig } from '../config/mail.config.js';
import type { MailContent } from './mail-templates.js';

/**
 * Sends e-mail over SMTP (nodemailer, from SMTP_URL). Without SMTP_URL outside production, the
 * message is written to the log instead (links included: development only). In production without
 * SMTP_URL sending fails, so the job retries and ends in the failed set rather than vanishing.
 */
@Injectable()
export class MailService implements OnModuleDestroy {
  private readonly logger = new Logger(MailService.name);
  private readonly transport: Transporter | undefined;

  constructor(@Inject(mailConfig.KEY) private readonly config: ConfigType<typeof mailConfig>) {
    this.transport = config.smtpUrl ? nodemailer.createTransport(config.smtpUrl) : undefined;
  }

  async send(to: string, content: MailContent): Promise<void> {
    if (this.transport) {
      await this.transport.sendMail({ from: this.config.from, to, subject: content.subject, text: content.text, html: content.html });
      return;
    }
    if (this.config.production) {
      throw new Error('SMTP_URL is not set: cannot send e-mail');
    }
    const apiCall = content.apiCall
      ? `\nOr make the call the link's page makes:\n  curl -X POST ${this.config.localApiUrl}${content.apiCall.path} -H 'Content-Type: application/json' -d '${JSON.stringify(content.apiCall.body)}'\n`
      : '';
    this.logger.log(`[development mail, SMTP_URL unset] to ${to}: ${content.subject}\n${content.text}${apiCall}`);
  }

  onModuleDestroy(): void {
    this.transport?.close();
  }
}
