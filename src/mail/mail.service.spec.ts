import { describe, expect, it } from '@jest/globals';
import { readMailConfig } from '../config/mail.config.js';
import { MailService } from './mail.service.js';
import { MailTemplates } from './mail-templates.js';

const content = MailTemplates.passwordReset('alice', 'https://app.example/reset-password?uid=NDI&token=abc-123', 60);

describe('MailService without SMTP_URL', () => {
  it('in production refuses to send, so the job fails and waits in the failed set instead of vanishing', async () => {
    const mail = new MailService(readMailConfig({ NODE_ENV: 'production' }));
    await expect(mail.send('alice@example.com', content)).rejects.toThrow('SMTP_URL is not set');
  });

  it('in development resolves (the message goes to the log)', async () => {
    const mail = new MailService(readMailConfig({ NODE_ENV: 'development' }));
    await expect(mail.send('alice@example.com', content)).resolves.toBeUndefined();
  });
});

describe('MailTemplates', () => {
  it('escape what goes into the HTML body', () => {
    const html = MailTemplates.welcome('<script>alert(1)</script>').html;
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;');
  });
});
