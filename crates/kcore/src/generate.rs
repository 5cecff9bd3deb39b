//! Shell completions and man pages, generated from each tool's one `cli()`, and the
//! examples of every `--help` laid out for an 80-column terminal ([`tidy`]).

use std::io::Write;

use anyhow::{Context, Result};
use clap::{Command, ValueEnum};
use clap_complete::Shell;

use crate::failure::ExitCode;

/// What `--generate` writes to stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Generate {
    Bash,
    Zsh,
    Fish,
    Elvish,
    Powershell,
    /// A roff man page.
    Man,
}

/// The tools, for the man pages' SEE ALSO (every one is installed by scripts/install).
const TOOLS: [&str; 5] = ["kcluster", "ktopic", "kprod", "kcons", "kgroup"];

/// The widest an example line may be in `--help`: an 80-column terminal would wrap it,
/// and a wrapped comment lands in the command column.
const HELP_WIDTH: usize = 80;

/// The same in a man page, whose text is indented by 7 columns.
const MAN_WIDTH: usize = 72;

/// Write completions for a shell, or the man page, for `cmd` to stdout.
pub fn generate(cmd: Command, what: Generate) -> Result<()> {
    let mut cmd = tidy(cmd);
    let name = cmd.get_name().to_string();
    let mut out = std::io::stdout().lock();
    let shell = match what {
        Generate::Man => {
            out.write_all(&man_page(cmd)?)
                .context("writing the man page")?;
            return out.flush().context("writing stdout");
        }
        Generate::Bash => Shell::Bash,
        Generate::Zsh => Shell::Zsh,
        Generate::Fish => Shell::Fish,
        Generate::Elvish => Shell::Elvish,
        Generate::Powershell => Shell::PowerShell,
    };
    // `--profile NAME` completes with the profiles there are when the user presses Tab: the
    // generator is given a placeholder value, which is then made a call of
    // `kcluster profile list --names` in the shell's own syntax.
    let call = match shell {
        Shell::Bash => Some("$(kcluster profile list --names 2>/dev/null)"),
        Shell::Zsh => Some("{compadd -- $(kcluster profile list --names 2>/dev/null)}"),
        Shell::Fish => Some("(kcluster profile list --names 2>/dev/null)"),
        _ => None,
    };
    let has_profile = cmd.get_arguments().any(|a| a.get_id() == "profile");
    if let (Some(_), true) = (call, has_profile) {
        cmd = cmd.mut_arg("profile", |arg| {
            arg.value_parser(clap::builder::PossibleValuesParser::new([
                PROFILES_PLACEHOLDER,
            ]))
        });
    }
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, name, &mut script);
    let mut script = String::from_utf8(script).context("completion script is not UTF-8")?;
    if let Some(call) = call {
        // zsh lists values as `(a b)`: the call replaces the list, parentheses and all.
        script = script
            .replace(&format!("({PROFILES_PLACEHOLDER})"), call)
            .replace(&format!("{PROFILES_PLACEHOLDER}\\t''"), call)
            .replace(PROFILES_PLACEHOLDER, call);
    }
    out.write_all(script.as_bytes()).context("writing stdout")?;
    out.flush().context("writing stdout")
}

/// See [`generate`]: stands for the profile names in a completion script being made.
const PROFILES_PLACEHOLDER: &str = "__kpipes_profiles__";

/// The command with every example (`after_help`) of it and its subcommands fitted to an
/// 80-column terminal: a comment that would not fit beside its command goes on a line of
/// its own above it.
pub fn tidy(cmd: Command) -> Command {
    let cmd = match cmd.get_after_help().map(ToString::to_string) {
        Some(text) => cmd.after_help(fit_examples(&text, HELP_WIDTH)),
        None => cmd,
    };
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|sub| sub.get_name().to_string())
        .collect();
    names
        .iter()
        .fold(cmd, |cmd, name| cmd.mut_subcommand(name, tidy))
}

/// `text` with each line longer than `width` that ends in a `# comment` split in two:
/// the comment first, then the command, at the line's indentation.
pub fn fit_examples(text: &str, width: usize) -> String {
    let mut out = Vec::new();
    for line in text.lines() {
        let split = line.rfind("  # ").filter(|_| line.chars().count() > width);
        match split {
            Some(at) if !line[..at].trim().is_empty() => {
                let indent = &line[..line.len() - line.trim_start().len()];
                out.push(format!("{indent}{}", line[at..].trim()));
                out.push(line[..at].trim_end().to_string());
            }
            _ => out.push(line.to_string()),
        }
    }
    out.join("\n")
}

