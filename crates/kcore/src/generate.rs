//! Shell completions and man pages, generated from each tool's one `cli()`.

use std::io::Write;

use anyhow::{Context, Result};
use clap::{Command, ValueEnum};
use clap_complete::Shell;

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

/// Write completions for a shell, or the man page, for `cmd` to stdout.
pub fn generate(mut cmd: Command, what: Generate) -> Result<()> {
    let name = cmd.get_name().to_string();
    let mut out = std::io::stdout().lock();
    let shell = match what {
        Generate::Man => {
            clap_mangen::Man::new(cmd)
                .render(&mut out)
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
