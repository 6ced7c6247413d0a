import { ApiProperty } from '@nestjs/swagger';
import type { Session } from '../session.entity.js';

/** One of the caller's sessions, as listed by GET /api/sessions/. */
export class SessionResponseDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ type: String, format: 'date-time' })
  created_at: string;

  @ApiProperty({ type: String, format: 'date-time', description: 'Last login or token refresh' })
  last_seen_at: string;

  @ApiProperty({ type: String, format: 'date-time' })
  expires_at: string;

  @ApiProperty({ type: String, nullable: true })
  ip: string | null;

  @ApiProperty({ type: String, nullable: true })
  user_agent: string | null;

  @ApiProperty({ description: 'Whether this is the session of the token making the request' })
  current: boolean;

  static from(session: Session, currentSessionId: string | null): SessionResponseDto {
    return {
      id: session.id,
      created_at: session.createdAt.toISOString(),
      last_seen_at: session.lastSeenAt.toISOString(),
      expires_at: session.expiresAt.toISOString(),
      ip: session.ip,
      user_agent: session.userAgent,
      current: session.id === currentSessionId,
    };
  }
}
