//! kcore: what every kpipes tool shares — connection settings, the librdkafka
//! context, the JSON record format, errors and exit codes, output and signals.
//! What two tools need lives here.
//!
//! - [`connection`]: `-b`, `-X`, `-F`, `--timeout`, `-v`; [`profile`]: named profiles;
//!   [`self_connection`]: never a connection to oneself; [`context`]: librdkafka's logs
//!   kept quiet; [`listeners`]: advertised listeners that cannot be reached, explained.
//! - Logins: [`kerberos`] (GSSAPI), [`oidc`] (OAUTHBEARER), [`msk_iam`] (AWS MSK IAM).
//! - [`metadata`]: bounded metadata fetches, partition counts and the partition check.
//! - [`admin`]: librdkafka's admin API (topics, groups, offsets, ACLs, leaders, records,
//!   the per-command session); [`transactions`]: the transactional producer calls;
//!   [`broker_link`]: a direct broker connection for what librdkafka cannot ask, used by
//!   [`reassignments`] (KIP-455) with [`placement`] (where replicas should live).
//! - [`record`]: the JSON record format; [`schema_registry`]: the registry, its wire format
//!   and the decoder and encoder over [`avro`], [`protobuf`] and [`json_schema`];
//!   [`avro_json`] and [`protobuf_json`]: the fast decoding paths for common shapes.
//! - [`failure`]: errors and the one error-to-exit-code table; [`outcome`]: commands that
//!   go on after a failure.
//! - [`output`]: JSON lines and table-or-JSON answers; [`table`]: tables for people;
//!   [`progress`]: progress lines and spinners; [`watch`]: `--watch`.
//! - [`generate`]: completions and man pages; [`signals`]: interrupts; [`state`]: where
//!   clusters are kept, and a node's role; [`random`]: random bytes; [`time`]: points in
//!   time as people write them.

pub mod admin;
pub mod avro;
pub mod avro_json;
pub mod broker_link;
pub mod connection;
pub mod context;
pub mod failure;
pub mod generate;
pub mod json_schema;
pub mod kerberos;
pub mod listeners;
pub mod metadata;
pub mod msk_iam;
pub mod oidc;
pub mod outcome;
pub mod output;
pub mod placement;
pub mod profile;
pub mod progress;
pub mod protobuf;
pub mod protobuf_json;
pub mod random;
pub mod reassignments;
pub mod record;
pub mod schema_registry;
pub mod self_connection;
pub mod signals;
pub mod state;
pub mod table;
pub mod time;
pub mod transactions;
pub mod watch;

pub use connection::{Connection, ConnectionArgs, NativeHandle};
pub use context::QuietContext;
pub use failure::{ExitCode, Failure};
pub use output::JsonLines;

use std::io::IsTerminal;

/// Run a tool's body and turn its result into the process exit status:
/// `tool: error: <cause chain>` on stderr (and indented detail lines, if any) and the documented exit code on failure
/// (an interruption, which is no error, as `tool: interrupted ...`);
/// a closed stdout pipe (`| head -1`) ends quietly with status 0.
pub fn run_main(tool: &str, body: impl FnOnce() -> anyhow::Result<()>) -> std::process::ExitCode {
    // OpenSSL, before librdkafka initialises it, without its clean-up at exit. The tools
    // end with librdkafka's threads still running (a finished kprod, ktopic's and kgroup's
    // admin clients are never torn down: that only delays the exit), and OpenSSL's atexit
    // clean-up freed its state under a thread still in a TLS handshake: ktopic against a
    // TLS cluster died of SIGSEGV after its output in about 1 run of 20.
    openssl_sys::init();
    match body() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) if failure::is_broken_pipe(&err) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // An empty message means the tool has already reported the details itself.
            let line = failure::one_line(&err);
            let code = failure::exit_code_for(&err);
            if code == ExitCode::Interrupted {
                // The user asked for it: no error, just what was done.
                progress::suspend(|| eprintln!("{tool}: {line}"));
            } else if !line.is_empty() {
                report_error(tool, &line);
                // Detail (a log's cause line, a path) on lines of its own, indented.
                for detail in failure::details(&err) {
                    eprintln!("  {detail}");
                }
                // Brokers advertising addresses this machine cannot reach explain much.
                if let Some(note) = listeners::partial_note() {
                    eprintln!("  {note}");
                }
            }
            std::process::ExitCode::from(code as u8)
        }
    }
}

