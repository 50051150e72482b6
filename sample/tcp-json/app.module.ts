import { Module } from '@nestjs/common';

import { LengthPrefixFramer, StormModule } from '../../lib/index.js';
import { CalcGateway } from './calc.gateway.js';

const port = Number(process.env.TCP_PORT ?? 5000);
const host = process.env.HOST ?? '127.0.0.1';

@Module({
  imports: [
    // Each message is a 4-byte big-endian length and a JSON envelope {"event", "data"}.
    StormModule.forRoot({ tcp: { host, port, framer: new LengthPrefixFramer({ maxMessageSize: 64 * 1024 }), codec: 'json' } }),
  ],
  providers: [CalcGateway],
})
export class AppModule {}
