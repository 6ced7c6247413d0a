import { ApiProperty } from '@nestjs/swagger';
import type { User } from '../user.entity.js';

/** Public view of a user. Lists its fields explicitly, so the password hash can never leak. */
export class UserResponseDto {
  @ApiProperty({ type: 'integer', example: 42 })
  id: number;

  @ApiProperty({ example: 'alice' })
  username: string;

  @ApiProperty({ example: 'alice@example.com' })
  email: string;

  static from(user: User): UserResponseDto {
    return { id: user.id, username: user.username, email: user.email };
  }
}

export class ProfileResponseDto extends UserResponseDto {
  @ApiProperty()
  is_active: boolean;

  @ApiProperty({ type: String, format: 'date-time' })
  date_joined: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  last_login: string | null;

  @ApiProperty({ description: 'Whether the e-mail address has been confirmed' })
  email_verified: boolean;

  static override from(user: User): ProfileResponseDto {
    return {
      id: user.id,
      username: user.username,
      email: user.email,
      is_active: user.isActive,
      date_joined: user.dateJoined.toISOString(),
      last_login: user.lastLogin ? user.lastLogin.toISOString() : null,
      email_verified: user.emailVerifiedAt !== null,
    };
  }
}
