import 'reflect-metadata';

import type { INestMicroservice, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { firstValueFrom, lastValueFrom, toArray, type Observable } from 'rxjs';

import { silentLogger } from '../../lib/core/index.js';
import {
  StormClientProxy,
  StormTransport,
  type StormClientProxyOptions,
  type StormTransportOptions,
} from '../../lib/microservice/index.js';
import { withTimeout } from './wait.js';

/** Default bound for one wait in the microservice tests, in ms. */
export const RPC_T = 5000;

/** A running Nest microservice on a `StormTransport`, with the port it bound. */
export interface RunningMicroservice {
  readonly app: INestMicroservice;
  readonly transport: StormTransport;
  readonly port: number;
}

/**
 * Starts `module` as a Nest microservice on a `StormTransport` bound to 127.0.0.1 (port 0 unless
 * given), silent, with a short shutdown timeout.
 */
export async function startMicroservice(
  module: Type<unknown>,
  options: Partial<StormTransportOptions> = {},
): Promise<RunningMicroservice> {
  const unix = 'path' in options && options.path !== undefined && options.transport !== 'ws';
  const transport = new StormTransport({
    ...(unix ? {} : { host: '127.0.0.1', port: 0 }),
    logger: silentLogger,
    shutdownTimeout: 2000,
    ...options,
  } as StormTransportOptions);
  const app = await NestFactory.createMicroservice(module, { strategy: transport, logger: false });
  await withTimeout(app.listen(), RPC_T, 'microservice.listen');
  return { app, transport, port: transport.port ?? 0 };
}

/** A client proxy for `port` on 127.0.0.1, silent; TCP unless the options say otherwise. */
export function proxyFor(port: number, options: Partial<StormClientProxyOptions> = {}): StormClientProxy {
  return new StormClientProxy({ host: '127.0.0.1', port, logger: silentLogger, ...options } as StormClientProxyOptions);
}

/** Closes apps and clients, ignoring failures, with a bounded wait. */
export async function closeAll(...closables: ({ close(): unknown } | undefined)[]): Promise<void> {
  await withTimeout(
    Promise.all(closables.map(async (c) => { try { await c?.close(); } catch { /* already closed */ } })),
    RPC_T * 2,
    'closing apps and clients',
  );
}

/** The first value of a request, with a bounded wait. */
export function call<T>(source: Observable<T>, ms = RPC_T): Promise<T> {
  return withTimeout(firstValueFrom(source), ms, 'request');
}

/** The last value of a request, with a bounded wait. */
export function callLast<T>(source: Observable<T>, ms = RPC_T): Promise<T> {
  return withTimeout(lastValueFrom(source), ms, 'request');
}

/** Every value of a request until it completes, with a bounded wait. */
export function collect<T>(source: Observable<T>, ms = RPC_T): Promise<T[]> {
  return withTimeout(lastValueFrom(source.pipe(toArray())), ms, 'stream');
}

/** The error a request fails with; fails the test if it succeeds. */
export async function failure(source: Observable<unknown>, ms = RPC_T): Promise<unknown> {
  try {
    const value = await withTimeout(lastValueFrom(source), ms, 'request');
    throw new Error(`expected the request to fail, it replied ${JSON.stringify(value)}`);
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('expected the request to fail')) throw error;
    return error;
  }
}
