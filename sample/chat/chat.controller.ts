import { Controller, Get, Header } from '@nestjs/common';

import { SessionManager } from '../../lib/index.js';
import { CHAT_PAGE } from './chat.page.js';

/** Serves the chat page and a small status endpoint on the Nest HTTP server. */
@Controller()
export class ChatController {
  constructor(private readonly sessions: SessionManager) {}

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  page(): string {
    return CHAT_PAGE;
  }

  @Get('status')
  status() {
    return { online: this.sessions.count };
  }
}
