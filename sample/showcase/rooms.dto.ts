import { IsString, Length, Matches } from 'class-validator';

export class JoinDto {
  @IsString()
  @Matches(/^[\w-]{1,32}$/)
  room!: string;
}

export class SayDto {
  @IsString()
  @Length(1, 500)
  text!: string;
}
