//! Protobuf messages as JSON lines, both ways, in Protobuf's canonical JSON mapping
//! (prost-reflect's serde support: field names in lowerCamelCase, 64-bit integers as
//! strings, bytes as base64, enums by name, well-known types such as Timestamp and
//! Duration in their JSON forms, fields at their default value left out). Schemas come
//! from a Schema Registry (its text, or a base64 FileDescriptorProto as Confluent's
//! serializers may register them, with the schemas it imports registered as other
//! subjects) or from local `.proto` files and descriptor sets; `.proto` text is compiled
//! in-process by protox, no `protoc` needed. Documented in README.md ("Schema Registry").
//!
//! In the registry's wire format a Protobuf body starts with the message-index list: the
//! path from the schema file to the message type (the 2nd top-level message's 1st nested
//! message is [1, 0]), as zigzag varints, count first; the usual [0] is one byte 0.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use clap::Args;
use prost::Message as _;
use prost_reflect::{
    DescriptorPool, DeserializeOptions, DynamicMessage, FileDescriptor, MessageDescriptor,
    SerializeOptions,
};
use protox::file::{ChainFileResolver, File, FileResolver, GoogleFileResolver};

use crate::failure::Failure;

/// The name a registry schema's own file gets (its imports keep the names they are
/// registered under, which is how the schema refers to them).
const MAIN_FILE: &str = "kpipes-registry-schema.proto";

/// One Protobuf schema file and its imports, ready to decode and encode its messages.
pub struct ProtobufSchema {
    file: FileDescriptor,
    /// The file's first message type: the one nearly every record names (index list [0]).
    first: MessageDescriptor,
}

impl ProtobufSchema {
    /// A registry schema: its text (`.proto`, or a base64 FileDescriptorProto) and the
    /// schemas it imports, by the names it imports them as.
    pub fn from_registry(text: &str, imports: &HashMap<String, String>) -> Result<Self, String> {
        let mut files = HashMap::new();
        for (name, source) in imports {
            files.insert(name.clone(), registry_file(name, source)?);
        }
        files.insert(MAIN_FILE.to_string(), registry_file(MAIN_FILE, text)?);
        let mut resolver = ChainFileResolver::new();
        resolver.add(Files(files));
        resolver.add(GoogleFileResolver::new());
        let mut compiler = protox::Compiler::with_file_resolver(resolver);
        compiler
            .open_file(MAIN_FILE)
            .map_err(|err| format!("not a usable Protobuf schema: {}", one_line(&err)))?;
        let pool = compiler.descriptor_pool();
        let file = pool
            .get_file_by_name(MAIN_FILE)
            .ok_or("the Protobuf schema compiled to nothing")?;
        let first = file
            .messages()
            .next()
            .ok_or("the Protobuf schema defines no message type")?;
        Ok(ProtobufSchema { file, first })
    }

    /// The message type a message-index list names.
    pub fn message_at(&self, indexes: &[i64]) -> Result<MessageDescriptor, String> {
        let missing = || format!("the schema has no message at index {indexes:?}");
        let (first, rest) = indexes.split_first().ok_or_else(missing)?;
        let mut message = usize::try_from(*first)
            .ok()
            .and_then(|i| self.file.messages().nth(i))
            .ok_or_else(missing)?;
        for index in rest {
            message = usize::try_from(*index)
                .ok()
                .and_then(|i| message.child_messages().nth(i))
                .ok_or_else(missing)?;
        }
        Ok(message)
    }

    /// A message type of the schema by full name (`pkg.Outer.Inner`); None for its first.
    pub fn message_named(&self, name: Option<&str>) -> Result<MessageDescriptor, String> {
        let Some(name) = name else {
            return self.message_at(&[0]);
        };
        let name = name.trim_start_matches('.');
        self.file
            .parent_pool()
            .get_message_by_name(name)
            .filter(|m| m.parent_file() == self.file)
            .ok_or_else(|| {
                let known: Vec<String> = all_messages(&self.file)
                    .iter()
                    .map(|m| m.full_name().to_string())
                    .collect();
                format!(
                    "the schema has no message type '{name}' (it has: {})",
                    known.join(", ")
                )
            })
    }

