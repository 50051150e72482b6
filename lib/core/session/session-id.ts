/**
 * Session ids: `nodeNumber * 2^37 + sequence`. Without a backplane the node number is 0, so ids
 * are 1, 2, 3, ... as always; with one, the backplane's node number (1..65535, unique among the
 * live nodes of the bus) goes in the high bits and an id names one session in the whole cluster.
 * The largest id, 65535 * 2^37 + 2^37 - 1 = 2^53 - 1, is still a safe integer. The sequence is
 * per process and wraps after 2^37 - 1 (137 billion) sessions.
 */
export const SESSION_SEQUENCE_SPAN = 2 ** 37;
/** The largest node number an id can carry. */
export const MAX_NODE_NUMBER = 0xffff;

let lastSequence = 0;

/** @internal The next session id for a node (0 when the server has no backplane). */
export function nextSessionId(nodeNumber: number): number {
  lastSequence = lastSequence >= SESSION_SEQUENCE_SPAN - 1 ? 1 : lastSequence + 1;
  // Node 0 adds nothing: the id stays a small integer (no boxed double per session).
  return nodeNumber === 0 ? lastSequence : nodeNumber * SESSION_SEQUENCE_SPAN + lastSequence;
}

/** The node number carried in a session id (0 for ids of servers without a backplane). */
export function nodeNumberOfSessionId(id: number): number {
  return Math.floor(id / SESSION_SEQUENCE_SPAN);
}
