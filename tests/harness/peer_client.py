"""A Kafka client independent of kpipes for the peer tests: Confluent's Python client,
whose bundled librdkafka (2.6.1 or later) logs in with SCRAM to Kafka 4 where Debian's
kcat (librdkafka 2.0.2) cannot. Records are read and written in kpipes' record format.

  peer_client.py produce BROKERS PROPERTIES TOPIC        < one JSON record per line
  peer_client.py consume BROKERS PROPERTIES TOPIC COUNT  > one JSON record per line

PROPERTIES is a librdkafka key=value file (a kcluster user's), or "-" for none.
"""
import base64
import json
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition


def properties(brokers, path):
    config = {"bootstrap.servers": brokers}
    if path != "-":
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith(("#", "!")):
                    key, value = line.split("=", 1)
                    config[key.strip()] = value.strip()
    return config


def to_bytes(field):
    if field is None:
        return None
    if isinstance(field, dict):
        return base64.b64decode(field["base64"])
    return field.encode()


def to_json(data):
    if data is None:
        return None
    try:
        return data.decode()
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode()}


def produce(config, topic):
    producer = Producer(config)
    failed = []
    for line in sys.stdin:
        if line.strip():
            record = json.loads(line)
            headers = [(h["key"], to_bytes(h.get("value"))) for h in record.get("headers", [])]
            producer.produce(topic, key=to_bytes(record.get("key")), value=to_bytes(record["value"]),
                             headers=headers,
                             on_delivery=lambda err, _msg: err and failed.append(err))
    left = producer.flush(30)
    if left or failed:
        sys.exit(f"peer_client: {left} records not delivered in time, {failed[:1]} failed")


def consume(config, topic, count):
    config.update({"group.id": f"peer-client-{topic}", "enable.auto.commit": False})
    consumer = Consumer(config)
    consumer.assign([TopicPartition(topic, 0, 0)])
    deadline = time.monotonic() + 30
    seen = 0
    while seen < count:
        if time.monotonic() > deadline:
            sys.exit(f"peer_client: only {seen} of {count} records within 30 s")
        message = consumer.poll(0.5)
        if message is None:
            continue
        if message.error():
            raise KafkaException(message.error())
        headers = [{"key": k, "value": to_json(v)} for k, v in (message.headers() or [])]
        print(json.dumps({"key": to_json(message.key()), "value": to_json(message.value()),
                          "headers": headers}), flush=True)
        seen += 1
    consumer.close()


if __name__ == "__main__":
    command, brokers, props, topic = sys.argv[1:5]
    if command == "produce":
        produce(properties(brokers, props), topic)
    else:
        consume(properties(brokers, props), topic, int(sys.argv[5]))
