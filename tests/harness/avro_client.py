"""An Avro client independent of kpipes, for tests/schema_registry.rs: Confluent's own
Python serializer and deserializer (confluent-kafka with fastavro), so that what kcons
decodes and kprod encodes is checked against another implementation of the wire format.

  avro_client.py produce BROKERS REGISTRY TOPIC SCHEMA_FILE   < one Python literal per line
  avro_client.py consume BROKERS REGISTRY TOPIC COUNT          > one JSON line per value

Input lines are Python literals (Decimal("1.20"), UUID(...) and datetime values need
their Python types, which JSON has not); output is JSON, other types as str().
"""
import json
import sys
import time
from datetime import date, datetime, timezone
from decimal import Decimal
from uuid import UUID

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

LITERALS = {"Decimal": Decimal, "UUID": UUID, "date": date, "datetime": datetime, "timezone": timezone}


def produce(brokers, registry, topic, schema_file):
    client = SchemaRegistryClient({"url": registry})
    with open(schema_file) as f:
        serializer = AvroSerializer(client, f.read())
    producer = Producer({"bootstrap.servers": brokers})
    context = SerializationContext(topic, MessageField.VALUE)
    for line in sys.stdin:
        if line.strip():
            value = eval(line, {"__builtins__": {}}, LITERALS)
            producer.produce(topic, value=serializer(value, context))
    left = producer.flush(30)
    if left:
        sys.exit(f"avro_client: {left} records not delivered")


def consume(brokers, registry, topic, count):
    client = SchemaRegistryClient({"url": registry})
    deserializer = AvroDeserializer(client)
    consumer = Consumer({"bootstrap.servers": brokers, "group.id": f"avro-client-{topic}",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, 0)])
    context = SerializationContext(topic, MessageField.VALUE)
    deadline = time.monotonic() + 30
    seen = 0
    while seen < count:
        if time.monotonic() > deadline:
            sys.exit(f"avro_client: only {seen} of {count} records within 30 s")
        message = consumer.poll(0.5)
        if message is None:
            continue
        if message.error():
            raise KafkaException(message.error())
        value = deserializer(message.value(), context)
        print(json.dumps(value, default=str), flush=True)
        seen += 1
    consumer.close()


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "produce":
        produce(*args)
    elif command == "consume":
        consume(args[0], args[1], args[2], int(args[3]))
    else:
        sys.exit(f"avro_client: unknown command {command}")
