//! Schema Registry support shared by kcons (decoding) and kprod (encoding): where the
//! registry is, a client for its Confluent-compatible REST API, and records in its wire
//! format (byte 0, the schema id as 4 big-endian bytes, then the body: Avro, Protobuf with
//! its message-index list first, or a JSON document). Keys and values of topics without a
//! registry can be Protobuf messages of local `.proto` files ([`crate::protobuf`]).
//! Documented in README.md ("Schema Registry").
//!
//! The registry comes from, first to last: `--schema-registry URL`, the `--profile`'s
//! `schema.registry.url`, `KPIPES_SCHEMA_REGISTRY` (not read with `--profile`), the
//! `KPIPES_PROFILE`'s, the running kcluster cluster's (only when the brokers were found there too).
//! `--no-schema-registry` turns it off. Every call is bounded by `--timeout`; a registry that
//! cannot be reached is exit 5, one that refuses the credentials exit 10.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use base64::Engine;
use clap::Args;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value as Json;

use crate::avro::AvroCodec;
use crate::connection::{Connection, FROM_CLUSTER};
use crate::failure::Failure;
use crate::json_schema::JsonSchema;
use crate::protobuf::{LocalTypes, ProtoArgs, ProtobufSchema};
use crate::record::{write_bytes, write_int, write_str, Bytes, Header, JsonRecord, Loose};

/// The environment variable naming the registry (`kcluster env` sets it).
pub const REGISTRY_VAR: &str = "KPIPES_SCHEMA_REGISTRY";
/// The environment variable holding the password of `--schema-registry-user`.
pub const PASSWORD_VAR: &str = "KPIPES_SCHEMA_REGISTRY_PASSWORD";

/// The registry's media type (Confluent's; Apicurio's compatibility API answers it too).
const MEDIA_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// Flags of the tools that read or write records (kcons, kprod).
#[derive(Args, Debug, Clone, Default)]
pub struct RegistryArgs {
    /// Schema Registry (Confluent API) base URL: records in its wire format are decoded (kcons) or encoded (kprod) [env: KPIPES_SCHEMA_REGISTRY; else the running kcluster cluster's]
    #[arg(long = "schema-registry", value_name = "URL", global = true)]
    pub url: Option<String>,

    /// User for the registry's basic auth; the password is taken from env KPIPES_SCHEMA_REGISTRY_PASSWORD (or give USER:PASSWORD@ in the URL)
    #[arg(long = "schema-registry-user", value_name = "USER", global = true)]
    pub user: Option<String>,

    /// PEM file with the CA certificate(s) the registry's TLS certificate is checked against (default: the system's)
    #[arg(long = "schema-registry-ca", value_name = "FILE", global = true)]
    pub ca: Option<PathBuf>,

    /// Use no registry, even where the environment or a kcluster cluster names one
    #[arg(long = "no-schema-registry", conflicts_with = "url", global = true)]
    pub none: bool,
}

impl RegistryArgs {
    /// The registry to use, if any.
    pub fn resolve(&self, connection: &Connection) -> Result<Option<Registry>> {
        if self.none {
            return Ok(None);
        }
        // As for the brokers: the command line, then the environment, then files; a
        // --profile stands for the whole connection (KPIPES_SCHEMA_REGISTRY unread).
        let chosen = connection.profile.as_ref();
        let flag_profile = chosen.filter(|c| c.by_flag);
        let env_profile = chosen.filter(|c| !c.by_flag);
        let from_profile = |c: Option<&crate::connection::ChosenProfile>| {
            c.and_then(|c| Some((c.profile.registry.clone()?, c.source())))
        };
        let env_url = || {
            flag_profile
                .is_none()
                .then(|| std::env::var(REGISTRY_VAR).ok().filter(|u| !u.is_empty()))
                .flatten()
        };
        let mut profile_registry = None;
        let (url, source) = if let Some(url) = &self.url {
            (url.clone(), "--schema-registry".to_string())
        } else if let Some((registry, source)) = from_profile(flag_profile) {
            profile_registry = Some(registry.clone());
            (registry.url, source)
        } else if let Some(url) = env_url() {
            (url, REGISTRY_VAR.to_string())
        } else if let Some((registry, source)) = from_profile(env_profile) {
            profile_registry = Some(registry.clone());
            (registry.url, source)
        } else if connection.brokers_source == FROM_CLUSTER {
            // A cluster's registry goes with its brokers, never with others'.
            match crate::state::running_cluster()?.and_then(|s| s.schema_registry_url()) {
                Some(url) => (url, "the running kcluster cluster".to_string()),
                None => return Ok(None),
            }
        } else {
            return Ok(None);
        };
        let env_password = std::env::var(PASSWORD_VAR).ok();
        // The user and CA of the command line, else the profile's (with the registry it names).
        let profile_user = profile_registry
            .as_ref()
            .and_then(|r| r.user_info.as_deref())
            .and_then(|info| info.split_once(':'));
        let (user, password) = match (&self.user, profile_user) {
            (Some(user), _) => (Some(user.as_str()), env_password.as_deref()),
            (None, Some((user, password))) => (Some(user), Some(password)),
            (None, None) => (None, None),
        };
        let ca = self
            .ca
            .clone()
            .or_else(|| profile_registry.as_ref().and_then(|r| r.ca.clone()));
        Registry::new(
            &url,
            &source,
            user,
            password,
            ca.as_deref(),
            connection.timeout,
        )
        .map(Some)
    }
}

