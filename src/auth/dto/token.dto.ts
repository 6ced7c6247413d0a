import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { CharField } from '../../common/validation/drf-fields.js';

const TOKEN_MAX_LENGTH = 4096;

export class RefreshTokenDto {
  @ApiProperty({ description: 'A refresh token' })
  @CharField({ maxLength: TOKEN_MAX_LENGTH })
  refresh: string;
}

export class VerifyTokenDto {
  @ApiProperty({ description: 'An access or refresh token' })
  @CharField({ maxLength: TOKEN_MAX_LENGTH })
  token: string;
}

export class LogoutDto {
  @ApiPropertyOptional({ description: 'The refresh token of the session to end as well (optional)' })
  @CharField({ maxLength: TOKEN_MAX_LENGTH, required: false })
  refresh?: string;
}

export class TokenPairDto {
  @ApiProperty()
  refresh: string;

  @ApiProperty()
  access: string;
}

export class AccessRefreshDto {
  @ApiProperty()
  access: string;

  @ApiProperty({ description: 'The rotated refresh token; the one sent is consumed' })
  refresh: string;
}

export class EmptyDto {}

export class RevokedCountDto {
  @ApiProperty({ type: 'integer', description: 'How many sessions ended' })
  revoked: number;
}
