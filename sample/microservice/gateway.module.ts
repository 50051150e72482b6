import { Module } from '@nestjs/common';
import { ClientsModule } from '@nestjs/microservices';

import { StormClientProxy } from '../../lib/microservice/index.js';
import { GatewayController, MATH_SERVICE } from './gateway.controller.js';

/** The HTTP gateway: one StormClientProxy to the math service, registered through ClientsModule. */
@Module({
  imports: [
    ClientsModule.registerAsync([
      {
        name: MATH_SERVICE,
        useFactory: () => ({
          customClass: StormClientProxy,
          options: {
            transport: 'tcp',
            host: process.env.MATH_HOST ?? '127.0.0.1',
            port: Number(process.env.MATH_PORT ?? 4000),
            reconnect: { delay: 100, maxDelay: 2000 },
          },
        }),
      },
    ]),
  ],
  controllers: [GatewayController],
})
export class GatewayModule {}
