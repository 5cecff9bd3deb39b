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
    clap_complete::generate(shell, &mut cmd, name, &mut out);
    out.flush().context("writing stdout")
}