/// A registry schema, in one of its three formats.
pub enum Codec {
    Avro(Box<AvroCodec>),
    Protobuf(ProtobufSchema),
    Json(JsonSchema),
}

impl Codec {
    /// A schema's text as the registry has it (`schemaType`: AVRO when absent), with the
    /// schemas it imports (Protobuf), by the names it imports them as.
    pub fn parse(
        kind: &str,
        text: &str,
        imports: &HashMap<String, String>,
    ) -> std::result::Result<Codec, String> {
        match kind {
            "AVRO" => AvroCodec::parse(text).map(|avro| Codec::Avro(Box::new(avro))),
            "PROTOBUF" => ProtobufSchema::from_registry(text, imports).map(Codec::Protobuf),
            "JSON" => JsonSchema::parse(text, imports).map(Codec::Json),
            other => Err(format!("its type {other} is not one kpipes knows")),
        }
    }

    /// The registry's name for the format.
    pub fn kind(&self) -> &'static str {
        match self {
            Codec::Avro(_) => "AVRO",
            Codec::Protobuf(_) => "PROTOBUF",
            Codec::Json(_) => "JSON",
        }
    }

    /// Append a body's JSON to `out` (unchanged on error); for Protobuf, the message type's
    /// full name when it is not the schema's first.
    pub fn decode_json(
        &self,
        body: &[u8],
        out: &mut Vec<u8>,
    ) -> std::result::Result<Option<String>, String> {
        match self {
            Codec::Avro(avro) => avro.decode_json(body, out).map(|()| None),
            Codec::Protobuf(proto) => proto.decode_json(body, out),
            Codec::Json(json) => json.decode_json(body, out).map(|()| None),
        }
    }

    /// Encode a value's JSON text as a body; `message_type` picks a Protobuf schema's type.
    pub fn encode_json(
        &self,
        json: &str,
        message_type: Option<&str>,
    ) -> std::result::Result<Vec<u8>, String> {
        match self {
            Codec::Avro(avro) => {
                let value: Json = serde_json::from_str(json).map_err(|err| err.to_string())?;
                avro.encode_json(&value)
            }
            Codec::Protobuf(proto) => proto.encode_json(json, message_type),
            Codec::Json(schema) => schema.encode_json(json),
        }
    }
}

/// A schema fetched by id, or why a record written with it cannot be decoded.
type Fetched = Result<Arc<Codec>, String>;

/// A client of one registry, with the schemas it fetched (one call per id per run).
pub struct Registry {
    /// The base URL without credentials: the only form ever shown.
    base: String,
    agent: ureq::Agent,
    authorization: Option<String>,
    timeout: Duration,
    schemas: HashMap<u32, Fetched>,
}