/// Print `tool: error: message` on stderr, the prefix in red on a colour terminal.
pub fn report_error(tool: &str, message: &str) {
    // Out of the way of a live progress line, if one is drawn.
    progress::suspend(|| {
        if use_colour(&std::io::stderr()) {
            eprintln!("{tool}: \x1b[1;31merror\x1b[0m: {message}");
        } else {
            eprintln!("{tool}: error: {message}");
        }
    })
}

/// Print `tool: warning: message` on stderr.
pub fn report_warning(tool: &str, message: &str) {
    progress::suspend(|| {
        if use_colour(&std::io::stderr()) {
            eprintln!("{tool}: \x1b[1;33mwarning\x1b[0m: {message}");
        } else {
            eprintln!("{tool}: warning: {message}");
        }
    })
}

/// Colour only on a terminal, and never when `NO_COLOR` is set (https://no-color.org).
pub fn use_colour(stream: &impl IsTerminal) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// A tool's whole `main`: parse its command line (a mistake in it is one line and exit 2,
/// see [`parse_cli`]), answer `--generate` (completions or the man page, from the same
/// definition), else run the tool; the result becomes the exit status ([`run_main`]).
pub fn tool_main<T: clap::Parser>(
    tool: &str,
    run: impl FnOnce(T) -> anyhow::Result<()>,
) -> std::process::ExitCode {
    run_main(tool, || {
        let (cli, generate) = parse_cli::<T>(tool);
        match generate {
            Some(what) => generate::generate(T::command(), what),
            None => run(cli),
        }
    })
}

/// Parse the command line, and what its `--generate` asks for, if the tool has the flag;
/// a mistake in it is one `tool: error: ...` line and exit 2, as every other error (clap's
/// own report spans several lines). Help and version print as usual.
pub fn parse_cli<T: clap::Parser>(tool: &str) -> (T, Option<generate::Generate>) {
    // The command as tidied for help (examples fitted to 80 columns), parsed as derived.
    let parsed = generate::tidy(T::command())
        .try_get_matches()
        .and_then(|matches| Ok((T::from_arg_matches(&matches)?, matches)));
    match parsed {
        Ok((cli, matches)) => {
            let generate = matches
                .try_get_one::<generate::Generate>("generate")
                .ok()
                .flatten()
                .copied();
            (cli, generate)
        }
        Err(err) => exit_on_cli_error(tool, err),
    }
}

fn exit_on_cli_error(tool: &str, err: clap::Error) -> ! {
    use clap::error::ErrorKind;
    match err.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => err.exit(),
        _ => {
            // clap's first paragraph (it may wrap, e.g. a list of missing arguments), joined.
            let text = err.to_string();
            let paragraph: Vec<&str> = text
                .lines()
                .map(str::trim)
                .skip_while(|l| l.is_empty())
                .take_while(|l| !l.is_empty())
                .collect();
            let joined = paragraph.join(" ");
            let message = joined.trim_start_matches("error: ");
            // clap's "did you mean" tip is in a paragraph of its own: kept, on the line.
            let hint = match suggestions(&err).as_slice() {
                [] => String::new(),
                names => format!(
                    "; did you mean {}?",
                    names
                        .iter()
                        .map(|name| format!("'{name}'"))
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            };
            report_error(tool, &format!("{message}{hint} (see {tool} --help)"));
            std::process::exit(ExitCode::Usage.code())
        }
    }
}

/// The flags, subcommands or values clap suggests for a misspelt one.
fn suggestions(err: &clap::Error) -> Vec<String> {
    use clap::error::{ContextKind, ContextValue};
    [
        ContextKind::SuggestedArg,
        ContextKind::SuggestedSubcommand,
        ContextKind::SuggestedValue,
    ]
    .into_iter()
    .filter_map(|kind| err.get(kind))
    .flat_map(|value| match value {
        ContextValue::String(one) => vec![one.clone()],
        ContextValue::Strings(many) => many.clone(),
        _ => Vec::new(),
    })
    .collect()
}

/// The error for a tool run without its command (`ktopic`, `kgroup`, `kcluster` alone):
/// a usage error (exit 2) naming the commands, not the help on stdout with exit 0.
pub fn missing_command(cmd: &clap::Command) -> anyhow::Error {
    let tool = cmd.get_name();
    let commands: Vec<&str> = cmd
        .get_subcommands()
        .filter(|sub| !sub.is_hide_set() && sub.get_name() != "help")
        .map(|sub| sub.get_name())
        .collect();
    Failure::usage(format!(
        "a command is needed: {} (see {tool} --help)",
        commands.join(", ")
    ))
    .into()
}
