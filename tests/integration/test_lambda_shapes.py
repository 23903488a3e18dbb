"""The message shapes of lambda-websocket-pubsub (its reference page) work
unchanged: the app's client subscribes with {"action":"SUBSCRIBE",
"topicId":…} and unsubscribes with {"action":"UNSUBSCRIBE","topicId":…}
(no reply expected, none sent), and its backend's publishToTopic body
{"topicId":…,"data":…} is an HTTP publish. What the client receives is
what that server's postToConnection sends: the event's data alone, no
envelope. Client: Node ws and fetch."""

import json

import pytest

from nodehelpers import NodeScript

WAIT = 20


class LambdaClient(NodeScript):
    def __init__(self, server):
        super().__init__("lambda_client.mjs", ["--url", server.ws_url, "--http", server.http_url])
        assert self.next_line(WAIT) == {"open": True}

    def send(self, obj):
        self.proc.stdin.write(json.dumps({"send": obj}) + "\n")
        self.proc.stdin.flush()

    def publish(self, body):
        self.proc.stdin.write(json.dumps({"publish": body}) + "\n")
        self.proc.stdin.flush()
        line = self.next_line(WAIT)
        assert "published" in line, line
        return line

    def message(self):
        line = self.next_line(WAIT)
        assert "message" in line, line
        return line["message"]

    def sync(self):
        """A ping's pong: every message sent before it has been applied,
        and nothing else was sent back in the meantime."""
        self.send({"type": "ping"})
        assert self.message() == {"type": "pong"}


@pytest.fixture
def one_shard_server(start_server):
    # One shard: events of two topics reach the client in publish order.
    return start_server(shards=1)


def test_subscribe_publish_unsubscribe(one_shard_server):
    with LambdaClient(one_shard_server) as client:
        client.send({"action": "SUBSCRIBE", "topicId": "chat:7"})
        client.send({"action": "SUBSCRIBE", "topicId": "chat:8"})
        client.sync()  # no "subscribed" reply came before the pong
        published = client.publish({"topicId": "chat:7", "data": {"text": "hi"}})
        assert published["published"] == 200, published
        assert published["body"]["seq"] == 1, published
        assert client.message() == {"text": "hi"}  # the data, as published

        client.send({"action": "UNSUBSCRIBE", "topicId": "chat:7"})
        client.sync()
        assert client.publish({"topicId": "chat:7", "data": "gone"})["published"] == 200
        assert client.publish({"topicId": "chat:8", "data": "kept"})["published"] == 200
        assert client.message() == "kept"  # chat:7's second event never comes
        client.sync()
        assert client.finish()["closed"] == 1000


@pytest.mark.parametrize("message,code,text", [
    ({"action": "SUBSCRIBE"}, "bad_request", 'missing "topicId"'),
    ({"action": "SUBSCRIBE", "topicId": 7}, "bad_request", '"topicId" must be a string'),
    ({"action": "PUBLISH", "topicId": "a"}, "unknown_type", 'unknown "action"'),
    ({"action": "SUBSCRIBE", "topicId": "a b"}, "bad_topic", None),
])
def test_bad_alias_messages_get_an_error(server, message, code, text):
    with LambdaClient(server) as client:
        client.send(message)
        error = client.message()
        assert error["type"] == "error" and error["code"] == code, error
        if text:
            assert text in error["message"], error
        client.sync()


def test_publish_body_with_topic_and_topic_id_is_refused(server):
    with LambdaClient(server) as client:
        line = client.publish({"topic": "a", "topicId": "a", "data": 1})
        assert line["published"] == 422 and line["body"]["error"] == "bad_request", line
        assert "not both" in line["body"]["message"], line


def test_text_large_and_truncated_data(start_server):
    """Every frame header size (2, 4 and 10 bytes), and an oversized event:
    its stub, which names the fetch URL."""
    server = start_server("--max-payload", "80000", shards=1)
    with LambdaClient(server) as client:
        client.send({"action": "SUBSCRIBE", "topicId": "big"})
        client.sync()
        for size in (10, 300, 70000):
            data = {"blob": "x" * size}
            assert client.publish({"topicId": "big", "data": data})["published"] == 200
            assert client.message() == data
        data = {"id": 9, "blob": "y" * 90000}
        assert client.publish({"topicId": "big", "data": data})["published"] == 200
        stub = client.message()
        assert stub["truncated"] is True and stub["ref"] == {"id": 9}, stub
        assert stub["fetch"] == "/v1/messages/big/4", stub


def test_native_subscribers_keep_the_envelope(one_shard_server):
    """The data-only shape belongs to the connection that used the aliases;
    a native subscriber of the same topic still gets the envelope."""
    with LambdaClient(one_shard_server) as lam, LambdaClient(one_shard_server) as native:
        lam.send({"action": "SUBSCRIBE", "topicId": "t"})
        lam.sync()
        native.send({"type": "subscribe", "topics": ["t"]})
        reply = native.message()
        assert (reply["type"], reply["topics"]) == ("subscribed", ["t"]), reply
        assert lam.publish({"topicId": "t", "data": [1, 2]})["published"] == 200
        assert lam.message() == [1, 2]
        event = native.message()
        assert event["data"] == [1, 2] and event["topic"] == "t" and event["seq"] == 1, event
