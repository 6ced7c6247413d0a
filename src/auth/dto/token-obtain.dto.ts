import { ApiProperty } from '@nestjs/swagger';
import { CharField } from '../../common/validation/drf-fields.js';
import { normalizeUsername } from '../../users/login-identifier.js';
import { PASSWORD_MAX_LENGTH } from './register.dto.js';

export class TokenObtainDto {
  @ApiProperty({ description: 'Username or e-mail address', example: 'alice' })
  @CharField({ maxLength: 254, normalize: normalizeUsername })
  username: string;

  @ApiProperty()
  @CharField({ maxLength: PASSWORD_MAX_LENGTH, trimWhitespace: false })
  password: string;
}
