import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { StormModuleOptions } from './storm-options.interface.js';

/** Extras of `forRoot()` / `forRootAsync()` besides the options. */
export interface StormModuleExtras {
  /** Register the module globally, so its providers are injectable everywhere (default `true`). */
  isGlobal?: boolean;
}

/** `forRoot()` / `forRootAsync()` and the options token, from `ConfigurableModuleBuilder` (internal: not exported from the entry points). */
export const {
  ConfigurableModuleClass: ConfigurableStormModule,
  MODULE_OPTIONS_TOKEN: STORM_MODULE_OPTIONS,
  OPTIONS_TYPE: STORM_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: STORM_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<StormModuleOptions>({ moduleName: 'Storm' })
  .setClassMethodName('forRoot')
  .setExtras<StormModuleExtras>({ isGlobal: true }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal ?? true,
  }))
  .build();
