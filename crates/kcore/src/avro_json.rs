//! Avro binary straight to the JSON that `avro.rs` prints, without building apache-avro's
//! `Value` first, for the shape most topics hold: records of primitives, strings, bytes,
//! enums, fixed, arrays, unions and nested records (logical types printed as their
//! numbers). kcons reads many small records, and building a `Value` for each (its field
//! names copied every time) costs more than the reading.
//!
//! Maps (printed with sorted keys), decimals, uuids and durations make [`AvroPlan::write`]
//! answer `false` with `out` untouched, as do bytes that do not decode; the general path
//! in `avro.rs` then decodes the record and reports its errors. Both paths print the same
//! text for every body this one accepts (the tests compare them on random values).

use std::collections::HashMap;

use apache_avro::schema::{EnumSchema, FixedSchema, Name, RecordSchema, Schema};

use crate::avro::{latin1, write_float};
use crate::record::{write_int, write_str};

/// A schema's types, ready to print: the root is `nodes[0]`.
pub struct AvroPlan {
    nodes: Vec<Node>,
}

enum Node {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    String,
    /// Bytes, printed as a string of the characters U+0000-U+00FF.
    Bytes,
    Fixed(usize),
    /// The symbols, each as a JSON string.
    Enum(Vec<Vec<u8>>),
    /// Each field's `"name":` and type.
    Record(Vec<(Vec<u8>, usize)>),
    /// Each branch's `{"name":` (None for null, printed bare) and type.
    Union(Vec<(Option<Vec<u8>>, usize)>),
    Array(usize),
    /// Left to the general path.
    Other,
}

impl AvroPlan {
    /// The plan of a parsed schema; `names` resolves its references, `branch_name` names a
    /// union's branch as the general path names it.
    pub fn new(
        schema: &Schema,
        names: &HashMap<Name, &Schema>,
        branch_name: &dyn Fn(&Schema) -> String,
    ) -> AvroPlan {
        let mut builder = Builder {
            nodes: Vec::new(),
            named: HashMap::new(),
            names,
            branch_name,
        };
        builder.node(schema);
        AvroPlan {
            nodes: builder.nodes,
        }
    }

    /// Append a body's JSON to `out` and answer true, or answer false (nothing appended)
    /// when it needs the general path.
    pub fn write(&self, body: &[u8], out: &mut Vec<u8>) -> bool {
        let start = out.len();
        let mut rest = body;
        if self.write_node(0, &mut rest, out).is_none() || !rest.is_empty() {
            out.truncate(start);
            return false;
        }
        true
    }

    fn write_node(&self, index: usize, bytes: &mut &[u8], out: &mut Vec<u8>) -> Option<()> {
        match &self.nodes[index] {
            Node::Null => out.extend_from_slice(b"null"),
            Node::Boolean => {
                let (&b, rest) = bytes.split_first()?;
                *bytes = rest;
                out.extend_from_slice(match b {
                    0 => b"false",
                    1 => b"true",
                    _ => return None,
                });
            }
            Node::Int => write_int(out, i32::try_from(read_long(bytes)?).ok()?),
            Node::Long => write_int(out, read_long(bytes)?),
            Node::Float => {
                let x = f32::from_le_bytes(take(bytes)?);
                write_float(out, f64::from(x), |out| {
                    serde_json::to_writer(out, &x).expect("writing to a Vec")
                });
            }
            Node::Double => {
                let x = f64::from_le_bytes(take(bytes)?);
                write_float(out, x, |out| {
                    serde_json::to_writer(out, &x).expect("writing to a Vec")
                });
            }
            Node::String => write_str(out, std::str::from_utf8(read_bytes(bytes)?).ok()?),
            Node::Bytes => write_str(out, &latin1(read_bytes(bytes)?)),
            Node::Fixed(size) => {
                if bytes.len() < *size {
                    return None;
                }
                let (value, rest) = bytes.split_at(*size);
                *bytes = rest;
                write_str(out, &latin1(value));
            }
            Node::Enum(symbols) => {
                let index = usize::try_from(read_long(bytes)?).ok()?;
                out.extend_from_slice(symbols.get(index)?);
            }
            Node::Record(fields) => {
                out.push(b'{');
                for (i, (name, node)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(name);
                    self.write_node(*node, bytes, out)?;
                }
                out.push(b'}');
            }
            Node::Union(branches) => {
                let index = usize::try_from(read_long(bytes)?).ok()?;
                match branches.get(index)? {
                    (None, _) => out.extend_from_slice(b"null"),
                    (Some(open), node) => {
                        out.extend_from_slice(open);
                        self.write_node(*node, bytes, out)?;
                        out.push(b'}');
                    }
                }
            }
            Node::Array(items) => {
                out.push(b'[');
                let mut first = true;
                loop {
                    // A negative count (a block with its size in bytes) is left to the
                    // general path.
                    let count = u64::try_from(read_long(bytes)?).ok()?;
                    if count == 0 {
                        break;
                    }
                    for _ in 0..count {
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        self.write_node(*items, bytes, out)?;
                    }
                }
                out.push(b']');
            }
            Node::Other => return None,
        }
        Some(())
    }
}