    /// Decode a wire-format body (after the schema id): its JSON appended to `out`, and the
    /// message type's full name when it is not the schema's first.
    pub fn decode_json(&self, body: &[u8], out: &mut Vec<u8>) -> Result<Option<String>, String> {
        if let Some((0, message)) = body.split_first() {
            decode_json(&self.first, message, out)?;
            return Ok(None);
        }
        let (indexes, message) = split_indexes(body)?;
        let descriptor = self.message_at(&indexes)?;
        decode_json(&descriptor, message, out)?;
        Ok((indexes != [0]).then(|| descriptor.full_name().to_string()))
    }

    /// Encode JSON as a wire-format body (message-index list, then the message).
    pub fn encode_json(&self, json: &str, message_type: Option<&str>) -> Result<Vec<u8>, String> {
        let descriptor = self.message_named(message_type)?;
        let mut out = Vec::new();
        write_indexes(&index_path(&descriptor), &mut out);
        out.extend_from_slice(&encode_json(&descriptor, json)?);
        Ok(out)
    }
}

/// Every message type of a file, nested ones included.
fn all_messages(file: &FileDescriptor) -> Vec<MessageDescriptor> {
    let mut out = Vec::new();
    let mut todo: Vec<MessageDescriptor> = file.messages().collect();
    todo.reverse();
    while let Some(message) = todo.pop() {
        let mut children: Vec<MessageDescriptor> = message.child_messages().collect();
        children.reverse();
        out.push(message);
        todo.extend(children);
    }
    out
}

/// A schema text from the registry as a file protox can compile.
fn registry_file(name: &str, text: &str) -> Result<File, String> {
    match File::from_source(name, text) {
        Ok(file) => Ok(file),
        Err(parse_error) => {
            // Confluent's serializers may register the compiled descriptor, base64-encoded.
            let descriptor = base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .ok()
                .and_then(|bytes| prost_types::FileDescriptorProto::decode(&bytes[..]).ok())
                .filter(|d| d.name.is_some() || !d.message_type.is_empty());
            match descriptor {
                Some(mut descriptor) => {
                    descriptor.name = Some(name.to_string());
                    Ok(File::from_file_descriptor_proto(descriptor))
                }
                None => Err(format!("not a Protobuf schema: {}", one_line(&parse_error))),
            }
        }
    }
}

/// Files held in memory, by name.
struct Files(HashMap<String, File>);

impl FileResolver for Files {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        self.0
            .get(name)
            .cloned()
            .ok_or_else(|| protox::Error::file_not_found(name))
    }
}

fn one_line(err: &dyn std::fmt::Display) -> String {
    err.to_string().replace('\n', " ")
}

/// Decode one message and append its canonical JSON to `out` (unchanged on error).
pub fn decode_json(
    descriptor: &MessageDescriptor,
    bytes: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), String> {
    if crate::protobuf_json::write(descriptor, bytes, out) {
        return Ok(());
    }
    let message = DynamicMessage::decode(descriptor.clone(), bytes)
        .map_err(|err| format!("not a {} message: {err}", descriptor.full_name()))?;
    let start = out.len();
    let mut serializer = serde_json::Serializer::new(&mut *out);
    message
        .serialize_with_options(&mut serializer, &SerializeOptions::new())
        .map_err(|err| {
            out.truncate(start);
            format!("{} to JSON: {err}", descriptor.full_name())
        })
}

/// Encode JSON (the canonical mapping; unknown fields refused) as one message. The error
/// names the field that does not fit, e.g. `field lines[0].qty: invalid type: ...`.
pub fn encode_json(descriptor: &MessageDescriptor, json: &str) -> Result<Vec<u8>, String> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let mut track = serde_path_to_error::Track::new();
    let message = DynamicMessage::deserialize_with_options(
        descriptor.clone(),
        serde_path_to_error::Deserializer::new(&mut deserializer, &mut track),
        &DeserializeOptions::new(),
    )
    .and_then(|message| deserializer.end().map(|()| message))
    .map_err(|err| {
        // The position is within the value, not the input line: the path says more.
        let position = format!(" at line {} column {}", err.line(), err.column());
        let why = err.to_string();
        let why = why.strip_suffix(&position).unwrap_or(&why);
        let path = track.path().to_string();
        match path.as_str() {
            "" | "." => format!("does not fit {}: {why}", descriptor.full_name()),
            _ => format!(
                "does not fit {}: field {path}: {why}",
                descriptor.full_name()
            ),
        }
    })?;
    Ok(message.encode_to_vec())
}

