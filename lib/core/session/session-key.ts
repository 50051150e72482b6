/**
 * A typed key into `session.items`, so `session.get(key)` returns `T` without casts.
 *
 * @example
 * const UserId = new SessionKey<string>('userId');
 * session.set(UserId, 'alice');
 * const id = session.get(UserId); // string | undefined
 */
export class SessionKey<T> {
  /** Phantom member that carries `T` through structural typing. */
  declare readonly __type?: T;

  /** @param name the key under which the value is stored in `session.items`. */
  constructor(readonly name: string) {}

  toString(): string {
    return `SessionKey(${this.name})`;
  }
}
