"""Protobuf and JSON Schema clients independent of kpipes, for tests/protobuf.rs: Confluent's
own Python serializers and deserializers (confluent-kafka's ProtobufSerializer,
ProtobufDeserializer, JSONSerializer, JSONDeserializer), so that what kcons
decodes and kprod encodes is checked against another implementation of the wire format.

  schema_client.py produce BROKERS REGISTRY TOPIC SPEC         < one {"key":..,"value":..} per line
  schema_client.py consume BROKERS REGISTRY TOPIC SPEC COUNT   > one {"key":..,"value":..} per line

SPEC is JSON: {"key": PART, "value": PART}, a PART one of
  {"format": "protobuf", "dir": DIR, "file": "shop/order.proto", "message": "shop.Order"}
      (DIR holds the .proto files; grpc_tools compiles them, no system protoc)
  {"format": "plain-protobuf", ...the same}   (the message's bytes alone, no registry)
  {"format": "json", "schema": SCHEMA_TEXT}
  {"format": "string"}
Protobuf values are given and printed in Protobuf's JSON mapping (json_format).
"""
import importlib
import json
import os
import sys
import tempfile
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import json_format, message_factory
from grpc_tools import protoc

COMPILED = {}


def message_class(part):
    """The generated class of a part's message type (one version of a file per process:
    the generated modules share Protobuf's default descriptor pool)."""
    directory = part["dir"]
    if directory not in COMPILED:
        out = tempfile.mkdtemp()
        files = []
        for root, _, names in os.walk(directory):
            files += [os.path.relpath(os.path.join(root, n), directory) for n in names if n.endswith(".proto")]
        include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
        if protoc.main(["protoc", f"-I{directory}", f"-I{include}", f"--python_out={out}"] + files) != 0:
            sys.exit(f"schema_client: cannot compile {files}")
        sys.path.insert(0, out)
        COMPILED[directory] = {n: importlib.import_module(n[:-6].replace("/", ".") + "_pb2") for n in files}
    module = COMPILED[directory][part["file"]]
    descriptor = module.DESCRIPTOR.pool.FindMessageTypeByName(part["message"])
    return message_factory.GetMessageClass(descriptor)


def serializer(part, client):
    kind = part["format"]
    if kind == "protobuf":
        cls = message_class(part)
        ser = ProtobufSerializer(cls, client, {"use.deprecated.format": False})
        return lambda value, ctx: ser(json_format.ParseDict(value, cls()), ctx)
    if kind == "plain-protobuf":
        cls = message_class(part)
        return lambda value, ctx: json_format.ParseDict(value, cls()).SerializeToString()
    if kind == "json":
        ser = JSONSerializer(part["schema"], client)
        return lambda value, ctx: ser(value, ctx)
    return lambda value, ctx: value.encode() if value is not None else None


def deserializer(part):
    kind = part["format"]
    if kind == "protobuf":
        de = ProtobufDeserializer(message_class(part), {"use.deprecated.format": False})
        return lambda data, ctx: json_format.MessageToDict(de(data, ctx))
    if kind == "plain-protobuf":
        cls = message_class(part)
        return lambda data, ctx: json_format.MessageToDict(cls.FromString(data))
    if kind == "json":
        de = JSONDeserializer(part["schema"])
        return lambda data, ctx: de(data, ctx)
    return lambda data, ctx: data.decode() if data is not None else None


def produce(brokers, registry, topic, spec):
    client = SchemaRegistryClient({"url": registry})
    key = serializer(spec.get("key", {"format": "string"}), client)
    value = serializer(spec["value"], client)
    producer = Producer({"bootstrap.servers": brokers})
    for line in sys.stdin:
        if line.strip():
            record = json.loads(line)
            k = record.get("key")
            producer.produce(
                topic,
                key=None if k is None else key(k, SerializationContext(topic, MessageField.KEY)),
                value=value(record["value"], SerializationContext(topic, MessageField.VALUE)),
            )
    left = producer.flush(30)
    if left:
        sys.exit(f"schema_client: {left} records not delivered")


def consume(brokers, registry, topic, spec, count):
    key = deserializer(spec.get("key", {"format": "string"}))
    value = deserializer(spec["value"])
    consumer = Consumer({"bootstrap.servers": brokers, "group.id": f"schema-client-{topic}",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, 0)])
    deadline = time.monotonic() + 30
    seen = 0
    while seen < count:
        if time.monotonic() > deadline:
            sys.exit(f"schema_client: only {seen} of {count} records within 30 s")
        message = consumer.poll(0.5)
        if message is None:
            continue
        if message.error():
            raise KafkaException(message.error())
        k = message.key()
        print(json.dumps({
            "key": None if k is None else key(k, SerializationContext(topic, MessageField.KEY)),
            "value": value(message.value(), SerializationContext(topic, MessageField.VALUE)),
        }), flush=True)
        seen += 1
    consumer.close()


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "produce":
        produce(args[0], args[1], args[2], json.loads(args[3]))
    elif command == "consume":
        consume(args[0], args[1], args[2], json.loads(args[3]), int(args[4]))
    else:
        sys.exit(f"schema_client: unknown command {command}")