/// The message-index list at the start of a body, and the message after it.
pub fn split_indexes(body: &[u8]) -> Result<(Vec<i64>, &[u8]), String> {
    let bad = || "the message-index list after the schema id is cut short".to_string();
    let mut rest = body;
    let count = read_zigzag(&mut rest).ok_or_else(bad)?;
    if count == 0 {
        return Ok((vec![0], rest));
    }
    if count < 0 || count as usize > rest.len() {
        return Err(format!(
            "the message-index list after the schema id claims {count} entries: not Protobuf's wire format"
        ));
    }
    let mut indexes = Vec::with_capacity(count as usize);
    for _ in 0..count {
        indexes.push(read_zigzag(&mut rest).ok_or_else(bad)?);
    }
    Ok((indexes, rest))
}

/// The message-index list for a path, as Confluent's serializers write it ([0] as one 0).
pub fn write_indexes(indexes: &[i64], out: &mut Vec<u8>) {
    if indexes == [0] {
        out.push(0);
        return;
    }
    write_zigzag(indexes.len() as i64, out);
    for index in indexes {
        write_zigzag(*index, out);
    }
}

/// The path from the file to a message type: its index among its siblings, outermost first.
fn index_path(descriptor: &MessageDescriptor) -> Vec<i64> {
    let mut path = Vec::new();
    let mut current = descriptor.clone();
    loop {
        match current.parent_message() {
            Some(parent) => {
                let at = parent.child_messages().position(|m| m == current);
                path.push(at.unwrap_or(0) as i64);
                current = parent;
            }
            None => {
                let at = current.parent_file().messages().position(|m| m == current);
                path.push(at.unwrap_or(0) as i64);
                break;
            }
        }
    }
    path.reverse();
    path
}

fn read_zigzag(rest: &mut &[u8]) -> Option<i64> {
    let mut value: u64 = 0;
    for shift in (0..64).step_by(7) {
        let (&byte, tail) = rest.split_first()?;
        *rest = tail;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some((value >> 1) as i64 ^ -((value & 1) as i64));
        }
    }
    None
}

