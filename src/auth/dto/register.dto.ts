import { ApiProperty } from '@nestjs/swagger';
import { CharField, EmailField } from '../../common/validation/drf-fields.js';
import { normalizeUsername } from '../../users/login-identifier.js';

/** Django's UnicodeUsernameValidator: letters, digits and @/./+/-/_ . */
const USERNAME_PATTERN = /^[\p{L}\p{M}\p{N}_.@+-]+$/u;
export const PASSWORD_MAX_LENGTH = 1024;

export class RegisterDto {
  @ApiProperty({ maxLength: 150, example: 'alice', description: 'Stored NFKC-normalised, as Django does; the length is checked after that' })
  @CharField({
    maxLength: 150,
    normalize: normalizeUsername,
    format: (value) =>
      USERNAME_PATTERN.test(value)
        ? null
        : 'Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.',
  })
  username: string;

  @ApiProperty({ maxLength: 254, example: 'alice@example.com' })
  @EmailField()
  email: string;

  @ApiProperty({
    maxLength: PASSWORD_MAX_LENGTH,
    description: "Django's default validators: 8+ characters, not entirely numeric, not common, not similar to the username or e-mail",
  })
  @CharField({ maxLength: PASSWORD_MAX_LENGTH, trimWhitespace: false })
  password: string;
}
