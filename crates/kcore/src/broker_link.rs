//! A direct connection to one broker, for the requests librdkafka has no call for
//! (partition reassignments, KIP-455). Messages are encoded by the `kafka-protocol`
//! crate; this module only frames them, and speaks the same connection settings the
//! tools give librdkafka, so it reaches the same clusters: `security.protocol`
//! plaintext, ssl, sasl_plaintext or sasl_ssl; TLS with `ssl.ca.location`/`ssl.ca.pem`,
//! client certificates (`ssl.certificate.location` + `ssl.key.location`), hostname
//! verification unless `ssl.endpoint.identification.algorithm=none`; SASL PLAIN and
//! SCRAM-SHA-256/512 (through `rsasl`). Another SASL mechanism is a clear refusal.
//!
//! Every read and write is bounded by the connection's `--timeout`.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use bytes::{Buf, BytesMut};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{
    RequestHeader, ResponseHeader, SaslAuthenticateRequest, SaslAuthenticateResponse,
    SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use openssl::ssl::{SslConnector, SslFiletype, SslMethod, SslStream, SslVerifyMode};
use openssl::x509::X509;

use crate::{Connection, Failure};

/// Either side of a TLS connection or a plain socket.
trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// One broker, logged in, ready for requests.
pub struct BrokerLink {
    stream: Box<dyn Stream>,
    address: String,
    correlation_id: i32,
    client_id: String,
}

/// Largest response accepted: a reassignment listing of many thousands of partitions.
const MAX_RESPONSE: usize = 256 * 1024 * 1024;

impl BrokerLink {
    /// Connect to `address` (host:port) with the connection's security settings.
    pub fn open(connection: &Connection, address: &str) -> Result<BrokerLink> {
        let timeout = connection.timeout;
        let protocol = connection
            .property("security.protocol")
            .unwrap_or("plaintext")
            .to_ascii_lowercase();
        let (tls, sasl) = match protocol.as_str() {
            "plaintext" => (false, false),
            "ssl" => (true, false),
            "sasl_plaintext" => (false, true),
            "sasl_ssl" => (true, true),
            other => bail!(Failure::usage(format!(
                "unknown security.protocol '{other}'"
            ))),
        };
        let socket = connect(address, timeout)?;
        let stream: Box<dyn Stream> = if tls {
            Box::new(tls_stream(connection, address, socket)?)
        } else {
            Box::new(socket)
        };
        let client_id = connection
            .property("client.id")
            .unwrap_or("kpipes")
            .to_string();
        let mut link = BrokerLink {
            stream,
            address: address.to_string(),
            correlation_id: 0,
            client_id,
        };
        if sasl {
            link.log_in(connection)?;
        }
        Ok(link)
    }

    /// Send one request (at `version`) and read its response.
    pub fn send<R: Request>(&mut self, request: &R, version: i16) -> Result<R::Response> {
        self.correlation_id += 1;
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation_id)
            .with_client_id(Some(StrBytes::from_string(self.client_id.clone())));
        let mut body = BytesMut::new();
        header
            .encode(&mut body, R::header_version(version))
            .and_then(|_| request.encode(&mut body, version))
            .map_err(|err| anyhow!("encoding a request for {}: {err}", self.address))?;
        let mut frame = Vec::with_capacity(body.len() + 4);
        frame.extend_from_slice(&(body.len() as i32).to_be_bytes());
        frame.extend_from_slice(&body);
        self.stream
            .write_all(&frame)
            .and_then(|_| self.stream.flush())
            .map_err(|err| self.io_failure(err))?;