/// A roff man page: clap's title, name, synopsis, description and options; then every
/// subcommand in a section of the same page (no pages of their own to refer to), the
/// examples kept as laid out, the exit codes, and the other tools.
fn man_page(cmd: Command) -> Result<Vec<u8>> {
    let name = cmd.get_name().to_string();
    let man = clap_mangen::Man::new(cmd.clone());
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    let subcommands: Vec<&Command> = cmd
        .get_subcommands()
        .filter(|sub| !sub.is_hide_set() && sub.get_name() != "help")
        .collect();
    if !subcommands.is_empty() {
        page.extend_from_slice(b".SH COMMANDS\n");
        for sub in subcommands {
            let full = format!("{name} {}", sub.get_name());
            page.extend_from_slice(format!(".SS \"{full}\"\n").as_bytes());
            let usage = sub.clone().bin_name(&full).render_usage().to_string();
            let usage = usage.trim_start_matches("Usage: ");
            page.extend_from_slice(format!(".B {}\n.PP\n", roff(usage)).as_bytes());
            if let Some(about) = sub.get_long_about().or(sub.get_about()) {
                page.extend_from_slice(format!("{}\n", roff(&about.to_string())).as_bytes());
            }
            let mut options = Vec::new();
            clap_mangen::Man::new(sub.clone()).render_options_section(&mut options)?;
            let options = String::from_utf8_lossy(&options);
            // Its options, without clap's own section heading.
            let body: Vec<&str> = options
                .lines()
                .filter(|line| !line.starts_with(".SH "))
                .collect();
            if !body.is_empty() {
                page.extend_from_slice(format!(".PP\n{}\n", body.join("\n")).as_bytes());
            }
            if let Some(examples) = sub.get_after_help() {
                page.extend_from_slice(&examples_block(&examples.to_string()));
            }
        }
    }
    if let Some(examples) = cmd.get_after_help() {
        page.extend_from_slice(b".SH EXAMPLES\n");
        page.extend_from_slice(&examples_block(&examples.to_string()));
    }
    page.extend_from_slice(
        b".SH \"EXIT STATUS\"\nThe same for every kpipes tool; scripts may rely on them.\n",
    );
    for code in ExitCode::ALL {
        page.extend_from_slice(
            format!(".TP\n.B {}\n{}\n", code.code(), roff(code.meaning())).as_bytes(),
        );
    }
    let others: Vec<String> = TOOLS
        .iter()
        .filter(|tool| **tool != name)
        .map(|tool| format!("\\fB{tool}\\fR(1)"))
        .collect();
    page.extend_from_slice(format!(".SH \"SEE ALSO\"\n{}\n", others.join(", ")).as_bytes());
    man.render_version_section(&mut page)?;
    Ok(page)
}

/// Examples as laid out (no filling, no hyphenation), fitted to the man page's width;
/// the "Examples:" heading dropped where a section names them.
fn examples_block(text: &str) -> Vec<u8> {
    let body = text
        .trim_start_matches("Examples:")
        .trim_start_matches('\n');
    let lines: Vec<String> = fit_examples(body, MAN_WIDTH)
        .lines()
        .map(|line| roff(line.strip_prefix("  ").unwrap_or(line)))
        .collect();
    format!(".PP\n.nf\n{}\n.fi\n", lines.join("\n")).into_bytes()
}

/// Text for roff: backslashes and hyphens escaped, and a line that would read as a
/// request (a leading `.` or `'`) guarded.
fn roff(text: &str) -> String {
    text.lines()
        .map(|line| {
            let escaped = line.replace('\\', "\\e").replace('-', "\\-");
            if escaped.starts_with(['.', '\'']) {
                format!("\\&{escaped}")
            } else {
                escaped
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_examples_get_their_comment_above() {
        let text = "Examples:\n  short cmd   # fits\n  a very long command line that goes on and on and on and on and on   # and a comment";
        let fitted = fit_examples(text, 80);
        assert_eq!(
            fitted,
            "Examples:\n  short cmd   # fits\n  # and a comment\n  a very long command line that goes on and on and on and on and on"
        );
        assert!(fitted.lines().all(|line| line.len() <= 80));
    }
}