impl Registry {
    pub fn new(
        url: &str,
        source: &str,
        user: Option<&str>,
        password: Option<&str>,
        ca: Option<&std::path::Path>,
        timeout: Duration,
    ) -> Result<Registry> {
        let (base, url_credentials) = split_credentials(url).map_err(|why| {
            Failure::usage(format!("bad schema registry URL from {source}: {why}"))
        })?;
        let credentials = match (user, url_credentials) {
            (Some(user), _) => Some(format!("{user}:{}", password.unwrap_or_default())),
            (None, Some(inline)) => Some(inline),
            (None, None) => None,
        };
        let mut tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::NativeTls)
            .root_certs(ureq::tls::RootCerts::PlatformVerifier);
        if let Some(path) = ca {
            let pem = std::fs::read(path).map_err(|err| {
                Failure::usage(format!("--schema-registry-ca {}: {err}", path.display()))
            })?;
            let certs: Vec<ureq::tls::Certificate<'static>> = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(cert)) => Some(cert),
                    _ => None,
                })
                .collect();
            if certs.is_empty() {
                return Err(Failure::usage(format!(
                    "--schema-registry-ca {}: no PEM certificate in it",
                    path.display()
                ))
                .into());
            }
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
        }
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .tls_config(tls.build())
            .build()
            .new_agent();
        Ok(Registry {
            base: base.trim_end_matches('/').to_string(),
            agent,
            authorization: credentials.map(|c| {
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(c)
                )
            }),
            timeout,
            schemas: HashMap::new(),
        })
    }

    /// The registry's URL as it may be shown (never with credentials).
    pub fn url(&self) -> &str {
        &self.base
    }

    /// GET a path: its JSON, or None for 404 (with the registry's message).
    fn get(&self, path: &str) -> Result<std::result::Result<Json, String>> {
        let mut request = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("Accept", MEDIA_TYPE);
        if let Some(auth) = &self.authorization {
            request = request.header("Authorization", auth);
        }
        self.answer(request.call(), path)
    }

    fn post(&self, path: &str, body: &Json) -> Result<std::result::Result<Json, String>> {
        let mut request = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Accept", MEDIA_TYPE)
            .content_type(MEDIA_TYPE);
        if let Some(auth) = &self.authorization {
            request = request.header("Authorization", auth);
        }
        self.answer(request.send(body.to_string()), path)
    }

    /// A response as JSON (Ok), a 404 or 409/422 as the registry's message (Err inside), any
    /// other failure as an error with its exit code.
    fn answer(
        &self,
        response: std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
        path: &str,
    ) -> Result<std::result::Result<Json, String>> {
        let base = &self.base;
        let mut response = response.map_err(|err| match err {
            ureq::Error::Timeout(_) => Failure::unreachable(format!(
                "schema registry {base} did not answer within {} s",
                self.timeout.as_secs_f64()
            )),
            other => {
                Failure::unreachable(format!("schema registry {base} cannot be reached: {other}"))
            }
        })?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let message = || {
            serde_json::from_str::<Json>(&text)
                .ok()
                .and_then(|j| j.get("message").and_then(Json::as_str).map(str::to_string))
                .unwrap_or_else(|| text.chars().take(200).collect())
        };
        match status {
            200..=299 => serde_json::from_str(&text).map(Ok).map_err(|err| {
                Failure::unreachable(format!(
                    "schema registry {base}: GET {path} answered with something that is not JSON ({err}): is {base} the registry's Confluent-compatible API?"
                ))
                .into()
            }),
            401 | 403 => Err(Failure::not_authorized(format!(
                "schema registry {base} refused the request (HTTP {status}): {}",
                message()
            ))
            .into()),
            404 | 409 | 422 => Ok(Err(message())),
            _ => Err(Failure::unreachable(format!(
                "schema registry {base} failed: HTTP {status} for {path}: {}",
                message()
            ))
            .into()),
        }
    }

    /// Every subject the registry knows. Also the first call a tool makes: a registry that
    /// is down is found here, before any record.
    pub fn subjects(&self) -> Result<Vec<String>> {
        match self.get("/subjects")? {
            Ok(json) => Ok(serde_json::from_value(json).unwrap_or_default()),
            Err(why) => Err(Failure::unreachable(format!(
                "schema registry {}: /subjects not found ({why}): is it the registry's Confluent-compatible API (Apicurio: .../apis/ccompat/v7)?",
                self.base
            ))
            .into()),
        }
    }

    /// The schema with this id (fetched once per run), or why records written with it
    /// cannot be decoded.
    pub fn schema(&mut self, id: u32) -> Result<Fetched> {
        if let Some(fetched) = self.schemas.get(&id) {
            return Ok(fetched.clone());
        }
        let fetched = match self.get(&format!("/schemas/ids/{id}"))? {
            Err(why) => Err(format!("schema {id} is not in the registry ({why})")),
            Ok(json) => self.codec_of(id, &json)?,
        };
        self.schemas.insert(id, fetched.clone());
        Ok(fetched)
    }

    /// The id and schema of a subject's latest version; None when there is no such subject.
    pub fn latest(&mut self, subject: &str) -> Result<Option<(u32, Arc<Codec>)>> {
        let json = match self.get(&format!(
            "/subjects/{}/versions/latest",
            path_segment(subject)
        ))? {
            Ok(json) => json,
            Err(_) => return Ok(None),
        };
        let id = schema_id(&json).ok_or_else(|| {
            anyhow::anyhow!(
                "schema registry {}: subject '{subject}' has no id",
                self.base
            )
        })?;
        let codec = self
            .codec_of(id, &json)?
            .map_err(|why| Failure::usage(format!("subject '{subject}': {why}")))?;
        self.schemas.insert(id, Ok(Arc::clone(&codec)));
        Ok(Some((id, codec)))
    }

    /// Register a schema under a subject (or find it there: registering is idempotent); its id.
    pub fn register(
        &mut self,
        subject: &str,
        kind: &str,
        schema: &str,
    ) -> Result<(u32, Arc<Codec>)> {
        let codec = Arc::new(Codec::parse(kind, schema, &HashMap::new()).map_err(Failure::usage)?);
        let body = match kind {
            "AVRO" => serde_json::json!({ "schema": schema }),
            _ => serde_json::json!({ "schema": schema, "schemaType": kind }),
        };
        let path = format!("/subjects/{}/versions", path_segment(subject));
        match self.post(&path, &body)? {
            Ok(json) => {
                let id = schema_id(&json).ok_or_else(|| {
                    anyhow::anyhow!("schema registry {}: registering answered no id", self.base)
                })?;
                self.schemas.insert(id, Ok(Arc::clone(&codec)));
                Ok((id, codec))
            }
            Err(why) => Err(Failure::usage(format!(
                "the schema registry refused the schema for subject '{subject}': {why}"
            ))
            .into()),
        }
    }

    /// The codec for a registry's answer (`{"schema": "...", "schemaType": ...,
    /// "references": [...]}`), with the schemas it refers to fetched (Err outside: the
    /// registry cannot be asked).
    fn codec_of(&self, id: u32, json: &Json) -> Result<Fetched> {
        let kind = json
            .get("schemaType")
            .and_then(Json::as_str)
            .unwrap_or("AVRO");
        let Some(text) = json.get("schema").and_then(Json::as_str) else {
            return Ok(Err(format!(
                "the registry's answer for schema {id} has no schema"
            )));
        };
        let mut imports = HashMap::new();
        if let Err(why) = self.references(json, &mut imports)? {
            return Ok(Err(format!("schema {id}: {why}")));
        }
        if kind == "AVRO" && !imports.is_empty() {
            return Ok(Err(format!(
                "schema {id} refers to other subjects' Avro schemas, which kpipes does not resolve"
            )));
        }
        Ok(Codec::parse(kind, text, &imports)
            .map(Arc::new)
            .map_err(|why| format!("schema {id} ({kind}): {why}")))
    }

    /// The schemas a schema refers to (`references`: other subjects' versions, by the name
    /// the schema imports them as), and theirs, into `imports`.
    fn references(
        &self,
        json: &Json,
        imports: &mut HashMap<String, String>,
    ) -> Result<std::result::Result<(), String>> {
        let Some(references) = json.get("references").and_then(Json::as_array) else {
            return Ok(Ok(()));
        };
        for reference in references {
            let field = |name: &str| reference.get(name).cloned().unwrap_or(Json::Null);
            let (name, subject, version) = (field("name"), field("subject"), field("version"));
            let (Some(name), Some(subject)) = (name.as_str(), subject.as_str()) else {
                return Ok(Err(format!(
                    "a reference without name or subject: {reference}"
                )));
            };
            if imports.contains_key(name) {
                continue;
            }
            let version = match version {
                Json::Number(n) => n.to_string(),
                Json::String(s) => s,
                _ => "latest".to_string(),
            };
            let path = format!("/subjects/{}/versions/{version}", path_segment(subject));
            let referred = match self.get(&path)? {
                Ok(json) => json,
                Err(why) => {
                    return Ok(Err(format!(
                        "the schema it imports as {name} (subject '{subject}' version {version}) is not in the registry ({why})"
                    )))
                }
            };
            let Some(text) = referred.get("schema").and_then(Json::as_str) else {
                return Ok(Err(format!(
                    "subject '{subject}' version {version} has no schema"
                )));
            };
            imports.insert(name.to_string(), text.to_string());
            if let Err(why) = self.references(&referred, imports)? {
                return Ok(Err(why));
            }
        }
        Ok(Ok(()))
    }
}

