use clap::Parser;

fn main() -> std::process::ExitCode {
    kcore::run_main("kprod", || kprod::run(kprod::cli::Cli::parse()))
}
