use clap::Parser;

fn main() -> std::process::ExitCode {
    kcore::run_main("kcons", || kcons::run(kcons::cli::Cli::parse()))
}