fn schema_id(json: &Json) -> Option<u32> {
    json.get("id")?.as_u64()?.try_into().ok()
}

/// A subject as one URL path segment.
fn path_segment(subject: &str) -> String {
    let mut out = String::with_capacity(subject.len());
    for byte in subject.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `http://user:pass@host:8081/x` → (`http://host:8081/x`, Some(`user:pass`)), the
/// credentials percent-decoded (a password may hold `@` or `:` as `%40`, `%3A`).
fn split_credentials(url: &str) -> std::result::Result<(String, Option<String>), String> {
    let expected = "expected http://HOST:PORT/... or https://...";
    let uri: http::Uri = url.parse().map_err(|_| expected)?;
    let scheme = uri
        .scheme_str()
        .filter(|s| *s == "http" || *s == "https")
        .ok_or(expected)?;
    let authority = uri.authority().ok_or("no host in it")?;
    let (credentials, host_port) = match authority.as_str().rsplit_once('@') {
        Some((credentials, host_port)) => {
            let decoded = percent_encoding::percent_decode_str(credentials)
                .decode_utf8()
                .map_err(|_| "its user and password are not UTF-8 once percent-decoded")?;
            (Some(decoded.into_owned()), host_port)
        }
        None => (None, authority.as_str()),
    };
    if authority.host().is_empty() {
        return Err("no host in it".into());
    }
    // The path as given: "/" only when the URL had one.
    let path = uri.path_and_query().map_or("", |p| p.as_str());
    let path = if path == "/" && !url.ends_with('/') {
        ""
    } else {
        path
    };
    Ok((format!("{scheme}://{host_port}{path}"), credentials))
}

/// The wire format's parts: schema id and body, if `bytes` is in it.
pub fn split_wire(bytes: &[u8]) -> Option<(u32, &[u8])> {
    match bytes {
        [0, a, b, c, d, body @ ..] => Some((u32::from_be_bytes([*a, *b, *c, *d]), body)),
        _ => None,
    }
}

/// A body framed in the wire format with its schema id.
pub fn frame(id: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + body.len());
    out.push(0);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// Which part of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Key,
    Value,
}

impl Part {
    fn name(self) -> &'static str {
        match self {
            Part::Key => "key",
            Part::Value => "value",
        }
    }
}

/// kcons's side: keys and values in the wire format (or plain Protobuf messages of local
/// types) printed as JSON.
pub struct Decoder {
    registry: Option<Registry>,
    subjects: Vec<String>,
    local: LocalTypes,
    /// The schema decoded last: most topics carry one schema, so most records need no lookup.
    last: Option<(u32, Arc<Codec>)>,
    undecoded: u64,
    first_reason: Option<String>,
}

