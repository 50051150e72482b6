"""A client of the event protocol written from docs/protocol.md alone: request/ack and an error ack."""
import asyncio
import json
import sys

import websockets


async def main(url):
    async with websockets.connect(url) as ws:
        welcome = json.loads(await ws.recv())
        assert welcome["event"] == "$welcome", welcome
        assert isinstance(welcome["data"]["id"], int) and welcome["data"]["recovered"] is False

        async def request(request_id, event, data=None):
            await ws.send(json.dumps({"event": event, "data": data, "id": request_id}))
            while True:
                doc = json.loads(await ws.recv())
                if doc.get("ack") == request_id:
                    return doc

        answer = await request(1, "sum", [1, 2, 39])
        assert answer == {"ack": 1, "data": 42}, answer
        failed = await request(2, "missing")
        assert failed["error"]["status"] == 404, failed
        assert "data" not in failed, failed
        print(json.dumps({"sum": answer["data"], "status": failed["error"]["status"], "id": welcome["data"]["id"]}))


asyncio.run(asyncio.wait_for(main(sys.argv[1]), 10))