        let mut size = [0u8; 4];
        self.stream
            .read_exact(&mut size)
            .map_err(|err| self.io_failure(err))?;
        let size = i32::from_be_bytes(size);
        if size < 0 || size as usize > MAX_RESPONSE {
            bail!("broker {} sent a response of {size} bytes", self.address);
        }
        let mut buf = vec![0u8; size as usize];
        self.stream
            .read_exact(&mut buf)
            .map_err(|err| self.io_failure(err))?;
        let mut buf = bytes::Bytes::from(buf);
        let response_header =
            ResponseHeader::decode(&mut buf, R::Response::header_version(version))
                .map_err(|err| anyhow!("a malformed response from {}: {err}", self.address))?;
        if response_header.correlation_id != self.correlation_id {
            bail!(
                "broker {} answered request {} with the answer to {}",
                self.address,
                self.correlation_id,
                response_header.correlation_id
            );
        }
        let response = R::Response::decode(&mut buf, version)
            .map_err(|err| anyhow!("a malformed response from {}: {err}", self.address))?;
        if buf.has_remaining() {
            bail!(
                "broker {} sent {} bytes after its response",
                self.address,
                buf.remaining()
            );
        }
        Ok(response)
    }

    fn io_failure(&self, err: std::io::Error) -> anyhow::Error {
        use std::io::ErrorKind::*;
        match err.kind() {
            WouldBlock | TimedOut => Failure::unreachable(format!(
                "broker {} did not answer in time",
                self.address
            ))
            .into(),
            UnexpectedEof | ConnectionReset | BrokenPipe => Failure::unreachable(format!(
                "broker {} closed the connection (does its listener want TLS or SASL? see security.protocol)",
                self.address
            ))
            .into(),
            _ => anyhow!("talking to broker {}: {err}", self.address),
        }
    }

    /// SaslHandshake, then SaslAuthenticate rounds until the mechanism is done.
    fn log_in(&mut self, connection: &Connection) -> Result<()> {
        let mechanism = connection
            .property("sasl.mechanisms")
            .or_else(|| connection.property("sasl.mechanism"))
            .unwrap_or("GSSAPI")
            .to_ascii_uppercase();
        if !matches!(
            mechanism.as_str(),
            "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512"
        ) {
            bail!(Failure::usage(format!(
                "this command speaks to the brokers directly and logs in with PLAIN or \
                 SCRAM-SHA-256/512 only, not {mechanism}"
            )));
        }
        let handshake: SaslHandshakeResponse = self.send(
            &SaslHandshakeRequest::default()
                .with_mechanism(StrBytes::from_string(mechanism.clone())),
            1,
        )?;
        if let Some(err) = ResponseError::try_from_code(handshake.error_code) {
            let offered: Vec<String> = handshake.mechanisms.iter().map(|m| m.to_string()).collect();
            bail!(Failure::not_authorized(format!(
                "broker {} refused SASL mechanism {mechanism} ({err}); it offers {}",
                self.address,
                offered.join(", ")
            )));
        }
        let user = connection.property("sasl.username").unwrap_or_default();
        let password = connection.property("sasl.password").unwrap_or_default();
        let config = rsasl::prelude::SASLConfig::with_credentials(
            None,
            user.to_string(),
            password.to_string(),
        )
        .map_err(|err| anyhow!("SASL settings: {err}"))?;
        let name = rsasl::prelude::Mechname::parse(mechanism.as_bytes())
            .map_err(|err| anyhow!("SASL mechanism {mechanism}: {err}"))?;
        let mut session = rsasl::prelude::SASLClient::new(Arc::clone(&config))
            .start_suggested(&[name])
            .map_err(|err| anyhow!("SASL mechanism {mechanism}: {err}"))?;
        let mut input: Option<Vec<u8>> = None;
        loop {
            let mut output = Vec::new();
            let state = session
                .step(input.as_deref(), &mut output)
                .map_err(|err| Failure::not_authorized(format!("authentication failed: {err}")))?;
            if !state.has_sent_message() {
                return Ok(());
            }
            let answer: SaslAuthenticateResponse = self.send(
                &SaslAuthenticateRequest::default().with_auth_bytes(output.into()),
                1,
            )?;
            if let Some(err) = ResponseError::try_from_code(answer.error_code) {
                let said = answer
                    .error_message
                    .map(|m| m.to_string())
                    .unwrap_or_default();
                bail!(Failure::not_authorized(format!(
                    "authentication failed: {err}: {said}"
                )));
            }
            if state.is_finished() {
                return Ok(());
            }
            input = Some(answer.auth_bytes.to_vec());
        }
    }
}

fn connect(address: &str, timeout: Duration) -> Result<TcpStream> {
    let addresses: Vec<_> = address
        .to_socket_addrs()
        .map_err(|err| {
            Failure::unreachable(format!("broker address {address} does not resolve: {err}"))
        })?
        .collect();
    let mut last = None;
    for socket_address in addresses {
        match TcpStream::connect_timeout(&socket_address, timeout) {
            Ok(socket) => {
                socket.set_read_timeout(Some(timeout))?;
                socket.set_write_timeout(Some(timeout))?;
                socket.set_nodelay(true)?;
                return Ok(socket);
            }
            Err(err) => last = Some(err),
        }
    }
    Err(Failure::unreachable(format!(
        "cannot connect to broker {address}: {}",
        last.map_or("no address".to_string(), |e| e.to_string())
    ))
    .into())
}

fn tls_stream(
    connection: &Connection,
    address: &str,
    socket: TcpStream,
) -> Result<SslStream<TcpStream>> {
    let mut builder = SslConnector::builder(SslMethod::tls_client())?;
    if let Some(path) = connection.property("ssl.ca.location") {
        builder
            .set_ca_file(path)
            .with_context(|| format!("reading ssl.ca.location {path}"))?;
    }
    if let Some(pem) = connection.property("ssl.ca.pem") {
        for cert in X509::stack_from_pem(pem.as_bytes()).context("reading ssl.ca.pem")? {
            builder.cert_store_mut().add_cert(cert)?;
        }
    }
    if let Some(path) = connection.property("ssl.certificate.location") {
        builder
            .set_certificate_chain_file(path)
            .with_context(|| format!("reading ssl.certificate.location {path}"))?;
    }
    if let Some(path) = connection.property("ssl.key.location") {
        builder
            .set_private_key_file(path, SslFiletype::PEM)
            .with_context(|| format!("reading ssl.key.location {path}"))?;
    }
    if connection.property("enable.ssl.certificate.verification") == Some("false") {
        builder.set_verify(SslVerifyMode::NONE);
    }
    let connector = builder.build();
    let mut config = connector.configure()?;
    if connection
        .property("ssl.endpoint.identification.algorithm")
        .is_some_and(|a| a.eq_ignore_ascii_case("none"))
    {
        config.set_verify_hostname(false);
    }
    let host = address.rsplit_once(':').map_or(address, |(host, _)| host);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    config.connect(host, socket).map_err(|err| {
        Failure::unreachable(format!("TLS handshake with broker {address} failed: {err}")).into()
    })
}