/// How a part was decoded: the schema id (none for a local type) and, for Protobuf, the
/// message type when it is not the schema's first.
struct Decoded {
    id: Option<u32>,
    message_type: Option<String>,
}

impl Decoder {
    /// Ask the registry for its subjects (a registry that is down fails here, before any record).
    pub fn new(registry: Option<Registry>, local: LocalTypes) -> Result<Decoder> {
        let subjects = match &registry {
            Some(registry) => registry.subjects()?,
            None => Vec::new(),
        };
        Ok(Decoder {
            registry,
            subjects,
            local,
            last: None,
            undecoded: 0,
            first_reason: None,
        })
    }

    /// kcons's decoder for its flags; None when there is nothing to decode with.
    pub fn from_args(
        registry: &RegistryArgs,
        proto: &ProtoArgs,
        connection: &Connection,
    ) -> Result<Option<Decoder>> {
        let local = proto.resolve()?.unwrap_or_default();
        let registry = registry.resolve(connection)?;
        if registry.is_none() && local.key.is_none() && local.value.is_none() {
            if proto.key_type.is_some() || proto.value_type.is_some() {
                return Err(Failure::usage(
                    "--key-type and --value-type name message types of --proto or --descriptor-set files: give one",
                )
                .into());
            }
            return Ok(None);
        }
        Decoder::new(registry, local).map(Some)
    }

    fn local(&self, part: Part) -> Option<&prost_reflect::MessageDescriptor> {
        match part {
            Part::Key => self.local.key.as_ref(),
            Part::Value => self.local.value.as_ref(),
        }
    }

    /// Whether the topic's keys or values are to be decoded: a local type for them, or the
    /// registry has the topic's subject (`TOPIC-value`, `TOPIC-key`). Then a record of it
    /// that does not decode gets a reason.
    pub fn has_subject(&self, topic: &str, part: Part) -> bool {
        let subject = format!("{topic}-{}", part.name());
        self.local(part).is_some() || self.subjects.contains(&subject)
    }

    fn codec(&mut self, id: u32) -> Result<Fetched> {
        if let Some((last, codec)) = &self.last {
            if *last == id {
                return Ok(Ok(Arc::clone(codec)));
            }
        }
        let Some(registry) = self.registry.as_mut() else {
            return Ok(Err(format!(
                "written with schema {id} of a schema registry, and kcons has none (--schema-registry)"
            )));
        };
        let fetched = registry.schema(id)?;
        if let Ok(codec) = &fetched {
            self.last = Some((id, Arc::clone(codec)));
        }
        Ok(fetched)
    }

    /// Decode `bytes` into `out` as JSON: Ok(Ok(..)) when decoded, Ok(Err(why)) when it was
    /// left alone (nothing appended), Err when the registry cannot be asked.
    fn decode(
        &mut self,
        part: Part,
        bytes: &[u8],
        expected: bool,
        out: &mut Vec<u8>,
    ) -> Result<std::result::Result<Decoded, Option<String>>> {
        if let Some(descriptor) = self.local(part) {
            return Ok(crate::protobuf::decode_json(descriptor, bytes, out)
                .map(|()| Decoded {
                    id: None,
                    message_type: None,
                })
                .map_err(Some));
        }
        let Some((id, body)) = split_wire(bytes) else {
            return Ok(Err(expected.then(|| {
                "not in the schema registry's wire format (byte 0 and a 4-byte schema id first)"
                    .to_string()
            })));
        };
        if self.registry.is_none() {
            return Ok(Err(None));
        }
        let codec = match self.codec(id)? {
            Ok(codec) => codec,
            Err(why) => return Ok(Err(Some(why))),
        };
        Ok(codec
            .decode_json(body, out)
            .map(|message_type| Decoded {
                id: Some(id),
                message_type,
            })
            .map_err(|why| Some(format!("schema {id}: {why}"))))
    }

    fn undecoded(&mut self, why: &str, at: impl FnOnce() -> String) {
        self.undecoded += 1;
        if self.first_reason.is_none() {
            self.first_reason = Some(format!("{}: {why}", at()));
        }
    }

    /// Append `"key":...` or `"value":...`: the decoded JSON and `"key_schema_id":N` (and
    /// `"key_message_type":"pkg.Type"` for a Protobuf schema's type other than its first),
    /// or the bytes as the record format has them and, when they should have decoded,
    /// `"value_decode_error":"why"`.
    pub fn write_part(
        &mut self,
        out: &mut Vec<u8>,
        part: Part,
        bytes: Option<&[u8]>,
        expected: bool,
        at: impl FnOnce() -> String,
    ) -> Result<()> {
        let name = part.name();
        out.push(b'"');
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
        let Some(bytes) = bytes else {
            out.extend_from_slice(b"null");
            return Ok(());
        };
        let field = |out: &mut Vec<u8>, suffix: &str| {
            out.extend_from_slice(b",\"");
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(suffix.as_bytes());
            out.extend_from_slice(b"\":");
        };
        match self.decode(part, bytes, expected, out)? {
            Ok(decoded) => {
                if let Some(id) = decoded.id {
                    field(out, "_schema_id");
                    write_int(out, id);
                }
                if let Some(message_type) = decoded.message_type {
                    field(out, "_message_type");
                    write_str(out, &message_type);
                }
            }
            Err(why) => {
                write_bytes(out, Some(bytes));
                if let Some(why) = why {
                    field(out, "_decode_error");
                    write_str(out, &why);
                    self.undecoded(&why, at);
                }
            }
        }
        Ok(())
    }

