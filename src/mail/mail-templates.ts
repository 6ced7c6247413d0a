/** Plain-text and HTML bodies of every e-mail the service sends. */
export interface MailContent {
  subject: string;
  text: string;
  html: string;
  /**
   * The API call the link's page makes (POST `path` with `body`). Never sent: in development without
   * SMTP_URL it is printed under the message, as a curl command, so the flow can be finished by hand.
   */
  apiCall?: { path: string; body: Record<string, string> };
}

const escapeHtml = (value: string) =>
  value.replace(/[&<>"']/g, (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char]!);

function layout(title: string, paragraphs: string[], link?: { href: string; label: string }): string {
  const body = paragraphs.map((paragraph) => `<p>${escapeHtml(paragraph)}</p>`).join('\n    ');
  const button = link ? `\n    <p><a href="${escapeHtml(link.href)}">${escapeHtml(link.label)}</a></p>` : '';
  return `<!doctype html>
<html>
  <head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
  <body>
    ${body}${button}
  </body>
</html>`;
}

export const MailTemplates = {
  verifyEmail(username: string, link: string, validHours: number): MailContent {
    const lines = [
      `Hello ${username},`,
      'Please confirm your e-mail address by opening the link below.',
      `The link is valid for ${validHours} hours. If you did not create an account, ignore this message.`,
    ];
    return {
      subject: 'Confirm your e-mail address',
      text: `${lines.join('\n\n')}\n\n${link}\n`,
      html: layout('Confirm your e-mail address', lines, { href: link, label: 'Confirm my address' }),
    };
  },

  passwordReset(username: string, link: string, validMinutes: number): MailContent {
    const lines = [
      `Hello ${username},`,
      'Someone asked to reset the password of your account. To choose a new password, open the link below.',
      `The link works once, for ${validMinutes} minutes. If you did not ask for this, ignore this message: your password stays as it is.`,
    ];
    return {
      subject: 'Reset your password',
      text: `${lines.join('\n\n')}\n\n${link}\n`,
      html: layout('Reset your password', lines, { href: link, label: 'Choose a new password' }),
    };
  },

  welcome(username: string): MailContent {
    const lines = [`Welcome, ${username}!`, 'Your e-mail address is confirmed. You are all set.'];
    return { subject: 'Welcome', text: `${lines.join('\n\n')}\n`, html: layout('Welcome', lines) };
  },
};
