import { IsString, Length, Matches } from 'class-validator';

/** `{"event": "join", "data": {"room": "lobby", "name": "ada"}}` */
export class JoinDto {
  @IsString()
  @Matches(/^[\w-]{1,32}$/, { message: 'room must be 1-32 letters, digits, "-" or "_"' })
  room!: string;

  @IsString()
  @Length(1, 24)
  name!: string;
}

/** `{"event": "say", "data": {"text": "hello"}}` */
export class SayDto {
  @IsString()
  @Length(1, 500)
  text!: string;
}