    /// `--values`: the decoded JSON, or the bytes as they are.
    pub fn write_value_only(
        &mut self,
        out: &mut Vec<u8>,
        bytes: &[u8],
        expected: bool,
        at: impl FnOnce() -> String,
    ) -> Result<()> {
        if let Err(why) = self.decode(Part::Value, bytes, expected, out)? {
            out.extend_from_slice(bytes);
            if let Some(why) = why {
                self.undecoded(&why, at);
            }
        }
        Ok(())
    }

    /// One warning line on stderr when some records could not be decoded.
    pub fn report(&self, tool: &str) {
        if let Some(first) = &self.first_reason {
            let n = self.undecoded;
            let what = if n == 1 {
                "key or value"
            } else {
                "keys or values"
            };
            crate::report_warning(
                tool,
                &format!("{n} {what} not decoded, printed as their bytes; the first: {first}"),
            );
        }
    }
}

/// kprod's flags: which schema encodes the records of `--json`.
#[derive(Args, Debug, Clone, Default)]
pub struct EncodeArgs {
    /// With --json: encode values with this subject's latest schema [default: TOPIC-value, when the registry has it]
    #[arg(long, value_name = "SUBJECT", conflicts_with_all = ["value_schema_id", "value_schema_file"])]
    pub value_subject: Option<String>,
    /// With --json: encode values with the schema of this id
    #[arg(long, value_name = "ID", conflicts_with = "value_schema_file")]
    pub value_schema_id: Option<u32>,
    /// With --json: encode values with the schema in FILE (.proto: Protobuf; JSON with "$schema": JSON Schema; else Avro), registered under the value subject (TOPIC-value unless --value-subject)
    #[arg(long, value_name = "FILE")]
    pub value_schema_file: Option<PathBuf>,
    /// With --json: encode keys with this subject's latest schema [default: TOPIC-key, when the registry has it]
    #[arg(long, value_name = "SUBJECT", conflicts_with_all = ["key_schema_id", "key_schema_file"])]
    pub key_subject: Option<String>,
    /// With --json: encode keys with the schema of this id
    #[arg(long, value_name = "ID", conflicts_with = "key_schema_file")]
    pub key_schema_id: Option<u32>,
    /// With --json: encode keys with the schema in FILE (as --value-schema-file), registered under TOPIC-key
    #[arg(long, value_name = "FILE")]
    pub key_schema_file: Option<PathBuf>,
    /// With --json: ignore each record's "key_schema_id" and "value_schema_id" (encode with the flags' or the subjects' schemas)
    #[arg(long)]
    pub ignore_schema_id: bool,
}

impl EncodeArgs {
    pub fn any(&self) -> bool {
        self.value_subject.is_some()
            || self.value_schema_id.is_some()
            || self.value_schema_file.is_some()
            || self.key_subject.is_some()
            || self.key_schema_id.is_some()
            || self.key_schema_file.is_some()
            || self.ignore_schema_id
    }
}

/// The schema a run encodes one part with.
struct RunSchema {
    id: u32,
    codec: Arc<Codec>,
}

/// kprod's side: `--json` records whose key or value is JSON, encoded in the wire format
/// (or as plain Protobuf messages of local types).
pub struct Encoder {
    registry: Option<RefCell<Registry>>,
    key: Option<RunSchema>,
    value: Option<RunSchema>,
    local: LocalTypes,
    key_type: Option<String>,
    value_type: Option<String>,
    ignore_ids: bool,
}

/// One `--json` line with its key and value kept as JSON text until a schema is chosen.
#[derive(Deserialize)]
struct SchemaLine<'a> {
    #[serde(default)]
    partition: Option<i32>,
    #[serde(default)]
    timestamp: Option<i64>,
    #[serde(default, borrow)]
    key: Option<&'a RawValue>,
    #[serde(borrow)]
    value: &'a RawValue,
    #[serde(default, borrow)]
    headers: Option<Vec<Header<'a>>>,
    #[serde(default, borrow)]
    topic: Loose<'a>,
    #[serde(default)]
    offset: Loose<'a>,
    #[serde(default)]
    key_schema_id: Option<u32>,
    #[serde(default)]
    value_schema_id: Option<u32>,
    #[serde(default)]
    key_message_type: Option<String>,
    #[serde(default)]
    value_message_type: Option<String>,
}

/// The schema format of a `--value-schema-file`: by its name, else by its content.
fn file_kind(path: &std::path::Path, text: &str) -> &'static str {
    if path.extension().is_some_and(|e| e == "proto") {
        return "PROTOBUF";
    }
    match serde_json::from_str::<Json>(text) {
        Ok(Json::Object(map)) if map.contains_key("$schema") => "JSON",
        _ => "AVRO",
    }
}