struct Builder<'a> {
    nodes: Vec<Node>,
    /// Named types already planned (a recursive type refers to itself).
    named: HashMap<Name, usize>,
    names: &'a HashMap<Name, &'a Schema>,
    branch_name: &'a dyn Fn(&Schema) -> String,
}

impl Builder<'_> {
    fn node(&mut self, schema: &Schema) -> usize {
        let Schema::Ref { name } = schema else {
            let index = self.push(Node::Other);
            self.fill(index, schema);
            return index;
        };
        if let Some(&index) = self.named.get(name) {
            return index;
        }
        let index = self.push(Node::Other);
        self.named.insert(name.clone(), index);
        if let Some(named) = self.names.get(name) {
            self.fill(index, named);
        }
        index
    }

    fn fill(&mut self, index: usize, schema: &Schema) {
        if let Schema::Record(RecordSchema { name, .. })
        | Schema::Enum(EnumSchema { name, .. })
        | Schema::Fixed(FixedSchema { name, .. }) = schema
        {
            self.named.insert(name.clone(), index);
        }
        let node = match schema {
            Schema::Null => Node::Null,
            Schema::Boolean => Node::Boolean,
            Schema::Int | Schema::Date | Schema::TimeMillis => Node::Int,
            Schema::Long
            | Schema::TimeMicros
            | Schema::TimestampMillis
            | Schema::TimestampMicros
            | Schema::TimestampNanos
            | Schema::LocalTimestampMillis
            | Schema::LocalTimestampMicros
            | Schema::LocalTimestampNanos => Node::Long,
            Schema::Float => Node::Float,
            Schema::Double => Node::Double,
            Schema::String => Node::String,
            Schema::Bytes => Node::Bytes,
            Schema::Fixed(fixed) => Node::Fixed(fixed.size),
            Schema::Enum(e) => Node::Enum(
                e.symbols
                    .iter()
                    .map(|symbol| {
                        let mut json = Vec::new();
                        write_str(&mut json, symbol);
                        json
                    })
                    .collect(),
            ),
            Schema::Record(record) => Node::Record(
                record
                    .fields
                    .iter()
                    .map(|field| {
                        let mut name = Vec::new();
                        write_str(&mut name, &field.name);
                        name.push(b':');
                        (name, self.node(&field.schema))
                    })
                    .collect(),
            ),
            Schema::Union(union) => Node::Union(
                union
                    .variants()
                    .iter()
                    .map(|branch| {
                        let open = (!matches!(branch, Schema::Null)).then(|| {
                            let mut open = b"{".to_vec();
                            write_str(&mut open, &(self.branch_name)(branch));
                            open.push(b':');
                            open
                        });
                        (open, self.node(branch))
                    })
                    .collect(),
            ),
            Schema::Array(array) => Node::Array(self.node(&array.items)),
            _ => Node::Other,
        };
        self.nodes[index] = node;
    }

    fn push(&mut self, node: Node) -> usize {
        self.nodes.push(node);
        self.nodes.len() - 1
    }
}

/// A zigzag varint of at most 10 bytes, read as apache-avro reads it.
fn read_long(bytes: &mut &[u8]) -> Option<i64> {
    let mut z = 0u64;
    for (i, &byte) in bytes.iter().enumerate().take(10) {
        z |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            *bytes = &bytes[i + 1..];
            return Some(if z & 1 == 0 {
                (z >> 1) as i64
            } else {
                !(z >> 1) as i64
            });
        }
    }
    None
}

fn read_bytes<'a>(bytes: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = usize::try_from(read_long(bytes)?).ok()?;
    if len > bytes.len() {
        return None;
    }
    let (value, rest) = bytes.split_at(len);
    *bytes = rest;
    Some(value)
}

fn take<const N: usize>(bytes: &mut &[u8]) -> Option<[u8; N]> {
    let (value, rest) = bytes.split_first_chunk::<N>()?;
    *bytes = rest;
    Some(*value)
}
