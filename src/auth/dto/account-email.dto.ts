import { ApiProperty } from '@nestjs/swagger';
import { CharField, EmailField } from '../../common/validation/drf-fields.js';
import { PASSWORD_MAX_LENGTH } from './register.dto.js';

export class EmailDto {
  @ApiProperty({ example: 'alice@example.com' })
  @EmailField()
  email: string;
}

export class EmailVerifyDto {
  @ApiProperty({ description: 'The `uid` parameter of the link' })
  @CharField({ maxLength: 64 })
  uid: string;

  @ApiProperty({ description: 'The `token` parameter of the link' })
  @CharField({ maxLength: 128 })
  token: string;
}

export class PasswordResetConfirmDto extends EmailVerifyDto {
  @ApiProperty({ description: 'Validated like the registration password' })
  @CharField({ maxLength: PASSWORD_MAX_LENGTH, trimWhitespace: false })
  new_password: string;
}

export class AcceptedDto {
  @ApiProperty()
  detail: string;
}