impl Encoder {
    /// kprod's encoder for its flags, settled before any input is read (a registry that is
    /// down stops kprod here, exit 5); None when records go as they are.
    pub fn from_args(
        json: bool,
        registry: &RegistryArgs,
        proto: &ProtoArgs,
        encode: &EncodeArgs,
        connection: &Connection,
        topic: &str,
    ) -> Result<Option<Encoder>> {
        let local = proto.resolve()?;
        let registry = registry.resolve(connection)?;
        let uses = encode.any()
            || local.is_some()
            || proto.key_type.is_some()
            || proto.value_type.is_some();
        if !json {
            if uses {
                return Err(Failure::usage(
                    "the schema flags (--value-subject, --value-schema-id, --proto, --value-type, ...) encode --json records: add --json",
                )
                .into());
            }
            return Ok(None);
        }
        if registry.is_none() && local.is_none() {
            if uses {
                return Err(Failure::usage(format!(
                    "the schema flags (--value-subject, --value-schema-id, --value-type, ...) need a schema registry (--schema-registry URL or {REGISTRY_VAR}) or .proto files (--proto)"
                ))
                .into());
            }
            return Ok(None);
        }
        Encoder::new(registry, local.unwrap_or_default(), topic, encode, proto).map(Some)
    }

    /// Settle the run's schemas: local types, else the flags', else the topic's subjects'
    /// latest (when the registry has them).
    fn new(
        registry: Option<Registry>,
        local: LocalTypes,
        topic: &str,
        args: &EncodeArgs,
        proto: &ProtoArgs,
    ) -> Result<Encoder> {
        if let Some(mut registry) = registry {
            registry.subjects()?;
            let (mut key, mut value) = (None, None);
            if local.value.is_none() {
                value = run_schema(
                    &mut registry,
                    topic,
                    Part::Value,
                    args.value_subject.as_deref(),
                    args.value_schema_id,
                    args.value_schema_file.as_ref(),
                )?;
            }
            if local.key.is_none() {
                key = run_schema(
                    &mut registry,
                    topic,
                    Part::Key,
                    args.key_subject.as_deref(),
                    args.key_schema_id,
                    args.key_schema_file.as_ref(),
                )?;
            }
            let key_type = match local.key {
                Some(_) => None,
                None => checked_type("--key-type", &key, proto.key_type.as_deref())?,
            };
            let value_type = match local.value {
                Some(_) => None,
                None => checked_type("--value-type", &value, proto.value_type.as_deref())?,
            };
            return Ok(Encoder {
                registry: Some(RefCell::new(registry)),
                key,
                value,
                local,
                key_type,
                value_type,
                ignore_ids: args.ignore_schema_id,
            });
        }
        Ok(Encoder {
            registry: None,
            key: None,
            value: None,
            local,
            key_type: None,
            value_type: None,
            ignore_ids: args.ignore_schema_id,
        })
    }

    /// Parse one `--json` line, encoding its key and value where a schema applies: the
    /// record's own `key_schema_id`/`value_schema_id` (kcons prints them), else the run's.
    pub fn parse_record<'a>(&self, line: &'a [u8]) -> std::result::Result<JsonRecord<'a>, String> {
        crate::record::check_object(line)?;
        let parsed: SchemaLine<'a> =
            serde_json::from_slice(line).map_err(crate::record::describe_json_error)?;
        let key = self.encode(
            Part::Key,
            parsed.key,
            parsed.key_schema_id,
            parsed.key_message_type.as_deref(),
        )?;
        let value = self.encode(
            Part::Value,
            Some(parsed.value),
            parsed.value_schema_id,
            parsed.value_message_type.as_deref(),
        )?;
        let record = JsonRecord {
            partition: parsed.partition,
            timestamp: parsed.timestamp,
            key,
            value,
            headers: parsed.headers,
            topic: parsed.topic,
            offset: parsed.offset,
        };
        crate::record::check_fields(&record)?;
        Ok(record)
    }

    fn encode<'a>(
        &self,
        part: Part,
        raw: Option<&'a RawValue>,
        record_id: Option<u32>,
        record_type: Option<&str>,
    ) -> std::result::Result<Bytes<'a>, String> {
        let name = part.name();
        let Some(raw) = raw.filter(|r| r.get() != "null") else {
            // null stays null: a tombstone, as the registry's serializers do it.
            return Ok(Bytes(None));
        };
        let (run, local, flag_type) = match part {
            Part::Key => (&self.key, &self.local.key, self.key_type.as_deref()),
            Part::Value => (&self.value, &self.local.value, self.value_type.as_deref()),
        };
        if let Some(descriptor) = local {
            let body = crate::protobuf::encode_json(descriptor, raw.get())
                .map_err(|why| format!("{name} {why}"))?;
            return Ok(Bytes(Some(body.into())));
        }
        let chosen = match (record_id.filter(|_| !self.ignore_ids), &self.registry) {
            (Some(id), Some(registry)) => {
                let fetched = registry.borrow_mut().schema(id).map_err(|err| {
                    format!("{name}_schema_id {id}: {}", crate::failure::one_line(&err))
                })?;
                Some((
                    id,
                    fetched.map_err(|why| format!("{name}_schema_id {id}: {why}"))?,
                ))
            }
            _ => run.as_ref().map(|r| (r.id, Arc::clone(&r.codec))),
        };
        match chosen {
            None => serde_json::from_str::<Bytes<'a>>(raw.get())
                .map_err(|err| format!("{name}: {}", crate::record::describe_json_error(err))),
            Some((id, codec)) => {
                let body = codec
                    .encode_json(raw.get(), record_type.or(flag_type))
                    .map_err(|why| format!("{name} does not match schema {id}: {why}"))?;
                Ok(Bytes(Some(frame(id, &body).into())))
            }
        }
    }
}

