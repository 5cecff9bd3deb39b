//! JSON Schema records: in the registry's wire format the body is the JSON document itself.
//! kcons prints it as it is (compacted only when it spans lines, which a JSON line cannot);
//! `kprod --json` checks a value against the schema (the `jsonschema` crate: drafts 4, 6,
//! 7, 2019-09 and 2020-12, by the schema's `$schema`, 2020-12 without one) and sends its
//! JSON text unchanged, so that a record kcons printed goes back byte for byte.

use std::collections::HashMap;

use serde_json::value::RawValue;
use serde_json::Value as Json;

/// One JSON Schema, ready to check many values.
pub struct JsonSchema {
    validator: jsonschema::Validator,
}

impl JsonSchema {
    /// A schema's text, with the schemas its `$ref`s name (the registry's references, by
    /// the name it refers to them as); no other reference is fetched.
    pub fn parse(text: &str, references: &HashMap<String, String>) -> Result<JsonSchema, String> {
        let schema: Json =
            serde_json::from_str(text).map_err(|err| format!("not a JSON Schema: {err}"))?;
        let mut referenced = HashMap::new();
        for (name, text) in references {
            let value: Json = serde_json::from_str(text)
                .map_err(|err| format!("the schema it refers to as {name} is not JSON: {err}"))?;
            referenced.insert(name.clone(), value);
        }
        let validator = jsonschema::options()
            .with_retriever(Referenced(referenced))
            .build(&schema)
            .map_err(|err| format!("not a usable JSON Schema: {err}"))?;
        Ok(JsonSchema { validator })
    }

    /// Append a body's JSON to `out` (unchanged on error).
    pub fn decode_json(&self, body: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        let raw: &RawValue = serde_json::from_slice(body)
            .map_err(|err| format!("the body is not a JSON document: {err}"))?;
        let text = raw.get();
        if text.len() == body.len() && !text.contains(['\n', '\r']) {
            out.extend_from_slice(body);
        } else {
            // Whitespace around it or inside: the document without it.
            let value: Json = serde_json::from_str(text).expect("parsed once already");
            serde_json::to_writer(&mut *out, &value).expect("writing to a Vec");
        }
        Ok(())
    }

    /// Check a value: its JSON text as the body, or the first violation with its JSON pointer.
    pub fn encode_json(&self, json: &str) -> Result<Vec<u8>, String> {
        let value: Json = serde_json::from_str(json).map_err(|err| err.to_string())?;
        if let Err(error) = self.validator.validate(&value) {
            let at = error.instance_path().as_str().to_string();
            let at = if at.is_empty() { "/".to_string() } else { at };
            return Err(format!("at {at}: {error}"));
        }
        Ok(json.as_bytes().to_vec())
    }
}

/// The schemas a schema refers to, by name: `$ref: "address.json"` resolves against the
/// default base URI to `json-schema:///address.json`, a name may also be a whole URL.
struct Referenced(HashMap<String, Json>);

impl jsonschema::Retrieve for Referenced {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Json, Box<dyn std::error::Error + Send + Sync>> {
        let uri = uri.as_str();
        self.0
            .iter()
            .find(|(name, _)| uri == name.as_str() || uri.ends_with(&format!("/{name}")))
            .map(|(_, schema)| schema.clone())
            .ok_or_else(|| format!("{uri} is not among the schema's references").into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str = r#"{"$schema":"http://json-schema.org/draft-07/schema#","type":"object",
        "properties":{"id":{"type":"integer"},"tags":{"type":"array","items":{"type":"string"}}},
        "required":["id"]}"#;

    #[test]
    fn valid_values_go_as_they_are() {
        let schema = JsonSchema::parse(SCHEMA, &HashMap::new()).unwrap();
        let text = r#"{"id": 1, "tags": ["a"]}"#;
        assert_eq!(schema.encode_json(text).unwrap(), text.as_bytes());
        let mut out = Vec::new();
        schema.decode_json(text.as_bytes(), &mut out).unwrap();
        assert_eq!(out, text.as_bytes());
    }

    #[test]
    fn violations_name_their_json_pointer() {
        let schema = JsonSchema::parse(SCHEMA, &HashMap::new()).unwrap();
        let err = schema
            .encode_json(r#"{"id":1,"tags":["a",2]}"#)
            .unwrap_err();
        assert!(err.starts_with("at /tags/1: "), "{err}");
        let err = schema.encode_json(r#"{"tags":[]}"#).unwrap_err();
        assert!(err.starts_with("at /: "), "{err}");
        let draft2020 = JsonSchema::parse(
            r#"{"$schema":"https://json-schema.org/draft/2020-12/schema","prefixItems":[{"type":"string"}]}"#,
            &HashMap::new(),
        )
        .unwrap();
        assert!(draft2020
            .encode_json(r#"[1]"#)
            .unwrap_err()
            .starts_with("at /0: "));
    }

    #[test]
    fn documents_on_several_lines_are_compacted() {
        let schema = JsonSchema::parse("{}", &HashMap::new()).unwrap();
        let mut out = Vec::new();
        schema.decode_json(b"{\n  \"a\": 1\n}\n", &mut out).unwrap();
        assert_eq!(out, br#"{"a":1}"#);
        assert!(schema.decode_json(b"\x00\x01", &mut out).is_err());
    }

    #[test]
    fn references_are_the_registrys() {
        let mut references = HashMap::new();
        references.insert(
            "address.json".to_string(),
            r#"{"type":"object","properties":{"zip":{"type":"string"}}}"#.to_string(),
        );
        let schema = JsonSchema::parse(
            r#"{"type":"object","properties":{"home":{"$ref":"address.json"}}}"#,
            &references,
        )
        .unwrap();
        assert!(schema.encode_json(r#"{"home":{"zip":"1000"}}"#).is_ok());
        let err = schema.encode_json(r#"{"home":{"zip":1000}}"#).unwrap_err();
        assert!(err.starts_with("at /home/zip: "), "{err}");
        assert!(JsonSchema::parse(
            r#"{"properties":{"home":{"$ref":"elsewhere.json"}}}"#,
            &HashMap::new()
        )
        .is_err());
    }
}
