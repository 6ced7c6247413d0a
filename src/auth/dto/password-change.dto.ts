import { ApiProperty } from '@nestjs/swagger';
import { CharField } from '../../common/validation/drf-fields.js';
import { PASSWORD_MAX_LENGTH } from './register.dto.js';

export class PasswordChangeDto {
  @ApiProperty()
  @CharField({ maxLength: PASSWORD_MAX_LENGTH, trimWhitespace: false })
  old_password: string;

  @ApiProperty({ description: 'Validated like the registration password' })
  @CharField({ maxLength: PASSWORD_MAX_LENGTH, trimWhitespace: false })
  new_password: string;
}