fn write_zigzag(value: i64, out: &mut Vec<u8>) {
    let mut zigzag = ((value << 1) ^ (value >> 63)) as u64;
    loop {
        let byte = (zigzag & 0x7f) as u8;
        zigzag >>= 7;
        if zigzag == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Flags of kcons and kprod for topics whose producers share `.proto` files (or a compiled
/// descriptor set) instead of a registry: their keys and values are plain Protobuf messages.
#[derive(Args, Debug, Clone, Default)]
pub struct ProtoArgs {
    /// A .proto file whose message types --key-type and --value-type name (repeatable; compiled in-process, no protoc needed)
    #[arg(long = "proto", value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// A directory the .proto files' imports are looked up in (repeatable; default: each --proto file's directory)
    #[arg(short = 'I', long = "proto-include", value_name = "DIR")]
    pub includes: Vec<PathBuf>,

    /// A compiled descriptor set (protoc --include_imports --descriptor_set_out=FILE, buf build -o FILE) whose message types --key-type and --value-type name (repeatable)
    #[arg(long = "descriptor-set", value_name = "FILE")]
    pub descriptor_sets: Vec<PathBuf>,

    /// Keys are Protobuf messages of this type (its full name, e.g. com.example.OrderKey), from --proto or --descriptor-set
    #[arg(long = "key-type", value_name = "MESSAGE")]
    pub key_type: Option<String>,

    /// Values are Protobuf messages of this type (its full name, e.g. com.example.Order), from --proto or --descriptor-set
    #[arg(long = "value-type", value_name = "MESSAGE")]
    pub value_type: Option<String>,
}

/// The message types local files give keys and values.
#[derive(Clone, Default)]
pub struct LocalTypes {
    pub key: Option<MessageDescriptor>,
    pub value: Option<MessageDescriptor>,
}

impl ProtoArgs {
    /// The key and value types of local files, if the flags give files (usage errors,
    /// exit 2, for files or types that are not there).
    pub fn resolve(&self) -> anyhow::Result<Option<LocalTypes>> {
        let has_files = !self.files.is_empty() || !self.descriptor_sets.is_empty();
        let has_types = self.key_type.is_some() || self.value_type.is_some();
        match (has_files, has_types) {
            // Types alone pick a registry schema's message type (kprod).
            (false, _) => return Ok(None),
            (true, false) => {
                return Err(Failure::usage(
                    "--proto and --descriptor-set need --value-type or --key-type: the message type of the topic's values or keys",
                )
                .into())
            }
            (true, true) => {}
        }
        let pool = self.pool().map_err(Failure::usage)?;
        let find =
            |flag: &str, name: &Option<String>| -> anyhow::Result<Option<MessageDescriptor>> {
                let Some(name) = name else { return Ok(None) };
                let name = name.trim_start_matches('.');
                pool.get_message_by_name(name).map(Some).ok_or_else(|| {
                    let mut known: Vec<String> = pool
                        .all_messages()
                        .map(|m| m.full_name().to_string())
                        .filter(|n| !n.starts_with("google.protobuf."))
                        .collect();
                    known.sort();
                    known.truncate(20);
                    Failure::usage(format!(
                        "{flag} {name}: no such message type in the given files (they have: {})",
                        known.join(", ")
                    ))
                    .into()
                })
            };
        Ok(Some(LocalTypes {
            key: find("--key-type", &self.key_type)?,
            value: find("--value-type", &self.value_type)?,
        }))
    }

    fn pool(&self) -> Result<DescriptorPool, String> {
        let mut pool = DescriptorPool::new();
        for path in &self.descriptor_sets {
            let bytes = std::fs::read(path)
                .map_err(|err| format!("--descriptor-set {}: {err}", path.display()))?;
            pool.decode_file_descriptor_set(&bytes[..]).map_err(|err| {
                format!(
                    "--descriptor-set {}: not a usable descriptor set: {err}",
                    path.display()
                )
            })?;
        }
        if self.files.is_empty() {
            return Ok(pool);
        }
        let mut includes = self.includes.clone();
        for file in &self.files {
            let dir = file.parent().filter(|d| !d.as_os_str().is_empty());
            let dir = dir.unwrap_or(Path::new(".")).to_path_buf();
            if !includes.contains(&dir) {
                includes.push(dir);
            }
        }
        let mut compiler = protox::Compiler::new(&includes)
            .map_err(|err| format!("--proto-include: {}", one_line(&err)))?;
        compiler.include_imports(true);
        for file in &self.files {
            compiler
                .open_file(file)
                .map_err(|err| format!("--proto {}: {}", file.display(), one_line(&err)))?;
        }
        let set = compiler.file_descriptor_set();
        for file in set.file {
            if pool.get_file_by_name(file.name()).is_none() {
                pool.add_file_descriptor_proto(file)
                    .map_err(|err| format!("--proto: {err}"))?;
            }
        }
        Ok(pool)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str = r#"
        syntax = "proto3";
        package shop;
        import "google/protobuf/timestamp.proto";
        message Order {
          int64 id = 1;
          string item = 2;
          bytes tag = 3;
          Status status = 4;
          google.protobuf.Timestamp at = 5;
          message Line { string sku = 1; uint32 qty = 2; }
          repeated Line lines = 6;
        }
        enum Status { NEW = 0; PAID = 1; }
        message Other { string x = 1; }
    "#;

    #[test]
    fn indexes_both_ways() {
        for path in [vec![0], vec![1], vec![1, 0], vec![3, -2, 300]] {
            let mut out = Vec::new();
            write_indexes(&path, &mut out);
            out.push(42);
            let (read, rest) = split_indexes(&out).unwrap();
            assert_eq!((read, rest), (path.clone(), &[42][..]));
        }
        let mut one = Vec::new();
        write_indexes(&[0], &mut one);
        assert_eq!(one, [0]);
        assert!(split_indexes(&[0x80]).is_err());
        assert!(split_indexes(&[10, 0]).is_err());
    }

    #[test]
    fn canonical_json_round_trip() {
        let schema = ProtobufSchema::from_registry(SCHEMA, &HashMap::new()).unwrap();
        let json = r#"{"id":"9007199254740993","item":"book","tag":"AAE=","status":"PAID","at":"2024-01-02T03:04:05Z","lines":[{"sku":"a","qty":2}]}"#;
        let body = schema.encode_json(json, None).unwrap();
        assert_eq!(body[0], 0, "[0] is one byte 0");
        let mut out = Vec::new();
        assert_eq!(schema.decode_json(&body, &mut out).unwrap(), None);
        assert_eq!(String::from_utf8(out).unwrap(), json);

        let nested = schema
            .encode_json(r#"{"sku":"z"}"#, Some("shop.Order.Line"))
            .unwrap();
        assert_eq!(&nested[..3], &[4, 0, 0], "[0, 0]: count 2, then 0, 0");
        let mut out = Vec::new();
        assert_eq!(
            schema.decode_json(&nested, &mut out).unwrap().as_deref(),
            Some("shop.Order.Line")
        );
        assert_eq!(out, br#"{"sku":"z"}"#);
        let other = schema
            .encode_json(r#"{"x":"y"}"#, Some("shop.Other"))
            .unwrap();
        assert_eq!(&other[..2], &[2, 2], "[1]");
    }

    #[test]
    fn bad_values_name_what_does_not_fit() {
        let schema = ProtobufSchema::from_registry(SCHEMA, &HashMap::new()).unwrap();
        let err = schema.encode_json(r#"{"nope":1}"#, None).unwrap_err();
        assert!(err.contains("nope"), "{err}");
        let err = schema
            .encode_json(r#"{"lines":[{"qty":-1}]}"#, None)
            .unwrap_err();
        assert!(err.contains("shop.Order: field lines[0].qty: "), "{err}");
        assert!(!err.contains("column"), "{err}");
        assert!(schema.message_named(Some("shop.Nope")).is_err());
        let mut out = Vec::new();
        assert!(schema.decode_json(&[0, 0xff, 0xff], &mut out).is_err());
        assert!(out.is_empty());
        assert!(
            schema.decode_json(&[2, 20, 1], &mut out).is_err(),
            "index 10"
        );
    }

    #[test]
    fn imports_come_from_the_references() {
        let mut imports = HashMap::new();
        imports.insert(
            "common/money.proto".to_string(),
            "syntax = \"proto3\"; package common; message Money { string currency = 1; int64 units = 2; }".to_string(),
        );
        let schema = ProtobufSchema::from_registry(
            "syntax = \"proto3\"; import \"common/money.proto\"; message Price { common.Money amount = 1; }",
            &imports,
        )
        .unwrap();
        let body = schema
            .encode_json(r#"{"amount":{"currency":"EUR","units":"5"}}"#, None)
            .unwrap();
        let mut out = Vec::new();
        schema.decode_json(&body, &mut out).unwrap();
        assert_eq!(out, br#"{"amount":{"currency":"EUR","units":"5"}}"#);
    }

    #[test]
    fn base64_descriptors_as_registered_by_confluent_serializers() {
        let text = ProtobufSchema::from_registry(SCHEMA, &HashMap::new()).unwrap();
        let proto = text.file.file_descriptor_proto().encode_to_vec();
        let encoded = base64::engine::general_purpose::STANDARD.encode(proto);
        let schema = ProtobufSchema::from_registry(&encoded, &HashMap::new()).unwrap();
        let body = schema.encode_json(r#"{"item":"x"}"#, None).unwrap();
        assert_eq!(body, text.encode_json(r#"{"item":"x"}"#, None).unwrap());
    }
}