/// A `--key-type`/`--value-type` for a registry schema: it must be one of its Protobuf types.
fn checked_type(flag: &str, run: &Option<RunSchema>, name: Option<&str>) -> Result<Option<String>> {
    let Some(name) = name else { return Ok(None) };
    match run.as_ref().map(|r| (r.id, r.codec.as_ref())) {
        Some((id, Codec::Protobuf(schema))) => {
            schema
                .message_named(Some(name))
                .map_err(|why| Failure::usage(format!("{flag} {name}: schema {id}: {why}")))?;
            Ok(Some(name.to_string()))
        }
        Some((id, other)) => Err(Failure::usage(format!(
            "{flag} names a Protobuf message type, and schema {id} is {}",
            other.kind()
        ))
        .into()),
        None => Err(Failure::usage(format!(
            "{flag} {name}: no Protobuf schema for it (no subject, --*-schema-id or --proto)"
        ))
        .into()),
    }
}

fn run_schema(
    registry: &mut Registry,
    topic: &str,
    part: Part,
    subject: Option<&str>,
    id: Option<u32>,
    file: Option<&PathBuf>,
) -> Result<Option<RunSchema>> {
    let default_subject = format!("{topic}-{}", part.name());
    if let Some(id) = id {
        let codec = registry
            .schema(id)?
            .map_err(|why| Failure::not_found(format!("--{}-schema-id: {why}", part.name())))?;
        return Ok(Some(RunSchema { id, codec }));
    }
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|err| {
            Failure::usage(format!(
                "--{}-schema-file {}: {err}",
                part.name(),
                path.display()
            ))
        })?;
        let subject = subject.unwrap_or(&default_subject);
        let (id, codec) = registry.register(subject, file_kind(path, &text), &text)?;
        return Ok(Some(RunSchema { id, codec }));
    }
    match subject {
        Some(subject) => match registry.latest(subject)? {
            Some((id, codec)) => Ok(Some(RunSchema { id, codec })),
            None => Err(Failure::not_found(format!(
                "subject '{subject}' is not in schema registry {}",
                registry.url()
            ))
            .into()),
        },
        None => Ok(registry
            .latest(&default_subject)?
            .map(|(id, codec)| RunSchema { id, codec })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_stay_in_the_url() {
        assert_eq!(
            split_credentials("https://alice:s3cret@reg.example:8081/api").unwrap(),
            (
                "https://reg.example:8081/api".to_string(),
                Some("alice:s3cret".to_string())
            )
        );
        assert_eq!(
            split_credentials("http://localhost:8081").unwrap(),
            ("http://localhost:8081".to_string(), None)
        );
        assert_eq!(
            split_credentials("http://bob:p%40ss%3Aw@reg:8081/apis/ccompat/v7").unwrap(),
            (
                "http://reg:8081/apis/ccompat/v7".to_string(),
                Some("bob:p@ss:w".to_string())
            )
        );
        assert!(split_credentials("localhost:8081").is_err());
        assert!(split_credentials("ftp://x").is_err());
        assert!(split_credentials("http://").is_err());
        assert!(split_credentials("http://a b").is_err());
    }

    #[test]
    fn wire_format() {
        assert_eq!(frame(7, b"ab"), [0, 0, 0, 0, 7, b'a', b'b']);
        assert_eq!(split_wire(&[0, 0, 0, 1, 2, 9]), Some((258, &[9][..])));
        assert_eq!(split_wire(&[0, 0, 0, 1, 2]), Some((258, &[][..])));
        assert_eq!(split_wire(&[1, 0, 0, 1, 2]), None);
        assert_eq!(split_wire(b"hi"), None);
    }

    #[test]
    fn subjects_are_escaped_in_paths() {
        assert_eq!(path_segment("orders-value"), "orders-value");
        assert_eq!(path_segment("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn an_unreachable_registry_is_exit_5_and_hides_the_password() {
        let registry = Registry::new(
            "http://bob:hunter2@127.0.0.1:9/apis/ccompat/v7",
            "test",
            None,
            None,
            None,
            Duration::from_secs(2),
        )
        .unwrap();
        let err = registry.subjects().unwrap_err();
        assert_eq!(
            crate::failure::exit_code_for(&err),
            crate::ExitCode::Unreachable
        );
        let line = crate::failure::one_line(&err);
        assert!(
            line.contains("http://127.0.0.1:9/apis/ccompat/v7"),
            "{line}"
        );
        assert!(!line.contains("hunter2"), "{line}");
    }
}
