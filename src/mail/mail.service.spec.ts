import { describe, expect, it, jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
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

  it('in development prints the message with the API call its link leads to, as curl on PORT', async () => {
    const mail = new MailService(readMailConfig({ NODE_ENV: 'development', PORT: '3999' }));
    const printed: string[] = [];
    jest.spyOn(Logger.prototype, 'log').mockImplementation((message: unknown) => void printed.push(String(message)));
    await mail.send('alice@example.com', { ...content, apiCall: { path: '/api/email/verify/', body: { uid: 'NDI', token: 'abc-123' } } });
    jest.restoreAllMocks();
    expect(printed).toHaveLength(1);
    expect(printed[0]).toContain('https://app.example/reset-password?uid=NDI&token=abc-123');
    expect(printed[0]).toContain(`curl -X POST http://localhost:3999/api/email/verify/ -H 'Content-Type: application/json' -d '{"uid":"NDI","token":"abc-123"}'`);
  });
});

describe('MailTemplates', () => {
  it('escape what goes into the HTML body', () => {
    const html = MailTemplates.welcome('<script>alert(1)</script>').html;
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;');
  });
});
